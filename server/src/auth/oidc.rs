//! OpenID Connect: the provider Wharf's users sign in with (`auth_mode` `oidc_auth`). This part
//! finds a provider from its issuer URL: its discovery document and signing keys, as
//! `/system/oidc/ping` tests them.
//!
//! The protocol work (discovery, PKCE, ID token checks) is the `openidconnect` crate's; the HTTP
//! client is Wharf's own reqwest, handed to it as a closure (the crate's reqwest feature pins
//! another major version).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse,
    IssuerUrl, Nonce, NonceVerifier, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::configurations::Snapshot;

/// The OIDC items of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OidcSettings {
    /// What the sign-in button names (`oidc_name`).
    pub name: String,
    /// The issuer URL.
    pub endpoint: String,
    /// Wharf's client id at the provider.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Scopes asked for (`openid` always).
    pub scopes: Vec<String>,
    /// The claim naming the Wharf username (empty: `preferred_username`, then `name`).
    pub user_claim: String,
    /// The claim listing the user's groups (empty: none read).
    pub groups_claim: String,
    /// Members of this group are system administrators.
    pub admin_group: String,
    /// Verify the provider's certificate.
    pub verify_cert: bool,
    /// Make accounts at first sign-in without asking for a username.
    pub auto_onboard: bool,
    /// Signing out of Wharf signs out at the provider too.
    pub logout: bool,
    /// Parameters added to the authorization request (`oidc_extra_redirect_parms`, a JSON object
    /// of strings: Google's `access_type=offline`, a `prompt`, an identity provider hint).
    pub extra_params: Vec<(String, String)>,
}

impl OidcSettings {
    /// The settings in `c`.
    pub fn of(c: &Snapshot) -> Self {
        Self {
            name: c.text("oidc_name").to_owned(),
            endpoint: c.text("oidc_endpoint").trim_end_matches('/').to_owned(),
            client_id: c.text("oidc_client_id").to_owned(),
            client_secret: c.text("oidc_client_secret").to_owned(),
            scopes: c
                .text("oidc_scope")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            user_claim: c.text("oidc_user_claim").to_owned(),
            groups_claim: c.text("oidc_groups_claim").to_owned(),
            admin_group: c.text("oidc_admin_group").to_owned(),
            verify_cert: c.flag("oidc_verify_cert"),
            auto_onboard: c.flag("oidc_auto_onboard"),
            logout: c.flag("oidc_logout"),
            // Checked when stored: an object of strings.
            extra_params: serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
                c.text("oidc_extra_redirect_parms"),
            )
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect(),
        }
    }
}

/// A sign-in between the redirect to the provider and its callback: kept by the browser in a
/// cookie sealed with the server's key, so any replica finishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The `state` sent (the callback must bring it back).
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier of the challenge sent.
    pub verifier: String,
    /// Where the user goes once signed in.
    pub next: String,
    /// Unix seconds after which the sign-in must start over.
    pub expires: i64,
}

/// Who the provider says signed in (kept sealed in the browser while a new user chooses a
/// username).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderUser {
    /// `<issuer>|<sub>`: what ties the account to the provider's user.
    pub subject: String,
    /// The username the configured claim gives.
    pub username: String,
    /// E-mail address, or empty.
    pub email: String,
    /// Display name, or the username.
    pub realname: String,
    /// The groups claim's values.
    pub groups: Vec<String>,
    /// The refresh token, when the provider gave one.
    pub refresh_token: Option<String>,
    /// When the tokens of this sign-in expire (unix seconds).
    pub expires: i64,
}

/// A failure to reach or understand the provider.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The issuer URL is not a URL.
    #[error("the OIDC endpoint {0:?} is not a URL")]
    BadUrl(String),
    /// The provider could not be reached or did not answer as a provider does.
    #[error("the OIDC provider at {url} could not be used: {detail}")]
    Provider {
        /// The issuer URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
}

/// Talks to OpenID Providers.
#[derive(Clone)]
pub struct Oidc {
    verifying: crate::lazy_client::LazyClient,
    trusting: crate::lazy_client::LazyClient,
    /// Discovery documents (with the provider's keys) by issuer URL and certificate checking,
    /// and when each was read: a sign-in costs no discovery round trips while they are fresh.
    discovered: Arc<Mutex<Discovered>>,
}

/// Discovery documents by issuer URL and certificate checking, with when each was read.
type Discovered = HashMap<(String, bool), (Instant, CoreProviderMetadata)>;

/// How long a discovery document is used before it is read again. A key the provider rotates in
/// meanwhile is found at once: an ID token that fails the check makes Wharf read it again.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);

impl Default for Oidc {
    fn default() -> Self {
        // No redirects: a provider's endpoints are where its discovery document says (and a
        // redirect is a way to make the server fetch elsewhere).
        let build = |verify: bool| {
            crate::lazy_client::LazyClient::new(move || {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(10))
                    .danger_accept_invalid_certs(!verify)
                    .build()
                    .unwrap_or_default()
            })
        };
        Self { verifying: build(true), trusting: build(false), discovered: Default::default() }
    }
}

/// The outcome of asking the provider to refresh a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The session stands: a new refresh token when the provider rotated it, when the new tokens
    /// expire (unix seconds), and the groups claim of the new ID token, when one came.
    Alive {
        /// The new refresh token, if the provider sent one.
        refresh_token: Option<String>,
        /// Unix seconds.
        expires: i64,
        /// The groups claim, when the provider sent a new ID token.
        groups: Option<Vec<String>>,
    },
    /// The provider refused the refresh token: the user signed out, was disabled, or the session
    /// was revoked.
    Gone(String),
}

impl Oidc {
    fn client(&self, verify_cert: bool) -> Http {
        Http(if verify_cert { self.verifying.get().clone() } else { self.trusting.get().clone() })
    }

    /// The provider at issuer `url`, read now: its discovery document (whose issuer must be
    /// `url`) and its signing keys.
    pub async fn discover(&self, url: &str, verify_cert: bool) -> Result<CoreProviderMetadata, OidcError> {
        let issuer = IssuerUrl::new(url.trim_end_matches('/').to_owned())
            .map_err(|_| OidcError::BadUrl(url.to_owned()))?;
        let meta = CoreProviderMetadata::discover_async(issuer, &self.client(verify_cert))
            .await
            .map_err(|e| OidcError::Provider { url: url.to_owned(), detail: error_chain(&e) })?;
        self.discovered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((url.to_owned(), verify_cert), (Instant::now(), meta.clone()));
        Ok(meta)
    }

    /// The provider at issuer `url` as read within [`DISCOVERY_TTL`], or read now.
    async fn metadata(&self, url: &str, verify_cert: bool) -> Result<CoreProviderMetadata, OidcError> {
        let cached = self
            .discovered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(url.to_owned(), verify_cert))
            .filter(|(at, _)| at.elapsed() < DISCOVERY_TTL)
            .map(|(_, meta)| meta.clone());
        match cached {
            Some(meta) => Ok(meta),
            None => self.discover(url, verify_cert).await,
        }
    }

    fn client_of(s: &OidcSettings, meta: CoreProviderMetadata) -> ProviderClient {
        CoreClient::from_provider_metadata(
            meta,
            ClientId::new(s.client_id.clone()),
            Some(ClientSecret::new(s.client_secret.clone())),
        )
    }

    /// Where to send the browser to sign in at the provider (`redirect` is Wharf's callback),
    /// and the sign-in to remember until it comes back.
    pub async fn begin(
        &self,
        s: &OidcSettings,
        redirect: &str,
        next: &str,
    ) -> Result<(String, Pending), OidcError> {
        let client = Self::client_of(s, self.metadata(&s.endpoint, s.verify_cert).await?).set_redirect_uri(
            RedirectUrl::new(redirect.to_owned()).map_err(|_| OidcError::BadUrl(redirect.to_owned()))?,
        );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in s.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for (name, value) in &s.extra_params {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: next.to_owned(),
            expires: crate::db::now_ms() / 1000 + 600,
        };
        Ok((url.to_string(), pending))
    }

    /// The claims of `id_token` once checked — signature against the provider's keys, issuer,
    /// audience, expiry and `nonce` — with the raw payload for the claims the configuration
    /// names. A key the provider rotated in is found by discovering it again.
    async fn checked<N: Fn(Option<&Nonce>) -> Result<(), String>>(
        &self,
        s: &OidcSettings,
        client: &ProviderClient,
        id_token: &CoreIdToken,
        nonce: N,
    ) -> Result<(CoreIdTokenClaims, serde_json::Value), OidcError> {
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            Err(_) => {
                let again = Self::client_of(s, self.discover(&s.endpoint, s.verify_cert).await?);
                id_token
                    .claims(&again.id_token_verifier(), &nonce)
                    .map_err(|e| OidcError::Provider {
                        url: s.endpoint.clone(),
                        detail: format!("the ID token was refused: {}", error_chain(&e)),
                    })?
                    .clone()
            }
        };
        // The checked token's own payload.
        let raw = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ok((claims, raw))
    }

    /// Finishes sign-in `pending` with the provider's `code`: the code is exchanged (with the
    /// PKCE verifier) and the ID token checked (see [`Self::checked`]).
    pub async fn finish(
        &self,
        s: &OidcSettings,
        redirect: &str,
        pending: &Pending,
        code: &str,
    ) -> Result<ProviderUser, OidcError> {
        let fail = |detail: String| OidcError::Provider { url: s.endpoint.clone(), detail };
        let client = Self::client_of(s, self.metadata(&s.endpoint, s.verify_cert).await?).set_redirect_uri(
            RedirectUrl::new(redirect.to_owned()).map_err(|_| OidcError::BadUrl(redirect.to_owned()))?,
        );
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| fail(error_chain(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.client(s.verify_cert))
            .await
            .map_err(|e| fail(format!("the code exchange failed: {}", error_chain(&e))))?;
        let id_token = tokens.id_token().ok_or_else(|| fail("the provider sent no ID token".into()))?;
        let expected = Nonce::new(pending.nonce.clone());
        let (claims, raw) = self.checked(s, &client, id_token, |n| (&expected).verify(n)).await?;
        let text = |name: &str| raw.get(name).and_then(|v| v.as_str()).unwrap_or("").to_owned();
        let username = if s.user_claim.is_empty() {
            Some(text("preferred_username")).filter(|u| !u.is_empty()).unwrap_or_else(|| text("name"))
        } else {
            text(&s.user_claim)
        };
        if username.is_empty() {
            return Err(fail(format!(
                "the ID token has no {} claim to name the user",
                if s.user_claim.is_empty() { "preferred_username or name" } else { s.user_claim.as_str() }
            )));
        }
        Ok(ProviderUser {
            subject: format!("{}|{}", claims.issuer().as_str(), claims.subject().as_str()),
            realname: Some(text("name")).filter(|n| !n.is_empty()).unwrap_or_else(|| username.clone()),
            email: text("email"),
            username,
            groups: groups_in(&raw, &s.groups_claim),
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
            expires: expiry(claims.expiration().timestamp(), tokens.expires_in()),
        })
    }

    /// Asks the provider whether the session behind `refresh_token` still stands (the refresh
    /// grant). An error is a provider that cannot be asked; a refusal is [`Refresh::Gone`].
    pub async fn refresh(&self, s: &OidcSettings, refresh_token: &str) -> Result<Refresh, OidcError> {
        let fail = |detail: String| OidcError::Provider { url: s.endpoint.clone(), detail };
        let client = Self::client_of(s, self.metadata(&s.endpoint, s.verify_cert).await?);
        let token = RefreshToken::new(refresh_token.to_owned());
        let answer = client
            .exchange_refresh_token(&token)
            .map_err(|e| fail(error_chain(&e)))?
            .request_async(&self.client(s.verify_cert))
            .await;
        let tokens = match answer {
            Ok(t) => t,
            Err(RequestTokenError::ServerResponse(e)) => return Ok(Refresh::Gone(e.to_string())),
            Err(e) => return Err(fail(format!("the refresh failed: {}", error_chain(&e)))),
        };
        let (expires, groups) = match tokens.id_token() {
            // A refreshed ID token carries no nonce (OpenID Connect Core 12.2).
            Some(id_token) => {
                let (claims, raw) = self.checked(s, &client, id_token, |_| Ok(())).await?;
                (
                    expiry(claims.expiration().timestamp(), tokens.expires_in()),
                    Some(groups_in(&raw, &s.groups_claim)),
                )
            }
            None => (expiry(i64::MAX, tokens.expires_in()), None),
        };
        Ok(Refresh::Alive {
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
            expires,
            groups,
        })
    }
}

impl Oidc {
    /// Where to send the browser to sign out at the provider (OpenID Connect RP-Initiated
    /// Logout), coming back to `back`; `None` when the provider has no such endpoint.
    pub async fn end_session_url(&self, s: &OidcSettings, back: &str) -> Result<Option<String>, OidcError> {
        // The crate's core metadata leaves this field out: read it from the discovery document.
        let fail = |detail: String| OidcError::Provider { url: s.endpoint.clone(), detail };
        let doc: serde_json::Value = self
            .client(s.verify_cert)
            .0
            .get(format!("{}/.well-known/openid-configuration", s.endpoint))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(error_chain(&e)))?
            .json()
            .await
            .map_err(|e| fail(error_chain(&e)))?;
        let Some(end) = doc.get("end_session_endpoint").and_then(|e| e.as_str()) else { return Ok(None) };
        let mut url = reqwest::Url::parse(end).map_err(|_| OidcError::BadUrl(end.to_owned()))?;
        url.query_pairs_mut()
            .append_pair("client_id", &s.client_id)
            .append_pair("post_logout_redirect_uri", back);
        Ok(Some(url.to_string()))
    }
}

/// The values of claim `name` in an ID token's payload (a list, or one string).
fn groups_in(raw: &serde_json::Value, name: &str) -> Vec<String> {
    match raw.get(name) {
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|g| g.as_str().map(String::from)).collect(),
        Some(serde_json::Value::String(g)) => vec![g.clone()],
        _ => Vec::new(),
    }
}

/// When a sign-in's tokens expire (unix seconds): the ID token's expiry, or the access token's
/// when that comes first. A provider that says neither is asked again in an hour.
fn expiry(id_token_exp: i64, expires_in: Option<Duration>) -> i64 {
    let now = crate::db::now_ms() / 1000;
    let access = expires_in.map_or(now + 3600, |d| now + d.as_secs() as i64);
    id_token_exp.min(access)
}

/// The `openidconnect` crate's HTTP client: Wharf's own reqwest (the crate's reqwest feature
/// pins another major version), redirects off.
struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, reqwest::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

type ProviderClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// One request of the `openidconnect` crate, sent with reqwest.
async fn send(client: &reqwest::Client, req: HttpRequest) -> Result<HttpResponse, reqwest::Error> {
    let (parts, body) = req.into_parts();
    let res =
        client.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
    let mut out = openidconnect::http::Response::builder().status(res.status());
    if let Some(headers) = out.headers_mut() {
        *headers = res.headers().clone();
    }
    let body = res.bytes().await?.to_vec();
    Ok(out.body(body).unwrap_or_default())
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
