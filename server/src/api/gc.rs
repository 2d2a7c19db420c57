//! Garbage collection, Harbor's `/api/v2.0/system/gc` paths; system administrators only.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, query_pairs};
use frontend::types::{Schedule, ScheduleKind};

use super::types::{GcHistory, GcScheduleReq, GcScheduleView, ScheduleObj};
use crate::auth::Identity;
use crate::gc::collector::GcParams;
use crate::gc::{GcServiceError, Trigger};
use crate::state::AppState;
use crate::time::rfc3339_ms;

/// System administrators only (garbage collection, audit log purges).
pub(super) fn admin_only(who: &Identity) -> Result<(), ApiError> {
    match who {
        Identity::User { sysadmin: true, .. } => Ok(()),
        Identity::User { .. } | Identity::Robot { .. } => Err(ApiError::Forbidden),
        Identity::Anonymous => Err(ApiError::Unauthorized),
    }
}

impl From<GcServiceError> for ApiError {
    fn from(e: GcServiceError) -> Self {
        match e {
            GcServiceError::Busy => Self::Conflict(e.to_string()),
            GcServiceError::BadSchedule(m) => Self::BadRequest(m),
            GcServiceError::NotFound(_) => Self::NotFound(e.to_string()),
            GcServiceError::NotRunning(_) => Self::PreconditionFailed(e.to_string()),
            GcServiceError::Db(e) => e.into(),
            GcServiceError::Fsck(e) => {
                tracing::error!(error = %e, "consistency check failed");
                Self::Internal
            }
        }
    }
}

fn checked(params: Option<GcParams>) -> Result<GcParams, ApiError> {
    let params = params.unwrap_or_default();
    match params.workers {
        Some(w) if !(1..=64).contains(&w) => {
            Err(ApiError::BadRequest("workers must be between 1 and 64".into()))
        }
        _ => Ok(params),
    }
}

/// `POST /api/v2.0/system/gc/schedule`: type `Manual` runs now (201 with the run's location);
/// other types set the schedule.
#[utoipa::path(
    post,
    path = "/api/v2.0/system/gc/schedule",
    tag = "gc",
    summary = "Schedule garbage collection, or run it now",
    request_body = super::types::GcScheduleReq,
    responses(
        (status = 201, description = "Scheduled, or (type Manual) started; Location names the run"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_schedule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<GcScheduleReq>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let params = checked(req.parameters)?;
    let schedule = req.schedule.unwrap_or_default();
    if schedule.kind == "Manual" {
        let id = app.gc.start(Trigger::Manual, params).await?;
        return Ok(super::created(&format!("/api/v2.0/system/gc/{id}"), ()));
    }
    app.gc.set_schedule(&requested(&schedule)?, params).await?;
    Ok(super::created("/api/v2.0/system/gc/schedule", ()))
}

/// The schedule a request names (`Manual` is handled by the caller).
pub(super) fn requested(s: &ScheduleObj) -> Result<Schedule, ApiError> {
    let kind = ScheduleKind::parse(&s.kind).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "schedule type {:?} is not one of Hourly, Daily, Weekly, Custom, None or Manual",
            s.kind
        ))
    })?;
    Ok(Schedule::new(kind, &s.cron))
}

/// `PUT /api/v2.0/system/gc/schedule`
#[utoipa::path(
    put,
    path = "/api/v2.0/system/gc/schedule",
    tag = "gc",
    summary = "Change the garbage collection schedule",
    request_body = super::types::GcScheduleReq,
    responses(
        (status = 200, description = "Updated"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_schedule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<GcScheduleReq>,
) -> Result<StatusCode, ApiError> {
    admin_only(&who)?;
    let params = checked(req.parameters)?;
    let schedule = req.schedule.unwrap_or_default();
    if schedule.kind == "Manual" {
        return Err(ApiError::BadRequest("use POST to run a garbage collection now".into()));
    }
    app.gc.set_schedule(&requested(&schedule)?, params).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/system/gc/schedule`
#[utoipa::path(
    get,
    path = "/api/v2.0/system/gc/schedule",
    tag = "gc",
    summary = "The garbage collection schedule",
    responses(
        (status = 200, description = "The schedule", body = super::types::GcScheduleView),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_schedule(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Json<GcScheduleView>, ApiError> {
    admin_only(&who)?;
    Ok(Json(match app.gc.schedule().await? {
        Some(s) => {
            let parameters: GcParams = serde_json::from_str(&s.parameters).unwrap_or_default();
            GcScheduleView {
                schedule: ScheduleObj {
                    kind: s.schedule.kind().as_str().to_owned(),
                    cron: s.schedule.cron().to_owned(),
                    next_scheduled_time: s.next_run_at.map(rfc3339_ms),
                },
                job_parameters: s.parameters,
                parameters,
                creation_time: Some(rfc3339_ms(s.created_at)),
                update_time: Some(rfc3339_ms(s.updated_at)),
            }
        }
        None => GcScheduleView {
            schedule: ScheduleObj {
                kind: ScheduleKind::None.as_str().to_owned(),
                cron: String::new(),
                next_scheduled_time: None,
            },
            job_parameters: "{}".into(),
            parameters: GcParams::default(),
            creation_time: None,
            update_time: None,
        },
    }))
}

/// `GET /api/v2.0/system/gc`: runs, newest first, paginated.
#[utoipa::path(
    get,
    path = "/api/v2.0/system/gc",
    tag = "gc",
    summary = "Garbage collection history",
    params(
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Garbage collection runs, newest first", body = [super::types::GcHistory]),
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
    let (rows, total) = app.gc.history(page.offset(), page.page_size).await?;
    let body: Vec<GcHistory> = rows.into_iter().map(GcHistory::from).collect();
    Ok((page.headers(total, "/api/v2.0/system/gc", &rest), Json(body)).into_response())
}

fn run_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("{raw:?} is not a run id")))
}

/// `GET /api/v2.0/system/gc/{id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/system/gc/{gc_id}",
    tag = "gc",
    summary = "One garbage collection run",
    params(
        ("gc_id" = i64, Path, description = "The run's id")
    ),
    responses(
        (status = 200, description = "The run", body = super::types::GcHistory),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_run(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GcHistory>, ApiError> {
    admin_only(&who)?;
    Ok(Json(app.gc.get(run_id(&id)?).await?.into()))
}

/// `GET /api/v2.0/system/gc/{id}/log` (plain text)
#[utoipa::path(
    get,
    path = "/api/v2.0/system/gc/{gc_id}/log",
    tag = "gc",
    summary = "A garbage collection run's log",
    params(
        ("gc_id" = i64, Path, description = "The run's id")
    ),
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
    let log = app.gc.log(run_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], log).into_response())
}

/// `PUT /api/v2.0/system/gc/{id}`: asks a running collection to stop.
#[utoipa::path(
    put,
    path = "/api/v2.0/system/gc/{gc_id}",
    tag = "gc",
    summary = "Stop a running garbage collection",
    params(
        ("gc_id" = i64, Path, description = "The run's id")
    ),
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
    app.gc.stop(run_id(&id)?).await?;
    Ok(StatusCode::OK)
}
