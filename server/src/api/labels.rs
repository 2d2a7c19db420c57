//! Labels, Harbor's `/api/v2.0/labels` (global: system administrators; project: maintainers and
//! project administrators) and `…/artifacts/{reference}/labels` (whoever may push).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{name_part, page_of, param, project_ref, query_pairs};
use super::repositories::decode_again;
use crate::db::labels::LabelRow;
use crate::labels::{LabelError, LabelSpec};
use crate::state::AppState;
use crate::time::rfc3339_ms;

impl From<LabelError> for ApiError {
    fn from(e: LabelError) -> Self {
        match e {
            LabelError::Project(p) => p.into(),
            LabelError::Invalid(m) => Self::BadRequest(m),
            LabelError::Conflict(m) => Self::Conflict(m),
            LabelError::NotFound(_) => Self::NotFound(e.to_string()),
            LabelError::Db => Self::Internal,
        }
    }
}

/// Harbor's `Label`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Label {
    /// Id (answers only).
    #[serde(default)]
    pub id: i64,
    /// Name, unique in its scope.
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `#rrggbb`.
    #[serde(default)]
    pub color: String,
    /// `g` (global) or `p` (project).
    #[serde(default)]
    pub scope: String,
    /// The project of a project label (0 for global ones).
    #[serde(default)]
    pub project_id: i64,
    /// Creation time (RFC 3339; answers only).
    #[serde(default)]
    pub creation_time: String,
    /// Last change (RFC 3339; answers only).
    #[serde(default)]
    pub update_time: String,
}

impl From<LabelRow> for Label {
    fn from(l: LabelRow) -> Self {
        Self {
            id: l.id,
            name: l.name,
            description: l.description,
            color: l.color,
            scope: l.scope,
            project_id: l.project_id.unwrap_or(0),
            creation_time: rfc3339_ms(l.created_at),
            update_time: rfc3339_ms(l.updated_at),
        }
    }
}

fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("{raw:?} is not a label id")))
}

/// `GET /api/v2.0/labels?scope=g|p&project_id=&name=`
#[utoipa::path(
    get,
    path = "/api/v2.0/labels",
    tag = "label",
    summary = "Global labels, or a project's",
    params(
        ("scope" = String, Query, description = "g (global) or p (project)"),
        ("project_id" = i64, Query, description = "The project of project labels"),
        ("name" = String, Query, description = "Part of the name"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Labels; X-Total-Count and Link headers", body = [Label]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_labels(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let scope = param(&pairs, "scope").unwrap_or("g");
    let project = param(&pairs, "project_id").map(id_of).transpose()?;
    let (rows, total) =
        app.labels.list(&who, scope, project, &name_part(&pairs), page.offset(), page.page_size).await?;
    let body: Vec<Label> = rows.into_iter().map(Label::from).collect();
    Ok((page.headers(total, "/api/v2.0/labels", &rest), Json(body)).into_response())
}

/// `POST /api/v2.0/labels`: 201 with the label's location.
#[utoipa::path(
    post,
    path = "/api/v2.0/labels",
    tag = "label",
    summary = "Create a label",
    request_body = Label,
    responses(
        (status = 201, description = "Created; Location names it"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_label(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<Label>,
) -> Result<Response, ApiError> {
    let spec = LabelSpec {
        name: req.name,
        description: req.description,
        color: req.color,
        scope: if req.scope.is_empty() { "g".into() } else { req.scope },
        project_id: (req.project_id > 0).then_some(req.project_id),
    };
    let id = app.labels.create(&who, &spec).await?;
    Ok(super::created(&format!("/api/v2.0/labels/{id}"), ()))
}

/// `GET /api/v2.0/labels/{label_id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/labels/{label_id}",
    tag = "label",
    summary = "One label",
    params(("label_id" = i64, Path, description = "The label's id")),
    responses(
        (status = 200, description = "The label", body = Label),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_label(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Label>, ApiError> {
    Ok(Json(app.labels.get(&who, id_of(&id)?).await?.into()))
}

/// `PUT /api/v2.0/labels/{label_id}`
#[utoipa::path(
    put,
    path = "/api/v2.0/labels/{label_id}",
    tag = "label",
    summary = "Change a label's name, description or color",
    params(("label_id" = i64, Path, description = "The label's id")),
    request_body = Label,
    responses(
        (status = 200, description = "Changed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_label(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Label>,
) -> Result<StatusCode, ApiError> {
    app.labels.update(&who, id_of(&id)?, &req.name, &req.description, &req.color).await?;
    Ok(StatusCode::OK)
}

/// `DELETE /api/v2.0/labels/{label_id}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/labels/{label_id}",
    tag = "label",
    summary = "Delete a label (it leaves every artifact)",
    params(("label_id" = i64, Path, description = "The label's id")),
    responses(
        (status = 200, description = "Deleted"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_label(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.labels.delete(&who, id_of(&id)?).await?;
    Ok(StatusCode::OK)
}

/// `POST …/artifacts/{reference}/labels {"id": …}`
#[utoipa::path(
    post,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels",
    tag = "artifact",
    summary = "Put a label on an artifact",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest")
    ),
    request_body = Label,
    responses(
        (status = 200, description = "Added"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn add_label(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo, reference)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Label>,
) -> Result<StatusCode, ApiError> {
    let p = project_ref(&project, &headers);
    app.artifacts.add_label(&who, &p, &decode_again(&repo), &reference, req.id).await?;
    Ok(StatusCode::OK)
}

/// `DELETE …/artifacts/{reference}/labels/{label_id}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels/{label_id}",
    tag = "artifact",
    summary = "Take a label off an artifact",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest"),
        ("label_id" = i64, Path, description = "The label's id")
    ),
    responses(
        (status = 200, description = "Removed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn remove_label(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo, reference, label)): ApiPath<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let p = project_ref(&project, &headers);
    app.artifacts.remove_label(&who, &p, &decode_again(&repo), &reference, id_of(&label)?).await?;
    Ok(StatusCode::OK)
}
