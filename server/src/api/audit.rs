//! `GET /api/v2.0/audit-logs` (system administrators) and `GET /api/v2.0/projects/{p}/logs`
//! (project admins), with Harbor's `q=operation=push,username=dev` filter and pagination.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, param, project_ref, query_pairs};
use super::types::AuditLog;
use crate::auth::{Action, Identity};
use crate::db;
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

async fn page_of_logs(
    app: &AppState,
    project: Option<i64>,
    raw: Option<&str>,
    path: &str,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw);
    let (page, rest) = page_of(&pairs)?;
    let (op, user) = filters(&pairs);
    let rows = db::audit::list(app.db.reader(), project, &op, &user, page.offset(), page.page_size).await?;
    let total = db::audit::count(app.db.reader(), project, &op, &user).await?;
    let body: Vec<AuditLog> = rows.into_iter().map(AuditLog::from).collect();
    Ok((page.headers(total, path, &rest), Json(body)).into_response())
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
    match who {
        Identity::User { sysadmin: true, .. } => {
            page_of_logs(&app, None, raw.as_deref(), "/api/v2.0/audit-logs").await
        }
        Identity::User { .. } | Identity::Robot { .. } => Err(ApiError::Forbidden),
        Identity::Anonymous => Err(ApiError::Unauthorized),
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
    let p = app.projects.get(&who, &project_ref(&project, &headers), Action::ReadLogs).await?;
    page_of_logs(&app, Some(p.id), raw.as_deref(), &format!("/api/v2.0/projects/{project}/logs")).await
}
