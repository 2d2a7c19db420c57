//! Harbor's `/api/v2.0/ldap` paths: test the directory settings, search and import users,
//! search groups. System administrators only.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::caller::{ApiCaller, ApiJson};
use super::error::ApiError;
use super::gc::admin_only;
use super::projects::{param, query_pairs};
use crate::auth::ldap::{LdapError, LdapSettings};
use crate::state::AppState;

/// Most entries a search answers.
const SEARCH_LIMIT: usize = 500;

fn directory_error(e: LdapError) -> ApiError {
    match e {
        LdapError::NotConfigured => ApiError::BadRequest(e.to_string()),
        other => {
            tracing::warn!(error = %other, "LDAP");
            ApiError::Unavailable
        }
    }
}

/// Harbor's `LdapConf`: settings to test instead of the stored ones (each optional; the stored
/// search password is used when none is given).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct LdapConf {
    /// `ldap://` or `ldaps://` URL.
    pub ldap_url: Option<String>,
    /// The DN searches bind as.
    pub ldap_search_dn: Option<String>,
    /// Its password.
    pub ldap_search_password: Option<String>,
    /// Where users are searched.
    pub ldap_base_dn: Option<String>,
    /// An extra filter users must match.
    pub ldap_filter: Option<String>,
    /// The username attribute.
    pub ldap_uid: Option<String>,
    /// 0 base, 1 one level, 2 subtree.
    pub ldap_scope: Option<i64>,
    /// Seconds an operation may take.
    pub ldap_connection_timeout: Option<i64>,
    /// Verify the server's certificate.
    pub ldap_verify_cert: Option<bool>,
}

/// Harbor's `LdapPingResult`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LdapPingResult {
    /// Whether Wharf could connect and bind.
    pub success: bool,
    /// What went wrong, or that all is well.
    pub message: String,
}

/// `POST /ldap/ping`: connects and binds with the given settings (over the stored ones).
#[utoipa::path(
    post,
    path = "/api/v2.0/ldap/ping",
    tag = "ldap",
    summary = "Test LDAP settings: connect and bind as the search DN",
    request_body(content = Option<LdapConf>, description = "Settings to test over the stored ones"),
    responses(
        (status = 200, description = "The outcome", body = LdapPingResult),
        (status = 401, description = "Not signed in", body = super::error::Errors),
        (status = 403, description = "Not a system administrator", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn ping(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    body: axum::body::Bytes,
) -> Result<Json<LdapPingResult>, ApiError> {
    admin_only(&who)?;
    // Harbor's clients send no body to test the stored settings.
    let given: LdapConf = if body.iter().all(u8::is_ascii_whitespace) {
        LdapConf::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid LdapConf: {e}")))?
    };
    // LdapConf's fields are configuration items (but for the timeout's name).
    let mut changes = serde_json::Map::new();
    let mut put = |name: &str, v: Option<Value>| {
        if let Some(v) = v {
            changes.insert(name.to_owned(), v);
        }
    };
    put("ldap_url", given.ldap_url.map(Value::from));
    put("ldap_search_dn", given.ldap_search_dn.map(Value::from));
    put("ldap_search_password", given.ldap_search_password.map(Value::from));
    put("ldap_base_dn", given.ldap_base_dn.map(Value::from));
    put("ldap_filter", given.ldap_filter.map(Value::from));
    put("ldap_uid", given.ldap_uid.map(Value::from));
    put("ldap_scope", given.ldap_scope.map(Value::from));
    put("ldap_timeout", given.ldap_connection_timeout.map(Value::from));
    put("ldap_verify_cert", given.ldap_verify_cert.map(Value::from));
    let settings = LdapSettings::of(&app.configurations.preview(&Value::Object(changes)).await?);
    let (directory, _) = app.auth.directory().await?;
    Ok(Json(match directory.ping(&settings).await {
        Ok(()) => LdapPingResult { success: true, message: "connected and bound as the search DN".into() },
        Err(e) => LdapPingResult { success: false, message: e.to_string() },
    }))
}

/// Harbor's `LdapUser`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LdapUser {
    /// The username (the uid attribute).
    pub username: String,
    /// Display name.
    pub realname: String,
    /// E-mail address.
    pub email: String,
}

/// `GET /ldap/users/search?username=`: directory users whose name contains `username`.
#[utoipa::path(
    get,
    path = "/api/v2.0/ldap/users/search",
    tag = "ldap",
    summary = "Search users in the directory",
    params(("username" = Option<String>, Query, description = "Part of a username")),
    responses(
        (status = 200, description = "Matching users", body = [LdapUser]),
        (status = 400, description = "LDAP is not configured", body = super::error::Errors),
        (status = 503, description = "The directory cannot be reached", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn search_users(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<LdapUser>>, ApiError> {
    admin_only(&who)?;
    let pairs = query_pairs(raw.as_deref());
    let name = param(&pairs, "username").unwrap_or("");
    let (directory, settings) = app.auth.directory().await?;
    let users = directory.users(&settings, name, SEARCH_LIMIT).await.map_err(directory_error)?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| LdapUser { username: u.username, realname: u.realname, email: u.email })
            .collect(),
    ))
}

/// Harbor's `LdapImportUsers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LdapImportUsers {
    /// Usernames to import.
    pub ldap_uid_list: Vec<String>,
}

/// Harbor's `LdapFailedImportUser`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LdapFailedImportUser {
    /// The username.
    pub uid: String,
    /// Why it was not imported.
    pub error: String,
}

/// `POST /ldap/users/import`: makes accounts for directory users before they first sign in
/// (so they can be added to projects); 404 with the ones that failed.
#[utoipa::path(
    post,
    path = "/api/v2.0/ldap/users/import",
    tag = "ldap",
    summary = "Import directory users as Wharf accounts",
    request_body = LdapImportUsers,
    responses(
        (status = 200, description = "All imported"),
        (status = 404, description = "Some were not found; the others were imported", body = [LdapFailedImportUser]),
        (status = 503, description = "The directory cannot be reached", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn import_users(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(body): ApiJson<LdapImportUsers>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let (directory, settings) = app.auth.directory().await?;
    let mut failed = Vec::new();
    for uid in body.ldap_uid_list {
        match directory.user(&settings, &uid).await.map_err(directory_error)? {
            Some(user) => {
                app.auth.onboard(&settings, &user).await?;
            }
            None => failed.push(LdapFailedImportUser { uid, error: "not found in the directory".into() }),
        }
    }
    if failed.is_empty() {
        Ok(StatusCode::OK.into_response())
    } else {
        Ok((StatusCode::NOT_FOUND, Json(failed)).into_response())
    }
}

/// `GET /ldap/groups/search?groupname=&groupdn=`: directory groups by name or DN.
#[utoipa::path(
    get,
    path = "/api/v2.0/ldap/groups/search",
    tag = "ldap",
    summary = "Search groups in the directory",
    params(
        ("groupname" = Option<String>, Query, description = "Part of a group name"),
        ("groupdn" = Option<String>, Query, description = "A group's DN")
    ),
    responses(
        (status = 200, description = "Matching groups", body = [super::types::UserGroup]),
        (status = 400, description = "LDAP is not configured", body = super::error::Errors),
        (status = 503, description = "The directory cannot be reached", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn search_groups(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<super::types::UserGroup>>, ApiError> {
    admin_only(&who)?;
    let pairs = query_pairs(raw.as_deref());
    let (name, dn) = (param(&pairs, "groupname").unwrap_or(""), param(&pairs, "groupdn").unwrap_or(""));
    let (directory, settings) = app.auth.directory().await?;
    let groups = directory.groups(&settings, name, dn).await.map_err(directory_error)?;
    Ok(Json(
        groups
            .into_iter()
            .map(|g| super::types::UserGroup {
                id: 0,
                group_name: g.name,
                group_type: frontend::types::GroupType::Ldap.id(),
                ldap_group_dn: g.dn,
            })
            .collect(),
    ))
}
