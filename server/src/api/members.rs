//! `/api/v2.0/projects/{project}/members` (Harbor API v2.0): list, add, read, change role, remove.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, param, project_ref, query_pairs};
use super::types::{ProjectMember, ProjectMemberReq};
use crate::auth::Role;
use crate::projects::members::{GroupRef, MemberRef, UserRef};
use crate::state::AppState;
use frontend::types::GroupType;

fn role(id: i64) -> Result<Role, ApiError> {
    Role::from_id(id).ok_or_else(|| ApiError::BadRequest(format!("role_id {id} is not a role: use 1 to 5")))
}

/// `GET …/members?entityname=&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/members",
    tag = "member",
    summary = "List a project's members",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("entityname" = String, Query, description = "Part of the member's name")
    ),
    responses(
        (status = 200, description = "The project's members", body = [super::types::ProjectMember]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_members(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let name = param(&pairs, "entityname").unwrap_or("");
    let r = project_ref(&project, &headers);
    let (rows, total) = app.projects.list_members(&who, &r, name, page.offset(), page.page_size).await?;
    let body: Vec<ProjectMember> = rows.into_iter().map(ProjectMember::from).collect();
    Ok((page.headers(total, &format!("/api/v2.0/projects/{project}/members"), &rest), Json(body))
        .into_response())
}

/// `POST …/members {"role_id": 2, "member_user": {"username": "dev"}}` or `{"role_id": 2,
/// "member_group": {"ldap_group_dn": "cn=devs,ou=groups,dc=example,dc=org"}}`
#[utoipa::path(
    post,
    path = "/api/v2.0/projects/{project_name_or_id}/members",
    tag = "member",
    summary = "Add a member",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)")
    ),
    request_body = super::types::ProjectMemberReq,
    responses(
        (status = 201, description = "Added; Location names the membership"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn add_member(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ProjectMemberReq>,
) -> Result<Response, ApiError> {
    let member = match (req.member_user, req.member_group) {
        (Some(u), _) => MemberRef::User(match (u.username, u.user_id) {
            (Some(name), _) => UserRef::Name(name),
            (None, Some(id)) => UserRef::Id(id),
            (None, None) => return Err(ApiError::BadRequest("member_user needs username or user_id".into())),
        }),
        (None, Some(g)) => {
            let group_type = match g.group_type {
                0 => None,
                t => Some(GroupType::from_id(t).ok_or_else(|| {
                    ApiError::BadRequest(format!("group_type {t}: use 1 (LDAP), 2 (HTTP) or 3 (OIDC)"))
                })?),
            };
            if g.id <= 0 && g.group_name.is_empty() && g.ldap_group_dn.is_empty() {
                return Err(ApiError::BadRequest(
                    "member_group needs id, ldap_group_dn or group_name".into(),
                ));
            }
            MemberRef::Group(GroupRef {
                id: (g.id > 0).then_some(g.id),
                name: g.group_name,
                group_type,
                ldap_group_dn: g.ldap_group_dn,
            })
        }
        (None, None) => return Err(ApiError::BadRequest("member_user or member_group is required".into())),
    };
    let r = project_ref(&project, &headers);
    let id = app.projects.add_member(&who, &r, &member, role(req.role_id)?).await?;
    Ok(super::created(&format!("/api/v2.0/projects/{project}/members/{id}"), ()))
}

/// `GET …/members/{mid}`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
    tag = "member",
    summary = "One membership",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("mid" = i64, Path, description = "The membership's id")
    ),
    responses(
        (status = 200, description = "The membership", body = super::types::ProjectMember),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_member(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, mid)): ApiPath<(String, i64)>,
    headers: HeaderMap,
) -> Result<Json<ProjectMember>, ApiError> {
    let m = app.projects.get_member(&who, &project_ref(&project, &headers), mid).await?;
    Ok(Json(m.into()))
}

/// `PUT …/members/{mid} {"role_id": 4}`
#[utoipa::path(
    put,
    path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
    tag = "member",
    summary = "Change a member's role",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("mid" = i64, Path)
    ),
    request_body = super::types::ProjectMemberReq,
    responses(
        (status = 200, description = "Role changed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_member(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, mid)): ApiPath<(String, i64)>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ProjectMemberReq>,
) -> Result<StatusCode, ApiError> {
    app.projects.set_member_role(&who, &project_ref(&project, &headers), mid, role(req.role_id)?).await?;
    Ok(StatusCode::OK)
}

/// `DELETE …/members/{mid}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
    tag = "member",
    summary = "Remove a member",
    params(
        ("project_name_or_id" = String, Path, description = "The project's name or id (a name when X-Is-Resource-Name is true)"),
        ("mid" = i64, Path)
    ),
    responses(
        (status = 200, description = "Removed"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_member(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, mid)): ApiPath<(String, i64)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    app.projects.remove_member(&who, &project_ref(&project, &headers), mid).await?;
    Ok(StatusCode::OK)
}
