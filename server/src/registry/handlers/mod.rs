//! HTTP handlers for `/v2`: one catch-all route whose path is parsed once by [`Route::parse`],
//! then dispatched by method. Each handler extracts, makes one domain call and maps the result.

mod blobs;
mod listing;
mod manifests;
mod token;
mod uploads;

use axum::Router;
use axum::body::Body;

use crate::auth::client::ClientIp;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::error::RegistryError;
use super::route::Route;
use crate::auth::authenticator::LoginThrough;
use crate::auth::{Caller, Identity};
use crate::state::AppState;

/// `Docker-Distribution-API-Version`, sent on every `/v2` response.
const API_VERSION: HeaderName = HeaderName::from_static("docker-distribution-api-version");

/// The `/v2` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2", any(ping))
        .route("/v2/", any(ping))
        .route("/v2/{*rest}", any(dispatch))
        .route("/service/token", axum::routing::get(token::get_token).post(token::post_token))
        .layer(axum::middleware::map_response(|mut res: Response| async move {
            res.headers_mut().insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
            res
        }))
}

/// A request to a `/v2` endpoint, with the caller already identified.
pub(super) struct Req {
    pub app: AppState,
    pub who: Caller,
    pub peer: std::net::IpAddr,
    pub method: Method,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Req {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A request header as text.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Content-Length`, if sent and valid.
    pub fn content_length(&self) -> Option<u64> {
        self.header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok())
    }
}

/// Maps an authentication failure to the registry error answered for it.
pub(super) fn auth_error(e: crate::auth::AuthError) -> RegistryError {
    use crate::auth::AuthError::*;
    match e {
        InvalidCredentials | Malformed | Token(_) | Refused(_) => RegistryError::Unauthorized,
        Throttled => RegistryError::TooManyRequests,
        Directory(_) => RegistryError::Unavailable(
            "the directory or OIDC provider cannot be reached to check credentials; try again later".into(),
        ),
        other => {
            tracing::error!(error = %other, "authentication failed");
            RegistryError::Internal
        }
    }
}

async fn identify(
    app: &AppState,
    headers: &HeaderMap,
    peer: std::net::IpAddr,
) -> Result<Caller, RegistryError> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    app.auth.identify(auth, peer).await.map_err(auth_error)
}

/// The `WWW-Authenticate` challenge pointing clients at the token service, with the scope the
/// request needs when it names one.
fn challenge(app: &AppState, host: Option<&str>, scope: Option<&str>) -> String {
    let realm = format!("{}/service/token", app.config.base_url(host));
    let service = crate::auth::token::SERVICE;
    match scope {
        Some(s) => format!("Bearer realm=\"{realm}\",service=\"{service}\",scope=\"{s}\""),
        None => format!("Bearer realm=\"{realm}\",service=\"{service}\""),
    }
}

/// The scopes a request to `route` with `method` needs, for the challenge: exactly those, so a
/// client that asks the token service for what the challenge names gets a token that is then
/// accepted. Every upload step needs `push` (a session belongs to a push); a cross-repository
/// mount also needs `pull` on the repository it mounts from.
fn scope_for(route: &Route, method: &Method, query: &[(String, String)]) -> String {
    let actions =
        |repo: &crate::oci::reference::RepoName, actions: &str| format!("repository:{repo}:{actions}");
    match route {
        Route::Catalog => "registry:catalog:*".into(),
        Route::UploadStart(repo) => {
            let from = query.iter().any(|(k, _)| k == "mount").then(|| {
                query
                    .iter()
                    .find(|(k, _)| k == "from")
                    .and_then(|(_, v)| v.parse::<crate::oci::reference::RepoName>().ok())
            });
            match from.flatten() {
                Some(from) if from != *repo => {
                    format!("{} {}", actions(repo, "pull,push"), actions(&from, "pull"))
                }
                _ => actions(repo, "pull,push"),
            }
        }
        Route::Upload(repo, _) => actions(repo, "pull,push"),
        Route::Tags(repo) | Route::Referrers(repo, _) => actions(repo, "pull"),
        Route::Blob(repo, _) | Route::Manifest(repo, _) => match *method {
            Method::GET | Method::HEAD => actions(repo, "pull"),
            Method::DELETE => actions(repo, "delete"),
            _ => actions(repo, "pull,push"),
        },
    }
}

/// Renders an error; a 401 carries the challenge.
pub(super) fn error_response(
    app: &AppState,
    e: RegistryError,
    host: Option<&str>,
    scope: Option<&str>,
) -> Response {
    let mut res = e.into_response();
    if res.status() == StatusCode::UNAUTHORIZED {
        set(res.headers_mut(), header::WWW_AUTHENTICATE, challenge(app, host, scope));
    }
    res
}

/// The `Host` the client addressed.
pub(super) fn host(headers: &HeaderMap) -> Option<String> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `GET /v2/`: 200 for a signed-in caller, 401 with a challenge otherwise.
async fn ping(State(app): State<AppState>, ClientIp(peer): ClientIp, headers: HeaderMap) -> Response {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match app.auth.registry_login(auth, peer, LoginThrough::Registry).await.map_err(auth_error) {
        Ok(Caller { identity: Identity::User { .. } | Identity::Robot { .. }, .. }) => {
            (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()
        }
        Ok(_) => error_response(&app, RegistryError::Unauthorized, host(&headers).as_deref(), None),
        Err(e) => error_response(&app, e, host(&headers).as_deref(), None),
    }
}

async fn dispatch(
    State(app): State<AppState>,
    ClientIp(peer): ClientIp,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let route = match Route::parse(&rest) {
        Ok(Some(r)) => r,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return error_response(&app, e, None, None),
    };
    let host = host(&headers);
    let Ok(query) = serde_urlencoded::from_str::<Vec<(String, String)>>(raw_query.as_deref().unwrap_or(""))
    else {
        return error_response(&app, RegistryError::Unsupported("malformed query string".into()), None, None);
    };
    let scope = scope_for(&route, &method, &query);
    let result = async {
        let who = identify(&app, &headers, peer).await?;
        let req = Req { app: app.clone(), who, peer, method, query, headers, body };
        route_request(req, route).await
    }
    .await;
    result.unwrap_or_else(|e| error_response(&app, e, host.as_deref(), Some(&scope)))
}

async fn route_request(req: Req, route: Route) -> Result<Response, RegistryError> {
    let m = req.method.clone();
    match route {
        Route::Catalog if m == Method::GET => listing::catalog(req).await,
        Route::Tags(name) if m == Method::GET => listing::tags(req, name).await,
        Route::Referrers(name, d) if m == Method::GET => listing::referrers(req, name, d).await,
        Route::Blob(name, d) if m == Method::GET || m == Method::HEAD => blobs::get(req, name, d).await,
        Route::Blob(name, d) if m == Method::DELETE => blobs::delete(req, name, d).await,
        Route::UploadStart(name) if m == Method::POST => uploads::start(req, name).await,
        Route::Upload(name, id) if m == Method::PATCH => uploads::patch(req, name, id).await,
        Route::Upload(name, id) if m == Method::PUT => uploads::put(req, name, id).await,
        Route::Upload(name, id) if m == Method::GET => uploads::status(req, name, id).await,
        Route::Upload(name, id) if m == Method::DELETE => uploads::cancel(req, name, id).await,
        Route::Manifest(name, r) if m == Method::GET || m == Method::HEAD => {
            manifests::get(req, name, r).await
        }
        Route::Manifest(name, r) if m == Method::PUT => manifests::put(req, name, r).await,
        Route::Manifest(name, r) if m == Method::DELETE => manifests::delete(req, name, r).await,
        _ => Err(RegistryError::Unsupported(format!("{m} is not allowed here"))),
    }
}

/// Sets a header from any string value (values built from validated names and digests).
pub(super) fn set(headers: &mut HeaderMap, name: impl header::IntoHeaderName, value: impl AsRef<str>) {
    if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
        headers.insert(name, v);
    }
}

/// The `n` and `last` pagination parameters; `n` defaults to and is capped at `max`.
pub(super) fn pagination(req: &Req, max: i64) -> Result<(i64, Option<String>), RegistryError> {
    let n = match req.param("n") {
        None => max,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| RegistryError::PaginationInvalid(v.chars().take(20).collect()))?
            .min(max),
    };
    Ok((n, req.param("last").map(str::to_owned)))
}
