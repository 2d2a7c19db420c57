//! `/api/v2.0/robots` (Harbor API v2.0): project robot accounts and system robot accounts.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, param, query_pairs};
use super::types::{Robot, RobotPermission, RobotReq, RobotSecretReq};
use crate::auth::RobotPermissions;
use crate::projects::ProjectRef;
use crate::projects::robots::{Namespace, NewRobot, SystemPermissions};
use crate::state::AppState;
use crate::time::rfc3339_ms;

/// The project and grants a request's permissions name (one project per robot).
fn grants(perms: &[RobotPermission]) -> Result<(String, RobotPermissions), ApiError> {
    let [p] = perms else {
        return Err(ApiError::BadRequest(
            "a project robot has exactly one permission entry, for its project".into(),
        ));
    };
    entry(p)
}

/// A system robot's permissions: one entry per project, namespace `*` for every project.
fn system_permissions(perms: &[RobotPermission]) -> Result<SystemPermissions, ApiError> {
    let entries = perms
        .iter()
        .map(|p| {
            let (namespace, g) = entry(p)?;
            let ns = if namespace == "*" {
                Namespace::All
            } else {
                Namespace::Project(ProjectRef::Name(namespace))
            };
            Ok((ns, g))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(SystemPermissions(entries))
}

/// The namespace and grants of one permission entry.
fn entry(p: &RobotPermission) -> Result<(String, RobotPermissions), ApiError> {
    if p.kind != "project" {
        return Err(ApiError::BadRequest(format!(
            "permission kind {:?} is not supported: use project",
            p.kind
        )));
    }
    let mut g = RobotPermissions::default();
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
#[utoipa::path(
    post,
    path = "/api/v2.0/robots",
    tag = "robot",
    summary = "Create a robot account",
    request_body = super::types::RobotReq,
    responses(
        (status = 201, description = "The robot with its secret, shown this once", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_robot(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<RobotReq>,
) -> Result<Response, ApiError> {
    let name = req.name.ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    let perms = req.permissions.as_deref().unwrap_or_default();
    let (description, duration, disabled) =
        (req.description.unwrap_or_default(), req.duration.unwrap_or(-1), req.disable.unwrap_or(false));
    let (robot, secret) = match req.level.as_deref().unwrap_or("project") {
        "project" => {
            let (project, grants) = grants(perms)?;
            let new = NewRobot { name, description, grants, duration_days: duration, disabled };
            let (robot, _, secret) = app.projects.create_robot(&who, &ProjectRef::Name(project), new).await?;
            (robot, secret)
        }
        "system" => {
            let perms = system_permissions(perms)?;
            app.projects.create_system_robot(&who, &name, description, duration, disabled, perms).await?
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "level {other:?} is not supported: use project or system"
            )));
        }
    };
    let body = json!({
        "id": robot.id,
        "name": robot.name,
        // Answered once, to the one who created it.
        "secret": secret.expose_secret(),
        "creation_time": rfc3339_ms(robot.created_at),
        "expires_at": if robot.expires_at < 0 { -1 } else { robot.expires_at / 1000 },
    });
    Ok(super::created(&format!("/api/v2.0/robots/{}", robot.id), Json(body)))
}

/// `GET /api/v2.0/robots?q=Level=project,ProjectID=<id>`: a project's robots (its
/// administrators); without a project filter, every robot, one page at a time (system
/// administrators), as Harbor answers.
#[utoipa::path(
    get,
    path = "/api/v2.0/robots",
    tag = "robot",
    summary = "List robot accounts",
    params(
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "Level=project,ProjectID=<id>; without it every robot (system administrators)")
    ),
    responses(
        (status = 200, description = "Robot accounts; X-Total-Count", body = [super::types::Robot]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_robots(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let project = param(&pairs, "q").and_then(|q| q.split(',').find_map(|t| t.strip_prefix("ProjectID=")));
    match project {
        Some(id) => {
            let id = id
                .parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("ProjectID {id:?} is not a number")))?;
            let (rows, name) = app.projects.list_robots(&who, &ProjectRef::Id(id)).await?;
            let robots: Vec<Robot> = rows.into_iter().map(|r| Robot::of(r, &name)).collect();
            let mut res = Json(&robots).into_response();
            res.headers_mut().insert("x-total-count", robots.len().into());
            Ok(res)
        }
        None => {
            let (page, rest) = page_of(&pairs)?;
            let (rows, total) = app.projects.list_all_robots(&who, page.offset(), page.page_size).await?;
            let robots: Vec<Robot> = rows.into_iter().map(|(r, name)| Robot::of(r, &name)).collect();
            Ok((page.headers(total, "/api/v2.0/robots", &rest), Json(robots)).into_response())
        }
    }
}

/// `GET /api/v2.0/robots/{robot_id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/robots/{robot_id}",
    tag = "robot",
    summary = "One robot account",
    params(
        ("robot_id" = i64, Path)
    ),
    responses(
        (status = 200, description = "The robot account (never its secret)", body = super::types::Robot),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_robot(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Robot>, ApiError> {
    let (row, project) = app.projects.robot(&who, id).await?;
    Ok(Json(Robot::of(row, &project)))
}

/// `PUT /api/v2.0/robots/{robot_id}`: description, permissions, `disable`.
#[utoipa::path(
    put,
    path = "/api/v2.0/robots/{robot_id}",
    tag = "robot",
    summary = "Change a robot account",
    params(
        ("robot_id" = i64, Path)
    ),
    request_body = super::types::RobotReq,
    responses(
        (status = 200, description = "Updated"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_robot(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RobotReq>,
) -> Result<StatusCode, ApiError> {
    let (robot, _) = app.projects.robot(&who, id).await?;
    let grants = match (req.permissions.as_deref(), robot.project_id) {
        (Some(p), Some(_)) => Some(grants(p)?.1),
        (Some(p), None) => {
            app.projects.set_system_permissions(&who, id, system_permissions(p)?).await?;
            None
        }
        (None, _) => None,
    };
    app.projects.update_robot(&who, id, req.description, grants, req.disable).await?;
    Ok(StatusCode::OK)
}

/// `PATCH /api/v2.0/robots/{robot_id} {"secret": ""}`: a new secret, answered once.
#[utoipa::path(
    patch,
    path = "/api/v2.0/robots/{robot_id}",
    tag = "robot",
    summary = "Give a robot account a new secret",
    params(
        ("robot_id" = i64, Path)
    ),
    request_body = super::types::RobotSecretReq,
    responses(
        (status = 200, description = "The new secret, shown this once", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn refresh_secret(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    body: Option<Json<RobotSecretReq>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let given = body.and_then(|Json(b)| b.secret).map(SecretString::from);
    let secret = app.projects.refresh_robot_secret(&who, id, given).await?;
    Ok(Json(json!({ "secret": secret.expose_secret() })))
}

/// `DELETE /api/v2.0/robots/{robot_id}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/robots/{robot_id}",
    tag = "robot",
    summary = "Delete a robot account",
    params(
        ("robot_id" = i64, Path)
    ),
    responses(
        (status = 200, description = "Deleted"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_robot(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.projects.delete_robot(&who, id).await?;
    Ok(StatusCode::OK)
}
