//! The caller of an API request: HTTP Basic credentials, or anonymous.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::auth::Identity;
use crate::state::AppState;

/// Who is calling the API.
pub struct ApiCaller(pub Identity);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let auth = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if auth.is_none() && matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD) {
            // A signed-in browser may read the API with its portal session (the logs the
            // portal links to). Only reads: a cookie rides along on cross-site requests, so
            // anything that changes state needs credentials a page cannot forge.
            if let Some(session) = parts.extensions.get::<tower_sessions::Session>() {
                let user = crate::auth::session::UiSessions::user(session).await.map_err(|e| {
                    tracing::error!(error = %e, "could not read a portal session");
                    ApiError::Internal
                })?;
                if let Some(u) = user {
                    return Ok(Self(Identity::User { id: u.id, name: u.username, sysadmin: u.sysadmin }));
                }
            }
        }
        Ok(Self(app.auth.identify_basic(auth, peer_ip(parts)).await?))
    }
}

pub use crate::auth::client::ClientIp;

/// Who is calling and from where: what the API's changing handlers hand the domain, which
/// records the audit event.
pub struct ApiActor {
    /// The caller.
    pub who: Identity,
    /// The client's address.
    pub ip: std::net::IpAddr,
}

impl ApiActor {
    /// The domain's view of it.
    pub fn get(&self) -> crate::audit::Actor<'_> {
        crate::audit::Actor::new(&self.who, self.ip)
    }
}

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let ApiCaller(who) = ApiCaller::from_request_parts(parts, app).await?;
        Ok(Self { who, ip: peer_ip(parts) })
    }
}

/// The client's address (the real one behind a trusted proxy).
fn peer_ip(parts: &Parts) -> std::net::IpAddr {
    crate::auth::client::of(parts).0
}

/// Path parameters; one that does not parse (`/robots/9223372036854775808`) is answered in the
/// API's error format instead of axum's plain text.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::BadRequest(format!("invalid path parameter: {}", e.body_text()))),
        }
    }
}

/// A JSON request body; a malformed or mistyped body is answered in the API's error format
/// instead of axum's plain text.
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}
