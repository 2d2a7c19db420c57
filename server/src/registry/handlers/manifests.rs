//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>` (distribution-spec "Pulling
//! manifests", "Pushing manifests", "Deleting tags", "Deleting manifests").

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Req, set};
use crate::audit::Actor;
use crate::auth::Action;
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::reference::{Reference, RepoName, Tag};
use crate::registry::error::RegistryError;
use crate::registry::manifests::{Fetch, accepts};

pub(super) async fn get(req: Req, name: RepoName, reference: Reference) -> Result<Response, RegistryError> {
    let fetch = if req.method == Method::HEAD { Fetch::Head } else { Fetch::Get };
    let m = req.app.registry.pull_manifest(&req.who, req.peer, &name, &reference, fetch).await?;
    let accept: Vec<&str> =
        req.headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    // By digest the content is pinned; by tag a client that cannot read the type gets a 404.
    if matches!(reference, Reference::Tag(_)) && !accepts(&accept, &m.media_type) {
        return Err(RegistryError::ManifestUnknown(format!(
            "{reference} is a {}, which the Accept header does not allow",
            m.media_type
        )));
    }
    let len = m.content.len();
    let body = if req.method == Method::HEAD { Body::empty() } else { Body::from(m.content) };
    let mut res = body.into_response();
    let h = res.headers_mut();
    set(h, header::CONTENT_TYPE, &m.media_type);
    set(h, header::CONTENT_LENGTH, len.to_string());
    set(h, "docker-content-digest", &m.digest);
    set(h, header::ETAG, format!("\"{}\"", m.digest));
    Ok(res)
}

pub(super) async fn put(
    mut req: Req,
    name: RepoName,
    reference: Reference,
) -> Result<Response, RegistryError> {
    let reg = req.app.registry.clone();
    let repo = reg.authorize(&req.who, &name, Action::Push).await?;
    if req.content_length().is_some_and(|l| l > MAX_MANIFEST_BYTES as u64) {
        return Err(RegistryError::TooLarge(format!("manifests are limited to {MAX_MANIFEST_BYTES} bytes")));
    }
    let content_type = req.header(header::CONTENT_TYPE).map(str::to_owned);
    let body = std::mem::take(&mut req.body);
    let bytes = axum::body::to_bytes(body, MAX_MANIFEST_BYTES + 1).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            RegistryError::TooLarge(format!("manifests are limited to {MAX_MANIFEST_BYTES} bytes"))
        } else {
            RegistryError::ManifestInvalid(format!("the request body failed: {e}"))
        }
    })?;
    // `?tag=` on a push by digest (distribution-spec after 1.1): the only way to tag a manifest
    // whose digest is not the canonical sha256 one.
    let tags = req
        .query
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.parse::<Tag>().map_err(|e| RegistryError::TagInvalid(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    if !tags.is_empty() && matches!(reference, Reference::Tag(_)) {
        return Err(RegistryError::TagInvalid("tag parameters go with a push by digest".into()));
    }
    let actor = Actor::new(&req.who.identity, req.peer);
    let pushed =
        reg.push_manifest(actor, repo, &name, &reference, &tags, content_type.as_deref(), &bytes).await?;
    let mut res = StatusCode::CREATED.into_response();
    let h = res.headers_mut();
    set(h, header::LOCATION, format!("/v2/{name}/manifests/{}", pushed.digest));
    set(h, "docker-content-digest", pushed.digest.as_str());
    set(h, header::CONTENT_LENGTH, "0");
    if let Some(subject) = pushed.subject {
        set(h, "oci-subject", subject.as_str());
    }
    for tag in &pushed.tags {
        if let Ok(v) = axum::http::HeaderValue::from_str(tag.as_str()) {
            h.append("oci-tag", v);
        }
    }
    Ok(res)
}

pub(super) async fn delete(
    req: Req,
    name: RepoName,
    reference: Reference,
) -> Result<Response, RegistryError> {
    let reg = &req.app.registry;
    let repo = reg.authorize(&req.who, &name, Action::Delete).await?;
    reg.delete(Actor::new(&req.who.identity, req.peer), repo, &name, &reference).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
