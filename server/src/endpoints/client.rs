//! A client of another registry's Distribution API (the upstream of a proxy cache, the peer of
//! a replication): Basic and bearer-token authentication (the token flow every registry from
//! Distribution to Docker Hub uses), redirects to blob storage (reqwest drops the
//! `Authorization` header when a redirect leaves the host), retries of idempotent requests,
//! and streamed bodies in both directions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use crate::config::{ExposeSecret, Secret};
use crate::oci::manifest::SUPPORTED;
use crate::oci::reference::Digest;
use frontend::types::RegistryKind;

/// A failure talking to another registry. Every message names the registry.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    /// No answer: refused, timed out, a TLS failure, a broken body.
    #[error("{0} is unreachable: {1}")]
    Unreachable(String, String),
    /// The registry refused the credentials.
    #[error("{0} refused the credentials: {1}")]
    Unauthorized(String, String),
    /// The registry answered with an unexpected status.
    #[error("{0} answered {1}: {2}")]
    Status(String, u16, String),
    /// The registry answered something that is not what the protocol says.
    #[error("{0} sent an invalid answer: {1}")]
    Invalid(String, String),
    /// The endpoint's URL is not usable.
    #[error("invalid registry URL {0:?}: {1}")]
    Url(String, String),
}

impl ClientError {
    /// Whether the registry could not be reached or failed on its side (a cache may then
    /// serve what it has).
    pub fn is_outage(&self) -> bool {
        match self {
            Self::Unreachable(..) => true,
            Self::Status(_, code, _) => *code >= 500 || *code == 429,
            _ => false,
        }
    }
}

/// What a manifest `HEAD` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// `Docker-Content-Digest`.
    pub digest: Option<String>,
    /// `Content-Type`.
    pub media_type: String,
    /// `Content-Length`.
    pub size: Option<u64>,
}

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// Its exact bytes.
    pub content: Bytes,
    /// `Content-Type`.
    pub media_type: String,
}

/// A blob being fetched.
pub struct BlobStream {
    /// Its length, when the registry said.
    pub size: Option<u64>,
    /// Its bytes.
    pub body: futures::stream::BoxStream<'static, Result<Bytes, ClientError>>,
}

/// An endpoint's connection settings.
#[derive(Clone)]
pub struct Target {
    /// Base URL.
    pub url: String,
    /// What it is.
    pub kind: RegistryKind,
    /// Skip TLS verification.
    pub insecure: bool,
    /// User name; empty for anonymous access.
    pub access_key: String,
    /// Password or token.
    pub access_secret: Secret,
}

/// A client of one registry.
pub struct RegistryClient {
    http: reqwest::Client,
    /// Where the Distribution API is (`https://host[:port]`, no trailing slash).
    base: String,
    /// The name used in messages (the endpoint's URL as configured).
    shown: String,
    kind: RegistryKind,
    credential: Option<(String, Secret)>,
    /// Bearer tokens by scope, with when they lapse.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    /// Whether the registry asked for Basic authentication.
    basic: std::sync::atomic::AtomicBool,
    /// The challenge `/v2/` answers (`Some(None)`: none, anonymous access works).
    challenge: tokio::sync::OnceCell<Option<String>>,
}

/// Attempts of an idempotent request that fails on the network or with a 5xx or 429.
const ATTEMPTS: u32 = 3;

/// Docker Hub's UI and account hosts; its registry API lives elsewhere.
fn registry_base(url: &str, kind: RegistryKind) -> String {
    let url = url.trim().trim_end_matches('/');
    if kind == RegistryKind::DockerHub {
        let host = url.split_once("://").map_or(url, |(_, h)| h);
        if matches!(host, "hub.docker.com" | "docker.io" | "index.docker.io" | "registry.hub.docker.com") {
            return "https://registry-1.docker.io".into();
        }
    }
    url.to_owned()
}

/// The parameters of a `WWW-Authenticate` challenge: its scheme and `key="value"` pairs.
fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(key, value.to_owned());
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_ascii_lowercase(), params)
}

impl RegistryClient {
    /// A client of `target`.
    pub fn new(target: &Target) -> Result<Self, ClientError> {
        let url = target.url.trim();
        let parsed = reqwest::Url::parse(url).map_err(|e| ClientError::Url(url.into(), e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ClientError::Url(url.into(), "use http:// or https:// and a host".into()));
        }
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(target.insecure)
            .connect_timeout(Duration::from_secs(10))
            // Between bytes, not for the whole body: a large blob takes as long as it takes.
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Url(url.into(), e.to_string()))?;
        let credential = (!target.access_key.is_empty())
            .then(|| (target.access_key.clone(), target.access_secret.clone()));
        Ok(Self {
            http,
            base: registry_base(url, target.kind),
            shown: url.trim_end_matches('/').to_owned(),
            kind: target.kind,
            credential,
            tokens: Mutex::new(HashMap::new()),
            basic: false.into(),
            challenge: tokio::sync::OnceCell::new(),
        })
    }

    /// The registry as messages name it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The upstream repository for `name` (Docker Hub keeps single-name images in `library/`).
    pub fn upstream_repository(&self, name: &str) -> String {
        if self.kind == RegistryKind::DockerHub && !name.contains('/') {
            format!("library/{name}")
        } else {
            name.to_owned()
        }
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ClientError {
        ClientError::Unreachable(self.shown.clone(), e.to_string())
    }

    async fn status_error(&self, res: Response) -> ClientError {
        let code = res.status();
        let text = res.text().await.unwrap_or_default();
        let text: String = text.chars().take(300).collect();
        if code == StatusCode::UNAUTHORIZED || code == StatusCode::FORBIDDEN {
            ClientError::Unauthorized(self.shown.clone(), format!("{code}: {text}"))
        } else {
            ClientError::Status(self.shown.clone(), code.as_u16(), text)
        }
    }

    fn cached_auth(&self, scope: &str) -> Option<HeaderValue> {
        if let Some((token, until)) = self.tokens.lock().ok()?.get(scope)
            && *until > Instant::now()
        {
            return HeaderValue::from_str(&format!("Bearer {token}")).ok();
        }
        if self.basic.load(std::sync::atomic::Ordering::Relaxed) {
            return self.basic_auth();
        }
        None
    }

    fn basic_auth(&self) -> Option<HeaderValue> {
        let (user, secret) = self.credential.as_ref()?;
        use base64::Engine;
        let raw = format!("{user}:{}", secret.expose_secret());
        let mut v = HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
        .ok()?;
        v.set_sensitive(true);
        Some(v)
    }

    /// Answers a challenge: fetches a bearer token for `scope`, or switches to Basic.
    async fn authenticate(&self, challenge: &str, scope: &str) -> Result<(), ClientError> {
        let (scheme, params) = parse_challenge(challenge);
        if scheme == "basic" {
            if self.credential.is_none() {
                return Err(ClientError::Unauthorized(self.shown.clone(), "credentials required".into()));
            }
            self.basic.store(true, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        if scheme != "bearer" {
            return Err(ClientError::Invalid(self.shown.clone(), format!("unknown challenge {challenge:?}")));
        }
        let realm = params.get("realm").ok_or_else(|| {
            ClientError::Invalid(self.shown.clone(), "a bearer challenge without realm".into())
        })?;
        let mut url = reqwest::Url::parse(realm)
            .map_err(|e| ClientError::Invalid(self.shown.clone(), format!("token realm {realm:?}: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = params.get("service") {
                q.append_pair("service", service);
            }
            let asked = params.get("scope").map(String::as_str).unwrap_or(scope);
            for s in asked.split(' ').filter(|s| !s.is_empty()) {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.http.get(url);
        if let Some(auth) = self.basic_auth() {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let res = req.send().await.map_err(|e| self.unreachable(e))?;
        if !res.status().is_success() {
            return Err(self.status_error(res).await);
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let answer: TokenAnswer =
            res.json().await.map_err(|e| ClientError::Invalid(self.shown.clone(), format!("token: {e}")))?;
        let token = answer.token.or(answer.access_token).ok_or_else(|| {
            ClientError::Invalid(self.shown.clone(), "the token answer has no token".into())
        })?;
        // A little before it lapses, so a request is never sent with a token about to expire.
        let life =
            Duration::from_secs(answer.expires_in.unwrap_or(60).clamp(10, 3600)) - Duration::from_secs(5);
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(scope.to_owned(), (token, Instant::now() + life));
        }
        Ok(())
    }

    /// Sends the request `build` makes for `scope`, authenticating when challenged; GETs and
    /// HEADs are retried on outages.
    async fn send(
        &self,
        method: Method,
        scope: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
        path: &str,
    ) -> Result<Response, ClientError> {
        let idempotent = matches!(method, Method::GET | Method::HEAD);
        let url = format!("{}{path}", self.base);
        // With credentials, authenticate before the first request of a scope: some answers
        // (a catalog, a public repository) come without a challenge, but show an anonymous view.
        if self.credential.is_some()
            && self.cached_auth(scope).is_none()
            && let Some(challenge) = self.challenge().await?
        {
            self.authenticate(&challenge, scope).await?;
        }
        let mut challenged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = build(self.http.request(method.clone(), &url));
            if let Some(auth) = self.cached_auth(scope) {
                req = req.header(header::AUTHORIZATION, auth);
            }
            let res = match req.send().await {
                Ok(r) => r,
                Err(e) if idempotent && attempt < ATTEMPTS => {
                    tracing::debug!(registry = %self.shown, error = %e, "retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt * attempt))).await;
                    continue;
                }
                Err(e) => return Err(self.unreachable(e)),
            };
            let status = res.status();
            if status == StatusCode::UNAUTHORIZED && !challenged {
                challenged = true;
                let challenge = res
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                if challenge.is_empty() {
                    return Err(self.status_error(res).await);
                }
                self.authenticate(&challenge, scope).await?;
                continue;
            }
            if idempotent
                && attempt < ATTEMPTS
                && (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS)
            {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt * attempt))).await;
                continue;
            }
            return Ok(res);
        }
    }

    /// The challenge of `/v2/`, asked once.
    async fn challenge(&self) -> Result<Option<String>, ClientError> {
        self.challenge
            .get_or_try_init(|| async {
                let res = self
                    .http
                    .get(format!("{}/v2/", self.base))
                    .send()
                    .await
                    .map_err(|e| self.unreachable(e))?;
                Ok(match res.status() {
                    StatusCode::UNAUTHORIZED => res
                        .headers()
                        .get(header::WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    _ => None,
                })
            })
            .await
            .cloned()
    }

    /// Checks that the registry answers the Distribution API and accepts the credentials.
    pub async fn ping(&self) -> Result<(), ClientError> {
        let res = self.send(Method::GET, "", |r| r, "/v2/").await?;
        if res.status().is_success() {
            // Without credentials a 200 says nothing about them; with them, the challenge
            // above was answered with a token, which is the check.
            return Ok(());
        }
        Err(self.status_error(res).await)
    }

    fn pull_scope(repository: &str) -> String {
        format!("repository:{repository}:pull")
    }

    fn accept_manifests(r: RequestBuilder) -> RequestBuilder {
        r.header(header::ACCEPT, SUPPORTED.join(", "))
    }

    /// `HEAD` of manifest `reference` in `repository`; `None` when the registry does not have it.
    pub async fn head_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<ManifestHead>, ClientError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let res =
            self.send(Method::HEAD, &Self::pull_scope(repository), Self::accept_manifests, &path).await?;
        if res.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !res.status().is_success() {
            return Err(self.status_error(res).await);
        }
        let h = res.headers();
        let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Some(ManifestHead {
            digest: text("docker-content-digest"),
            media_type: text("content-type").unwrap_or_default(),
            size: text("content-length").and_then(|l| l.parse().ok()),
        }))
    }

    /// Manifest `reference` of `repository`; `None` when the registry does not have it.
    pub async fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<FetchedManifest>, ClientError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let res =
            self.send(Method::GET, &Self::pull_scope(repository), Self::accept_manifests, &path).await?;
        if res.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !res.status().is_success() {
            return Err(self.status_error(res).await);
        }
        if res.content_length().is_some_and(|l| l > crate::oci::manifest::MAX_MANIFEST_BYTES as u64) {
            return Err(ClientError::Invalid(self.shown.clone(), "the manifest is too large".into()));
        }
        let media_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|t| t.split(';').next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
        let mut content = Vec::new();
        let mut body = res.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(e))?;
            if content.len() + chunk.len() > crate::oci::manifest::MAX_MANIFEST_BYTES {
                return Err(ClientError::Invalid(self.shown.clone(), "the manifest is too large".into()));
            }
            content.extend_from_slice(&chunk);
        }
        Ok(Some(FetchedManifest { content: content.into(), media_type }))
    }

    /// The size of blob `digest` of `repository`; `None` when the registry does not have it.
    pub async fn head_blob(&self, repository: &str, digest: &Digest) -> Result<Option<u64>, ClientError> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let res = self.send(Method::HEAD, &Self::pull_scope(repository), |r| r, &path).await?;
        if res.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !res.status().is_success() {
            return Err(self.status_error(res).await);
        }
        Ok(res.content_length())
    }

    /// Blob `digest` of `repository`, streaming; `None` when the registry does not have it.
    pub async fn get_blob(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<BlobStream>, ClientError> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let res = self.send(Method::GET, &Self::pull_scope(repository), |r| r, &path).await?;
        if res.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !res.status().is_success() {
            return Err(self.status_error(res).await);
        }
        let size = res.content_length();
        let shown = self.shown.clone();
        let body = res
            .bytes_stream()
            .map_err(move |e| {
                ClientError::Unreachable(shown.clone(), format!("the blob transfer broke: {e}"))
            })
            .boxed();
        Ok(Some(BlobStream { size, body }))
    }

    /// The referrers of `digest` in `repository` (the descriptors of the registry's referrers
    /// index); `None` when the registry does not offer the referrers API.
    pub async fn referrers(
        &self,
        repository: &str,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<serde_json::Value>>, ClientError> {
        let mut path = format!("/v2/{repository}/referrers/{digest}");
        if let Some(t) = artifact_type {
            path.push_str(&format!(
                "?artifactType={}",
                form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            ));
        }
        let res = self.send(Method::GET, &Self::pull_scope(repository), |r| r, &path).await?;
        if res.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !res.status().is_success() {
            return Err(self.status_error(res).await);
        }
        let index: serde_json::Value = res
            .json()
            .await
            .map_err(|e| ClientError::Invalid(self.shown.clone(), format!("referrers: {e}")))?;
        Ok(Some(index["manifests"].as_array().cloned().unwrap_or_default()))
    }

    /// Tags of `repository` (all pages).
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut path = format!("/v2/{repository}/tags/list?n=1000");
        loop {
            let res = self.send(Method::GET, &Self::pull_scope(repository), |r| r, &path).await?;
            if res.status() == StatusCode::NOT_FOUND {
                return Ok(out);
            }
            if !res.status().is_success() {
                return Err(self.status_error(res).await);
            }
            let next = next_link(res.headers());
            let page: Tags = res
                .json()
                .await
                .map_err(|e| ClientError::Invalid(self.shown.clone(), format!("tags: {e}")))?;
            out.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => path = n,
                None => return Ok(out),
            }
        }
    }

    /// Repository names of the registry (`/v2/_catalog`, all pages).
    pub async fn catalog(&self) -> Result<Vec<String>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut path = "/v2/_catalog?n=1000".to_owned();
        loop {
            let res = self.send(Method::GET, "registry:catalog:*", |r| r, &path).await?;
            if !res.status().is_success() {
                return Err(self.status_error(res).await);
            }
            let next = next_link(res.headers());
            let page: Catalog = res
                .json()
                .await
                .map_err(|e| ClientError::Invalid(self.shown.clone(), format!("catalog: {e}")))?;
            out.extend(page.repositories.unwrap_or_default());
            match next {
                Some(n) => path = n,
                None => return Ok(out),
            }
        }
    }

    fn push_scope(repository: &str) -> String {
        format!("repository:{repository}:pull,push")
    }

    /// Whether `repository` has blob `digest`, asked with push rights (before an upload).
    pub async fn has_blob(&self, repository: &str, digest: &Digest) -> Result<bool, ClientError> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let res = self.send(Method::HEAD, &Self::push_scope(repository), |r| r, &path).await?;
        match res.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(res).await),
        }
    }

    /// Uploads blob `digest` to `repository`: mounted from `mount_from` when the registry allows
    /// it, else streamed from `body` (which `body` makes only when needed). Returns whether
    /// bytes were sent.
    pub async fn push_blob<S>(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        mount_from: Option<&str>,
        body: impl FnOnce() -> S,
    ) -> Result<bool, ClientError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let scope = Self::push_scope(repository);
        let path = match mount_from {
            Some(from) => format!("/v2/{repository}/blobs/uploads/?mount={digest}&from={from}"),
            None => format!("/v2/{repository}/blobs/uploads/"),
        };
        let res = self.send(Method::POST, &scope, |r| r.header(header::CONTENT_LENGTH, "0"), &path).await?;
        if res.status() == StatusCode::CREATED {
            return Ok(false);
        }
        if res.status() != StatusCode::ACCEPTED {
            return Err(self.status_error(res).await);
        }
        let location =
            res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                ClientError::Invalid(self.shown.clone(), "an upload without Location".into())
            })?;
        let mut url = if location.starts_with("http://") || location.starts_with("https://") {
            reqwest::Url::parse(location)
        } else {
            reqwest::Url::parse(&format!("{}{location}", self.base))
        }
        .map_err(|e| ClientError::Invalid(self.shown.clone(), format!("upload location: {e}")))?;
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        // The token for this scope was fetched by the POST: the streamed PUT cannot be resent.
        let mut req = self
            .http
            .put(url)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body()));
        if let Some(auth) = self.cached_auth(&scope) {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let res = req.send().await.map_err(|e| self.unreachable(e))?;
        if res.status() != StatusCode::CREATED {
            return Err(self.status_error(res).await);
        }
        Ok(true)
    }

    /// Puts manifest `content` into `repository` under `reference` (a tag or its digest).
    pub async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        content: Bytes,
    ) -> Result<(), ClientError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let res = self
            .send(
                Method::PUT,
                &Self::push_scope(repository),
                |r| r.header(header::CONTENT_TYPE, media_type).body(content.clone()),
                &path,
            )
            .await?;
        if res.status().is_success() {
            return Ok(());
        }
        Err(self.status_error(res).await)
    }

    /// Creates project `name` on a Harbor (or Wharf) unless it exists: pushes into a missing
    /// project are refused there, and replication creates the namespaces it needs, as Harbor's
    /// own adapter does. Other registries have no projects.
    pub async fn ensure_project(&self, name: &str) -> Result<(), ClientError> {
        if self.kind != RegistryKind::Harbor {
            return Ok(());
        }
        let mut req = self
            .http
            .post(format!("{}/api/v2.0/projects", self.base))
            .json(&serde_json::json!({"project_name": name, "metadata": {"public": "false"}}));
        if let Some(auth) = self.basic_auth() {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let res = req.send().await.map_err(|e| self.unreachable(e))?;
        match res.status() {
            s if s.is_success() => Ok(()),
            StatusCode::CONFLICT => Ok(()),
            _ => Err(self.status_error(res).await),
        }
    }

    /// Deletes manifest `reference` (a tag or a digest) of `repository`; false when it is not
    /// there.
    pub async fn delete_manifest(&self, repository: &str, reference: &str) -> Result<bool, ClientError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let scope = format!("repository:{repository}:delete");
        let res = self.send(Method::DELETE, &scope, |r| r, &path).await?;
        match res.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(res).await),
        }
    }
}

/// The path of the `rel="next"` page of a `Link` header.
fn next_link(h: &HeaderMap) -> Option<String> {
    let link = h.get(header::LINK)?.to_str().ok()?;
    let start = link.find('<')? + 1;
    let end = link[start..].find('>')? + start;
    link[end..].contains("rel=\"next\"").then(|| {
        let target = &link[start..end];
        // Absolute or relative: keep the path and query.
        match target.find("/v2/") {
            Some(i) => target[i..].to_owned(),
            None => target.to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:library/nginx:pull");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "basic");
        assert_eq!(p["realm"], "Registry Realm");
    }

    #[test]
    fn docker_hub_rules() {
        assert_eq!(
            registry_base("https://hub.docker.com/", RegistryKind::DockerHub),
            "https://registry-1.docker.io"
        );
        assert_eq!(registry_base("http://127.0.0.1:5000/", RegistryKind::DockerHub), "http://127.0.0.1:5000");
        let t = Target {
            url: "http://127.0.0.1:1".into(),
            kind: RegistryKind::DockerHub,
            insecure: false,
            access_key: String::new(),
            access_secret: Secret::from(""),
        };
        let c = RegistryClient::new(&t).expect("test");
        assert_eq!(c.upstream_repository("nginx"), "library/nginx");
        assert_eq!(c.upstream_repository("bitnami/nginx"), "bitnami/nginx");
        let c = RegistryClient::new(&Target { kind: RegistryKind::DockerRegistry, ..t }).expect("test");
        assert_eq!(c.upstream_repository("nginx"), "nginx");
    }

    #[test]
    fn next_links() {
        let mut h = HeaderMap::new();
        h.insert(header::LINK, HeaderValue::from_static("</v2/_catalog?last=b&n=2>; rel=\"next\""));
        assert_eq!(next_link(&h).as_deref(), Some("/v2/_catalog?last=b&n=2"));
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in ["ftp://x", "not a url", "http://"] {
            let t = Target {
                url: url.into(),
                kind: RegistryKind::DockerRegistry,
                insecure: false,
                access_key: String::new(),
                access_secret: Secret::from(""),
            };
            assert!(matches!(RegistryClient::new(&t), Err(ClientError::Url(..))), "{url}");
        }
    }
}
