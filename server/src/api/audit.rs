//! `GET /api/v2.0/audit-logs` (system administrators) and `GET /api/v2.0/projects/{p}/logs`
//! (project admins), with Harbor's `q=operation=push,username=dev` filter and pagination.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiPath};
use super::error::ApiError;
use super::pagination::Page;
use super::projects::{page_of, param, project_ref, query_pairs};
use super::types::AuditLog;
use crate::auth::Identity;
use crate::state::AppState;

fn filters(pairs: &[(String, String)]) -> (String, String) {
    let (mut operation, mut username) = (String::new(), String::new());
    for term in param(pairs, "q").unwrap_or("").split(',') {
        if let Some(v) = term.strip_prefix("operation=") {
            operation = v.to_owned();
        } else if let Some(v) = term.strip_prefix("username=") {
            username = v.to_owned();
        }
    }
    (operation, username)
}

/// Answers one page of log `rows` (of `total`) with Harbor's paging headers.
fn answer(rows: Vec<crate::db::audit::AuditRow>, total: i64, page: Page, path: &str, rest: &str) -> Response {
    let body: Vec<AuditLog> = rows.into_iter().map(AuditLog::from).collect();
    (page.headers(total, path, rest), Json(body)).into_response()
}

/// `GET /api/v2.0/audit-logs`
#[utoipa::path(
    get,
    path = "/api/v2.0/audit-logs",
    tag = "auditlog",
    summary = "The audit log (system administrators)",
    params(
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "Filters: operation=, resource=~, username=~")
    ),
    responses(
        (status = 200, description = "Audit log entries, newest first", body = [super::types::AuditLog]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_audit_logs(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let (op, user) = filters(&pairs);
    match app.auditor.system_log(&who, &op, &user, page.offset(), page.page_size).await? {
        Some((rows, total)) => Ok(answer(rows, total, page, "/api/v2.0/audit-logs", &rest)),
        None if matches!(who, Identity::Anonymous) => Err(ApiError::Unauthorized),
        None => Err(ApiError::Forbidden),
    }
}

/// `GET /api/v2.0/projects/{project}/logs`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/logs",
    tag = "project",
    summary = "A project's audit log",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "Filters")
    ),
    responses(
        (status = 200, description = "The project's audit log entries", body = [super::types::AuditLog]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_project_logs(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let (op, user) = filters(&pairs);
    let p = project_ref(&project, &headers);
    let (rows, total) = app.projects.logs(&who, &p, &op, &user, page.offset(), page.page_size).await?;
    Ok(answer(rows, total, page, &format!("/api/v2.0/projects/{project}/logs"), &rest))
}
