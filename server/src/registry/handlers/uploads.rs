//! Blob uploads (distribution-spec "Pushing blobs"): `POST /v2/<name>/blobs/uploads/` (start,
//! monolithic with `?digest=`, or cross-repository mount with `?mount=&from=`), `PATCH`, `PUT`,
//! `GET` (status) and `DELETE` (cancel) on `/v2/<name>/blobs/uploads/<id>`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Req, set};
use crate::auth::Action;
use crate::oci::reference::{Digest, RepoName};
use crate::registry::content_range::ContentRange;
use crate::registry::error::RegistryError;
use crate::registry::uploads::ChunkClaim;

fn digest_param(req: &Req, name: &str) -> Result<Option<Digest>, RegistryError> {
    req.param(name)
        .map(|d| d.parse::<Digest>().map_err(|e| RegistryError::DigestInvalid(e.to_string())))
        .transpose()
}

/// 202 with the session's location and the range received so far.
fn in_progress(name: &RepoName, id: &str, size: u64, status: StatusCode) -> Response {
    let mut res = status.into_response();
    let h = res.headers_mut();
    set(h, header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"));
    set(h, header::RANGE, format!("0-{}", size.saturating_sub(1)));
    set(h, "docker-upload-uuid", id);
    set(h, header::CONTENT_LENGTH, "0");
    res
}

/// 201 with the committed blob's location.
fn created(name: &RepoName, digest: &Digest) -> Response {
    let mut res = StatusCode::CREATED.into_response();
    let h = res.headers_mut();
    set(h, header::LOCATION, format!("/v2/{name}/blobs/{digest}"));
    set(h, "docker-content-digest", digest.as_str());
    set(h, header::CONTENT_LENGTH, "0");
    res
}

fn claim(req: &Req) -> Result<ChunkClaim, RegistryError> {
    let range = match req.header(header::CONTENT_RANGE) {
        Some(v) => Some(ContentRange::parse(v).ok_or_else(|| {
            RegistryError::RangeInvalid(format!(
                "malformed Content-Range {:?}",
                v.chars().take(64).collect::<String>()
            ))
        })?),
        None => None,
    };
    let len = req.content_length();
    if let (Some(r), Some(l)) = (range, len)
        && r.byte_count() != l
    {
        return Err(RegistryError::SizeInvalid(format!(
            "Content-Range covers {} bytes, Content-Length is {l}",
            r.byte_count()
        )));
    }
    Ok(ChunkClaim { start: range.map(|r| r.start), len: len.or(range.map(|r| r.byte_count())) })
}

pub(super) async fn start(req: Req, name: RepoName) -> Result<Response, RegistryError> {
    let reg = req.app.registry.clone();
    let repo = reg.authorize(&req.who, &name, Action::Push).await?;
    if let Some(digest) = digest_param(&req, "mount")? {
        if let Some(from) = req.param("from").and_then(|f| f.parse::<RepoName>().ok()) {
            // A source the caller may not read falls back to a normal upload, as the spec says.
            if let Ok(source) = reg.authorize(&req.who, &from, Action::Pull).await
                && reg.mount_blob(repo, source, &digest).await?
            {
                return Ok(created(&name, &digest));
            }
        }
    } else if let Some(digest) = digest_param(&req, "digest")? {
        let len = req.content_length();
        reg.upload_monolithic(repo, &digest, len, req.body.into_data_stream()).await?;
        return Ok(created(&name, &digest));
    }
    let id = reg.start_upload(repo, req.who.identity.name()).await?;
    Ok(in_progress(&name, &id, 0, StatusCode::ACCEPTED))
}

pub(super) async fn patch(req: Req, name: RepoName, id: String) -> Result<Response, RegistryError> {
    let reg = req.app.registry.clone();
    let repo = reg.authorize(&req.who, &name, Action::Push).await?;
    let claim = claim(&req)?;
    let size = reg.append_upload(repo, &id, claim, req.body.into_data_stream()).await?;
    Ok(in_progress(&name, &id, size, StatusCode::ACCEPTED))
}

pub(super) async fn put(req: Req, name: RepoName, id: String) -> Result<Response, RegistryError> {
    let reg = req.app.registry.clone();
    let repo = reg.authorize(&req.who, &name, Action::Push).await?;
    let digest = digest_param(&req, "digest")?
        .ok_or_else(|| RegistryError::DigestInvalid("the digest query parameter is required".into()))?;
    let claim = claim(&req)?;
    reg.complete_upload(repo, &id, &digest, claim, req.body.into_data_stream()).await?;
    Ok(created(&name, &digest))
}

pub(super) async fn status(req: Req, name: RepoName, id: String) -> Result<Response, RegistryError> {
    let reg = &req.app.registry;
    let repo = reg.authorize(&req.who, &name, Action::Push).await?;
    let size = reg.upload_status(repo, &id).await?;
    Ok(in_progress(&name, &id, size, StatusCode::NO_CONTENT))
}

pub(super) async fn cancel(req: Req, name: RepoName, id: String) -> Result<Response, RegistryError> {
    let reg = &req.app.registry;
    let repo = reg.authorize(&req.who, &name, Action::Push).await?;
    reg.cancel_upload(repo, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
