//! A real OpenID Provider for one test: `oidc-provider` from the npm registry (the test script
//! installs it into `e2e/oidc`), run with Node.js on a free port of 127.0.0.1; stopped when
//! dropped. Its client is `wharf` / [`CLIENT_SECRET`]; users `alice` (group `developers`), `bob`
//! (`ops`) and `carol` (`wharf-admins`).

use std::process::{Child, Command, Stdio};

use reqwest::{Method, StatusCode};

/// The client secret of the provider's `wharf` client.
pub const CLIENT_SECRET: &str = "wharf-client-secret";

/// A running provider.
pub struct Provider {
    /// `http://127.0.0.1:<port>`, the issuer.
    pub issuer: String,
    port: u16,
    redirect_uri: String,
    token_ttl: u64,
    child: Option<Child>,
}

impl Provider {
    /// Starts a provider that redirects signed-in users to `redirect_uri`.
    pub fn start(redirect_uri: &str) -> Self {
        Self::start_with_ttl(redirect_uri, 3600)
    }

    /// [`Self::start`] with ID and access tokens that live `token_ttl` seconds.
    pub fn start_with_ttl(redirect_uri: &str, token_ttl: u64) -> Self {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut p = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            redirect_uri: redirect_uri.to_owned(),
            token_ttl,
            child: None,
        };
        p.spawn("key-1");
        p
    }

    /// Restarts the provider signing with a new key `kid` (its sessions end).
    pub fn rotate_key(&mut self, kid: &str) {
        self.stop();
        self.spawn(kid);
    }

    fn spawn(&mut self, kid: &str) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e/oidc/provider.mjs");
        let child = Command::new("node")
            .arg(script)
            .env("OIDC_PORT", self.port.to_string())
            .env("OIDC_REDIRECT_URI", &self.redirect_uri)
            .env("OIDC_KEY_ID", kid)
            .env("OIDC_TOKEN_TTL", self.token_ttl.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (the test script installs Node.js and the provider)");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("the OpenID Provider did not come up (is e2e/oidc installed? run scripts/test.sh)");
    }

    /// Revokes every grant of `account` at the provider: its refresh tokens stop working, as when
    /// an operator signs the user out everywhere or disables them.
    pub async fn end_sessions(&self, account: &str) {
        self.test_route(&format!("end-sessions?account={account}")).await;
    }

    /// Makes the token endpoint answer ID tokens of `mode` from now: `genuine`, `tampered`,
    /// `expired`, `wrong-audience` or `foreign-key` (see `e2e/oidc/provider.mjs`).
    pub async fn id_tokens(&self, mode: &str) {
        self.test_route(&format!("id-tokens?mode={mode}")).await;
    }

    /// Puts `account` in exactly `groups` at the provider.
    pub async fn set_groups(&self, account: &str, groups: &[&str]) {
        self.test_route(&format!("groups?account={account}&groups={}", groups.join(","))).await;
    }

    async fn test_route(&self, path: &str) {
        let res = reqwest::Client::new()
            .post(format!("{}/test/{path}", self.issuer))
            .send()
            .await
            .expect("the provider's test route");
        assert_eq!(res.status().as_u16(), 204, "{path}");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A browser without scripts across Wharf and the provider: cookies of both (one host, so one
/// jar), redirects followed by hand, the provider's login and consent forms filled in.
pub struct Browser {
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
    /// The last page fetched (the `Referer` of the next request).
    page: String,
}

impl Browser {
    /// A browser with no cookies.
    pub fn new() -> Self {
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { client, cookies: Vec::new(), page: String::new() }
    }

    /// The cookies, as a `Cookie` header.
    pub fn jar(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// One request (`form` posted when given); the status, `Location` and body.
    pub async fn send(
        &mut self,
        method: Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> (StatusCode, String, String) {
        // A browser names the page's origin on posts (the portal refuses cross-site ones).
        let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        let mut req =
            self.client.request(method.clone(), url).header("cookie", self.jar()).header("origin", origin);
        if !self.page.is_empty() {
            req = req.header("referer", &self.page);
        }
        if method == Method::POST {
            req = req.header("accept", "text/html");
        }
        if method == Method::GET {
            self.page = url.to_owned();
        }
        if let Some(f) = form {
            req = req.form(f);
        }
        let res = req.send().await.expect("request");
        for v in res.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap_or("").split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                if !val.is_empty() {
                    self.cookies.push((k.to_owned(), val.to_owned()));
                }
            }
        }
        let status = res.status();
        let location = res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
        let body = res.text().await.unwrap_or_default();
        (status, location, body)
    }

    /// Follows redirects and the provider's forms (signing in as `user`) from `url`; returns the
    /// first answer that is neither, and the URL it came from.
    pub async fn sign_in_at(&mut self, url: &str, user: &str) -> (StatusCode, String, String) {
        let mut url = url.to_owned();
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..20 {
            let method = if form.is_some() { Method::POST } else { Method::GET };
            let (status, location, body) = self.send(method, &url, form.as_deref()).await;
            form = None;
            if status.is_redirection() {
                url = absolute(&url, &location);
                continue;
            }
            // The provider's own pages: its login form, then its consent form.
            if let Some(action) = body.split("action=\"").nth(1).and_then(|a| a.split('"').next()) {
                if body.contains(r#"name="prompt" value="login""#) {
                    url = absolute(&url, action);
                    form = Some(vec![("prompt", "login"), ("login", user), ("password", "any-password")]);
                    continue;
                }
                if body.contains(r#"name="prompt" value="consent""#) {
                    url = absolute(&url, action);
                    form = Some(vec![("prompt", "consent")]);
                    continue;
                }
            }
            return (status, url, body);
        }
        panic!("too many steps signing in");
    }
}

/// `location` resolved against `base`.
fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        return location.to_owned();
    }
    let origin: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    format!("{origin}{location}")
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}
