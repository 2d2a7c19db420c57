//! Audit log retention, Harbor's `/api/v2.0/system/purgeaudit` paths; system administrators
//! only. The same shapes as garbage collection's: a schedule (type `Manual` runs now), a
//! history, one run, its log, and a stop.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use frontend::types::Trigger;
use serde::{Deserialize, Serialize};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::gc::{admin_only, requested};
use super::projects::{page_of, query_pairs};
use super::types::ScheduleObj;
use crate::db::purge_runs::PurgeRunRow;
use crate::purge::{PurgeError, PurgeParams};
use crate::state::AppState;
use crate::time::rfc3339_ms;

impl From<PurgeError> for ApiError {
    fn from(e: PurgeError) -> Self {
        match e {
            PurgeError::Busy => Self::Conflict(e.to_string()),
            PurgeError::Invalid(m) => Self::BadRequest(m),
            PurgeError::NotFound(_) => Self::NotFound(e.to_string()),
            PurgeError::NotRunning(_) => Self::PreconditionFailed(e.to_string()),
            PurgeError::Db(e) => e.into(),
        }
    }
}

/// `POST`/`PUT /system/purgeaudit/schedule` body (Harbor's `Schedule`).
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct PurgeScheduleReq {
    /// When to run (`Manual` runs now).
    #[serde(default)]
    pub schedule: Option<ScheduleObj>,
    /// `audit_retention_hour`, `include_operations` (`create,delete,pull`), `dry_run`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<PurgeParams>,
}

/// A purge run (Harbor's `ExecHistory`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PurgeHistory {
    /// Run id.
    pub id: i64,
    /// Always `PURGE_AUDIT`.
    pub job_name: &'static str,
    /// `MANUAL` or `SCHEDULE`.
    pub job_kind: String,
    /// The parameters as a JSON string, as Harbor sends them.
    pub job_parameters: String,
    /// The schedule type that started it.
    pub schedule: ScheduleObj,
    /// `Running`, `Success`, `Error` or `Stopped`.
    pub job_status: String,
    /// Always false (runs are kept).
    pub deleted: bool,
    /// Entries deleted (or, dry, that would be).
    pub purged: i64,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last progress (RFC 3339).
    pub update_time: String,
}

impl From<PurgeRunRow> for PurgeHistory {
    fn from(r: PurgeRunRow) -> Self {
        let kind = if r.trigger_kind == Trigger::Schedule { "Schedule" } else { "Manual" };
        Self {
            id: r.id,
            job_name: "PURGE_AUDIT",
            job_kind: r.trigger_kind.as_str().to_owned(),
            job_parameters: r.parameters,
            schedule: ScheduleObj { kind: kind.into(), cron: String::new(), next_scheduled_time: None },
            job_status: r.status.as_str().to_owned(),
            deleted: false,
            purged: r.deleted,
            creation_time: rfc3339_ms(r.created_at),
            update_time: rfc3339_ms(r.updated_at),
        }
    }
}

/// `POST /api/v2.0/system/purgeaudit/schedule`: type `Manual` runs now.
#[utoipa::path(
    post,
    path = "/api/v2.0/system/purgeaudit/schedule",
    tag = "purge",
    summary = "Schedule audit log purges, or purge now",
    request_body = PurgeScheduleReq,
    responses(
        (status = 201, description = "Scheduled, or (type Manual) started; Location names the run"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_schedule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<PurgeScheduleReq>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let params = req.parameters.unwrap_or_default();
    let schedule = req.schedule.unwrap_or_default();
    if schedule.kind == "Manual" {
        let id = app.purge.start(Trigger::Manual, params).await?;
        return Ok(super::created(&format!("/api/v2.0/system/purgeaudit/{id}"), ()));
    }
    app.purge.set_schedule(&requested(&schedule)?, params).await?;
    Ok(super::created("/api/v2.0/system/purgeaudit/schedule", ()))
}

/// `PUT /api/v2.0/system/purgeaudit/schedule`
#[utoipa::path(
    put,
    path = "/api/v2.0/system/purgeaudit/schedule",
    tag = "purge",
    summary = "Change the audit log purge schedule",
    request_body = PurgeScheduleReq,
    responses(
        (status = 200, description = "Updated"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_schedule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<PurgeScheduleReq>,
) -> Result<StatusCode, ApiError> {
    admin_only(&who)?;
    let schedule = req.schedule.unwrap_or_default();
    if schedule.kind == "Manual" {
        return Err(ApiError::BadRequest("use POST to purge now".into()));
    }
    app.purge.set_schedule(&requested(&schedule)?, req.parameters.unwrap_or_default()).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/system/purgeaudit/schedule`
#[utoipa::path(
    get,
    path = "/api/v2.0/system/purgeaudit/schedule",
    tag = "purge",
    summary = "The audit log purge schedule",
    responses(
        (status = 200, description = "The schedule and the parameters its runs use", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_schedule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin_only(&who)?;
    Ok(Json(match app.purge.schedule().await? {
        Some(s) => serde_json::json!({
            "schedule": {"type": s.schedule.kind().as_str(), "cron": s.schedule.cron(),
                         "next_scheduled_time": s.next_run_at.map(rfc3339_ms)},
            "job_parameters": s.parameters,
            "creation_time": rfc3339_ms(s.created_at),
            "update_time": rfc3339_ms(s.updated_at),
        }),
        None => serde_json::json!({"schedule": {"type": "None", "cron": ""}, "job_parameters": "{}"}),
    }))
}

/// `GET /api/v2.0/system/purgeaudit`: runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v2.0/system/purgeaudit",
    tag = "purge",
    summary = "Audit log purge history",
    params(
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Runs, newest first; X-Total-Count and Link headers", body = [PurgeHistory]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_runs(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let (rows, total) = app.purge.history(page.offset(), page.page_size).await?;
    let body: Vec<PurgeHistory> = rows.into_iter().map(PurgeHistory::from).collect();
    Ok((page.headers(total, "/api/v2.0/system/purgeaudit", &rest), Json(body)).into_response())
}

fn run_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("{raw:?} is not a run id")))
}

/// `GET /api/v2.0/system/purgeaudit/{purge_id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/system/purgeaudit/{purge_id}",
    tag = "purge",
    summary = "One audit log purge",
    params(("purge_id" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = PurgeHistory),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_run(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PurgeHistory>, ApiError> {
    admin_only(&who)?;
    Ok(Json(app.purge.get(run_id(&id)?).await?.into()))
}

/// `PUT /api/v2.0/system/purgeaudit/{purge_id}`: asks a running purge to stop.
#[utoipa::path(
    put,
    path = "/api/v2.0/system/purgeaudit/{purge_id}",
    tag = "purge",
    summary = "Stop a running audit log purge",
    params(("purge_id" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "Asked to stop"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn stop_run(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    admin_only(&who)?;
    app.purge.stop(run_id(&id)?).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/system/purgeaudit/{purge_id}/log` (plain text)
#[utoipa::path(
    get,
    path = "/api/v2.0/system/purgeaudit/{purge_id}/log",
    tag = "purge",
    summary = "An audit log purge's log",
    params(("purge_id" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run's log (text/plain)", body = String),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_log(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let log = app.purge.log(run_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], log).into_response())
}
