//! Secrets never reach the logs or API answers: the real binary runs with verbose logs (text and
//! JSON) while clients log in with passwords, a robot's secret, a changed password, wrong
//! guesses, configuration secrets (stored, fixed by the operator, tested against a directory)
//! and a portal session; then its whole log is searched for every one of them and for
//! the token signing key. A second server runs single sign-on the same way: the OIDC client
//! secret, sign-ins through a real provider, and CLI secrets used, replaced and guessed.

use base64::Engine as _;
use serde_json::{Value, json};
use wharf_e2e::{ADMIN_PASSWORD, Podman, WharfProcess, build_context, run, run_fails, tool};

#[path = "../../server/tests/support/oidc.rs"]
#[allow(dead_code, reason = "the shared fixture has helpers this test does not use")]
mod oidc;

const USER_PASSWORD: &str = "Us3rPassw0rdXyz";
const NEW_PASSWORD: &str = "N3wPassw0rdQrs";
const WRONG_GUESS: &str = "Wr0ngGuessAbc";
const LDAP_PASSWORD: &str = "LdapS3archPwXyz";
/// A secret the operator fixes through `WHARF_CONFIGURATIONS`.
const FIXED_SECRET: &str = "F1xedLdapS3cretUvw";

async fn exercise(host: &str, p: &Podman, work: &std::path::Path) -> Vec<String> {
    let base = format!("http://{host}");
    let c = reqwest::Client::new();
    let admin = |m: reqwest::Method, path: &str| {
        c.request(m, format!("{base}{path}")).basic_auth("admin", Some(ADMIN_PASSWORD))
    };
    let mut secrets = vec![
        ADMIN_PASSWORD.to_owned(),
        USER_PASSWORD.to_owned(),
        NEW_PASSWORD.to_owned(),
        WRONG_GUESS.to_owned(),
        LDAP_PASSWORD.to_owned(),
        FIXED_SECRET.to_owned(),
    ];

    // Configuration secrets: stored, tested against a directory that is not there, read back.
    let res = admin(reqwest::Method::PUT, "/api/v2.0/configurations")
        .json(&json!({"ldap_url": "ldap://127.0.0.1:9", "ldap_search_dn": "cn=manager,dc=x",
            "ldap_search_password": LDAP_PASSWORD}))
        .send()
        .await
        .expect("configurations");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let ping = admin(reqwest::Method::POST, "/api/v2.0/ldap/ping")
        .json(&json!({"ldap_search_password": LDAP_PASSWORD}))
        .send()
        .await
        .expect("ping");
    let text = ping.text().await.expect("ping text");
    assert!(text.contains("\"success\":false") && !text.contains(LDAP_PASSWORD), "{text}");
    let text = admin(reqwest::Method::GET, "/api/v2.0/configurations")
        .send()
        .await
        .expect("read")
        .text()
        .await
        .expect("text");
    for s in [LDAP_PASSWORD, FIXED_SECRET] {
        assert!(!text.contains(s), "a configuration secret is answered: {text}");
    }

    // A user, who changes their password; a project with a robot account.
    let res = admin(reqwest::Method::POST, "/api/v2.0/users")
        .json(&json!({"username": "dev", "email": "dev@example.com", "realname": "Dev", "password": USER_PASSWORD}))
        .send()
        .await
        .expect("user");
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let me: Value = c
        .get(format!("{base}/api/v2.0/users/current"))
        .basic_auth("dev", Some(USER_PASSWORD))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let text = me.to_string();
    assert!(!text.contains("password") && !text.contains("$argon2"), "no hash in answers: {text}");
    let res = c
        .put(format!("{base}/api/v2.0/users/{}/password", me["user_id"]))
        .basic_auth("dev", Some(USER_PASSWORD))
        .json(&json!({"old_password": USER_PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .expect("password");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let res = admin(reqwest::Method::POST, "/api/v2.0/projects")
        .json(&json!({"project_name": "team"}))
        .send()
        .await
        .expect("project");
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let project: Value = admin(reqwest::Method::GET, "/api/v2.0/projects/team")
        .send()
        .await
        .expect("p")
        .json()
        .await
        .expect("json");
    let robot: Value = admin(reqwest::Method::POST, "/api/v2.0/robots")
        .json(&json!({"name": "ci", "duration": 30, "level": "project", "permissions": [{"kind": "project", "namespace": "team",
            "access": [{"resource": "repository", "action": "pull"}, {"resource": "repository", "action": "push"}]}]}))
        .send()
        .await
        .expect("robot")
        .json()
        .await
        .expect("json");
    let (robot_name, robot_secret) = (
        robot["name"].as_str().expect("name").to_owned(),
        robot["secret"].as_str().expect("secret").to_owned(),
    );
    secrets.push(robot_secret.clone());
    let listed = admin(
        reqwest::Method::GET,
        &format!("/api/v2.0/robots?q=Level=project,ProjectID={}", project["project_id"]),
    )
    .send()
    .await
    .expect("robots")
    .text()
    .await
    .expect("text");
    assert!(
        !listed.contains(&robot_secret) && !listed.contains("$argon2"),
        "no secret in listings: {listed}"
    );

    // Registry clients: wrong guesses, then podman with the admin, the user and the robot.
    run_fails(p.cmd().args(["login", "--tls-verify=false", "-u", "dev", "-p", WRONG_GUESS, host])).await;
    let ctx = work.join("ctx");
    build_context(&ctx, &[10_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/s:1"]).arg(&ctx)).await;
    for (user, pass) in [("admin", ADMIN_PASSWORD), (robot_name.as_str(), robot_secret.as_str())] {
        let creds = format!("{user}:{pass}");
        run(p
            .cmd()
            .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/s:1"])
            .arg(format!("{host}/team/s:1")))
        .await;
        run(p.cmd().args(["pull", "--tls-verify=false", "--creds", &creds]).arg(format!("{host}/team/s:1")))
            .await;
    }
    run(p.cmd().args(["login", "--tls-verify=false", "-u", "dev", "-p", NEW_PASSWORD, host])).await;
    // Registry tokens are secrets too.
    let token: Value = c
        .get(format!("{base}/service/token?service=wharf&scope=repository:team/s:pull"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["token"].as_str().expect("token").to_owned();
    let res = c.get(format!("{base}/v2/team/s/tags/list")).bearer_auth(&token).send().await.expect("tags");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    secrets.push(token);

    // A portal session.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{base}/ui/sign_in"))
        .header("origin", &base)
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/projects")])
        .send()
        .await
        .expect("sign in");
    let cookie = res.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    let session = cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("session");
    let page = c
        .get(format!("{base}/projects/team"))
        .header("cookie", format!("wharf_session={session}"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    secrets.push(session);
    secrets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_or_the_answers() {
    tool("podman");
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("wharf.log");
        let data = dir.path().join("data");
        let env = [
            ("WHARF_DATA_DIR", data.display().to_string()),
            ("WHARF_LOG", "debug,wharf=trace".to_owned()),
            ("WHARF_LOG_FORMAT", format.to_owned()),
            (
                "WHARF_CONFIGURATIONS",
                format!(r#"{{"oidc_name": "Corp", "oidc_client_secret": "{FIXED_SECRET}"}}"#),
            ),
        ];
        let server = WharfProcess::start_logged(&env, &log).await;
        let p = Podman::new();
        let mut secrets = exercise(&server.host, &p, dir.path()).await;
        server.kill();

        // The signing key, in the forms it could be printed.
        let db = wharf::db::Db::connect(&format!("sqlite://{}/wharf.db", data.display())).await.expect("db");
        let keys: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT secret FROM signing_keys").fetch_all(db.reader()).await.expect("keys");
        assert!(!keys.is_empty());
        for k in keys {
            secrets.push(hex::encode(&k));
            secrets.push(base64::engine::general_purpose::STANDARD.encode(&k));
            secrets.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&k));
        }
        let text = std::fs::read_to_string(&log).expect("log");
        assert!(text.lines().count() > 20, "the log has content ({format}): {text}");
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret ({} chars) is in the {format} log", s.len());
        }
        // Not even a hash.
        assert!(!text.contains("$argon2"), "a password hash is in the {format} log");
    }
}

/// Single sign-on against `host`: configured with a client secret, alice signs in through the
/// provider, uses her CLI secret with podman and replaces it; a guess fails. Returns the secrets.
async fn exercise_oidc(host: &str, provider: &oidc::Provider, p: &Podman) -> Vec<String> {
    let base = format!("http://{host}");
    let c = reqwest::Client::new();
    let res = c
        .put(format!("{base}/api/v2.0/configurations"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&json!({"auth_mode": "oidc_auth", "oidc_endpoint": provider.issuer, "oidc_client_id": "wharf",
            "oidc_client_secret": oidc::CLIENT_SECRET, "oidc_scope": "openid,profile,offline_access",
            "oidc_auto_onboard": true}))
        .send()
        .await
        .expect("configurations");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let mut b = oidc::Browser::new();
    let (status, url, _) = b.sign_in_at(&format!("{base}/c/oidc/login"), "alice").await;
    assert_eq!((status, url), (reqwest::StatusCode::OK, format!("{base}/projects")));
    let (_, _, body) = b.send(reqwest::Method::GET, &format!("{base}/api/v2.0/users/current"), None).await;
    let me: Value = serde_json::from_str(&body).expect("json");
    let secret = me["oidc_user_meta"]["secret"].as_str().expect("CLI secret").to_owned();
    let user_id = me["user_id"].as_i64().expect("id");
    run(p.cmd().args(["login", "--tls-verify=false", "-u", "alice", "-p", &secret, host])).await;
    run_fails(p.cmd().args(["login", "--tls-verify=false", "-u", "alice", "-p", WRONG_GUESS, host])).await;
    let replaced = "Repl4cedCliSecretAbc";
    let res = c
        .put(format!("{base}/api/v2.0/users/{user_id}/cli_secret"))
        .basic_auth("alice", Some(&secret))
        .json(&json!({"secret": replaced}))
        .send()
        .await
        .expect("cli_secret");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    run(p.cmd().args(["login", "--tls-verify=false", "-u", "alice", "-p", replaced, host])).await;
    let mut secrets = vec![oidc::CLIENT_SECRET.to_owned(), secret, replaced.to_owned()];
    secrets.extend(b.jar().split("; ").filter_map(|c| c.split_once('=')).map(|(_, v)| v.to_owned()));
    secrets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_single_sign_on_secret_reaches_the_logs() {
    tool("podman");
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("wharf.log");
    let env = [
        ("WHARF_DATA_DIR", dir.path().join("data").display().to_string()),
        ("WHARF_LOG", "debug,wharf=trace".to_owned()),
    ];
    let server = WharfProcess::start_logged(&env, &log).await;
    let provider = oidc::Provider::start(&format!("http://{}/c/oidc/callback", server.host));
    let p = Podman::new();
    let secrets = exercise_oidc(&server.host, &provider, &p).await;
    server.kill();
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("/c/oidc/callback"), "the sign-in is in the log");
    assert!(!text.contains("code="), "the provider's authorization code is not logged");
    for s in secrets.iter().filter(|s| s.len() >= 16) {
        assert!(!text.contains(s.as_str()), "a secret ({} chars) is in the log", s.len());
    }
}
