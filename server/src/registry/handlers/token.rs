//! The token service of Docker's token authentication: `GET /service/token` (Basic credentials
//! or none) and the OAuth2 form `POST /service/token` (`grant_type=password|refresh_token`).
//! Answers `{"token","access_token","expires_in","issued_at"}` with only the scopes the caller
//! may have.

use axum::Form;

use crate::auth::client::ClientIp;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{auth_error, error_response};
use crate::app::AppState;
use crate::auth::Identity;
use crate::auth::token::{Access, REFRESH_TTL_SECS, TOKEN_TTL_SECS};
use crate::registry::error::RegistryError;

fn scopes<'a>(values: impl Iterator<Item = &'a str>) -> Vec<Access> {
    values.flat_map(|v| v.split(' ')).filter_map(Access::parse).collect()
}

async fn answer(
    app: &AppState,
    who: Identity,
    requested: Vec<Access>,
    offline: bool,
) -> Result<Response, RegistryError> {
    let granted = app.registry.grant(&who, &requested).await?;
    let signer = app.auth.signer();
    let (token, claims) = signer.issue(&who, granted, "access", TOKEN_TTL_SECS);
    let issued_at = crate::time::rfc3339(claims.iat);
    let mut body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": TOKEN_TTL_SECS,
        "issued_at": issued_at,
    });
    if offline && matches!(who, Identity::User { .. }) {
        let (refresh, _) = signer.issue(&who, Vec::new(), "refresh", REFRESH_TTL_SECS);
        body["refresh_token"] = refresh.into();
    }
    let mut res = axum::Json(body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /service/token?service=&scope=…&offline_token=`
pub(super) async fn get_token(
    State(app): State<AppState>,
    ClientIp(peer): ClientIp,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let result = async {
        let who = app.auth.identify_basic(auth, peer).await.map_err(auth_error)?;
        if let crate::auth::Identity::User { name, .. } = &who {
            app.auditor.record(crate::audit::entry(None, name, "login", name.clone(), "user", peer));
        }
        let requested = scopes(query.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.as_str()));
        let offline = query.iter().any(|(k, v)| k == "offline_token" && v == "true");
        answer(&app, who, requested, offline).await
    }
    .await;
    result.unwrap_or_else(|e| error_response(&app, e, None, None))
}

/// The OAuth2 token request form.
#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: String,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    access_type: Option<String>,
}

/// `POST /service/token` with `grant_type=password` or `grant_type=refresh_token`.
pub(super) async fn post_token(
    State(app): State<AppState>,
    ClientIp(peer): ClientIp,
    Form(form): Form<TokenForm>,
) -> Response {
    let result = async {
        let who = match form.grant_type.as_str() {
            "password" => {
                let (Some(u), Some(p)) = (form.username.as_deref(), form.password.as_deref()) else {
                    return Err(RegistryError::Unauthorized);
                };
                app.auth.verify(u, p, peer).await.map_err(auth_error)?
            }
            "refresh_token" => {
                let token = form.refresh_token.as_deref().ok_or(RegistryError::Unauthorized)?;
                let claims =
                    app.auth.signer().verify(token, "refresh").map_err(|_| RegistryError::Unauthorized)?;
                app.auth.still_enabled(claims.identity()).await.map_err(auth_error)?
            }
            other => {
                return Err(RegistryError::Unsupported(format!("grant_type {other:?} is not supported")));
            }
        };
        let requested = scopes(form.scope.as_deref().into_iter());
        let offline = form.access_type.as_deref() == Some("offline") || form.grant_type == "refresh_token";
        answer(&app, who, requested, offline).await
    }
    .await;
    result.unwrap_or_else(|e| error_response(&app, e, None, None))
}
