//! Tag immutability, Harbor's `/api/v2.0/projects/{project_name_or_id}/immutabletagrules`.
//! Anyone who may see the project lists the rules; maintainers and project administrators
//! change them.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, project_ref, query_pairs};
use crate::immutable::{ImmutableError, ImmutableRuleDoc};
use crate::state::AppState;

impl From<ImmutableError> for ApiError {
    fn from(e: ImmutableError) -> Self {
        match e {
            ImmutableError::Project(p) => p.into(),
            ImmutableError::Invalid(m) => Self::BadRequest(m),
            ImmutableError::Conflict(m) => Self::Conflict(m),
            ImmutableError::NotFound(_) => Self::NotFound(e.to_string()),
            ImmutableError::Db => Self::Internal,
        }
    }
}

fn rule_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("{raw:?} is not a rule id")))
}

/// `GET …/immutabletagrules?page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules",
    tag = "immutable",
    summary = "A project's tag immutability rules",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Harbor's ImmutableRule list; X-Total-Count and Link headers", body = [Object]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_rules(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let rules = app.immutability.list(&who, &project_ref(&project, &headers)).await?;
    let total = rules.len() as i64;
    let body: Vec<ImmutableRuleDoc> =
        rules.into_iter().skip(page.offset() as usize).take(page.page_size as usize).collect();
    let path = format!("/api/v2.0/projects/{project}/immutabletagrules");
    Ok((page.headers(total, &path, &rest), Json(body)).into_response())
}

/// `POST …/immutabletagrules`: 201 with the rule's location.
#[utoipa::path(
    post,
    path = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules",
    tag = "immutable",
    summary = "Add a tag immutability rule (at most 15 per project)",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    request_body = Object,
    responses(
        (status = 201, description = "Created; Location names it"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_rule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(doc): ApiJson<ImmutableRuleDoc>,
) -> Result<Response, ApiError> {
    let id = app.immutability.create(&who, &project_ref(&project, &headers), &doc).await?;
    Ok(super::created(&format!("/api/v2.0/projects/{project}/immutabletagrules/{id}"), ()))
}

/// `PUT …/immutabletagrules/{immutable_rule_id}`: change a rule, or switch it on or off.
#[utoipa::path(
    put,
    path = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}",
    tag = "immutable",
    summary = "Change a tag immutability rule, or enable or disable it",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("immutable_rule_id" = i64, Path, description = "The rule's id")
    ),
    request_body = Object,
    responses(
        (status = 200, description = "Changed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_rule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiJson(doc): ApiJson<ImmutableRuleDoc>,
) -> Result<StatusCode, ApiError> {
    let id = rule_id(&id)?;
    app.immutability.update(&who, &project_ref(&project, &headers), id, &doc).await?;
    Ok(StatusCode::OK)
}

/// `DELETE …/immutabletagrules/{immutable_rule_id}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}",
    tag = "immutable",
    summary = "Delete a tag immutability rule",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("immutable_rule_id" = i64, Path, description = "The rule's id")
    ),
    responses(
        (status = 200, description = "Deleted"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_rule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let id = rule_id(&id)?;
    app.immutability.delete(&who, &project_ref(&project, &headers), id).await?;
    Ok(StatusCode::OK)
}
