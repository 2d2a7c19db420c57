//! `/api/v2.0/users` (Harbor API v2.0): list, create, current, read, profile, password, sysadmin.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiJson, ApiPath, ClientIp};
use super::error::ApiError;
use super::projects::{page_of, param, query_pairs};
use super::types::{PasswordReq, SysadminReq, User, UserCreationReq, UserProfileReq};
use crate::state::AppState;
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
            UserError::NotInThisMode(m) => Self::Denied(m),
            UserError::GroupNotFound(_) => Self::NotFound(e.to_string()),
            UserError::GroupExists(_) => Self::Conflict(e.to_string()),
            UserError::InvalidGroup(_) => Self::BadRequest(e.to_string()),
            UserError::Directory(_) => Self::Unavailable,
            UserError::Precondition(m) => Self::PreconditionFailed(m),
            UserError::Internal => Self::Internal,
        }
    }
}

/// `GET /api/v2.0/users?username=&q=username=~x&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/users",
    tag = "user",
    summary = "List users",
    params(
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "username=~x"),
        ("username" = String, Query, description = "Part of the username")
    ),
    responses(
        (status = 200, description = "Users (system administrators)", body = [super::types::User]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v2.0/users",
    tag = "user",
    summary = "Create a user (system administrators)",
    request_body = super::types::UserCreationReq,
    responses(
        (status = 201, description = "Created; Location names the user"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_user(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<UserCreationReq>,
) -> Result<Response, ApiError> {
    let new = NewUserReq {
        username: req.username,
        email: req.email,
        realname: req.realname,
        password: req.password.into(),
    };
    let id = app.users.create(&who, new).await?;
    Ok(super::created(&format!("/api/v2.0/users/{id}"), ()))
}

/// `GET /api/v2.0/users/current`
#[utoipa::path(
    get,
    path = "/api/v2.0/users/current",
    tag = "user",
    summary = "The signed-in user",
    responses(
        (status = 200, description = "The caller", body = super::types::User),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn current_user(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Json<User>, ApiError> {
    let user = app.users.current(&who).await?;
    with_oidc_meta(&app, &who, user).await
}

/// `user` as answered, with its tie to the OIDC provider (and, for its owner, the CLI secret).
async fn with_oidc_meta(
    app: &AppState,
    who: &crate::auth::Identity,
    user: crate::db::users::UserRow,
) -> Result<Json<User>, ApiError> {
    let meta = app.users.oidc_meta(who, user.id).await?;
    let mut out = User::from(user);
    out.oidc_user_meta = meta.map(|(tie, secret)| super::types::OidcUserInfo::of(tie, secret));
    Ok(Json(out))
}

/// `PUT /api/v2.0/users/{user_id}/cli_secret {"secret"}`
#[utoipa::path(
    put,
    path = "/api/v2.0/users/{user_id}/cli_secret",
    tag = "user",
    summary = "Set an OIDC user's CLI secret (the password for docker login and the API)",
    params(
        ("user_id" = i64, Path)
    ),
    request_body = super::types::CliSecretReq,
    responses(
        (status = 200, description = "Set; the old secret stops working"),
        (status = 400, description = "The secret breaks the password rule", body = super::error::Errors),
        (status = 412, description = "The auth mode is not oidc_auth", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn set_cli_secret(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<super::types::CliSecretReq>,
) -> Result<StatusCode, ApiError> {
    app.users.set_cli_secret(&who, id, &req.secret).await?;
    Ok(StatusCode::OK)
}

/// `GET /api/v2.0/users/{user_id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/users/{user_id}",
    tag = "user",
    summary = "One user",
    params(
        ("user_id" = i64, Path)
    ),
    responses(
        (status = 200, description = "The user", body = super::types::User),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_user(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<User>, ApiError> {
    let user = app.users.get(&who, id).await?;
    with_oidc_meta(&app, &who, user).await
}

/// `PUT /api/v2.0/users/{user_id} {"email","realname","disabled"}`
#[utoipa::path(
    put,
    path = "/api/v2.0/users/{user_id}",
    tag = "user",
    summary = "Change a user's profile (or, for administrators, disable it)",
    params(
        ("user_id" = i64, Path)
    ),
    request_body = super::types::UserProfileReq,
    responses(
        (status = 200, description = "Updated"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_user(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UserProfileReq>,
) -> Result<StatusCode, ApiError> {
    app.users.update(&who, id, req.email.as_deref(), req.realname.as_deref(), req.disabled).await?;
    Ok(StatusCode::OK)
}

/// `PUT /api/v2.0/users/{user_id}/password {"old_password","new_password"}`
#[utoipa::path(
    put,
    path = "/api/v2.0/users/{user_id}/password",
    tag = "user",
    summary = "Change a password",
    params(
        ("user_id" = i64, Path)
    ),
    request_body = super::types::PasswordReq,
    responses(
        (status = 200, description = "Changed; every session and refresh token of the user ends"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn change_password(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ClientIp(client): ClientIp,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<PasswordReq>,
) -> Result<StatusCode, ApiError> {
    app.users.change_password(&who, id, req.old_password.as_deref(), &req.new_password, client).await?;
    Ok(StatusCode::OK)
}

/// `PUT /api/v2.0/users/{user_id}/sysadmin {"sysadmin_flag": true}`
#[utoipa::path(
    put,
    path = "/api/v2.0/users/{user_id}/sysadmin",
    tag = "user",
    summary = "Make a user a system administrator or not",
    params(
        ("user_id" = i64, Path)
    ),
    request_body = super::types::SysadminReq,
    responses(
        (status = 200, description = "Changed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn set_sysadmin(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<SysadminReq>,
) -> Result<StatusCode, ApiError> {
    app.users.set_sysadmin(&who, id, req.sysadmin_flag).await?;
    Ok(StatusCode::OK)
}

/// What a system administrator may do outside projects, as Harbor's RBAC names it.
const SYSTEM_PERMISSIONS: &[(&str, &str)] = &[
    ("audit-log", "list"),
    ("configuration", "read"),
    ("configuration", "update"),
    ("garbage-collection", "create"),
    ("garbage-collection", "list"),
    ("garbage-collection", "read"),
    ("garbage-collection", "stop"),
    ("ldap-user", "create"),
    ("ldap-user", "list"),
    ("project", "create"),
    ("purge-audit", "create"),
    ("registry", "create"),
    ("registry", "delete"),
    ("registry", "list"),
    ("registry", "read"),
    ("registry", "update"),
    ("replication-policy", "create"),
    ("replication-policy", "delete"),
    ("replication-policy", "list"),
    ("replication-policy", "read"),
    ("replication-policy", "update"),
    ("replication", "create"),
    ("replication", "list"),
    ("robot", "create"),
    ("robot", "delete"),
    ("robot", "list"),
    ("robot", "read"),
    ("robot", "update"),
    ("user", "create"),
    ("user", "delete"),
    ("user", "list"),
    ("user", "read"),
    ("user", "update"),
    ("user-group", "create"),
    ("user-group", "delete"),
    ("user-group", "list"),
    ("user-group", "read"),
    ("user-group", "update"),
];

/// `GET /api/v2.0/users/current/permissions?scope=/project/{id}&relative=true`
#[utoipa::path(
    get,
    path = "/api/v2.0/users/current/permissions",
    tag = "user",
    summary = "What the caller may do in a scope: /project/{id} (or a project name), or /system",
    params(
        ("scope" = Option<String>, Query, description = "/project/{id}, or /system (the default)"),
        ("relative" = Option<bool>, Query, description = "Resources relative to the scope (repository) instead of absolute (/project/1/repository)")
    ),
    responses(
        (status = 200, description = "The caller's permissions", body = [super::types::Permission]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn current_permissions(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<super::types::Permission>>, ApiError> {
    use crate::auth::Identity;
    use crate::projects::ProjectRef;
    if matches!(who, Identity::Anonymous) {
        return Err(ApiError::Unauthorized);
    }
    let pairs = query_pairs(raw.as_deref());
    let scope = param(&pairs, "scope").unwrap_or("").trim_end_matches('/');
    let relative = param(&pairs, "relative") == Some("true");
    let (prefix, granted): (String, Vec<(&str, &'static str)>) = match scope.strip_prefix("/project/") {
        Some(project) => {
            let r = match project.parse::<i64>() {
                Ok(id) => ProjectRef::Id(id),
                Err(_) => ProjectRef::Name(project.to_owned()),
            };
            let actions = app.projects.permissions(&who, &r).await?;
            (
                scope.to_owned(),
                actions.into_iter().flat_map(|a| a.harbor_permissions().iter().copied()).collect(),
            )
        }
        None if scope.is_empty() || scope == "/system" => {
            let granted = match &who {
                Identity::User { sysadmin: true, .. } => SYSTEM_PERMISSIONS.to_vec(),
                Identity::User { .. } => vec![("project", "create")],
                _ => Vec::new(),
            };
            ("/system".to_owned(), granted)
        }
        None => return Err(ApiError::BadRequest(format!("scope {scope:?}: use /project/{{id}} or /system"))),
    };
    let mut seen = std::collections::BTreeSet::new();
    Ok(Json(
        granted
            .into_iter()
            .filter(|p| seen.insert(*p))
            .map(|(resource, action)| super::types::Permission {
                resource: if relative { resource.to_owned() } else { format!("{prefix}/{resource}") },
                action,
            })
            .collect(),
    ))
}
