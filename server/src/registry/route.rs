//! Parses a path below `/v2/` into a typed route once, instead of one axum route per name depth.
//!
//! Repository names contain slashes, so a path is recognised from its end: the last segments say
//! which endpoint it is, everything before them is the name.

use super::error::RegistryError;
use crate::oci::reference::{Digest, Reference, RepoName};

/// One endpoint of the distribution API, with its parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags(RepoName),
    /// `/v2/<name>/manifests/<reference>`
    Manifest(RepoName, Reference),
    /// `/v2/<name>/blobs/<digest>`
    Blob(RepoName, Digest),
    /// `/v2/<name>/blobs/uploads/`
    UploadStart(RepoName),
    /// `/v2/<name>/blobs/uploads/<session id>`
    Upload(RepoName, String),
    /// `/v2/<name>/referrers/<digest>`
    Referrers(RepoName, Digest),
}

fn name(parts: &[&str]) -> Result<RepoName, RegistryError> {
    parts
        .join("/")
        .parse()
        .map_err(|e: crate::oci::reference::ParseError| RegistryError::NameInvalid(e.to_string()))
}

impl Route {
    /// Parses `rest`, the path after `/v2/`. `None` means no such endpoint (plain 404).
    pub fn parse(rest: &str) -> Result<Option<Self>, RegistryError> {
        if rest == "_catalog" {
            return Ok(Some(Self::Catalog));
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let n = parts.len();
        if n >= 3 && parts[n - 2] == "tags" && parts[n - 1] == "list" {
            return name(&parts[..n - 2]).map(|r| Some(Self::Tags(r)));
        }
        if n >= 4 && parts[n - 3] == "blobs" && parts[n - 2] == "uploads" {
            let repo = name(&parts[..n - 3])?;
            return Ok(Some(if parts[n - 1].is_empty() {
                Self::UploadStart(repo)
            } else {
                Self::Upload(repo, parts[n - 1].to_owned())
            }));
        }
        if n >= 3 && parts[n - 2] == "blobs" && parts[n - 1] == "uploads" {
            return name(&parts[..n - 2]).map(|r| Some(Self::UploadStart(r)));
        }
        if n >= 3 {
            let (kind, last) = (parts[n - 2], parts[n - 1]);
            let digest = || last.parse::<Digest>().map_err(|e| RegistryError::DigestInvalid(e.to_string()));
            match kind {
                "manifests" => {
                    let repo = name(&parts[..n - 2])?;
                    let reference = last.parse::<Reference>().map_err(|e| match e {
                        crate::oci::reference::ParseError::Tag(_) => {
                            RegistryError::ManifestInvalid(e.to_string())
                        }
                        other => RegistryError::DigestInvalid(other.to_string()),
                    })?;
                    return Ok(Some(Self::Manifest(repo, reference)));
                }
                "blobs" => {
                    let repo = name(&parts[..n - 2])?;
                    return Ok(Some(Self::Blob(repo, digest()?)));
                }
                "referrers" => {
                    let repo = name(&parts[..n - 2])?;
                    return Ok(Some(Self::Referrers(repo, digest()?)));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// The repository the route acts on, if any.
    pub fn repo(&self) -> Option<&RepoName> {
        match self {
            Self::Catalog => None,
            Self::Tags(r)
            | Self::Manifest(r, _)
            | Self::Blob(r, _)
            | Self::UploadStart(r)
            | Self::Upload(r, _)
            | Self::Referrers(r, _) => Some(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> String {
        format!("sha256:{}", "c".repeat(64))
    }

    #[test]
    fn routes_are_recognised_from_the_end() {
        assert_eq!(Route::parse("_catalog"), Ok(Some(Route::Catalog)));
        let r = Route::parse("a/b/c/tags/list").expect("ok").expect("route");
        assert_eq!(r.repo().map(|n| n.as_str()), Some("a/b/c"));
        assert!(matches!(
            Route::parse("p/x/manifests/latest"),
            Ok(Some(Route::Manifest(_, Reference::Tag(_))))
        ));
        assert!(matches!(Route::parse(&format!("p/x/blobs/{}", d())), Ok(Some(Route::Blob(..)))));
        assert!(matches!(Route::parse("p/x/blobs/uploads/"), Ok(Some(Route::UploadStart(_)))));
        assert!(matches!(Route::parse("p/x/blobs/uploads"), Ok(Some(Route::UploadStart(_)))));
        assert!(
            matches!(Route::parse("p/x/blobs/uploads/abc"), Ok(Some(Route::Upload(_, id))) if id == "abc")
        );
        assert!(matches!(Route::parse(&format!("p/x/referrers/{}", d())), Ok(Some(Route::Referrers(..)))));
        // A repository may itself be called "blobs" or "manifests".
        assert!(
            matches!(Route::parse("p/blobs/manifests/v1"), Ok(Some(Route::Manifest(n, _))) if n.as_str() == "p/blobs")
        );
    }

    #[test]
    fn bad_parts_give_the_spec_error() {
        assert!(matches!(Route::parse("P/x/tags/list"), Err(RegistryError::NameInvalid(_))));
        assert!(matches!(Route::parse("p/../x/tags/list"), Err(RegistryError::NameInvalid(_))));
        assert!(matches!(Route::parse("p/x/blobs/sha256:zz"), Err(RegistryError::DigestInvalid(_))));
        assert!(matches!(Route::parse("p/x/manifests/-bad"), Err(RegistryError::ManifestInvalid(_))));
        assert_eq!(Route::parse("p/x/unknown/thing"), Ok(None));
        assert_eq!(Route::parse("x"), Ok(None));
    }
}
