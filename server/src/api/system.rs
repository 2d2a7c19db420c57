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
    let settings = app.configurations.current().await;
    let mode = settings.as_ref().map(|s| s.auth_mode()).unwrap_or_default();
    let mut info = json!({
        "harbor_version": format!("wharf-{}", env!("CARGO_PKG_VERSION")),
        "auth_mode": mode.as_str(),
        "primary_auth_mode": false,
        "self_registration": false,
        "project_creation_restriction": "everyone",
        "has_ca_root": false,
        "read_only": false,
        "with_notary": false,
        "external_url": base,
        "registry_url": registry,
        "registry_storage_provider_name": storage,
    });
    if let (frontend::types::AuthMode::Oidc, Ok(s)) = (mode, &settings) {
        info["oidc_provider_name"] = json!(s.text("oidc_name"));
    }
    Json(info)
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

/// `GET /api/v2.0/statistics`: Harbor's `Statistic`.
#[utoipa::path(
    get,
    path = "/api/v2.0/statistics",
    tag = "statistic",
    summary = "Project, repository and storage totals (what the caller may see; totals for administrators)",
    responses(
        (status = 200, description = "Harbor's Statistic", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn statistics(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Json<Value>, ApiError> {
    let ((public_projects, private_projects, public_repos, private_repos), storage) =
        app.projects.statistics(&who).await?;
    let mut body = json!({
        "private_project_count": private_projects,
        "private_repo_count": private_repos,
        "public_project_count": public_projects,
        "public_repo_count": public_repos,
    });
    if let Some(bytes) = storage {
        body["total_project_count"] = json!(public_projects + private_projects);
        body["total_repo_count"] = json!(public_repos + private_repos);
        body["total_storage_consumption"] = json!(bytes);
    }
    Ok(Json(body))
}

/// `GET /api/v2.0/systeminfo/volumes`: the blob store's free and total bytes (system
/// administrators), or no entry when the store is a bucket.
#[utoipa::path(
    get,
    path = "/api/v2.0/systeminfo/volumes",
    tag = "systeminfo",
    summary = "Free and total bytes of the blob store's volume (system administrators)",
    responses(
        (status = 200, description = "{\"storage\": [{\"total\", \"free\"}]}; empty for S3", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn volumes(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Json<Value>, ApiError> {
    match &who {
        crate::auth::Identity::Anonymous => return Err(ApiError::Unauthorized),
        w if !w.is_sysadmin() => return Err(ApiError::Forbidden),
        _ => {}
    }
    let storage: Vec<Value> =
        app.gc.volume().map(|(total, free)| json!({"total": total, "free": free})).into_iter().collect();
    Ok(Json(json!({ "storage": storage })))
}
