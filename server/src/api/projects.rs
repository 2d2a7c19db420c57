//! `/api/v2.0/projects` (Harbor API v2.0): list, create, check, read, update, delete.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::caller::{ApiActor, ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::pagination::Page;
use super::types::{Project, ProjectReq};
use crate::auth::Action;
use crate::db::projects::ProjectFilter;
use crate::projects::{ProjectError, ProjectRef};
use crate::state::AppState;

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Unauthorized => Self::Unauthorized,
            ProjectError::Forbidden => Self::Forbidden,
            ProjectError::NotFound(_)
            | ProjectError::NoSuchMember(_)
            | ProjectError::NoSuchUser(_)
            | ProjectError::NoSuchGroup(_)
            | ProjectError::NoSuchRobot(_) => Self::NotFound(e.to_string()),
            ProjectError::Exists(_) | ProjectError::AlreadyMember(_) => Self::Conflict(e.to_string()),
            ProjectError::InvalidName(_)
            | ProjectError::InvalidRobot(_)
            | ProjectError::InvalidMetadata(_) => Self::BadRequest(e.to_string()),
            ProjectError::NotEmpty(_) => Self::PreconditionFailed(e.to_string()),
            ProjectError::Db => Self::Internal,
        }
    }
}

/// The query's parameters; an empty value counts as absent, as in Harbor (client libraries
/// send `?page=&page_size=` for parameters the caller left out).
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    pairs.retain(|(_, v)| !v.is_empty());
    pairs
}

/// The name part a listing filters on: `name=`, or `q=name=~part` (`q=name=exact` is taken as
/// a part too: the lists it serves are short).
pub(super) fn name_part(pairs: &[(String, String)]) -> String {
    let from_q = param(pairs, "q").and_then(|q| {
        q.split(',').find_map(|t| t.strip_prefix("name=~").or_else(|| t.strip_prefix("name=")))
    });
    from_q.or_else(|| param(pairs, "name")).unwrap_or("").to_owned()
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
#[utoipa::path(
    get,
    path = "/api/v2.0/projects",
    tag = "project",
    summary = "List projects",
    params(
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("name" = String, Query, description = "Part of the name"),
        ("q" = String, Query, description = "name=~x, public=true"),
        ("public" = bool, Query, description = "Only public or only private")
    ),
    responses(
        (status = 200, description = "The projects the caller may see; X-Total-Count and Link headers", body = [super::types::Project]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
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
#[utoipa::path(
    head,
    path = "/api/v2.0/projects",
    tag = "project",
    summary = "Check whether a project name is taken",
    params(
        ("project_name" = String, Query, description = "The name to check")
    ),
    responses(
        (status = 200, description = "The name is taken"),
        (status = 404, description = "The name is free"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v2.0/projects",
    tag = "project",
    summary = "Create a project",
    request_body = super::types::ProjectReq,
    responses(
        (status = 201, description = "Created; Location names it"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_project(
    State(app): State<AppState>,
    actor: ApiActor,
    ApiJson(req): ApiJson<ProjectReq>,
) -> Result<Response, ApiError> {
    let name =
        req.project_name.as_deref().ok_or_else(|| ApiError::BadRequest("project_name is required".into()))?;
    let spec = crate::projects::NewProject {
        name,
        public: req.public().unwrap_or(false),
        registry_id: req.registry_id.filter(|id| *id > 0),
        proxy_speed_kb: req.proxy_speed_kb().map_err(ApiError::BadRequest)?,
        group_members: req.group_members.as_deref().unwrap_or_default(),
        storage_limit: req.storage_limit,
    };
    let id = app.projects.create_with(actor.get(), &spec).await?;
    Ok(super::created(&format!("/api/v2.0/projects/{id}"), ()))
}

/// `GET /api/v2.0/projects/{project_name_or_id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}",
    tag = "project",
    summary = "One project",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    responses(
        (status = 200, description = "The project", body = super::types::Project),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_project(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<Project>, ApiError> {
    let row = app.projects.get(&who, &project_ref(&project, &headers), Action::ReadProject).await?;
    let members = app.projects.group_members(&row).await?;
    let mut body = Project::from(row);
    body.group_members = (!members.is_empty()).then_some(members);
    Ok(Json(body))
}

/// `PUT /api/v2.0/projects/{project_name_or_id} {"metadata": {"public": "false"}}`
#[utoipa::path(
    put,
    path = "/api/v2.0/projects/{project_name_or_id}",
    tag = "project",
    summary = "Change a project's metadata",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    request_body = super::types::ProjectReq,
    responses(
        (status = 200, description = "Updated"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_project(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
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
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name_or_id}",
    tag = "project",
    summary = "Delete an empty project",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    responses(
        (status = 200, description = "Deleted"),
        (status = 412, description = "The project still has repositories", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_project(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    app.projects.delete(&who, &project_ref(&project, &headers)).await?;
    Ok(StatusCode::OK)
}
