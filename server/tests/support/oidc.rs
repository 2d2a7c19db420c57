//! A real OpenID Provider for one test: `oidc-provider` from the npm registry (the test script
//! installs it into `e2e/oidc`), run with Node.js on a free port of 127.0.0.1; stopped when
//! dropped. Its client is `wharf` / [`CLIENT_SECRET`]; users `alice` (group `developers`), `bob`
//! (`ops`) and `carol` (`wharf-admins`).

use std::process::{Child, Command, Stdio};

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
