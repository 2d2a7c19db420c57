//! Project quotas, Harbor's `/api/v2.0/quotas` (system administrators), and the project summary
//! that carries a project's quota for its members.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, param, project_ref, query_pairs};
use crate::auth::Role;
use crate::db::quotas::QuotaRow;
use crate::state::AppState;
use crate::time::rfc3339_ms;

/// Harbor's `ResourceList`: `{"storage": bytes}`.
pub type ResourceList = BTreeMap<String, i64>;

fn storage(bytes: i64) -> ResourceList {
    BTreeMap::from([("storage".to_owned(), bytes)])
}

/// Harbor's `Quota`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Quota {
    /// Id (Wharf's is the project's id).
    pub id: i64,
    /// What it limits: `{"id", "name", "owner_name"}` of the project.
    #[serde(rename = "ref")]
    pub reference: serde_json::Value,
    /// Limits: `{"storage": bytes}`, -1 for none.
    #[schema(value_type = Object)]
    pub hard: ResourceList,
    /// Usage: `{"storage": bytes}`.
    #[schema(value_type = Object)]
    pub used: ResourceList,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last change (RFC 3339).
    pub update_time: String,
}

impl From<QuotaRow> for Quota {
    fn from(q: QuotaRow) -> Self {
        Self {
            id: q.project_id,
            reference: serde_json::json!({"id": q.project_id, "name": q.project_name, "owner_name": q.owner_name.unwrap_or_default()}),
            hard: storage(q.hard),
            used: storage(q.used),
            creation_time: rfc3339_ms(q.created_at),
            update_time: rfc3339_ms(q.updated_at),
        }
    }
}

/// Harbor's `QuotaUpdateReq`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct QuotaUpdateReq {
    /// New limits: `{"storage": bytes}`, -1 for none.
    #[schema(value_type = Object)]
    pub hard: ResourceList,
}

/// Harbor's `ProjectSummary`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectSummary {
    /// Repositories in the project.
    pub repo_count: i64,
    /// Members with each role.
    pub project_admin_count: i64,
    /// Maintainers.
    pub maintainer_count: i64,
    /// Developers.
    pub developer_count: i64,
    /// Guests.
    pub guest_count: i64,
    /// Limited guests.
    pub limited_guest_count: i64,
    /// `{"hard": {"storage"}, "used": {"storage"}}`.
    pub quota: serde_json::Value,
}

fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("{raw:?} is not a quota id")))
}

/// `GET /api/v2.0/quotas?reference=project&reference_id=&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/quotas",
    tag = "quota",
    summary = "Project quotas (system administrators)",
    params(
        ("reference" = String, Query, description = "Only `project` is known"),
        ("reference_id" = String, Query, description = "One project's id"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Quotas; X-Total-Count and Link headers", body = [Quota]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_quotas(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    if let Some(r) = param(&pairs, "reference")
        && r != "project"
    {
        return Err(ApiError::BadRequest(format!("reference {r:?}: only project quotas exist")));
    }
    let project = param(&pairs, "reference_id").map(id_of).transpose()?;
    let (rows, total) = app.projects.quotas(&who, project, page.offset(), page.page_size).await?;
    let body: Vec<Quota> = rows.into_iter().map(Quota::from).collect();
    Ok((page.headers(total, "/api/v2.0/quotas", &rest), Json(body)).into_response())
}

/// `GET /api/v2.0/quotas/{id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/quotas/{id}",
    tag = "quota",
    summary = "One project's quota (system administrators)",
    params(("id" = i64, Path, description = "The quota's id")),
    responses(
        (status = 200, description = "The quota", body = Quota),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_quota(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Quota>, ApiError> {
    Ok(Json(app.projects.quota(&who, id_of(&id)?).await?.into()))
}

/// `PUT /api/v2.0/quotas/{id} {"hard": {"storage": bytes}}`
#[utoipa::path(
    put,
    path = "/api/v2.0/quotas/{id}",
    tag = "quota",
    summary = "Change a project's storage limit (system administrators)",
    params(("id" = i64, Path, description = "The quota's id")),
    request_body = QuotaUpdateReq,
    responses(
        (status = 200, description = "Changed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_quota(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<QuotaUpdateReq>,
) -> Result<StatusCode, ApiError> {
    let id = id_of(&id)?;
    let hard = *req
        .hard
        .get("storage")
        .ok_or_else(|| ApiError::BadRequest("hard.storage is required (bytes, or -1 for none)".into()))?;
    if let Some(other) = req.hard.keys().find(|k| k.as_str() != "storage") {
        return Err(ApiError::BadRequest(format!("{other:?} is not a quota resource (only storage is)")));
    }
    app.projects.set_quota(&who, id, hard).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/projects/{project_name_or_id}/summary`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/summary",
    tag = "project",
    summary = "A project's repository and member counts and its quota",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    responses(
        (status = 200, description = "The summary", body = ProjectSummary),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn project_summary(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<ProjectSummary>, ApiError> {
    let (p, roles, quota) = app.projects.summary(&who, &project_ref(&project, &headers)).await?;
    let count = |role: Role| roles.iter().find(|(r, _)| *r == role.id()).map_or(0, |(_, n)| *n);
    let (hard, used) = quota.map_or((-1, 0), |q| (q.hard, q.used));
    Ok(Json(ProjectSummary {
        repo_count: p.repo_count,
        project_admin_count: count(Role::ProjectAdmin),
        developer_count: count(Role::Developer),
        guest_count: count(Role::Guest),
        maintainer_count: count(Role::Maintainer),
        limited_guest_count: count(Role::LimitedGuest),
        quota: serde_json::json!({"hard": storage(hard), "used": storage(used)}),
    }))
}
