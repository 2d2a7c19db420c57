//! `/api/v2.0/projects/{project}/repositories[/{repository}[/artifacts[/{reference}[/tags]]]]`
//! (Harbor API v2.0). A repository name with slashes is URL-encoded twice in the path, as in
//! Harbor (`a/b` → `a%252Fb`).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::caller::{ApiActor, ApiCaller, ApiJson, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, param, project_ref, query_pairs};
use super::types::{Artifact, ArtifactTag, Repository, TagReq};
use crate::artifacts::BrowseError;
use crate::auth::Action;
use crate::db::manifests::ArtifactSort;
use crate::state::AppState;

impl From<BrowseError> for ApiError {
    fn from(e: BrowseError) -> Self {
        match e {
            BrowseError::Project(p) => p.into(),
            BrowseError::NotFound(_) => Self::NotFound(e.to_string()),
            BrowseError::Invalid(m) => Self::BadRequest(m),
            BrowseError::Conflict(m) => Self::PreconditionFailed(m),
            BrowseError::Quota(m) => Self::Denied(m),
            BrowseError::Exists(m) => Self::Conflict(m),
            BrowseError::Unavailable => Self::Unavailable,
            BrowseError::Internal => Self::Internal,
        }
    }
}

/// The label ids of Harbor's `q=labels=(1 2)` (or `labels=1`): an artifact must carry all.
fn label_filter(q: Option<&str>) -> Result<Vec<i64>, ApiError> {
    let Some(q) = q else { return Ok(Vec::new()) };
    let Some(value) = q.split(',').find_map(|t| t.trim().strip_prefix("labels=")) else {
        return Ok(Vec::new());
    };
    value
        .trim_matches(|c| c == '(' || c == ')' || c == '{' || c == '}')
        .split([' ', '+'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                ApiError::BadRequest(format!("labels={value}: use label ids, as in labels=(1 2)"))
            })
        })
        .collect()
}

/// Decodes `%XX` escapes once more (the path was decoded once already).
pub(super) fn decode_again(s: &str) -> String {
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
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories",
    tag = "repository",
    summary = "List a project's repositories",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "name=~x"),
        ("sort" = String, Query, description = "name, -creation_time, …")
    ),
    responses(
        (status = 200, description = "Repositories; X-Total-Count and Link headers", body = [super::types::Repository]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_repositories(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(project): ApiPath<String>,
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
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}",
    tag = "repository",
    summary = "One repository",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)")
    ),
    responses(
        (status = 200, description = "The repository", body = super::types::Repository),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_repository(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Repository>, ApiError> {
    let r = app
        .artifacts
        .repository(&who, &project_ref(&project, &headers), &decode_again(&repo), Action::ReadProject)
        .await?;
    Ok(Json(r.into()))
}

/// `DELETE …/repositories/{repository}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}",
    tag = "repository",
    summary = "Delete a repository",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)")
    ),
    responses(
        (status = 200, description = "Deleted with its artifacts"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_repository(
    State(app): State<AppState>,
    actor: ApiActor,
    ApiPath((project, repo)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    app.artifacts
        .delete_repository(actor.get(), &project_ref(&project, &headers), &decode_again(&repo))
        .await?;
    Ok(StatusCode::OK)
}

/// `GET …/repositories/{repository}/artifacts?page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts",
    tag = "artifact",
    summary = "List a repository's artifacts",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Items per page (at most 100)"),
        ("q" = String, Query, description = "labels=(1 2): artifacts carrying every one of these label ids"),
        ("sort" = String, Query, description = "-push_time, pull_time, size")
    ),
    responses(
        (status = 200, description = "Artifacts; X-Total-Count and Link headers", body = [super::types::Artifact]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_artifacts(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo)): ApiPath<(String, String)>,
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
    let labels = label_filter(param(&pairs, "q"))?;
    let (rows, total, _) = app
        .artifacts
        .list_artifacts(&who, &p, &decode_again(&repo), sort, &labels, page.offset(), page.page_size)
        .await?;
    let body: Vec<Artifact> = rows.into_iter().map(Artifact::from).collect();
    let path = format!("/api/v2.0/projects/{project}/repositories/{repo}/artifacts");
    Ok((page.headers(total, &path, &rest), Json(body)).into_response())
}

/// `POST …/repositories/{repository}/artifacts?from=<project>/<repository>@<digest>` (or `:<tag>`):
/// Harbor's copy ("retag").
#[utoipa::path(
    post,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts",
    tag = "artifact",
    summary = "Copy an artifact from another repository",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("from" = String, Query, description = "<project>/<repository>@<digest> or :<tag>")
    ),
    responses(
        (status = 201, description = "Copied; Location names it"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn copy_artifact(
    State(app): State<AppState>,
    actor: ApiActor,
    ApiPath((project, repo)): ApiPath<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let from = param(&pairs, "from")
        .ok_or_else(|| ApiError::BadRequest("from=<project>/<repository>@<digest> is required".into()))?;
    let (_, digest) = app
        .artifacts
        .copy_artifact(actor.get(), &project_ref(&project, &headers), &decode_again(&repo), from)
        .await?;
    let location = format!("/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{digest}");
    Ok(super::created(&location, ()))
}

/// `GET …/artifacts/{reference}` (tag or digest)
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}",
    tag = "artifact",
    summary = "One artifact",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest")
    ),
    responses(
        (status = 200, description = "The artifact", body = super::types::Artifact),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_artifact(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo, reference)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Artifact>, ApiError> {
    let p = project_ref(&project, &headers);
    let (_, a) = app.artifacts.artifact(&who, &p, &decode_again(&repo), &reference, Action::Pull).await?;
    Ok(Json(a.into()))
}

/// `DELETE …/artifacts/{reference}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}",
    tag = "artifact",
    summary = "Delete an artifact",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest")
    ),
    responses(
        (status = 200, description = "Deleted"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_artifact(
    State(app): State<AppState>,
    actor: ApiActor,
    ApiPath((project, repo, reference)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    app.artifacts
        .delete_artifact(actor.get(), &project_ref(&project, &headers), &decode_again(&repo), &reference)
        .await?;
    Ok(StatusCode::OK)
}

/// `GET …/artifacts/{reference}/tags`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags",
    tag = "artifact",
    summary = "List an artifact's tags",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest")
    ),
    responses(
        (status = 200, description = "The artifact's tags", body = [super::types::ArtifactTag]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_tags(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo, reference)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Vec<ArtifactTag>>, ApiError> {
    let p = project_ref(&project, &headers);
    let (_, a) = app.artifacts.artifact(&who, &p, &decode_again(&repo), &reference, Action::Pull).await?;
    Ok(Json(Artifact::from(a).tags))
}

/// `POST …/artifacts/{reference}/tags {"name": "v2"}`
#[utoipa::path(
    post,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags",
    tag = "artifact",
    summary = "Tag an artifact",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest")
    ),
    request_body = super::types::TagReq,
    responses(
        (status = 201, description = "Tagged"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn add_tag(
    State(app): State<AppState>,
    actor: ApiActor,
    ApiPath((project, repo, reference)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TagReq>,
) -> Result<StatusCode, ApiError> {
    app.artifacts
        .add_tag(actor.get(), &project_ref(&project, &headers), &decode_again(&repo), &reference, &req.name)
        .await?;
    Ok(StatusCode::CREATED)
}

/// `DELETE …/artifacts/{reference}/tags/{tag}`
#[utoipa::path(
    delete,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}",
    tag = "artifact",
    summary = "Remove a tag",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest"),
        ("tag_name" = String, Path)
    ),
    responses(
        (status = 200, description = "Untagged"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn delete_tag(
    State(app): State<AppState>,
    actor: ApiActor,
    ApiPath((project, repo, reference, tag)): ApiPath<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    app.artifacts
        .delete_tag(actor.get(), &project_ref(&project, &headers), &decode_again(&repo), &reference, &tag)
        .await?;
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
