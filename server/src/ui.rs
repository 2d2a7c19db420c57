//! The web portal's HTTP side: Leptos pages and server functions, the browser assets, the
//! session cookie → viewer step, and the cross-site request check.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use frontend::portal::SharedPortal;
use frontend::types::Viewer;
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::LeptosRoutes;

use crate::auth::session::{UiSessions, csrf_token};
use crate::portal::WharfPortal;
use crate::state::AppState;

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Where server functions are served (`#[server(prefix = "/ui")]`).
const SERVER_FN_PREFIX: &str = "/ui/";

/// The Content-Security-Policy of everything but pages (which send their own with a nonce for
/// Leptos's inline bootstrap, see `frontend::app::page_csp`): no inline scripts at all.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// The portal's page routes, generated once per process: generating sets a process-global flag that
/// stops resources from loading, so a render running meanwhile (another server in the same
/// process, as in the test suite) would wait forever (leptos-rs/leptos#4773). The first call
/// is made before the server answers (see [`crate::app::prepare`]).
pub fn routes() -> &'static [leptos_axum::AxumRouteListing] {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| leptos_axum::generate_route_list(frontend::app::App))
}

/// The portal's routes: pages, server functions and `/pkg` assets.
pub fn router(state: &AppState) -> Router<AppState> {
    let portal: SharedPortal = Arc::new(WharfPortal(state.clone()));
    let routes = routes().to_vec();
    let (assets, pkg) = match &state.config.site_dir {
        Some(dir) => (
            crate::assets::from_site_dir(),
            Router::new().nest_service("/pkg", tower_http::services::ServeDir::new(dir.join("pkg"))),
        ),
        None => (
            crate::assets::embedded(),
            Router::new().route("/pkg/{file}", axum::routing::get(crate::assets::serve)),
        ),
    };
    let pages = {
        let portal = portal.clone();
        move || {
            provide_context(portal.clone());
            provide_context(assets.clone());
        }
    };
    let shell = {
        let options = state.leptos.clone();
        move || frontend::app::shell(options.clone())
    };
    // Unknown paths render the app's "not found" page (status 404).
    let not_found = leptos_axum::render_app_to_stream_with_context(pages.clone(), shell.clone());
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
    let assets = pkg.layer(csp.clone());
    Router::new()
        .leptos_routes_with_context(state, routes, pages, shell)
        .fallback(not_found)
        .route("/ui/{*fn_name}", axum::routing::post(server_fns.clone()).get(server_fns))
        .route("/c/oidc/login", axum::routing::get(crate::oidc_sign_in::login))
        .route("/c/oidc/callback", axum::routing::get(crate::oidc_sign_in::callback))
        .layer(middleware::from_fn_with_state(state.clone(), viewer_layer))
        .layer(state.sessions.layer())
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

/// The largest server-function form Wharf reads (they carry a few fields).
const FORM_LIMIT: usize = 256 * 1024;

/// The header a script may send the anti-forgery token in instead of the form field.
const CSRF_HEADER: &str = "x-csrf-token";

/// Resolves the portal session into a [`Viewer`] for the pages, and
/// refuses cross-site server-function calls: a post must come from Wharf's own origin and, from
/// a signed-in viewer, carry the session's anti-forgery token, so that even markup injected
/// into a page could not act for the viewer.
async fn viewer_layer(State(app): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let is_post = req.method() == Method::POST && req.uri().path().starts_with(SERVER_FN_PREFIX);
    if is_post && !same_origin(req.headers()) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let session = req.extensions().get::<tower_sessions::Session>().cloned();
    let user = match &session {
        Some(s) => UiSessions::user(s).await,
        None => Ok(None),
    };
    let viewer = match user {
        Ok(Some(u)) => Viewer {
            id: u.id,
            name: u.username,
            sysadmin: u.sysadmin,
            csrf: session.and_then(|s| s.id()).map(|id| csrf_token(&id)).unwrap_or_default(),
            sso: String::new(),
        },
        Ok(None) => Viewer::default(),
        Err(e) => {
            tracing::error!(error = %e, "could not resolve a session");
            Viewer::default()
        }
    };
    let mut viewer = viewer;
    if !viewer.signed_in()
        && let Ok(c) = app.configurations.current().await
        && c.auth_mode() == frontend::types::AuthMode::Oidc
    {
        viewer.sso =
            Some(c.text("oidc_name")).filter(|n| !n.is_empty()).unwrap_or("single sign-on").to_owned();
    }
    let mut req = if is_post && viewer.signed_in() {
        match with_token_checked(req, &viewer.csrf).await {
            Ok(req) => req,
            Err(refusal) => return refusal,
        }
    } else {
        req
    };
    req.extensions_mut().insert(viewer);
    next.run(req).await
}

/// The answer to a post without the right token: the sentence as a page for a browser's plain
/// form post, the portal's typed error for the pages' script (which reads server functions'
/// failures as JSON).
fn csrf_refusal(headers: &HeaderMap) -> Response {
    let wants_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let sentence = frontend::components::CSRF_REFUSAL;
    if wants_html {
        (StatusCode::FORBIDDEN, sentence).into_response()
    } else {
        let error = frontend::types::PortalError::Invalid(sentence.to_owned());
        (StatusCode::FORBIDDEN, axum::Json(error)).into_response()
    }
}

/// Reads a server-function post (bounded in size; its time is bounded by the body deadline)
/// and passes it on only when it carries `expected`, in the form or in [`CSRF_HEADER`].
async fn with_token_checked(req: Request<Body>, expected: &str) -> Result<Request<Body>, Response> {
    use subtle::ConstantTimeEq;
    let matches = |given: &[u8]| !expected.is_empty() && bool::from(given.ct_eq(expected.as_bytes()));
    if req.headers().get(CSRF_HEADER).is_some_and(|v| matches(v.as_bytes())) {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
    let given = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == frontend::components::CSRF_FIELD)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !matches(given.as_bytes()) {
        return Err(csrf_refusal(&parts.headers));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
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
