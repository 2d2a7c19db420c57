//! `GET /api/v2.0/systeminfo` and `GET /api/v2.0/search` (Harbor API v2.0).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::caller::ApiCaller;
use super::error::ApiError;
use super::projects::{param, query_pairs};
use super::types::Project;
use crate::db::projects::ProjectFilter;
use crate::state::AppState;

/// Most hits of each kind a search returns.
const SEARCH_LIMIT: i64 = 100;

/// Harbor's `GeneralInfo`, for clients that check what they talk to.
#[utoipa::path(
    get,
    path = "/api/v2.0/systeminfo",
    tag = "systeminfo",
    summary = "General information about this Wharf",
    responses(
        (status = 200, description = "General information", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn system_info(State(app): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok());
    let base = app.config.base_url(host);
    let registry = base.split_once("://").map_or(base.as_str(), |(_, h)| h).to_owned();
    let storage = if app.config.storage_url.starts_with("s3://") { "s3" } else { "filesystem" };
    Json(json!({
        "harbor_version": format!("wharf-{}", env!("CARGO_PKG_VERSION")),
        "auth_mode": "db_auth",
        "primary_auth_mode": false,
        "self_registration": false,
        "project_creation_restriction": "everyone",
        "has_ca_root": false,
        "read_only": false,
        "with_notary": false,
        "external_url": base,
        "registry_url": registry,
        "registry_storage_provider_name": storage,
    }))
}

/// `GET /api/v2.0/search?q=`: projects and repositories the caller may read, by name.
#[utoipa::path(
    get,
    path = "/api/v2.0/search",
    tag = "search",
    summary = "Projects and repositories by name",
    params(
        ("q" = String, Query, description = "Part of a project or repository name")
    ),
    responses(
        (status = 200, description = "Projects and repositories the caller may read", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn search(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let text = param(&pairs, "q").unwrap_or("").to_owned();
    let filter = ProjectFilter { name_contains: text.clone(), ..Default::default() };
    let (projects, _) = app.projects.list(&who, filter, 0, SEARCH_LIMIT).await?;
    let hits = app.artifacts.search(&who, &text, SEARCH_LIMIT).await?;
    let repositories: Vec<Value> = hits
        .into_iter()
        .map(|h| {
            json!({
                "project_id": h.repository.project_id,
                "project_name": h.project_name,
                "project_public": h.project_public,
                "repository_name": h.repository.name,
                "pull_count": h.repository.pull_count,
                "artifact_count": h.repository.artifact_count,
            })
        })
        .collect();
    let projects: Vec<Project> = projects.into_iter().map(Project::from).collect();
    Ok(Json(json!({ "project": projects, "repository": repositories })))
}
