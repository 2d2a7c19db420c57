//! Tag retention, Harbor's `/api/v2.0/retentions` paths. Developers and above of the policy's
//! project (and system administrators) may read, change and run a policy.

use axum::Json;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use frontend::types::RetentionTemplate;

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, query_pairs};
use super::types::{RetentionExecution, RetentionOperateReq, RetentionRunReq, RetentionTask};
use crate::retention::RetentionError;
use crate::retention::policy::PolicyDoc;
use crate::state::AppState;

impl From<RetentionError> for ApiError {
    fn from(e: RetentionError) -> Self {
        match e {
            RetentionError::Project(p) => p.into(),
            RetentionError::Invalid(m) => Self::BadRequest(m),
            RetentionError::Conflict(m) => Self::Conflict(m),
            RetentionError::NotFound(_) => Self::NotFound(e.to_string()),
            RetentionError::Busy => Self::Conflict(e.to_string()),
            RetentionError::NotRunning(_) => Self::PreconditionFailed(e.to_string()),
            RetentionError::Db(e) => e.into(),
        }
    }
}

fn id_of(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("{raw:?} is not a {what} id")))
}

/// `GET /api/v2.0/retentions/metadatas`: the templates and selectors a policy may use.
#[utoipa::path(
    get,
    path = "/api/v2.0/retentions/metadatas",
    tag = "retention",
    summary = "What a retention policy may use",
    responses(
        (status = 200, description = "Templates and selectors", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn metadatas(ApiCaller(who): ApiCaller) -> Result<Json<serde_json::Value>, ApiError> {
    if matches!(who, crate::auth::Identity::Anonymous) {
        return Err(ApiError::Unauthorized);
    }
    let templates: Vec<serde_json::Value> = RetentionTemplate::ALL
        .into_iter()
        .map(|t| {
            let params = t.unit().map_or_else(Vec::new, |u| {
                vec![serde_json::json!({"type": "int", "unit": u, "required": true})]
            });
            serde_json::json!({
                "rule_template": t.as_str(),
                "display_text": t.display_text(),
                "action": "retain",
                "params": params,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "templates": templates,
        "scope_selectors": [{"display_text": "Repositories", "kind": "doublestar", "decorations": ["repoMatches", "repoExcludes"]}],
        "tag_selectors": [{"display_text": "Tags", "kind": "doublestar", "decorations": ["matches", "excludes"]}],
    })))
}

/// `POST /api/v2.0/retentions`: 201 with the policy's location.
#[utoipa::path(
    post,
    path = "/api/v2.0/retentions",
    tag = "retention",
    summary = "Create a project's retention policy (Harbor's RetentionPolicy)",
    request_body = Object,
    responses(
        (status = 201, description = "Created; Location names it"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(doc): ApiJson<PolicyDoc>,
) -> Result<Response, ApiError> {
    let id = app.retention.create(&who, &doc).await?;
    Ok(super::created(&format!("/api/v2.0/retentions/{id}"), ()))
}

/// `GET /api/v2.0/retentions/{id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/retentions/{id}",
    tag = "retention",
    summary = "One retention policy",
    params(
        ("id" = i64, Path, description = "The policy's id")
    ),
    responses(
        (status = 200, description = "The policy (Harbor's RetentionPolicy)", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PolicyDoc>, ApiError> {
    Ok(Json(app.retention.get(&who, id_of(&id, "retention")?).await?.doc))
}

/// `PUT /api/v2.0/retentions/{id}`
#[utoipa::path(
    put,
    path = "/api/v2.0/retentions/{id}",
    tag = "retention",
    summary = "Replace a retention policy",
    params(
        ("id" = i64, Path)
    ),
    request_body = Object,
    responses(
        (status = 200, description = "Replaced"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(doc): ApiJson<PolicyDoc>,
) -> Result<StatusCode, ApiError> {
    app.retention.update(&who, id_of(&id, "retention")?, &doc).await?;
    Ok(StatusCode::OK)
}

/// `DELETE /api/v2.0/retentions/{id}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/retentions/{id}",
    tag = "retention",
    summary = "Delete a retention policy",
    params(
        ("id" = i64, Path)
    ),
    responses(
        (status = 200, description = "Deleted"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.retention.delete(&who, id_of(&id, "retention")?).await?;
    Ok(StatusCode::OK)
}

/// `POST /api/v2.0/retentions/{id}/executions {"dry_run": bool}`: 201 with the execution's
/// location.
#[utoipa::path(
    post,
    path = "/api/v2.0/retentions/{id}/executions",
    tag = "retention",
    summary = "Run a retention policy (or a dry run)",
    params(
        ("id" = i64, Path)
    ),
    request_body = super::types::RetentionRunReq,
    responses(
        (status = 201, description = "Started; Location names the execution"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn run(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // Harbor's clients send `{"dry_run": …}`; an empty body means a real run.
    let req: RetentionRunReq = if body.iter().all(u8::is_ascii_whitespace) {
        RetentionRunReq::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))?
    };
    let dry_run = req.dry_run;
    let eid = app.retention.run(&who, id_of(&id, "retention")?, dry_run).await?;
    Ok(super::created(&format!("{}/{eid}", uri.path().trim_end_matches('/')), ()))
}

/// `GET /api/v2.0/retentions/{id}/executions`: newest first, paginated.
#[utoipa::path(
    get,
    path = "/api/v2.0/retentions/{id}/executions",
    tag = "retention",
    summary = "A policy's executions",
    params(
        ("id" = i64, Path),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Executions, newest first", body = [super::types::RetentionExecution]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_executions(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pid = id_of(&id, "retention")?;
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let (rows, total) = app.retention.executions(&who, pid, page.offset(), page.page_size).await?;
    let body: Vec<RetentionExecution> = rows.into_iter().map(Into::into).collect();
    let path = format!("/api/v2.0/retentions/{pid}/executions");
    Ok((page.headers(total, &path, &rest), Json(body)).into_response())
}

/// `PATCH /api/v2.0/retentions/{id}/executions/{eid} {"action": "stop"}`
#[utoipa::path(
    patch,
    path = "/api/v2.0/retentions/{id}/executions/{eid}",
    tag = "retention",
    summary = "Stop an execution",
    params(
        ("id" = i64, Path),
        ("eid" = i64, Path, description = "The execution's id")
    ),
    request_body = super::types::RetentionOperateReq,
    responses(
        (status = 200, description = "Asked to stop"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn operate(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((id, eid)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<RetentionOperateReq>,
) -> Result<StatusCode, ApiError> {
    if req.action != "stop" {
        return Err(ApiError::BadRequest("action should be 'stop'".into()));
    }
    app.retention.stop(&who, id_of(&id, "retention")?, id_of(&eid, "execution")?).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/retentions/{id}/executions/{eid}/tasks`: paginated.
#[utoipa::path(
    get,
    path = "/api/v2.0/retentions/{id}/executions/{eid}/tasks",
    tag = "retention",
    summary = "An execution's tasks",
    params(
        ("id" = i64, Path),
        ("eid" = i64, Path),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "One task per repository", body = [super::types::RetentionTask]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_tasks(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((id, eid)): ApiPath<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (pid, eid) = (id_of(&id, "retention")?, id_of(&eid, "execution")?);
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let (rows, total) = app.retention.tasks(&who, pid, eid, page.offset(), page.page_size).await?;
    let body: Vec<RetentionTask> = rows.into_iter().map(Into::into).collect();
    let path = format!("/api/v2.0/retentions/{pid}/executions/{eid}/tasks");
    Ok((page.headers(total, &path, &rest), Json(body)).into_response())
}

/// `GET /api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}`: the task's log (plain text).
#[utoipa::path(
    get,
    path = "/api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}",
    tag = "retention",
    summary = "A task's log",
    params(
        ("id" = i64, Path),
        ("eid" = i64, Path),
        ("tid" = i64, Path, description = "The task's id")
    ),
    responses(
        (status = 200, description = "The task's log (text/plain)", body = String),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn task_log(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((id, eid, tid)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let log = app
        .retention
        .task_log(&who, id_of(&id, "retention")?, id_of(&eid, "execution")?, id_of(&tid, "task")?)
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], log).into_response())
}
