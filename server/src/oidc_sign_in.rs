//! The browser's OpenID Connect sign-in: `/c/oidc/login` sends the user to the provider (Harbor's
//! path), `/c/oidc/callback` takes them back, checks what the provider says and opens a portal
//! session. The sign-in in between lives in a cookie sealed with the server's key, so any replica
//! finishes it.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::auth::oidc::{OidcSettings, Pending, ProviderUser};
use crate::state::AppState;
use frontend::types::AuthMode;

const COOKIE: &str = "wharf_oidc";
/// A new provider user choosing a username: who the provider said they are, sealed. Sent only
/// to the portal's server functions.
const ONBOARD_COOKIE: &str = "wharf_oidc_onboard";
/// How long a new user has to choose a username.
const ONBOARD_FOR: i64 = 600;

/// A sign-in waiting for its user to choose a username.
#[derive(Debug, Serialize, Deserialize)]
struct Onboarding {
    user: ProviderUser,
    next: String,
    /// Unix seconds.
    expires: i64,
}

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

/// The callback to register with the provider, for a request that named `host`.
pub fn redirect_uri(app: &AppState, host: Option<&str>) -> String {
    format!("{}/c/oidc/callback", app.config.base_url(host))
}

fn callback_url(app: &AppState, headers: &HeaderMap) -> String {
    redirect_uri(app, headers.get(header::HOST).and_then(|h| h.to_str().ok()))
}

/// The value of cookie `name` that `open` accepts.
fn cookie<T>(headers: &HeaderMap, name: &str, open: impl Fn(&str) -> Option<T>) -> Option<T> {
    let prefix = format!("{name}=");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(&prefix))
        .find_map(open)
}

/// Finishes the sign-in of a new provider user who chose `username` on the onboarding page:
/// their account is made and returned with where the sign-in was headed; else why not. The caller signs the
/// session in and clears the cookie ([`ONBOARD_CLEARED`]).
pub async fn onboard(
    app: &AppState,
    headers: &HeaderMap,
    username: &str,
) -> Result<(crate::db::users::UserRow, String), String> {
    let s = settings(app).await.map_err(|_| "Single sign-on is not enabled here.".to_owned())?;
    let now = crate::db::now_ms() / 1000;
    let pending: Onboarding = cookie(headers, ONBOARD_COOKIE, |sealed| {
        app.seal_key.open(sealed).ok().and_then(|json| serde_json::from_str(&json).ok())
    })
    .filter(|o: &Onboarding| o.expires >= now)
    .ok_or_else(|| {
        "No single sign-on is waiting for a username in this browser: sign in again.".to_owned()
    })?;
    match app.auth.oidc_account(&s, &pending.user, Some(username)).await {
        Ok(Some(row)) => Ok((row, pending.next)),
        Ok(None) => Err("Choose a username.".into()),
        Err(crate::auth::AuthError::Refused(why)) => Err(why),
        Err(e) => {
            tracing::error!(error = %e, "OIDC onboarding");
            Err("The account could not be made; try again.".into())
        }
    }
}

/// The `Set-Cookie` that clears the onboarding cookie.
pub const ONBOARD_CLEARED: &str = "wharf_oidc_onboard=; Path=/ui; HttpOnly; SameSite=Lax; Max-Age=0";

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
    let pending: Option<Pending> = cookie(&headers, COOKIE, |sealed| {
        app.seal_key.open(sealed).ok().and_then(|json| serde_json::from_str(&json).ok())
    });
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
    let row = match app.auth.oidc_account(&s, &user, None).await {
        Ok(Some(r)) => r,
        Ok(None) => return to_onboarding(&app, user, pending.next),
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

/// Sends a new provider user (automatic onboarding off) to choose a username, keeping who the
/// provider said they are in a sealed cookie.
fn to_onboarding(app: &AppState, user: ProviderUser, next: String) -> Response {
    let location = format!("/oidc-onboard?username={}", frontend::components::encode(&user.username));
    let expires = crate::db::now_ms() / 1000 + ONBOARD_FOR;
    let sealed =
        app.seal_key.seal(&serde_json::to_string(&Onboarding { user, next, expires }).unwrap_or_default());
    let mut res = (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
    let cookies = [
        format!("{ONBOARD_COOKIE}={sealed}; Path=/ui; HttpOnly; SameSite=Lax; Max-Age={ONBOARD_FOR}"),
        "wharf_oidc=; Path=/c/oidc; HttpOnly; SameSite=Lax; Max-Age=0".to_owned(),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}
