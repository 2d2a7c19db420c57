//! `/api/v2.0/robots` (Harbor API v2.0): project robot accounts.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::caller::{ApiCaller, ApiJson};
use super::error::ApiError;
use super::projects::{param, query_pairs};
use super::types::{Robot, RobotPermission, RobotReq, RobotSecretReq};
use crate::app::AppState;
use crate::auth::RobotGrants;
use crate::projects::ProjectRef;
use crate::projects::robots::NewRobot;
use crate::time::rfc3339_ms;

/// The project and grants a request's permissions name (one project per robot).
fn grants(perms: &[RobotPermission]) -> Result<(String, RobotGrants), ApiError> {
    let [p] = perms else {
        return Err(ApiError::BadRequest(
            "a project robot has exactly one permission entry, for its project".into(),
        ));
    };
    if p.kind != "project" {
        return Err(ApiError::BadRequest(format!(
            "permission kind {:?} is not supported: use project",
            p.kind
        )));
    }
    let mut g = RobotGrants::default();
    for a in &p.access {
        match a.action.as_str() {
            "pull" => g.pull = true,
            "push" => g.push = true,
            "delete" => g.delete = true,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "action {other:?} is not supported: use pull, push or delete"
                )));
            }
        }
    }
    Ok((p.namespace.clone(), g))
}

/// `POST /api/v2.0/robots`: answers the secret, once.
pub async fn create_robot(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<RobotReq>,
) -> Result<Response, ApiError> {
    if req.level.as_deref().is_some_and(|l| l != "project") {
        return Err(ApiError::BadRequest("only project robots are supported".into()));
    }
    let name = req.name.ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    let (project, grants) = grants(req.permissions.as_deref().unwrap_or_default())?;
    let new = NewRobot {
        name,
        description: req.description.unwrap_or_default(),
        grants,
        duration_days: req.duration.unwrap_or(-1),
        disabled: req.disable.unwrap_or(false),
    };
    let (robot, _, secret) = app.projects.create_robot(&who, &ProjectRef::Name(project), new).await?;
    let body = json!({
        "id": robot.id,
        "name": robot.name,
        "secret": secret,
        "creation_time": rfc3339_ms(robot.created_at),
        "expires_at": if robot.expires_at < 0 { -1 } else { robot.expires_at / 1000 },
    });
    Ok(super::created(&format!("/api/v2.0/robots/{}", robot.id), Json(body)))
}

/// `GET /api/v2.0/robots?q=Level=project,ProjectID=<id>`
pub async fn list_robots(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Robot>>, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let project = param(&pairs, "q")
        .and_then(|q| q.split(',').find_map(|t| t.strip_prefix("ProjectID=")))
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or_else(|| ApiError::BadRequest("q=Level=project,ProjectID=<id> is required".into()))?;
    let (rows, name) = app.projects.list_robots(&who, &ProjectRef::Id(project)).await?;
    Ok(Json(rows.into_iter().map(|r| Robot::of(r, &name)).collect()))
}

/// `GET /api/v2.0/robots/{robot_id}`
pub async fn get_robot(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<Robot>, ApiError> {
    let (row, project) = app.projects.robot(&who, id).await?;
    Ok(Json(Robot::of(row, &project)))
}

/// `PUT /api/v2.0/robots/{robot_id}`: description, permissions, `disable`.
pub async fn update_robot(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<RobotReq>,
) -> Result<StatusCode, ApiError> {
    let grants = match req.permissions.as_deref() {
        Some(p) => Some(grants(p)?.1),
        None => None,
    };
    app.projects.update_robot(&who, id, req.description, grants, req.disable).await?;
    Ok(StatusCode::OK)
}

/// `PATCH /api/v2.0/robots/{robot_id} {"secret": ""}`: a new secret, answered once.
pub async fn refresh_secret(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<i64>,
    body: Option<Json<RobotSecretReq>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let given = body.and_then(|Json(b)| b.secret);
    let secret = app.projects.refresh_robot_secret(&who, id, given).await?;
    Ok(Json(json!({ "secret": secret })))
}

/// `DELETE /api/v2.0/robots/{robot_id}`
pub async fn delete_robot(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    app.projects.delete_robot(&who, id).await?;
    Ok(StatusCode::OK)
}
