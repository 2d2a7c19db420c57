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
use crate::auth::Identity;
use crate::auth::token::{Access, REFRESH_TTL_SECS, TOKEN_TTL_SECS};
use crate::registry::error::RegistryError;
use crate::state::AppState;

/// Scopes one token request may name: clients ask for one to three (a mount names two); a
/// bound keeps a request from costing seconds and minting a megabyte token.
pub const MAX_SCOPES: usize = 64;

fn scopes<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<Access>, RegistryError> {
    let parsed: Vec<Access> = values
        .flat_map(|v| v.split(' '))
        .filter(|s| !s.is_empty())
        .take(MAX_SCOPES + 1)
        .filter_map(Access::parse)
        .collect();
    if parsed.len() > MAX_SCOPES {
        return Err(RegistryError::TooManyScopes(MAX_SCOPES));
    }
    Ok(parsed)
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
    if offline
        && let Some(refresh) = app.auth.refresh_token(&who, REFRESH_TTL_SECS).await.map_err(auth_error)?
    {
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
        let requested = scopes(query.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.as_str()))?;
        let who = app
            .auth
            .registry_login(auth, peer, crate::auth::authenticator::LoginThrough::TokenService)
            .await
            .map_err(auth_error)?
            .identity;
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
        let requested = scopes(form.scope.as_deref().into_iter())?;
        let who = match form.grant_type.as_str() {
            "password" => {
                let (Some(u), Some(p)) = (form.username.as_deref(), form.password.as_deref()) else {
                    return Err(RegistryError::Unauthorized);
                };
                app.auth.verify(u, p, peer).await.map_err(auth_error)?
            }
            "refresh_token" => {
                let token = form.refresh_token.as_deref().ok_or(RegistryError::Unauthorized)?;
                app.auth.redeem_refresh(token).await.map_err(|_| RegistryError::Unauthorized)?
            }
            other => {
                return Err(RegistryError::Unsupported(format!("grant_type {other:?} is not supported")));
            }
        };
        let offline = form.access_type.as_deref() == Some("offline") || form.grant_type == "refresh_token";
        answer(&app, who, requested, offline).await
    }
    .await;
    result.unwrap_or_else(|e| error_response(&app, e, None, None))
}
