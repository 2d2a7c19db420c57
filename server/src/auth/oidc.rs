//! OpenID Connect: the provider Wharf's users sign in with (`auth_mode` `oidc_auth`). This part
//! finds a provider from its issuer URL: its discovery document and signing keys, as
//! `/system/oidc/ping` tests them.
//!
//! The protocol work (discovery, PKCE, ID token checks) is the `openidconnect` crate's; the HTTP
//! client is Wharf's own reqwest, handed to it as a closure (the crate's reqwest feature pins
//! another major version).

use std::time::Duration;

use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
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

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    verifying: reqwest::Client,
    trusting: reqwest::Client,
}

impl Default for Oidc {
    fn default() -> Self {
        // No redirects: a provider's endpoints are where its discovery document says (and a
        // redirect is a way to make the server fetch elsewhere).
        let build = |verify: bool| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .danger_accept_invalid_certs(!verify)
                .build()
                .unwrap_or_default()
        };
        Self { verifying: build(true), trusting: build(false) }
    }
}

impl Oidc {
    fn client(&self, verify_cert: bool) -> &reqwest::Client {
        if verify_cert { &self.verifying } else { &self.trusting }
    }

    /// The provider at issuer `url`: its discovery document (whose issuer must be `url`) and its
    /// signing keys.
    pub async fn discover(&self, url: &str, verify_cert: bool) -> Result<CoreProviderMetadata, OidcError> {
        let issuer = IssuerUrl::new(url.trim_end_matches('/').to_owned())
            .map_err(|_| OidcError::BadUrl(url.to_owned()))?;
        let client = self.client(verify_cert).clone();
        let http = move |req: HttpRequest| {
            let client = client.clone();
            async move { send(&client, req).await }
        };
        CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| OidcError::Provider { url: url.to_owned(), detail: error_chain(&e) })
    }
}

impl Oidc {
    /// Where to send the browser to sign in at the provider (`redirect` is Wharf's callback),
    /// and the sign-in to remember until it comes back.
    pub async fn begin(
        &self,
        s: &OidcSettings,
        redirect: &str,
        next: &str,
    ) -> Result<(String, Pending), OidcError> {
        let meta = self.discover(&s.endpoint, s.verify_cert).await?;
        let client = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(s.client_id.clone()),
            Some(ClientSecret::new(s.client_secret.clone())),
        )
        .set_redirect_uri(
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

    /// Finishes sign-in `pending` with the provider's `code`: the code is exchanged (with the
    /// PKCE verifier) and the ID token checked — signature against the provider's keys, issuer,
    /// audience, expiry and nonce. A key the provider rotated in is found by discovering it again.
    pub async fn finish(
        &self,
        s: &OidcSettings,
        redirect: &str,
        pending: &Pending,
        code: &str,
    ) -> Result<ProviderUser, OidcError> {
        let fail = |detail: String| OidcError::Provider { url: s.endpoint.clone(), detail };
        let client_of = |meta| {
            CoreClient::from_provider_metadata(
                meta,
                ClientId::new(s.client_id.clone()),
                Some(ClientSecret::new(s.client_secret.clone())),
            )
        };
        let client = client_of(self.discover(&s.endpoint, s.verify_cert).await?).set_redirect_uri(
            RedirectUrl::new(redirect.to_owned()).map_err(|_| OidcError::BadUrl(redirect.to_owned()))?,
        );
        let http_client = self.client(s.verify_cert).clone();
        let http = move |req: HttpRequest| {
            let client = http_client.clone();
            async move { send(&client, req).await }
        };
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| fail(error_chain(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| fail(format!("the code exchange failed: {}", error_chain(&e))))?;
        let id_token = tokens.id_token().ok_or_else(|| fail("the provider sent no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            Err(_) => {
                // Perhaps a key the provider rotated in since its keys were read: read them again.
                let again = client_of(self.discover(&s.endpoint, s.verify_cert).await?);
                id_token
                    .claims(&again.id_token_verifier(), &nonce)
                    .map_err(|e| fail(format!("the ID token was refused: {}", error_chain(&e))))?
                    .clone()
            }
        };
        // The checked token's own payload, for the claims the configuration names.
        let raw: serde_json::Value = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
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
        let groups = match raw.get(&s.groups_claim) {
            Some(serde_json::Value::Array(a)) => {
                a.iter().filter_map(|g| g.as_str().map(String::from)).collect()
            }
            Some(serde_json::Value::String(g)) => vec![g.clone()],
            _ => Vec::new(),
        };
        Ok(ProviderUser {
            subject: format!("{}|{}", claims.issuer().as_str(), claims.subject().as_str()),
            realname: Some(text("name")).filter(|n| !n.is_empty()).unwrap_or_else(|| username.clone()),
            email: text("email"),
            username,
            groups,
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        })
    }
}

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
