//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>` (distribution-spec "Pulling blobs",
//! "Deleting blobs").

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Req, set};
use crate::auth::Action;
use crate::oci::reference::{Digest, RepoName};
use crate::registry::content_range::parse_request_range;
use crate::registry::error::RegistryError;

pub(super) async fn get(req: Req, name: RepoName, digest: Digest) -> Result<Response, RegistryError> {
    let reg = &req.app.registry;
    let repo = reg.authorize(&req.who, &name, Action::Pull).await?;
    if repo.group {
        let blob = reg.group_blob(repo, &name, &digest, req.method == Method::HEAD).await?;
        return Ok(proxied(blob, &digest));
    }
    let local = if req.method == Method::HEAD {
        reg.check_blob(repo, &digest).await
    } else {
        reg.stat_blob(repo, &digest).await
    };
    let size = match local {
        Err(RegistryError::BlobUnknown) if repo.proxy.is_some() => {
            let blob = reg.proxy_blob(repo, &name, &digest, req.method == Method::HEAD).await?;
            return Ok(proxied(blob, &digest));
        }
        other => other?,
    };
    let range = match req.header(header::RANGE) {
        Some(r) => match parse_request_range(r, size) {
            Some(r) => Some(r),
            None => {
                let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                set(res.headers_mut(), header::CONTENT_RANGE, format!("bytes */{size}"));
                return Ok(res);
            }
        },
        None => None,
    };
    let partial = range.is_some();
    let (body, served) = if req.method == Method::HEAD {
        (Body::empty(), range.unwrap_or(0..size))
    } else {
        let read = reg.read_blob(&digest, range).await?;
        (Body::from_stream(read.stream), read.range)
    };
    let mut res = body.into_response();
    let h = res.headers_mut();
    set(h, header::CONTENT_LENGTH, (served.end - served.start).to_string());
    set(h, header::CONTENT_TYPE, "application/octet-stream");
    set(h, "docker-content-digest", digest.as_str());
    set(h, header::ETAG, format!("\"{digest}\""));
    set(h, header::ACCEPT_RANGES, "bytes");
    set(h, header::CACHE_CONTROL, "max-age=31536000");
    if partial {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        let end = served.end.saturating_sub(1);
        set(res.headers_mut(), header::CONTENT_RANGE, format!("bytes {}-{end}/{size}", served.start));
    }
    Ok(res)
}

/// The answer for a blob a proxy project serves from its upstream: the whole blob (a range
/// request is answered in full, which HTTP allows), with its length when the upstream said.
fn proxied(blob: crate::registry::proxy::ProxiedBlob, digest: &Digest) -> Response {
    let mut res = match blob.body {
        Some(stream) => Body::from_stream(stream).into_response(),
        None => Body::empty().into_response(),
    };
    let h = res.headers_mut();
    if let Some(size) = blob.size {
        set(h, header::CONTENT_LENGTH, size.to_string());
    }
    set(h, header::CONTENT_TYPE, "application/octet-stream");
    set(h, "docker-content-digest", digest.as_str());
    set(h, header::ETAG, format!("\"{digest}\""));
    res
}

pub(super) async fn delete(req: Req, name: RepoName, digest: Digest) -> Result<Response, RegistryError> {
    let reg = &req.app.registry;
    let repo = reg.authorize(&req.who, &name, Action::Delete).await?;
    reg.delete_blob(repo, &digest).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
