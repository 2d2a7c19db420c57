//! The portal's browser assets, embedded in the binary by `build.rs`: the stylesheet always, the
//! hydrating bundle (JS glue and wasm) when it was built. Names carry a hash of the content, so
//! they are served with a year-long immutable cache. They are embedded gzipped only (every
//! browser accepts that; a client that does not gets them unpacked on the fly).

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What an embedded file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetKind {
    /// The portal's CSS.
    Stylesheet,
    /// The bundle's JS glue (an ES module).
    Script,
    /// The bundle's WebAssembly.
    Wasm,
}

impl AssetKind {
    fn content_type(self) -> &'static str {
        match self {
            Self::Stylesheet => "text/css; charset=utf-8",
            Self::Script => "text/javascript; charset=utf-8",
            Self::Wasm => "application/wasm",
        }
    }
}

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// What it is.
    pub kind: AssetKind,
    /// Its file name under `/pkg/`, with the content hash.
    pub name: &'static str,
    /// Its bytes, gzipped.
    pub gzip: &'static [u8],
}

impl Asset {
    /// Its bytes, unpacked.
    pub fn bytes(&self) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        // The embedded bytes were written by build.rs: unpacking them cannot fail.
        let _ = flate2::read::GzDecoder::new(self.gzip).read_to_end(&mut out);
        out
    }
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The embedded files.
pub fn all() -> &'static [Asset] {
    ASSETS
}

fn of_kind(kind: AssetKind) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.kind == kind)
}

/// The paths pages load the embedded assets from.
pub fn embedded() -> frontend::app::Assets {
    let path = |a: &Asset| format!("/pkg/{}", a.name);
    frontend::app::Assets {
        stylesheet: of_kind(AssetKind::Stylesheet).map(path).unwrap_or_default(),
        bundle: of_kind(AssetKind::Script)
            .zip(of_kind(AssetKind::Wasm))
            .map(|(js, wasm)| (path(js), path(wasm))),
    }
}

/// The paths of assets served from a site directory as `cargo leptos build` writes it (for
/// working on the portal with cargo-leptos' watch mode): unhashed names.
pub fn from_site_dir() -> frontend::app::Assets {
    frontend::app::Assets {
        stylesheet: "/pkg/wharf.css".into(),
        bundle: Some(("/pkg/wharf.js".into(), "/pkg/wharf.wasm".into())),
    }
}

/// `GET /pkg/{file}`: an embedded asset, gzipped when the client accepts it.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gzip = accepts_gzip(&headers);
    let mut res = if gzip {
        asset.gzip.into_response()
    } else {
        tokio::task::spawn_blocking(|| asset.bytes()).await.unwrap_or_default().into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.kind.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    res
}

/// Whether `Accept-Encoding` names gzip without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next().is_some_and(|name| name.eq_ignore_ascii_case("gzip"))
                && !parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_is_always_embedded_under_a_content_hash() {
        let css = of_kind(AssetKind::Stylesheet).expect("the stylesheet is always embedded");
        assert!(css.name.starts_with("wharf-") && css.name.ends_with(".css"), "{}", css.name);
        assert!(String::from_utf8(css.bytes()).is_ok_and(|t| t.contains("--")), "the CSS itself");
        assert!(embedded().stylesheet.starts_with("/pkg/wharf-"));
    }

    #[tokio::test]
    async fn assets_are_cached_for_a_year_and_gzipped_when_accepted() {
        let css = of_kind(AssetKind::Stylesheet).expect("css");
        let mut accept = HeaderMap::new();
        accept.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br, gzip;q=0.8"));
        let res = serve(Path(css.name.to_owned()), accept).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert!(res.headers()[header::CACHE_CONTROL].to_str().is_ok_and(|v| v.contains("immutable")));
        let mut off = HeaderMap::new();
        off.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, identity"));
        let res = serve(Path(css.name.to_owned()), off).await;
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.expect("body");
        assert_eq!(body, css.bytes(), "unpacked for a client without gzip");
        let res = serve(Path("wharf.css".into()), HeaderMap::new()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
