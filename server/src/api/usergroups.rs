//! `/api/v2.0/usergroups` (Harbor API v2.0): LDAP, HTTP and OIDC groups that project
//! memberships can name.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, param, query_pairs};
use super::types::{UserGroup, UserGroupSearchItem};
use crate::state::AppState;
use crate::users::NewGroup;
use frontend::types::GroupType;

/// `GET /api/v2.0/usergroups?group_name=&ldap_group_dn=&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/usergroups",
    tag = "usergroup",
    summary = "List user groups (system administrators)",
    params(
        ("page" = Option<i64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<i64>, Query, description = "Items per page (at most 100)"),
        ("group_name" = Option<String>, Query, description = "Part of the group's name"),
        ("ldap_group_dn" = Option<String>, Query, description = "An LDAP group's DN")
    ),
    responses(
        (status = 200, description = "User groups", body = [UserGroup]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_groups(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let name = param(&pairs, "group_name").unwrap_or("");
    let dn = param(&pairs, "ldap_group_dn").unwrap_or("");
    let (rows, total) = app.users.list_groups(&who, name, dn, page.offset(), page.page_size).await?;
    let body: Vec<UserGroup> = rows.into_iter().map(UserGroup::from).collect();
    Ok((page.headers(total, "/api/v2.0/usergroups", &rest), Json(body)).into_response())
}

/// `GET /api/v2.0/usergroups/search?groupname=&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/usergroups/search",
    tag = "usergroup",
    summary = "Search user groups by name (signed-in users)",
    params(
        ("groupname" = String, Query, description = "Part of the group's name"),
        ("page" = Option<i64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<i64>, Query, description = "Items per page (at most 100)")
    ),
    responses(
        (status = 200, description = "Matching groups", body = [UserGroupSearchItem]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn search_groups(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let name = param(&pairs, "groupname").unwrap_or("");
    let (rows, total) = app.users.search_groups(&who, name, page.offset(), page.page_size).await?;
    let body: Vec<UserGroupSearchItem> = rows
        .into_iter()
        .map(|g| UserGroupSearchItem { id: g.id, group_name: g.group_name, group_type: g.group_type.id() })
        .collect();
    Ok((page.headers(total, "/api/v2.0/usergroups/search", &rest), Json(body)).into_response())
}

fn group_type(t: i64) -> Result<GroupType, ApiError> {
    GroupType::from_id(t)
        .ok_or_else(|| ApiError::BadRequest(format!("group_type {t}: use 1 (LDAP), 2 (HTTP) or 3 (OIDC)")))
}

/// `POST /api/v2.0/usergroups {"group_name","group_type","ldap_group_dn"}`
#[utoipa::path(
    post,
    path = "/api/v2.0/usergroups",
    tag = "usergroup",
    summary = "Create a user group (system administrators); an LDAP group's DN is checked against the directory",
    request_body = UserGroup,
    responses(
        (status = 201, description = "Created; Location names the group"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn create_group(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<UserGroup>,
) -> Result<Response, ApiError> {
    let new = NewGroup {
        name: req.group_name,
        group_type: group_type(req.group_type)?,
        ldap_group_dn: req.ldap_group_dn,
    };
    let id = app.users.create_group(&who, new).await?;
    Ok(super::created(&format!("/api/v2.0/usergroups/{id}"), ()))
}

/// `GET /api/v2.0/usergroups/{group_id}`
#[utoipa::path(
    get,
    path = "/api/v2.0/usergroups/{group_id}",
    tag = "usergroup",
    summary = "One user group (system administrators)",
    params(("group_id" = i64, Path)),
    responses(
        (status = 200, description = "The group", body = UserGroup),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_group(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<UserGroup>, ApiError> {
    Ok(Json(app.users.group(&who, id).await?.into()))
}

/// `PUT /api/v2.0/usergroups/{group_id} {"group_name"}`: renames the group.
#[utoipa::path(
    put,
    path = "/api/v2.0/usergroups/{group_id}",
    tag = "usergroup",
    summary = "Rename a user group (system administrators)",
    params(("group_id" = i64, Path)),
    request_body = UserGroup,
    responses(
        (status = 200, description = "Renamed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_group(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UserGroup>,
) -> Result<(), ApiError> {
    Ok(app.users.rename_group(&who, id, &req.group_name).await?)
}

/// `DELETE /api/v2.0/usergroups/{group_id}`: the group and its project memberships.
#[utoipa::path(
    delete,
    path = "/api/v2.0/usergroups/{group_id}",
    tag = "usergroup",
    summary = "Delete a user group and its project memberships (system administrators)",
    params(("group_id" = i64, Path)),
    responses(
        (status = 200, description = "Deleted"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_group(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<(), ApiError> {
    Ok(app.users.delete_group(&who, id).await?)
}
