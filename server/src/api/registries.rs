//! `/api/v2.0/registries` and `/api/v2.0/replication/adapters` (Harbor API v2.0): the registry
//! endpoints proxy-cache projects and replication use. System administrators only.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{name_part, page_of, query_pairs};
use crate::config::Secret;
use crate::endpoints::{Endpoint, EndpointError, EndpointPatch, EndpointSpec};
use crate::state::AppState;
use crate::time::rfc3339_ms;
use frontend::types::RegistryKind;

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Unauthorized => Self::Unauthorized,
            EndpointError::Forbidden => Self::Forbidden,
            EndpointError::NotFound(_) => Self::NotFound(e.to_string()),
            EndpointError::Exists(_) => Self::Conflict(e.to_string()),
            EndpointError::Invalid(_) | EndpointError::Client(_) => Self::BadRequest(e.to_string()),
            EndpointError::InUse(..) => Self::PreconditionFailed(e.to_string()),
            EndpointError::Seal(_) => Self::BadRequest(e.to_string()),
            EndpointError::Db => Self::Internal,
        }
    }
}

/// Harbor's `RegistryCredential`. The secret is never answered: `*****` stands for a stored
/// one, as in Harbor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistryCredential {
    /// `basic` (the only kind Wharf speaks; also used for token-flow registries).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// User name; empty for anonymous access.
    #[serde(default)]
    pub access_key: Option<String>,
    /// Password or token.
    #[serde(default)]
    pub access_secret: Option<String>,
}

/// Harbor's `Registry`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Registry {
    /// Id.
    #[serde(default)]
    pub id: i64,
    /// Base URL.
    #[serde(default)]
    pub url: String,
    /// Unique name.
    #[serde(default)]
    pub name: String,
    /// Credentials.
    #[serde(default)]
    pub credential: Option<RegistryCredential>,
    /// `docker-registry`, `harbor` or `docker-hub`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Skip TLS certificate verification.
    #[serde(default)]
    pub insecure: bool,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `healthy`, `unhealthy` or `unknown`.
    #[serde(default)]
    pub status: String,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub creation_time: String,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub update_time: String,
}

impl From<Endpoint> for Registry {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            name: e.name,
            credential: Some(RegistryCredential {
                kind: Some("basic".into()),
                access_key: Some(e.access_key),
                access_secret: Some(if e.has_secret { "*****".into() } else { String::new() }),
            }),
            kind: e.kind.as_str().into(),
            insecure: e.insecure,
            description: e.description,
            status: e.status.as_str().into(),
            creation_time: rfc3339_ms(e.created_at),
            update_time: rfc3339_ms(e.updated_at),
        }
    }
}

/// Harbor's `RegistryUpdate` (`PUT`): absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RegistryUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New URL.
    pub url: Option<String>,
    /// `basic`.
    pub credential_type: Option<String>,
    /// New user name.
    pub access_key: Option<String>,
    /// New secret.
    pub access_secret: Option<String>,
    /// New TLS choice.
    pub insecure: Option<bool>,
}

/// Harbor's `RegistryPing`: an endpoint's settings, or an existing one's (`id`) with changes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RegistryPing {
    /// An existing endpoint whose stored settings fill in the absent ones.
    pub id: Option<i64>,
    /// `docker-registry`, `harbor` or `docker-hub`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// URL.
    pub url: Option<String>,
    /// `basic`.
    pub credential_type: Option<String>,
    /// User name.
    pub access_key: Option<String>,
    /// Secret.
    pub access_secret: Option<String>,
    /// Skip TLS verification.
    pub insecure: Option<bool>,
}

/// Harbor's `FilterStyle`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FilterStyle {
    /// `name`, `tag`, `resource`.
    #[serde(rename = "type")]
    pub kind: String,
    /// How the portal asks for it.
    pub style: String,
    /// The choices of a `radio` filter.
    pub values: Vec<String>,
}

/// Harbor's `RegistryInfo`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RegistryInfo {
    /// The adapter.
    #[serde(rename = "type")]
    pub kind: String,
    /// Free text.
    pub description: String,
    /// Filters replication supports.
    pub supported_resource_filters: Vec<FilterStyle>,
    /// Triggers replication supports.
    pub supported_triggers: Vec<String>,
}

fn kind_of(word: &str) -> Result<RegistryKind, ApiError> {
    RegistryKind::parse(word).ok_or_else(|| {
        let known: Vec<&str> = RegistryKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::BadRequest(format!("unsupported registry type {word:?}: use one of {}", known.join(", ")))
    })
}

fn check_credential_type(t: Option<&str>) -> Result<(), ApiError> {
    match t {
        None | Some("") | Some("basic") => Ok(()),
        Some(other) => {
            Err(ApiError::BadRequest(format!("credential type {other:?} is not supported: use basic")))
        }
    }
}

/// `GET /api/v2.0/registries?q=name=~x&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/registries",
    tag = "registry",
    summary = "List registry endpoints",
    params(
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "name=~part or name=exact"),
        ("name" = String, Query, description = "Part of the name (deprecated by Harbor; use q)")
    ),
    responses(
        (status = 200, description = "Endpoints; X-Total-Count and Link headers", body = [Registry]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_registries(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let name = name_part(&pairs);
    let (rows, total) = app.endpoints.list(&who, &name, page.offset(), page.page_size).await?;
    let body: Vec<Registry> = rows.into_iter().map(Registry::from).collect();
    Ok((page.headers(total, "/api/v2.0/registries", &rest), Json(body)).into_response())
}

/// `POST /api/v2.0/registries`
#[utoipa::path(
    post,
    path = "/api/v2.0/registries",
    tag = "registry",
    summary = "Create a registry endpoint",
    request_body = Registry,
    responses(
        (status = 201, description = "Created; Location names it"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_registry(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<Registry>,
) -> Result<Response, ApiError> {
    let cred = req.credential.unwrap_or_default();
    check_credential_type(cred.kind.as_deref())?;
    let spec = EndpointSpec {
        name: req.name,
        url: req.url,
        kind: kind_of(&req.kind)?,
        description: req.description,
        insecure: req.insecure,
        access_key: cred.access_key.unwrap_or_default(),
        access_secret: cred.access_secret.filter(|s| !s.is_empty()).map(Secret::from),
    };
    let id = app.endpoints.create(&who, &spec).await?;
    Ok(super::created(&format!("/api/v2.0/registries/{id}"), ()))
}

/// `GET /api/v2.0/registries/{id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/registries/{id}",
    tag = "registry",
    summary = "One registry endpoint",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint (its secret as *****)", body = Registry),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_registry(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Registry>, ApiError> {
    Ok(Json(app.endpoints.get(&who, id).await?.into()))
}

/// `PUT /api/v2.0/registries/{id}`
#[utoipa::path(
    put,
    path = "/api/v2.0/registries/{id}",
    tag = "registry",
    summary = "Change a registry endpoint",
    params(("id" = i64, Path, description = "The endpoint's id")),
    request_body = RegistryUpdate,
    responses(
        (status = 200, description = "Changed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_registry(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RegistryUpdate>,
) -> Result<StatusCode, ApiError> {
    check_credential_type(req.credential_type.as_deref())?;
    let patch = EndpointPatch {
        name: req.name,
        url: req.url,
        description: req.description,
        insecure: req.insecure,
        access_key: req.access_key,
        access_secret: req.access_secret.map(Secret::from),
    };
    app.endpoints.update(&who, id, &patch).await?;
    Ok(StatusCode::OK)
}

/// `DELETE /api/v2.0/registries/{id}`: refused while a project proxies it.
#[utoipa::path(
    delete,
    path = "/api/v2.0/registries/{id}",
    tag = "registry",
    summary = "Delete a registry endpoint",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "Deleted"),
        (status = 412, description = "Still used by a proxy-cache project", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_registry(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.endpoints.delete(&who, id).await?;
    Ok(StatusCode::OK)
}

/// `POST /api/v2.0/registries/ping`
#[utoipa::path(
    post,
    path = "/api/v2.0/registries/ping",
    tag = "registry",
    summary = "Check that a registry answers with the given settings",
    request_body = RegistryPing,
    responses(
        (status = 200, description = "It answers and accepts the credentials"),
        (status = 400, description = "It does not; the message says why", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn ping_registry(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<RegistryPing>,
) -> Result<StatusCode, ApiError> {
    check_credential_type(req.credential_type.as_deref())?;
    let kind = req.kind.as_deref().map(kind_of).transpose()?;
    let patch = EndpointPatch {
        url: req.url,
        insecure: req.insecure,
        access_key: req.access_key,
        access_secret: req.access_secret.map(Secret::from),
        ..Default::default()
    };
    app.endpoints.ping(&who, req.id, kind, &patch).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/registries/{id}/info`
#[utoipa::path(
    get,
    path = "/api/v2.0/registries/{id}/info",
    tag = "registry",
    summary = "What a registry endpoint supports",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "Its filters and triggers", body = RegistryInfo),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn registry_info(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RegistryInfo>, ApiError> {
    let info = app.endpoints.info(&who, id).await?;
    Ok(Json(RegistryInfo {
        kind: info.kind.as_str().into(),
        description: info.description,
        supported_resource_filters: info
            .filters
            .into_iter()
            .map(|(kind, style)| FilterStyle {
                kind: kind.into(),
                style: style.into(),
                values: if kind == "resource" { vec!["image".into(), "artifact".into()] } else { Vec::new() },
            })
            .collect(),
        supported_triggers: info.triggers.into_iter().map(str::to_owned).collect(),
    }))
}

/// `GET /api/v2.0/replication/adapters`
#[utoipa::path(
    get,
    path = "/api/v2.0/replication/adapters",
    tag = "registry",
    summary = "The registry types Wharf speaks to",
    responses(
        (status = 200, description = "Adapter names", body = [String]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_adapters(ApiCaller(who): ApiCaller) -> Result<Json<Vec<&'static str>>, ApiError> {
    if matches!(who, crate::auth::Identity::Anonymous) {
        return Err(ApiError::Unauthorized);
    }
    Ok(Json(RegistryKind::ALL.iter().map(|k| k.as_str()).collect()))
}
