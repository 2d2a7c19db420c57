//! `/api/v2.0/projects/{project_name_or_id}/metadatas[/{meta_name}]`: a project's metadata as a
//! map of strings (Harbor client libraries read `public` and `retention_id` here).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::project_ref;
use crate::state::AppState;

/// `GET /api/v2.0/projects/{project_name_or_id}/metadatas`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/metadatas",
    tag = "projectMetadata",
    summary = "A project's metadata",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    responses(
        (status = 200, description = "Metadata values by name, as strings", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_metadatas(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    Ok(Json(app.projects.metadata(&who, &project_ref(&project, &headers)).await?))
}

/// `POST /api/v2.0/projects/{project_name_or_id}/metadatas {"public": "true"}`
#[utoipa::path(
    post,
    path = "/api/v2.0/projects/{project_name_or_id}/metadatas",
    tag = "projectMetadata",
    summary = "Set metadata of a project",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    request_body = Object,
    responses(
        (status = 200, description = "Set"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn add_metadatas(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(values): ApiJson<BTreeMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    app.projects.set_metadata(&who, &project_ref(&project, &headers), &values).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
    tag = "projectMetadata",
    summary = "One metadata value",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("meta_name" = String, Path, description = "public or retention_id")
    ),
    responses(
        (status = 200, description = "{\"<meta_name>\": \"<value>\"}", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_metadata(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    let all = app.projects.metadata(&who, &project_ref(&project, &headers)).await?;
    let value = all.get(&name).ok_or_else(|| ApiError::NotFound(format!("metadata {name} not found")))?;
    Ok(Json(BTreeMap::from([(name, value.clone())])))
}

/// `PUT /api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name} {"<meta_name>": "…"}`
#[utoipa::path(
    put,
    path = "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
    tag = "projectMetadata",
    summary = "Change one metadata value",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("meta_name" = String, Path)
    ),
    request_body = Object,
    responses(
        (status = 200, description = "Updated"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_metadata(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiJson(values): ApiJson<BTreeMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    if values.len() != 1 || !values.contains_key(&name) {
        return Err(ApiError::BadRequest(format!("the body must be {{\"{name}\": \"<value>\"}}")));
    }
    app.projects.set_metadata(&who, &project_ref(&project, &headers), &values).await?;
    Ok(StatusCode::OK)
}

/// `DELETE /api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
    tag = "projectMetadata",
    summary = "Remove one metadata value",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("meta_name" = String, Path)
    ),
    responses(
        (status = 200, description = "Removed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_metadata(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    app.projects.delete_metadata(&who, &project_ref(&project, &headers), &name).await?;
    Ok(StatusCode::OK)
}
