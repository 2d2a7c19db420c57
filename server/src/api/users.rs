//! `/api/v2.0/users` (Harbor API v2.0): list, create, current, read, profile, password, sysadmin.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiJson, ClientIp};
use super::error::ApiError;
use super::projects::{page_of, param, query_pairs};
use super::types::{PasswordReq, SysadminReq, User, UserCreationReq, UserProfileReq};
use crate::app::AppState;
use crate::users::{NewUserReq, UserError};

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Unauthorized => Self::Unauthorized,
            UserError::Forbidden => Self::Forbidden,
            UserError::NotFound(_) => Self::NotFound(e.to_string()),
            UserError::Exists(_) => Self::Conflict(e.to_string()),
            UserError::InvalidName(_) | UserError::WeakPassword => Self::BadRequest(e.to_string()),
            // Harbor answers a wrong old password with 400.
            UserError::WrongPassword => Self::BadRequest(e.to_string()),
            UserError::Throttled => Self::TooManyRequests,
            UserError::Internal => Self::Internal,
        }
    }
}

/// `GET /api/v2.0/users?username=&q=username=~x&page=&page_size=`
pub async fn list_users(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let q =
        param(&pairs, "q").and_then(|q| q.strip_prefix("username=~").or_else(|| q.strip_prefix("username=")));
    let name = q.or_else(|| param(&pairs, "username")).unwrap_or("");
    let (rows, total) = app.users.list(&who, name, page.offset(), page.page_size).await?;
    let body: Vec<User> = rows.into_iter().map(User::from).collect();
    Ok((page.headers(total, "/api/v2.0/users", &rest), Json(body)).into_response())
}

/// `POST /api/v2.0/users {"username","email","realname","password"}`
pub async fn create_user(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<UserCreationReq>,
) -> Result<Response, ApiError> {
    let new = NewUserReq {
        username: req.username,
        email: req.email,
        realname: req.realname,
        password: req.password,
    };
    let id = app.users.create(&who, new).await?;
    Ok(super::created(&format!("/api/v2.0/users/{id}"), ()))
}

/// `GET /api/v2.0/users/current`
pub async fn current_user(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Json<User>, ApiError> {
    Ok(Json(app.users.current(&who).await?.into()))
}

/// `GET /api/v2.0/users/{user_id}`
pub async fn get_user(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(app.users.get(&who, id).await?.into()))
}

/// `PUT /api/v2.0/users/{user_id} {"email","realname","disabled"}`
pub async fn update_user(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<UserProfileReq>,
) -> Result<StatusCode, ApiError> {
    app.users.update(&who, id, req.email.as_deref(), req.realname.as_deref(), req.disabled).await?;
    Ok(StatusCode::OK)
}

/// `PUT /api/v2.0/users/{user_id}/password {"old_password","new_password"}`
pub async fn change_password(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ClientIp(client): ClientIp,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<PasswordReq>,
) -> Result<StatusCode, ApiError> {
    app.users.change_password(&who, id, req.old_password.as_deref(), &req.new_password, client).await?;
    Ok(StatusCode::OK)
}

/// `PUT /api/v2.0/users/{user_id}/sysadmin {"sysadmin_flag": true}`
pub async fn set_sysadmin(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<SysadminReq>,
) -> Result<StatusCode, ApiError> {
    app.users.set_sysadmin(&who, id, req.sysadmin_flag).await?;
    Ok(StatusCode::OK)
}
