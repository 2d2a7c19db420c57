//! The browser's OpenID Connect sign-in: `/c/oidc/login` sends the user to the provider (Harbor's
//! path), `/c/oidc/callback` takes them back, checks what the provider says and opens a portal
//! session. The sign-in in between lives in a cookie sealed with the server's key, so any replica
//! finishes it.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::oidc::{OidcSettings, Pending};
use crate::state::AppState;
use frontend::types::AuthMode;

const COOKIE: &str = "wharf_oidc";

/// `/c/oidc/login?next=`
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `/c/oidc/callback?code=&state=` (or `error=`)
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn failure(status: StatusCode, message: &str) -> Response {
    (status, format!("Signing in with the provider failed: {message}\n")).into_response()
}

/// Only paths of this site: a sign-in must not become an open redirect.
fn local(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/projects".to_owned(),
    }
}

fn callback_url(app: &AppState, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    format!("{}/c/oidc/callback", app.config.base_url(host))
}

async fn settings(app: &AppState) -> Result<OidcSettings, Response> {
    let current = app.configurations.current().await.map_err(|e| {
        tracing::error!(error = %e, "configuration");
        failure(StatusCode::INTERNAL_SERVER_ERROR, "the configuration could not be read")
    })?;
    if current.auth_mode() != AuthMode::Oidc {
        return Err(failure(StatusCode::NOT_FOUND, "single sign-on is not enabled here"));
    }
    Ok(OidcSettings::of(&current))
}

/// Sends the browser to the provider.
pub async fn login(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let s = match settings(&app).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (url, pending) =
        match app.auth.oidc().begin(&s, &callback_url(&app, &headers), &local(q.next.as_deref())).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "OIDC sign-in");
                return failure(StatusCode::BAD_GATEWAY, &e.to_string());
            }
        };
    let sealed = app.seal_key.seal(&serde_json::to_string(&pending).unwrap_or_default());
    let cookie = format!("{COOKIE}={sealed}; Path=/c/oidc; HttpOnly; SameSite=Lax; Max-Age=600");
    let mut res = (StatusCode::FOUND, [(header::LOCATION, url)]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// Takes the browser back from the provider and signs the user in.
pub async fn callback(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let s = match settings(&app).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(error) = q.error {
        return failure(
            StatusCode::UNAUTHORIZED,
            &format!("{error}: {}", q.error_description.unwrap_or_default()),
        );
    }
    let pending: Option<Pending> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_owned))
        .find_map(|sealed| app.seal_key.open(&sealed).ok())
        .and_then(|json| serde_json::from_str(&json).ok());
    let Some(pending) = pending else {
        return failure(StatusCode::BAD_REQUEST, "no sign-in was started from this browser: start again");
    };
    let now = crate::db::now_ms() / 1000;
    if q.state.as_deref() != Some(pending.state.as_str()) || pending.expires < now {
        return failure(
            StatusCode::BAD_REQUEST,
            "the sign-in does not match the one started, or took too long: start again",
        );
    }
    let Some(code) = q.code else { return failure(StatusCode::BAD_REQUEST, "the provider sent no code") };
    let user = match app.auth.oidc().finish(&s, &callback_url(&app, &headers), &pending, &code).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "OIDC sign-in");
            return failure(StatusCode::UNAUTHORIZED, &e.to_string());
        }
    };
    let row = match app.auth.oidc_account(&s, &user).await {
        Ok(r) => r,
        Err(e) => return failure(StatusCode::FORBIDDEN, &e.to_string()),
    };
    if let Err(e) = app.sessions.sign_in(&session, row.id).await {
        tracing::error!(error = %e, "session");
        return failure(StatusCode::INTERNAL_SERVER_ERROR, "the session could not be opened");
    }
    let mut res = (StatusCode::FOUND, [(header::LOCATION, pending.next)]).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("wharf_oidc=; Path=/c/oidc; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    res
}
