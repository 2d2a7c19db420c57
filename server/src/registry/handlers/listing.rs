//! Listings: `GET /v2/_catalog`, `GET /v2/<name>/tags/list` (with `n`/`last` and `Link`), and
//! `GET /v2/<name>/referrers/<digest>` (distribution-spec "Listing tags", "Listing referrers").

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{Req, pagination, set};
use crate::auth::Action;
use crate::oci::manifest::OCI_INDEX;
use crate::oci::reference::{Digest, RepoName};
use crate::registry::error::RegistryError;

/// Most entries one listing page holds.
const MAX_PAGE: i64 = 10_000;

/// Trims one look-ahead row and builds the `Link` header for the next page, if any.
fn page(mut items: Vec<String>, n: i64, base: &str) -> (Vec<String>, Option<String>) {
    if items.len() as i64 > n {
        items.truncate(n as usize);
        let last = items.last().cloned().unwrap_or_default();
        let link = format!("<{base}?n={n}&last={}>; rel=\"next\"", urlencode(&last));
        (items, Some(link))
    } else {
        (items, None)
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|v| v[1..].to_owned()).unwrap_or_default()
}

fn json_with_link(body: serde_json::Value, link: Option<String>) -> Response {
    let mut res = axum::Json(body).into_response();
    if let Some(l) = link {
        set(res.headers_mut(), header::LINK, l);
    }
    res
}

pub(super) async fn catalog(req: Req) -> Result<Response, RegistryError> {
    let (n, last) = pagination(&req, MAX_PAGE)?;
    let names = req.app.registry.catalog(&req.who.identity, last.as_deref(), n + 1).await?;
    let (names, link) = page(names, n, "/v2/_catalog");
    Ok(json_with_link(serde_json::json!({ "repositories": names }), link))
}

pub(super) async fn tags(req: Req, name: RepoName) -> Result<Response, RegistryError> {
    let reg = &req.app.registry;
    let repo = reg.authorize(&req.who, &name, Action::Pull).await?;
    let (n, last) = pagination(&req, MAX_PAGE)?;
    let tags = reg.tags(repo, &name, last.as_deref(), n + 1).await?;
    let (tags, link) = page(tags, n, &format!("/v2/{name}/tags/list"));
    Ok(json_with_link(serde_json::json!({ "name": name.as_str(), "tags": tags }), link))
}

pub(super) async fn referrers(req: Req, name: RepoName, subject: Digest) -> Result<Response, RegistryError> {
    let reg = &req.app.registry;
    let filter = req.param("artifactType").filter(|t| !t.is_empty());
    // A repository with nothing in it yet has no referrers: an empty index, as the spec says.
    let index = match reg.authorize_existing(&req.who, &name, Action::Pull).await? {
        Some(repo) => reg.referrers(repo, &name, &subject, filter).await?,
        None => crate::registry::manifests::empty_index(),
    };
    let mut res = axum::Json(index).into_response();
    set(res.headers_mut(), header::CONTENT_TYPE, OCI_INDEX);
    if filter.is_some() {
        set(res.headers_mut(), "oci-filters-applied", "artifactType");
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_a_next_link_only_when_more_exist() {
        let items: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (p, link) = page(items.clone(), 2, "/v2/x/tags/list");
        assert_eq!(p, vec!["a", "b"]);
        assert_eq!(link.as_deref(), Some("</v2/x/tags/list?n=2&last=b>; rel=\"next\""));
        let (p, link) = page(items, 3, "/v2/_catalog");
        assert_eq!((p.len(), link), (3, None));
        assert_eq!(urlencode("a/b c"), "a%2Fb+c");
    }
}
