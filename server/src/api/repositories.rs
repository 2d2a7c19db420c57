//! `/api/v2.0/projects/{project}/repositories[/{repository}[/artifacts[/{reference}[/tags]]]]`
//! (Harbor API v2.0). A repository name with slashes is URL-encoded twice in the path, as in
//! Harbor (`a/b` → `a%252Fb`).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::caller::{ApiCaller, ApiJson, ClientIp};
use super::error::ApiError;
use super::projects::{page_of, param, project_ref, query_pairs};
use super::types::{Artifact, ArtifactTag, Repository, TagReq};
use crate::app::AppState;
use crate::artifacts::BrowseError;
use crate::auth::{Action, Identity};
use crate::db::manifests::ArtifactSort;

impl From<BrowseError> for ApiError {
    fn from(e: BrowseError) -> Self {
        match e {
            BrowseError::Project(p) => p.into(),
            BrowseError::NotFound(_) => Self::NotFound(e.to_string()),
            BrowseError::Invalid(m) => Self::BadRequest(m),
            BrowseError::Conflict(m) => Self::PreconditionFailed(m),
            BrowseError::Internal => Self::Internal,
        }
    }
}

fn audit(
    app: &AppState,
    who: &Identity,
    ip: ClientIp,
    project_id: i64,
    operation: &str,
    resource: String,
    kind: &str,
) {
    app.auditor.record(crate::audit::entry(Some(project_id), who.name(), operation, resource, kind, ip.0));
}

/// Decodes `%XX` escapes once more (the path was decoded once already).
fn decode_again(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) =
                (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET …/repositories?q=name=~x&page=&page_size=`
pub async fn list_repositories(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(project): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let name = param(&pairs, "q")
        .and_then(|q| q.strip_prefix("name=~").or_else(|| q.strip_prefix("name=")))
        .unwrap_or("");
    let p = project_ref(&project, &headers);
    let (rows, total) =
        app.artifacts.list_repositories(&who, &p, name, page.offset(), page.page_size).await?;
    let body: Vec<Repository> = rows.into_iter().map(Repository::from).collect();
    Ok((page.headers(total, &format!("/api/v2.0/projects/{project}/repositories"), &rest), Json(body))
        .into_response())
}

/// `GET …/repositories/{repository}`
pub async fn get_repository(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path((project, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Repository>, ApiError> {
    let r = app
        .artifacts
        .repository(&who, &project_ref(&project, &headers), &decode_again(&repo), Action::ReadProject)
        .await?;
    Ok(Json(r.into()))
}

/// `DELETE …/repositories/{repository}`
pub async fn delete_repository(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ip: ClientIp,
    Path((project, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let r =
        app.artifacts.delete_repository(&who, &project_ref(&project, &headers), &decode_again(&repo)).await?;
    audit(&app, &who, ip, r.project_id, "delete", r.name, "repository");
    Ok(StatusCode::OK)
}

/// `GET …/repositories/{repository}/artifacts?page=&page_size=`
pub async fn list_artifacts(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path((project, repo)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let p = project_ref(&project, &headers);
    let sort = match param(&pairs, "sort") {
        None | Some("") => ArtifactSort::default(),
        Some(s) => ArtifactSort::parse(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "sort {s:?}: use push_time, pull_time or size, with - for descending"
            ))
        })?,
    };
    let (rows, total, _) = app
        .artifacts
        .list_artifacts(&who, &p, &decode_again(&repo), sort, page.offset(), page.page_size)
        .await?;
    let body: Vec<Artifact> = rows.into_iter().map(Artifact::from).collect();
    let path = format!("/api/v2.0/projects/{project}/repositories/{repo}/artifacts");
    Ok((page.headers(total, &path, &rest), Json(body)).into_response())
}

/// `POST …/repositories/{repository}/artifacts?from=<project>/<repository>@<digest>` (or `:<tag>`):
/// Harbor's copy ("retag").
pub async fn copy_artifact(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ip: ClientIp,
    Path((project, repo)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let from = param(&pairs, "from")
        .ok_or_else(|| ApiError::BadRequest("from=<project>/<repository>@<digest> is required".into()))?;
    let (r, digest) = app
        .artifacts
        .copy_artifact(&who, &project_ref(&project, &headers), &decode_again(&repo), from)
        .await?;
    audit(&app, &who, ip, r.project_id, "create", format!("{}@{digest}", r.name), "artifact");
    let location = format!("/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{digest}");
    Ok(super::created(&location, ()))
}

/// `GET …/artifacts/{reference}` (tag or digest)
pub async fn get_artifact(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path((project, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Artifact>, ApiError> {
    let p = project_ref(&project, &headers);
    let (_, a) = app.artifacts.artifact(&who, &p, &decode_again(&repo), &reference, Action::Pull).await?;
    Ok(Json(a.into()))
}

/// `DELETE …/artifacts/{reference}`
pub async fn delete_artifact(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ip: ClientIp,
    Path((project, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let r = app
        .artifacts
        .delete_artifact(&who, &project_ref(&project, &headers), &decode_again(&repo), &reference)
        .await?;
    audit(&app, &who, ip, r.project_id, "delete", format!("{}:{reference}", r.name), "artifact");
    Ok(StatusCode::OK)
}

/// `GET …/artifacts/{reference}/tags`
pub async fn list_tags(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path((project, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Vec<ArtifactTag>>, ApiError> {
    let p = project_ref(&project, &headers);
    let (_, a) = app.artifacts.artifact(&who, &p, &decode_again(&repo), &reference, Action::Pull).await?;
    Ok(Json(Artifact::from(a).tags))
}

/// `POST …/artifacts/{reference}/tags {"name": "v2"}`
pub async fn add_tag(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ip: ClientIp,
    Path((project, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TagReq>,
) -> Result<StatusCode, ApiError> {
    let r = app
        .artifacts
        .add_tag(&who, &project_ref(&project, &headers), &decode_again(&repo), &reference, &req.name)
        .await?;
    audit(&app, &who, ip, r.project_id, "create", format!("{}:{}", r.name, req.name), "tag");
    Ok(StatusCode::CREATED)
}

/// `DELETE …/artifacts/{reference}/tags/{tag}`
pub async fn delete_tag(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ip: ClientIp,
    Path((project, repo, reference, tag)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let r = app
        .artifacts
        .delete_tag(&who, &project_ref(&project, &headers), &decode_again(&repo), &reference, &tag)
        .await?;
    audit(&app, &who, ip, r.project_id, "delete", format!("{}:{tag}", r.name), "tag");
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    #[test]
    fn double_encoded_names() {
        assert_eq!(super::decode_again("a%2Fb"), "a/b");
        assert_eq!(super::decode_again("plain"), "plain");
        assert_eq!(super::decode_again("bad%2"), "bad%2");
        assert_eq!(super::decode_again("x%zz"), "x%zz");
    }
}
