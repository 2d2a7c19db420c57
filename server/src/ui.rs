//! The web portal's HTTP side: Leptos pages and server functions, the browser assets, the
//! session cookie → viewer step, and the cross-site request check.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use frontend::portal::SharedPortal;
use frontend::types::Viewer;
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::LeptosRoutes;

use crate::app::AppState;
use crate::portal::WharfPortal;

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Where server functions are served (`#[server(prefix = "/ui")]`).
const SERVER_FN_PREFIX: &str = "/ui/";

/// Leptos options for serving: assets from `site_dir`.
pub fn leptos_options(site_dir: &std::path::Path) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("wharf")
        .site_root(site_dir.display().to_string())
        .site_pkg_dir("pkg")
        .build()
}

/// The Content-Security-Policy of everything but pages (which send their own with a nonce for
/// Leptos's inline bootstrap, see `frontend::app::page_csp`): no inline scripts at all.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// The portal's routes: pages, server functions and `/pkg` assets.
pub fn router(state: &AppState) -> Router<AppState> {
    let portal: SharedPortal = Arc::new(WharfPortal(state.clone()));
    // Generated once per process: generating sets a process-global flag that stops resources
    // from loading, so a render running meanwhile (another server in the same process, as in
    // the test suite) would wait forever (leptos-rs/leptos#4773).
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| leptos_axum::generate_route_list(frontend::app::App)).clone();
    let pages = {
        let portal = portal.clone();
        move || provide_context(portal.clone())
    };
    let shell = {
        let options = state.leptos.clone();
        move || frontend::app::shell(options.clone())
    };
    let pkg = state.config.site_dir.join("pkg");
    // Unknown paths render the app's "not found" page (status 404).
    let not_found =
        leptos_axum::file_and_error_handler_with_context::<AppState, _>(pages.clone(), frontend::app::shell);
    let server_fns = {
        let portal = portal.clone();
        move |req: Request<Body>| {
            let portal = portal.clone();
            async move {
                leptos_axum::handle_server_fns_with_context(move || provide_context(portal.clone()), req)
                    .await
            }
        }
    };
    let csp = middleware::map_response(|mut res: Response| async move {
        res.headers_mut().entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CSP));
        res
    });
    // Assets need no viewer: they stay outside the session layer (no database query per file).
    let assets =
        Router::new().nest_service("/pkg", tower_http::services::ServeDir::new(pkg)).layer(csp.clone());
    Router::new()
        .leptos_routes_with_context(state, routes, pages, shell)
        .fallback(not_found)
        .route("/ui/{*fn_name}", axum::routing::post(server_fns.clone()).get(server_fns))
        .layer(middleware::from_fn_with_state(state.clone(), viewer_layer))
        // A page or server function that cannot finish answers 503 instead of holding the
        // connection.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            std::time::Duration::from_secs(30),
        ))
        .layer(csp)
        .merge(assets)
}

/// Whether a state-changing request comes from a page Wharf served: its `Origin` (or, when a
/// browser sends none, its `Referer`) names the host the request was sent to. With the
/// `SameSite=Lax` cookie this keeps other sites from acting with a viewer's session.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let source =
        headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|v| v.to_str().ok());
    match (host, source) {
        (Some(host), Some(source)) => {
            let after_scheme = source.split_once("://").map_or("", |(_, rest)| rest);
            after_scheme.split('/').next() == Some(host)
        }
        _ => false,
    }
}

/// Resolves the session cookie into a [`Viewer`] (and the client address) for the pages, and
/// refuses cross-site server-function calls.
async fn viewer_layer(State(app): State<AppState>, mut req: Request<Body>, next: Next) -> Response {
    if req.method() == Method::POST
        && req.uri().path().starts_with(SERVER_FN_PREFIX)
        && !same_origin(req.headers())
    {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let cookie = req.headers().get(header::COOKIE).and_then(|v| v.to_str().ok());
    let viewer = match app.sessions.resolve(cookie).await {
        Ok(Some(u)) => Viewer { id: u.id, name: u.username, sysadmin: u.sysadmin },
        Ok(None) => Viewer::default(),
        Err(e) => {
            tracing::error!(error = %e, "could not resolve a session");
            Viewer::default()
        }
    };
    let ip = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    req.extensions_mut().insert(viewer);
    if let Some(ip) = ip {
        req.extensions_mut().insert(ip);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_site_posts_are_recognised() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                    HeaderValue::from_str(v).expect("v"),
                );
            }
            m
        };
        assert!(same_origin(&h(&[("host", "reg:5000"), ("origin", "http://reg:5000")])));
        assert!(same_origin(&h(&[("host", "reg:5000"), ("referer", "https://reg:5000/login?next=/x")])));
        assert!(!same_origin(&h(&[("host", "reg:5000"), ("origin", "http://evil.example")])));
        assert!(!same_origin(&h(&[("host", "reg:5000"), ("origin", "http://reg:5000.evil.example")])));
        assert!(!same_origin(&h(&[("host", "reg:5000")])), "no origin at all");
    }
}
