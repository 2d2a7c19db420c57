//! Webhooks, Harbor's `/api/v2.0/projects/{project_name_or_id}/webhook/…` paths: policies
//! (project administrators change them, maintainers read them), the event types they may
//! subscribe to, and each policy's history as Harbor 2.8+ answers it: one execution per event,
//! one task per target, each task's attempts as its log.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use frontend::types::{NotifyType, PayloadFormat, WebhookEvent};
use serde::{Deserialize, Serialize};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{name_part, page_of, project_ref, query_pairs};
use crate::state::AppState;
use crate::time::rfc3339_ms;
use crate::webhooks::{Policy, TargetSpec, WebhookError, WebhookSpec};

/// What an auth header is answered as: it is never given back.
const MASK: &str = "*****";

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Project(p) => p.into(),
            WebhookError::Invalid(m) => Self::BadRequest(m),
            WebhookError::Conflict(m) => Self::Conflict(m),
            WebhookError::NotFound(_) => Self::NotFound(e.to_string()),
            WebhookError::Db => Self::Internal,
        }
    }
}

/// Harbor's `WebhookTargetObject`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookTarget {
    /// `http` or `slack`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Where to post.
    #[serde(default)]
    pub address: String,
    /// The `Authorization` header to send; answered as `*****` when set. Sending `*****` back
    /// keeps the stored one, an empty string removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_header: Option<String>,
    /// Skip TLS certificate verification.
    #[serde(default)]
    pub skip_cert_verify: bool,
    /// `Default` or `CloudEvents` (HTTP targets).
    #[serde(default)]
    pub payload_format: String,
}

/// Harbor's `WebhookPolicy`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookPolicy {
    /// Id (answers only).
    #[serde(default)]
    pub id: i64,
    /// Name, unique in the project.
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The project (answers only).
    #[serde(default)]
    pub project_id: i64,
    /// Where events go.
    #[serde(default)]
    pub targets: Vec<WebhookTarget>,
    /// `PUSH_ARTIFACT`, `PULL_ARTIFACT`, `DELETE_ARTIFACT`, `QUOTA_EXCEED`, `QUOTA_WARNING`,
    /// `REPLICATION`, `TAG_RETENTION`.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Who created it (answers only).
    #[serde(default)]
    pub creator: String,
    /// Creation time (RFC 3339; answers only).
    #[serde(default)]
    pub creation_time: String,
    /// Last change (RFC 3339; answers only).
    #[serde(default)]
    pub update_time: String,
    /// Whether it sends.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl From<Policy> for WebhookPolicy {
    fn from(p: Policy) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            project_id: p.project_id,
            targets: p
                .targets
                .into_iter()
                .map(|t| WebhookTarget {
                    kind: t.kind.as_str().to_owned(),
                    address: t.address,
                    auth_header: t.has_auth_header.then(|| MASK.to_owned()),
                    skip_cert_verify: t.skip_cert_verify,
                    payload_format: t.payload_format.as_str().to_owned(),
                })
                .collect(),
            event_types: p.events.iter().map(|e| e.as_str().to_owned()).collect(),
            creator: p.creator,
            creation_time: rfc3339_ms(p.created_at),
            update_time: rfc3339_ms(p.updated_at),
            enabled: p.enabled,
        }
    }
}

impl WebhookPolicy {
    fn spec(self) -> Result<WebhookSpec, ApiError> {
        let events = self
            .event_types
            .iter()
            .map(|e| {
                WebhookEvent::parse(e)
                    .ok_or_else(|| ApiError::BadRequest(format!("event type {e:?} is not one Wharf sends")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let targets = self
            .targets
            .into_iter()
            .map(|t| {
                let kind =
                    if t.kind.is_empty() { Some(NotifyType::Http) } else { NotifyType::parse(&t.kind) };
                Ok(TargetSpec {
                    kind: kind.ok_or_else(|| {
                        ApiError::BadRequest(format!("target type {:?}: use http or slack", t.kind))
                    })?,
                    address: t.address,
                    auth_header: t.auth_header.filter(|h| h != MASK),
                    skip_cert_verify: t.skip_cert_verify,
                    payload_format: PayloadFormat::parse(&t.payload_format).ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "payload format {:?}: use Default or CloudEvents",
                            t.payload_format
                        ))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(WebhookSpec {
            name: self.name,
            description: self.description,
            enabled: self.enabled,
            events,
            targets,
        })
    }
}

/// Harbor's `Execution` (vendor `WEBHOOK`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookExecution {
    /// Id.
    pub id: i64,
    /// Always `WEBHOOK`.
    pub vendor_type: &'static str,
    /// The policy.
    pub vendor_id: i64,
    /// `Running`, `Success` or `Error`.
    pub status: String,
    /// Empty.
    pub status_message: String,
    /// Task counts: `task_count`, `success_task_count`, `error_task_count`, …
    pub metrics: serde_json::Value,
    /// Always `EVENT`.
    pub trigger: &'static str,
    /// `{"event_type": …}`.
    pub extra_attrs: serde_json::Value,
    /// When the event happened (RFC 3339).
    pub start_time: String,
    /// When its last task ended (RFC 3339), if it did.
    pub end_time: Option<String>,
}

impl From<crate::db::webhooks::ExecutionRow> for WebhookExecution {
    fn from(e: crate::db::webhooks::ExecutionRow) -> Self {
        Self {
            id: e.id,
            vendor_type: "WEBHOOK",
            vendor_id: e.policy_id,
            status: e.status,
            status_message: String::new(),
            metrics: serde_json::json!({
                "task_count": e.total,
                "success_task_count": e.succeeded,
                "error_task_count": e.failed,
                "pending_task_count": e.pending,
                "running_task_count": e.running,
                "scheduled_task_count": 0,
                "stopped_task_count": 0,
            }),
            trigger: "EVENT",
            extra_attrs: serde_json::json!({"event_type": e.event_type}),
            start_time: rfc3339_ms(e.created_at),
            end_time: e.ended_at.map(rfc3339_ms),
        }
    }
}

/// Harbor's `Task`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookTask {
    /// Id.
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
    /// `Pending` (waiting for its next attempt), `Running`, `Success` or `Error`.
    pub status: String,
    /// What the last attempt found.
    pub status_message: String,
    /// Attempts so far.
    pub run_count: i64,
    /// `{"address", "type", "payload_format"}` of the target.
    pub extra_attrs: serde_json::Value,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last change (RFC 3339).
    pub update_time: String,
    /// First attempt (RFC 3339).
    pub start_time: Option<String>,
    /// End (RFC 3339).
    pub end_time: Option<String>,
}

fn id_of(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("{raw:?} is not a {what} id")))
}

/// `GET …/webhook/policies?page=&page_size=&q=name=~x`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/policies",
    tag = "webhook",
    summary = "A project's webhook policies",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "name=~part")
    ),
    responses(
        (status = 200, description = "Policies (auth headers as *****); X-Total-Count and Link headers", body = [WebhookPolicy]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_policies(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let name = name_part(&pairs);
    let r = project_ref(&project, &headers);
    let (rows, total) = app.webhooks.list(&who, &r, &name, page.offset(), page.page_size).await?;
    let body: Vec<WebhookPolicy> = rows.into_iter().map(WebhookPolicy::from).collect();
    let path = format!("/api/v2.0/projects/{project}/webhook/policies");
    Ok((page.headers(total, &path, &rest), Json(body)).into_response())
}

/// `POST …/webhook/policies`: 201 with the policy's location.
#[utoipa::path(
    post,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/policies",
    tag = "webhook",
    summary = "Create a webhook policy (project administrators)",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    request_body = WebhookPolicy,
    responses(
        (status = 201, description = "Created; Location names it"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_policy(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<WebhookPolicy>,
) -> Result<Response, ApiError> {
    let id = app.webhooks.create(&who, &project_ref(&project, &headers), &req.spec()?).await?;
    Ok(super::created(&format!("/api/v2.0/projects/{project}/webhook/policies/{id}"), ()))
}

/// `GET …/webhook/policies/{webhook_policy_id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}",
    tag = "webhook",
    summary = "One webhook policy",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("webhook_policy_id" = i64, Path, description = "The policy's id")
    ),
    responses(
        (status = 200, description = "The policy (auth headers as *****)", body = WebhookPolicy),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_policy(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<WebhookPolicy>, ApiError> {
    let id = id_of(&id, "webhook policy")?;
    Ok(Json(app.webhooks.get(&who, &project_ref(&project, &headers), id).await?.into()))
}

/// `PUT …/webhook/policies/{webhook_policy_id}`
#[utoipa::path(
    put,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}",
    tag = "webhook",
    summary = "Change a webhook policy (project administrators)",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("webhook_policy_id" = i64, Path, description = "The policy's id")
    ),
    request_body = WebhookPolicy,
    responses(
        (status = 200, description = "Changed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_policy(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<WebhookPolicy>,
) -> Result<StatusCode, ApiError> {
    let id = id_of(&id, "webhook policy")?;
    app.webhooks.update(&who, &project_ref(&project, &headers), id, &req.spec()?).await?;
    Ok(StatusCode::OK)
}

/// `DELETE …/webhook/policies/{webhook_policy_id}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}",
    tag = "webhook",
    summary = "Delete a webhook policy with its history (project administrators)",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("webhook_policy_id" = i64, Path, description = "The policy's id")
    ),
    responses(
        (status = 200, description = "Deleted"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_policy(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let id = id_of(&id, "webhook policy")?;
    app.webhooks.delete(&who, &project_ref(&project, &headers), id).await?;
    Ok(StatusCode::OK)
}

/// `GET …/webhook/events`: what a policy may subscribe to.
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/events",
    tag = "webhook",
    summary = "The event types, target types and payload formats webhooks support",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    responses(
        (status = 200, description = "Harbor's SupportedWebhookEventTypes", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_events(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    // The same access as reading the policies.
    app.webhooks.list(&who, &project_ref(&project, &headers), "", 0, 1).await?;
    Ok(Json(serde_json::json!({
        "event_type": WebhookEvent::ALL.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "notify_type": [NotifyType::Http.as_str(), NotifyType::Slack.as_str()],
        "payload_formats": [
            {"notify_type": "http", "formats": [PayloadFormat::Default.as_str(), PayloadFormat::CloudEvents.as_str()]},
            {"notify_type": "slack", "formats": [PayloadFormat::Default.as_str()]},
        ],
    })))
}

/// `GET …/webhook/policies/{webhook_policy_id}/executions`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions",
    tag = "webhook",
    summary = "A webhook policy's executions (one per event), newest first",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("webhook_policy_id" = i64, Path, description = "The policy's id"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Executions; X-Total-Count and Link headers", body = [WebhookExecution]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_executions(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = id_of(&id, "webhook policy")?;
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let r = project_ref(&project, &headers);
    let (rows, total) = app.webhooks.executions(&who, &r, id, page.offset(), page.page_size).await?;
    let body: Vec<WebhookExecution> = rows.into_iter().map(WebhookExecution::from).collect();
    let path = format!("/api/v2.0/projects/{project}/webhook/policies/{id}/executions");
    Ok((page.headers(total, &path, &rest), Json(body)).into_response())
}

/// `GET …/executions/{execution_id}/tasks`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks",
    tag = "webhook",
    summary = "An execution's tasks (one per target)",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("webhook_policy_id" = i64, Path, description = "The policy's id"),
        ("execution_id" = i64, Path, description = "The execution's id")
    ),
    responses(
        (status = 200, description = "Tasks", body = [WebhookTask]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_tasks(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, id, eid)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Vec<WebhookTask>>, ApiError> {
    let (id, eid) = (id_of(&id, "webhook policy")?, id_of(&eid, "execution")?);
    let tasks = app.webhooks.tasks(&who, &project_ref(&project, &headers), id, eid).await?;
    Ok(Json(
        tasks
            .into_iter()
            .map(|(t, target)| WebhookTask {
                id: t.id,
                execution_id: t.execution_id,
                status: t.status,
                status_message: t.status_message,
                run_count: t.run_count,
                extra_attrs: serde_json::json!({
                    "address": target.address,
                    "type": target.kind.as_str(),
                    "payload_format": target.payload_format.as_str(),
                }),
                creation_time: rfc3339_ms(t.created_at),
                update_time: rfc3339_ms(t.updated_at),
                start_time: t.started_at.map(rfc3339_ms),
                end_time: t.ended_at.map(rfc3339_ms),
            })
            .collect(),
    ))
}

/// `GET …/tasks/{task_id}/log`: every attempt, one line each.
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/log",
    tag = "webhook",
    summary = "A task's attempts: time, answer or error, duration",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("webhook_policy_id" = i64, Path, description = "The policy's id"),
        ("execution_id" = i64, Path, description = "The execution's id"),
        ("task_id" = i64, Path, description = "The task's id")
    ),
    responses(
        (status = 200, description = "The log as text", body = String, content_type = "text/plain"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn task_log(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, id, eid, tid)): ApiPath<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (id, eid, tid) = (id_of(&id, "webhook policy")?, id_of(&eid, "execution")?, id_of(&tid, "task")?);
    let log = app.webhooks.task_log(&who, &project_ref(&project, &headers), id, eid, tid).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], log).into_response())
}
