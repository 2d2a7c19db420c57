//! OpenID Connect: the provider Wharf's users sign in with (`auth_mode` `oidc_auth`). This part
//! finds a provider from its issuer URL: its discovery document and signing keys, as
//! `/system/oidc/ping` tests them.
//!
//! The protocol work (discovery, PKCE, ID token checks) is the `openidconnect` crate's; the HTTP
//! client is Wharf's own reqwest, handed to it as a closure (the crate's reqwest feature pins
//! another major version).

use std::time::Duration;

use openidconnect::core::CoreProviderMetadata;
use openidconnect::{HttpRequest, HttpResponse, IssuerUrl};

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
