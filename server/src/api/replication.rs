//! `/api/v2.0/replication/policies` and `/api/v2.0/replication/executions` (Harbor API v2.0):
//! push- and pull-based replication, its executions and their tasks. System administrators
//! only.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{name_part, page_of, param, query_pairs};
use super::registries::Registry;
use crate::db::replication::{ExecutionRow, TaskRow};
use crate::replication::filter::ReplicationFilter;
use crate::replication::{Policy, PolicySpec, ReplicationError};
use crate::state::AppState;
use crate::time::rfc3339_ms;
use frontend::types::ReplicationTrigger;

impl From<ReplicationError> for ApiError {
    fn from(e: ReplicationError) -> Self {
        match e {
            ReplicationError::Unauthorized => Self::Unauthorized,
            ReplicationError::Forbidden => Self::Forbidden,
            ReplicationError::NotFound(_) => Self::NotFound(e.to_string()),
            ReplicationError::Invalid(_) => Self::BadRequest(e.to_string()),
            ReplicationError::Exists(_) | ReplicationError::Busy(_) => Self::Conflict(e.to_string()),
            ReplicationError::Db => Self::Internal,
        }
    }
}

/// Harbor's `ReplicationTriggerSettings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriggerSettings {
    /// The cron of a scheduled policy.
    #[serde(default)]
    pub cron: String,
}

/// Harbor's `ReplicationTrigger`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Trigger {
    /// `manual`, `scheduled` or `event_based`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its settings.
    #[serde(default)]
    pub trigger_settings: Option<TriggerSettings>,
}

/// A registry as a policy names it: only the id is read.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RegistryRef {
    /// The endpoint's id (0: this registry).
    #[serde(default)]
    pub id: i64,
}

/// Harbor's `ReplicationPolicy` as sent.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ReplicationPolicyReq {
    /// Unique name.
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The source registry of a pull-based policy.
    pub src_registry: Option<RegistryRef>,
    /// The destination registry of a push-based policy.
    pub dest_registry: Option<RegistryRef>,
    /// Destination namespace.
    #[serde(default)]
    pub dest_namespace: String,
    /// Flattening: -1 all levels, 0 none, n the first n.
    pub dest_namespace_replace_count: Option<i64>,
    /// When it runs.
    pub trigger: Option<Trigger>,
    /// What it selects.
    #[serde(default)]
    pub filters: Vec<ReplicationFilter>,
    /// Replicate deletions.
    #[serde(default)]
    pub replicate_deletion: bool,
    /// Harbor's older name of `replicate_deletion`.
    #[serde(default)]
    pub deletion: bool,
    /// Replace existing tags at the destination.
    #[serde(rename = "override")]
    pub override_existing: Option<bool>,
    /// Whether it runs.
    pub enabled: Option<bool>,
    /// Bandwidth in KiB/s (-1 unlimited).
    pub speed: Option<i64>,
}

/// Harbor's `ReplicationPolicy` as answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplicationPolicy {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Source registry (pull-based), else null.
    pub src_registry: Option<Registry>,
    /// Destination registry (push-based), else null.
    pub dest_registry: Option<Registry>,
    /// Destination namespace.
    pub dest_namespace: String,
    /// Flattening.
    pub dest_namespace_replace_count: i64,
    /// When it runs.
    pub trigger: Trigger,
    /// What it selects.
    pub filters: Vec<ReplicationFilter>,
    /// Replicate deletions.
    pub replicate_deletion: bool,
    /// The same, Harbor's older name.
    pub deletion: bool,
    /// Replace existing tags.
    #[serde(rename = "override")]
    pub override_existing: bool,
    /// Whether it runs.
    pub enabled: bool,
    /// Bandwidth in KiB/s.
    pub speed: i64,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last change (RFC 3339).
    pub update_time: String,
}

fn spec_of(req: ReplicationPolicyReq) -> Result<PolicySpec, ApiError> {
    let trigger = req.trigger.unwrap_or_default();
    let kind = if trigger.kind.is_empty() { "manual" } else { trigger.kind.as_str() };
    let trigger_kind = ReplicationTrigger::parse(kind).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "trigger type {kind:?} is not supported: use manual, scheduled or event_based"
        ))
    })?;
    let endpoint = |r: Option<RegistryRef>| r.map(|r| r.id).filter(|id| *id > 0);
    Ok(PolicySpec {
        name: req.name,
        description: req.description,
        src_registry_id: endpoint(req.src_registry),
        dest_registry_id: endpoint(req.dest_registry),
        dest_namespace: req.dest_namespace,
        dest_namespace_replace_count: req.dest_namespace_replace_count.unwrap_or(-1),
        trigger: trigger_kind,
        cron: trigger.trigger_settings.map(|s| s.cron).unwrap_or_default(),
        filters: req.filters,
        replicate_deletion: req.replicate_deletion || req.deletion,
        override_existing: req.override_existing.unwrap_or(true),
        enabled: req.enabled.unwrap_or(true),
        speed_kb: req.speed.filter(|s| *s > 0).unwrap_or(-1),
    })
}

async fn policy_view(app: &AppState, who: &crate::auth::Identity, p: Policy) -> ReplicationPolicy {
    let registry = |id: Option<i64>| async move {
        match id {
            Some(id) => app.endpoints.get(who, id).await.ok().map(Registry::from),
            None => None,
        }
    };
    let s = p.spec;
    ReplicationPolicy {
        id: p.id,
        name: s.name,
        description: s.description,
        src_registry: registry(s.src_registry_id).await,
        dest_registry: registry(s.dest_registry_id).await,
        dest_namespace: s.dest_namespace,
        dest_namespace_replace_count: s.dest_namespace_replace_count,
        trigger: Trigger {
            kind: s.trigger.as_str().into(),
            trigger_settings: Some(TriggerSettings { cron: s.cron }),
        },
        filters: s.filters,
        replicate_deletion: s.replicate_deletion,
        deletion: s.replicate_deletion,
        override_existing: s.override_existing,
        enabled: s.enabled,
        speed: s.speed_kb,
        creation_time: rfc3339_ms(p.created_at),
        update_time: rfc3339_ms(p.updated_at),
    }
}

/// `GET /api/v2.0/replication/policies?q=name=~x&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/replication/policies",
    tag = "replication",
    summary = "List replication policies",
    params(
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "name=~part or name=exact"),
        ("name" = String, Query, description = "Part of the name")
    ),
    responses(
        (status = 200, description = "Policies; X-Total-Count and Link headers", body = [ReplicationPolicy]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_policies(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let name = name_part(&pairs);
    let (rows, total) = app.replication.list(&who, &name, page.offset(), page.page_size).await?;
    let mut body = Vec::with_capacity(rows.len());
    for p in rows {
        body.push(policy_view(&app, &who, p).await);
    }
    Ok((page.headers(total, "/api/v2.0/replication/policies", &rest), Json(body)).into_response())
}

/// `POST /api/v2.0/replication/policies`
#[utoipa::path(
    post,
    path = "/api/v2.0/replication/policies",
    tag = "replication",
    summary = "Create a replication policy",
    request_body = ReplicationPolicyReq,
    responses(
        (status = 201, description = "Created; Location names it"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_policy(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<ReplicationPolicyReq>,
) -> Result<Response, ApiError> {
    let id = app.replication.create(&who, &spec_of(req)?).await?;
    Ok(super::created(&format!("/api/v2.0/replication/policies/{id}"), ()))
}

/// `GET /api/v2.0/replication/policies/{id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/replication/policies/{id}",
    tag = "replication",
    summary = "One replication policy",
    params(("id" = i64, Path, description = "The policy's id")),
    responses(
        (status = 200, description = "The policy", body = ReplicationPolicy),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_policy(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ReplicationPolicy>, ApiError> {
    let p = app.replication.get(&who, id).await?;
    Ok(Json(policy_view(&app, &who, p).await))
}

/// `PUT /api/v2.0/replication/policies/{id}`
#[utoipa::path(
    put,
    path = "/api/v2.0/replication/policies/{id}",
    tag = "replication",
    summary = "Replace a replication policy",
    params(("id" = i64, Path, description = "The policy's id")),
    request_body = ReplicationPolicyReq,
    responses(
        (status = 200, description = "Replaced"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_policy(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ReplicationPolicyReq>,
) -> Result<StatusCode, ApiError> {
    app.replication.update(&who, id, &spec_of(req)?).await?;
    Ok(StatusCode::OK)
}

/// `DELETE /api/v2.0/replication/policies/{id}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/replication/policies/{id}",
    tag = "replication",
    summary = "Delete a replication policy with its history",
    params(("id" = i64, Path, description = "The policy's id")),
    responses(
        (status = 200, description = "Deleted"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_policy(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.replication.delete(&who, id).await?;
    Ok(StatusCode::OK)
}

/// Harbor's `ReplicationExecution`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplicationExecution {
    /// Id.
    pub id: i64,
    /// Its policy.
    pub policy_id: i64,
    /// `Pending`, `InProgress`, `Succeed`, `Failed` or `Stopped`.
    pub status: String,
    /// Why it ended as it did.
    pub status_text: String,
    /// `manual`, `scheduled` or `event_based`.
    pub trigger: String,
    /// Tasks in all.
    pub total: i64,
    /// Tasks failed.
    pub failed: i64,
    /// Tasks done.
    pub succeed: i64,
    /// Tasks going.
    pub in_progress: i64,
    /// Tasks stopped.
    pub stopped: i64,
    /// Start (RFC 3339).
    pub start_time: String,
    /// End (RFC 3339), when it ended.
    pub end_time: Option<String>,
}

impl From<ExecutionRow> for ReplicationExecution {
    fn from(e: ExecutionRow) -> Self {
        Self {
            id: e.id,
            policy_id: e.policy_id,
            status: e.status.replication_word().into(),
            status_text: e.status_text,
            trigger: e.trigger.as_str().into(),
            total: e.total,
            failed: e.failed,
            succeed: e.succeed,
            in_progress: e.in_progress,
            stopped: e.stopped,
            start_time: rfc3339_ms(e.created_at),
            end_time: e.ended_at.map(rfc3339_ms),
        }
    }
}

/// Harbor's `ReplicationTask`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplicationTask {
    /// Id.
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
    /// `image` or `artifact`.
    pub resource_type: String,
    /// What was copied or deleted.
    pub source_resource: String,
    /// Where.
    pub destination_resource: String,
    /// `copy` or `deletion`.
    pub operation: String,
    /// `InProgress`, `Succeed`, `Failed`, `Stopped`.
    pub status: String,
    /// Bytes moved (Wharf's addition).
    pub bytes: i64,
    /// Start (RFC 3339).
    pub start_time: String,
    /// End (RFC 3339).
    pub end_time: Option<String>,
}

impl From<TaskRow> for ReplicationTask {
    fn from(t: TaskRow) -> Self {
        Self {
            id: t.id,
            execution_id: t.execution_id,
            resource_type: t.resource_type,
            source_resource: t.source_resource,
            destination_resource: t.destination_resource,
            operation: t.operation,
            status: t.status.replication_word().into(),
            bytes: t.bytes,
            start_time: rfc3339_ms(t.started_at),
            end_time: t.ended_at.map(rfc3339_ms),
        }
    }
}

/// Harbor's `StartReplicationExecution`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct StartExecution {
    /// The policy to run.
    pub policy_id: i64,
}

/// `GET /api/v2.0/replication/executions?policy_id=&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/replication/executions",
    tag = "replication",
    summary = "List replication executions, newest first",
    params(
        ("policy_id" = i64, Query, description = "Only this policy's"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Executions; X-Total-Count and Link headers", body = [ReplicationExecution]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_executions(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let policy = param(&pairs, "policy_id")
        .map(|v| v.parse::<i64>().map_err(|_| ApiError::BadRequest("policy_id must be a number".into())))
        .transpose()?;
    let (rows, total) = app.replication.executions(&who, policy, page.offset(), page.page_size).await?;
    let body: Vec<ReplicationExecution> = rows.into_iter().map(Into::into).collect();
    Ok((page.headers(total, "/api/v2.0/replication/executions", &rest), Json(body)).into_response())
}

/// `POST /api/v2.0/replication/executions {"policy_id"}`
#[utoipa::path(
    post,
    path = "/api/v2.0/replication/executions",
    tag = "replication",
    summary = "Start a replication execution",
    request_body = StartExecution,
    responses(
        (status = 201, description = "Started; Location names the execution"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn start_execution(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<StartExecution>,
) -> Result<Response, ApiError> {
    let id = app.replication.start(&who, req.policy_id).await?;
    Ok(super::created(&format!("/api/v2.0/replication/executions/{id}"), ()))
}

/// `GET /api/v2.0/replication/executions/{id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/replication/executions/{id}",
    tag = "replication",
    summary = "One replication execution",
    params(("id" = i64, Path, description = "The execution's id")),
    responses(
        (status = 200, description = "The execution with its task counts", body = ReplicationExecution),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_execution(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ReplicationExecution>, ApiError> {
    Ok(Json(app.replication.execution(&who, id).await?.into()))
}

/// `PUT /api/v2.0/replication/executions/{id}`: stops it.
#[utoipa::path(
    put,
    path = "/api/v2.0/replication/executions/{id}",
    tag = "replication",
    summary = "Stop a replication execution",
    params(("id" = i64, Path, description = "The execution's id")),
    responses(
        (status = 200, description = "Asked to stop; it stops before its next task"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn stop_execution(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.replication.stop(&who, id).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/replication/executions/{id}/tasks`
#[utoipa::path(
    get,
    path = "/api/v2.0/replication/executions/{id}/tasks",
    tag = "replication",
    summary = "The tasks of a replication execution",
    params(
        ("id" = i64, Path, description = "The execution's id"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Tasks; X-Total-Count and Link headers", body = [ReplicationTask]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_tasks(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let (rows, total) = app.replication.tasks(&who, id, page.offset(), page.page_size).await?;
    let body: Vec<ReplicationTask> = rows.into_iter().map(Into::into).collect();
    let path = format!("/api/v2.0/replication/executions/{id}/tasks");
    Ok((page.headers(total, &path, &rest), Json(body)).into_response())
}

/// `GET /api/v2.0/replication/executions/{id}/tasks/{task_id}/log`
#[utoipa::path(
    get,
    path = "/api/v2.0/replication/executions/{id}/tasks/{task_id}/log",
    tag = "replication",
    summary = "A replication task's log",
    params(
        ("id" = i64, Path, description = "The execution's id"),
        ("task_id" = i64, Path, description = "The task's id")
    ),
    responses(
        (status = 200, description = "The log, as text", body = String, content_type = "text/plain"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn task_log(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((id, task)): ApiPath<(i64, i64)>,
) -> Result<Response, ApiError> {
    let log = app.replication.task_log(&who, id, task).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], log).into_response())
}
