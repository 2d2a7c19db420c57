//! `/api/v2.0/projects` (Harbor API v2.0): list, create, check, read, update, delete.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiJson, ClientIp};
use super::error::ApiError;
use super::pagination::Page;
use super::types::{Project, ProjectReq};
use crate::app::AppState;
use crate::auth::Action;
use crate::db::projects::ProjectFilter;
use crate::projects::{ProjectError, ProjectRef};

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Unauthorized => Self::Unauthorized,
            ProjectError::Forbidden => Self::Forbidden,
            ProjectError::NotFound(_)
            | ProjectError::NoSuchMember(_)
            | ProjectError::NoSuchUser(_)
            | ProjectError::NoSuchRobot(_) => Self::NotFound(e.to_string()),
            ProjectError::Exists(_) | ProjectError::AlreadyMember(_) => Self::Conflict(e.to_string()),
            ProjectError::InvalidName(_) | ProjectError::InvalidRobot(_) => Self::BadRequest(e.to_string()),
            ProjectError::NotEmpty(_) => Self::PreconditionFailed(e.to_string()),
            ProjectError::Db => Self::Internal,
        }
    }
}

pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default()
}

pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Reads `page` and `page_size`; other parameters are kept for the `Link` header.
pub(super) fn page_of(pairs: &[(String, String)]) -> Result<(Page, String), ApiError> {
    let number = |name: &str, default: i64| -> Result<i64, ApiError> {
        param(pairs, name)
            .map(|v| v.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("{name} must be a number"))))
            .unwrap_or(Ok(default))
    };
    let page = Page { page: number("page", 1)?, page_size: number("page_size", 10)? }.clamped();
    let rest: Vec<&(String, String)> =
        pairs.iter().filter(|(k, _)| k != "page" && k != "page_size").collect();
    Ok((page, serde_urlencoded::to_string(rest).unwrap_or_default()))
}

pub(super) fn project_ref(segment: &str, headers: &HeaderMap) -> ProjectRef {
    let is_name = headers.get("x-is-resource-name").and_then(|v| v.to_str().ok()) == Some("true");
    ProjectRef::parse(segment, is_name)
}

/// `GET /api/v2.0/projects?page=&page_size=&name=&q=name=~x&public=`
pub async fn list_projects(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let mut filter =
        ProjectFilter { name_contains: param(&pairs, "name").unwrap_or("").to_owned(), ..Default::default() };
    // Harbor's `q` query: `name=~part` (contains) or `name=exact`.
    if let Some(q) = param(&pairs, "q") {
        for term in q.split(',') {
            if let Some(v) = term.strip_prefix("name=~") {
                filter.name_contains = v.to_owned();
            } else if let Some(v) = term.strip_prefix("name=") {
                filter.name_exact = v.to_owned();
            }
        }
    }
    filter.public = param(&pairs, "public").map(|v| v.eq_ignore_ascii_case("true"));
    let (rows, total) = app.projects.list(&who, filter, page.offset(), page.page_size).await?;
    let body: Vec<Project> = rows.into_iter().map(Project::from).collect();
    Ok((page.headers(total, "/api/v2.0/projects", &rest), Json(body)).into_response())
}

/// `HEAD /api/v2.0/projects?project_name=`: 200 when the name is taken, 404 otherwise.
pub async fn head_project(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<StatusCode, ApiError> {
    // As in Harbor: only signed-in callers (who may create projects) learn whether a name is
    // taken; anonymous ones must not learn that a private project exists.
    if matches!(who, crate::auth::Identity::Anonymous) {
        return Err(ApiError::Unauthorized);
    }
    let pairs = query_pairs(raw.as_deref());
    let name = param(&pairs, "project_name")
        .ok_or_else(|| ApiError::BadRequest("project_name is required".into()))?;
    Ok(if app.projects.exists(name).await? { StatusCode::OK } else { StatusCode::NOT_FOUND })
}

/// `POST /api/v2.0/projects {"project_name", "metadata": {"public": "true"}}`
pub async fn create_project(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<ProjectReq>,
) -> Result<Response, ApiError> {
    let name =
        req.project_name.as_deref().ok_or_else(|| ApiError::BadRequest("project_name is required".into()))?;
    let id = app.projects.create(&who, name, req.public().unwrap_or(false)).await?;
    app.auditor.record(crate::audit::entry(Some(id), who.name(), "create", name.to_owned(), "project", ip));
    Ok(super::created(&format!("/api/v2.0/projects/{id}"), ()))
}

/// `GET /api/v2.0/projects/{project_name_or_id}`
pub async fn get_project(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Project>, ApiError> {
    let row = app.projects.get(&who, &project_ref(&project, &headers), Action::ReadProject).await?;
    Ok(Json(Project::from(row)))
}

/// `PUT /api/v2.0/projects/{project_name_or_id} {"metadata": {"public": "false"}}`
pub async fn update_project(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(project): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ProjectReq>,
) -> Result<StatusCode, ApiError> {
    let r = project_ref(&project, &headers);
    match req.public() {
        Some(public) => app.projects.set_public(&who, &r, public).await?,
        // Nothing to change, but the caller must still be allowed to change it.
        None => drop(app.projects.get(&who, &r, Action::UpdateProject).await?),
    }
    Ok(StatusCode::OK)
}

/// `DELETE /api/v2.0/projects/{project_name_or_id}`: only an empty project.
pub async fn delete_project(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    app.projects.delete(&who, &project_ref(&project, &headers)).await?;
    Ok(StatusCode::OK)
}
