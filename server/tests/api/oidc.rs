//! OpenID Connect against a real provider (`oidc-provider`, run with Node.js).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::oidc::{Browser, Provider};
use crate::support::*;

#[tokio::test]
async fn the_ping_finds_a_provider_and_explains_what_is_not_one() {
    let app = TestApp::start().await;
    let provider = Provider::start(&format!("{}/c/oidc/callback", app.base));
    let ping = |url: String| app.admin(Method::POST, "/api/v2.0/system/oidc/ping").json(&json!({"url": url}));
    let res = ping(provider.issuer.clone()).call().await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let res = ping(format!("{}/", provider.issuer)).call().await;
    assert_eq!(res.status(), StatusCode::OK, "a trailing slash is the same issuer: {}", res.text());
    // Wharf itself is no provider; nothing listens on the other; the last is no URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    for url in [app.base.clone(), format!("http://{closed}"), "not a url".to_owned()] {
        let res = ping(url.clone()).call().await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}: {}", res.text());
        assert!(res.text().contains("OIDC"), "{url}: {}", res.text());
    }
    let user = app.create_user("olive", "Passw0rd1").await;
    assert!(user > 0);
    let res = app
        .anon(Method::POST, "/api/v2.0/system/oidc/ping")
        .basic_auth("olive", Some("Passw0rd1"))
        .json(&json!({"url": provider.issuer}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn oidc_app(provider_for: impl FnOnce(&str) -> Provider) -> (TestApp, Provider) {
    let app = TestApp::start().await;
    let provider = provider_for(&format!("{}/c/oidc/callback", app.base));
    let res = app
        .admin(Method::PUT, "/api/v2.0/configurations")
        .json(&json!({
            "auth_mode": "oidc_auth",
            "oidc_name": "Test OP",
            "oidc_endpoint": provider.issuer,
            "oidc_client_id": "wharf",
            "oidc_client_secret": crate::support::oidc::CLIENT_SECRET,
            "oidc_scope": "openid,profile,email,groups,offline_access",
            "oidc_groups_claim": "groups",
            "oidc_admin_group": "wharf-admins",
            "oidc_auto_onboard": true,
        }))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    (app, provider)
}

#[tokio::test]
async fn users_sign_in_through_the_providers_pages_and_are_onboarded_with_their_groups() {
    let (app, mut provider) = oidc_app(Provider::start).await;
    let mut b = Browser::new();
    let (status, url, body) =
        b.sign_in_at(&format!("{}/c/oidc/login?next=/projects", app.base), "alice").await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert_eq!(url, format!("{}/projects", app.base), "{}", &body[..body.len().min(3000)]);
    assert_eq!(url, format!("{}/projects", app.base));
    let alice =
        wharf::db::users::by_username(app.state.db.reader(), "alice").await.expect("q").expect("onboarded");
    assert_eq!(
        (alice.email.as_str(), alice.realname.as_str(), alice.sysadmin),
        ("alice@wharf.test", "Alice Archer", false)
    );
    let groups = wharf::db::usergroups::of_user(app.state.db.reader(), alice.id).await.expect("groups");
    assert_eq!(groups.iter().map(|g| g.group_name.as_str()).collect::<Vec<_>>(), ["developers"]);
    // The portal knows her: her name is in the page.
    let (_, _, page) = b.send(Method::GET, &format!("{}/projects", app.base), None).await;
    assert!(page.contains("alice"), "signed in");
    // carol is in the provider's admin group: an administrator of Wharf.
    let mut c = Browser::new();
    c.sign_in_at(&format!("{}/c/oidc/login", app.base), "carol").await;
    let carol =
        wharf::db::users::by_username(app.state.db.reader(), "carol").await.expect("q").expect("onboarded");
    assert!(carol.sysadmin);

    // A callback that did not start here, or with another state, is refused.
    let mut stranger = Browser::new();
    stranger.send(Method::GET, &format!("{}/oidc-onboard?username=mallory", app.base), None).await;
    let (status, _, body) =
        stranger.send(Method::GET, &format!("{}/c/oidc/callback?code=x&state=y", app.base), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, location, _) = stranger.send(Method::GET, &format!("{}/c/oidc/login", app.base), None).await;
    assert!(
        location.contains("code_challenge=") && location.contains("nonce="),
        "PKCE and nonce: {location}"
    );
    let (status, _, _) =
        stranger.send(Method::GET, &format!("{}/c/oidc/callback?code=x&state=forged", app.base), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Extra parameters for the provider's authorization request (Harbor's item); not JSON of
    // strings is refused when stored.
    let res = app
        .admin(Method::PUT, "/api/v2.0/configurations")
        .json(&json!({"oidc_extra_redirect_parms": r#"{"access_type": "offline", "ui_locales": "de"}"#}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let (_, location, _) = stranger.send(Method::GET, &format!("{}/c/oidc/login", app.base), None).await;
    assert!(location.contains("access_type=offline") && location.contains("ui_locales=de"), "{location}");
    let res = app
        .admin(Method::PUT, "/api/v2.0/configurations")
        .json(&json!({"oidc_extra_redirect_parms": r#"{"max_age": 5}"#}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{}", res.text());
    // Not an open redirect: `next` stays on this site.
    let mut d = Browser::new();
    let (_, url, _) = d.sign_in_at(&format!("{}/c/oidc/login?next=//evil.example/x", app.base), "bob").await;
    assert_eq!(url, format!("{}/projects", app.base));

    // The provider rotates its signing key: the next sign-in's ID token, signed with a key
    // Wharf has not seen, is still checked and accepted.
    provider.rotate_key("key-2");
    let mut e = Browser::new();
    let (status, url, _) = e.sign_in_at(&format!("{}/c/oidc/login", app.base), "bob").await;
    assert_eq!((status, url), (StatusCode::OK, format!("{}/projects", app.base)));
}

/// The id and CLI secret of the user signed in in `b`, from `/users/current`.
async fn cli_secret_of(b: &mut Browser, app: &TestApp) -> (i64, String) {
    let (status, _, body) = b.send(Method::GET, &format!("{}/api/v2.0/users/current", app.base), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let secret = v["oidc_user_meta"]["secret"].as_str().expect("an OIDC user has a CLI secret").to_owned();
    (v["user_id"].as_i64().expect("id"), secret)
}

#[tokio::test]
async fn the_cli_secret_signs_registry_clients_and_scripts_in_and_only_its_owner_reads_it() {
    let (app, _provider) = oidc_app(Provider::start).await;
    let mut b = Browser::new();
    b.sign_in_at(&format!("{}/c/oidc/login", app.base), "alice").await;
    let (alice, secret) = cli_secret_of(&mut b, &app).await;
    assert!(wharf::users::check_password(&secret).is_ok(), "meets the password rule");
    let as_alice = |method: Method, path: &str, secret: &str| {
        app.anon(method, path).basic_auth("alice", Some(secret.to_owned()))
    };
    let res = as_alice(Method::GET, "/api/v2.0/users/current", &secret).call().await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let me: serde_json::Value = res.json();
    assert_eq!(me["oidc_user_meta"]["secret"], secret.as_str());
    assert!(me["oidc_user_meta"]["subiss"].as_str().expect("subiss").ends_with("|alice"));
    // The registry: what `docker login` does first.
    assert_eq!(as_alice(Method::GET, "/v2/", &secret).call().await.status(), StatusCode::OK);
    assert_eq!(
        as_alice(Method::GET, "/v2/", "Wrong-secret-1").call().await.status(),
        StatusCode::UNAUTHORIZED
    );

    // An administrator sees the tie, never the secret.
    let v: serde_json::Value =
        app.admin(Method::GET, &format!("/api/v2.0/users/{alice}")).call().await.json();
    assert_eq!(v["oidc_user_meta"]["secret"], "");
    assert!(!v.to_string().contains(&secret));

    // Alice replaces it: Harbor's password rule applies; the old one stops at once.
    let path = format!("/api/v2.0/users/{alice}/cli_secret");
    let res = as_alice(Method::PUT, &path, &secret).json(&json!({"secret": "short"})).call().await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{}", res.text());
    let res = as_alice(Method::PUT, &path, &secret).json(&json!({"secret": "N3w-cli-secret"})).call().await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    assert_eq!(as_alice(Method::GET, "/v2/", &secret).call().await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(as_alice(Method::GET, "/v2/", "N3w-cli-secret").call().await.status(), StatusCode::OK);

    // Bob may neither read nor set hers.
    let mut c = Browser::new();
    c.sign_in_at(&format!("{}/c/oidc/login", app.base), "bob").await;
    let (_, bobs) = cli_secret_of(&mut c, &app).await;
    let bob = |method: Method, p: &str| app.anon(method, p).basic_auth("bob", Some(bobs.clone()));
    let res = bob(Method::PUT, &path).json(&json!({"secret": "B0bs-own-choice"})).call().await;
    assert!(matches!(res.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{}", res.status());
    let res = bob(Method::GET, &format!("/api/v2.0/users/{alice}")).call().await;
    assert!(!res.text().contains("N3w-cli-secret"));

    // Disabled, the secret no longer works.
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/users/{alice}"))
        .json(&json!({"disabled": true}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    assert_eq!(
        as_alice(Method::GET, "/v2/", "N3w-cli-secret").call().await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn there_are_no_cli_secrets_outside_oidc_mode() {
    let app = TestApp::start().await;
    let id = app.create_user("dora", "Passw0rd1").await;
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/users/{id}/cli_secret"))
        .json(&json!({"secret": "Cli-secret-1"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED, "{}", res.text());
    let v: serde_json::Value = app.admin(Method::GET, &format!("/api/v2.0/users/{id}")).call().await.json();
    assert!(v.get("oidc_user_meta").is_none(), "{v}");
}

#[tokio::test]
async fn the_cli_secret_lasts_as_long_as_the_providers_session_and_groups_follow_the_provider() {
    // Tokens live 2 s: every check a few seconds apart asks the provider with the refresh token.
    let (app, provider) = oidc_app(|r| Provider::start_with_ttl(r, 2)).await;
    let login = format!("{}/c/oidc/login", app.base);
    let mut b = Browser::new();
    b.sign_in_at(&login, "alice").await;
    let (alice, secret) = cli_secret_of(&mut b, &app).await;
    let ask = || app.anon(Method::GET, "/v2/").basic_auth("alice", Some(secret.clone())).call();
    assert_eq!(ask().await.status(), StatusCode::OK);
    // docker keeps a refresh token from its login: redeeming it follows the same session.
    let token = |form: Vec<(&'static str, String)>| {
        let req = app.anon(Method::POST, "/service/token").form(&form);
        async move { req.call().await }
    };
    let res = token(vec![
        ("grant_type", "password".into()),
        ("username", "alice".into()),
        ("password", secret.clone()),
        ("service", "wharf".into()),
        ("access_type", "offline".into()),
    ])
    .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let refresh =
        res.json::<serde_json::Value>()["refresh_token"].as_str().expect("refresh token").to_owned();
    let redeem = || {
        token(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh.clone()),
            ("service", "wharf".into()),
        ])
    };
    assert_eq!(redeem().await.status(), StatusCode::OK);
    let groups = || async {
        let gs = wharf::db::usergroups::of_user(app.state.db.reader(), alice).await.expect("groups");
        gs.into_iter().map(|g| g.group_name).collect::<Vec<_>>()
    };
    assert_eq!(groups().await, ["developers"]);
    // The provider moves her to another team: the next refresh brings the new groups.
    provider.set_groups("alice", &["ops", "qa"]).await;
    for _ in 0..2 {
        // Twice: the second refresh uses the token the first one rotated in.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        assert_eq!(ask().await.status(), StatusCode::OK, "the session stands");
    }
    assert_eq!(groups().await, ["ops", "qa"]);
    // The provider ends her sessions: once the tokens expire, the secret is refused.
    provider.end_sessions("alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(ask().await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(ask().await.status(), StatusCode::UNAUTHORIZED, "and stays refused");
    assert_eq!(redeem().await.status(), StatusCode::UNAUTHORIZED, "docker's refresh token too");
    // Signing in to the portal again opens a new session: the same secret works again, and the
    // sign-in itself brings the groups the provider names now.
    provider.set_groups("alice", &["developers"]).await;
    let mut again = Browser::new();
    let (status, url, _) = again.sign_in_at(&login, "alice").await;
    assert_eq!((status, url), (StatusCode::OK, format!("{}/projects", app.base)));
    assert_eq!(ask().await.status(), StatusCode::OK);
    assert_eq!(groups().await, ["developers"]);
}

#[tokio::test]
async fn tampered_expired_misaddressed_or_foreign_id_tokens_are_refused() {
    let (app, provider) = oidc_app(Provider::start).await;
    let login = format!("{}/c/oidc/login", app.base);
    for mode in ["tampered", "expired", "wrong-audience", "foreign-key"] {
        provider.id_tokens(mode).await;
        let mut b = Browser::new();
        let (status, url, body) = b.sign_in_at(&login, "bob").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{mode}: {url}: {body}");
        assert!(body.contains("ID token was refused"), "{mode}: {body}");
        let bob = wharf::db::users::by_username(app.state.db.reader(), "bob").await.expect("q");
        assert!(bob.is_none(), "{mode}: no account");
        let (status, _, _) = b.send(Method::GET, &format!("{}/api/v2.0/users/current", app.base), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{mode}: no session");
    }
    provider.id_tokens("genuine").await;
    let mut b = Browser::new();
    let (status, url, _) = b.sign_in_at(&login, "bob").await;
    assert_eq!((status, url), (StatusCode::OK, format!("{}/projects", app.base)));
    let bob = wharf::db::users::by_username(app.state.db.reader(), "bob").await.expect("q").expect("bob");
    assert!(!bob.sysadmin, "the tampered admin group never took");
}

#[tokio::test]
async fn without_automatic_onboarding_a_new_user_chooses_a_username_first() {
    let (app, _provider) = oidc_app(Provider::start).await;
    let res = app
        .admin(Method::PUT, "/api/v2.0/configurations")
        .json(&json!({"oidc_auto_onboard": false}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut b = Browser::new();
    let (status, url, body) =
        b.sign_in_at(&format!("{}/c/oidc/login?next=/projects/team", app.base), "alice").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(url, format!("{}/oidc-onboard?username=alice", app.base));
    assert!(body.contains("Choose the username") && body.contains(r#"value="alice""#), "{body}");
    assert!(wharf::db::users::by_username(app.state.db.reader(), "alice").await.expect("q").is_none());
    let onboard = format!("{}/ui/oidc_onboard", app.base);

    // Taken and invalid names are refused, and the page says why.
    for (name, why) in [("admin", "taken"), ("robot$x", "Invalid username")] {
        let (status, location, _) = b.send(Method::POST, &onboard, Some(&[("username", name)])).await;
        assert!(status.is_redirection() && location.contains("__err="), "{name}: {status} {location}");
        let err = location.split("__err=").nth(1).expect("error").replace("%3D", "=");
        let err = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, err).expect("base64");
        assert!(String::from_utf8_lossy(&err).contains(why), "{name}: {}", String::from_utf8_lossy(&err));
    }
    // A free name makes the account, signs the browser in and goes on where the sign-in was headed.
    let (status, location, _) = b.send(Method::POST, &onboard, Some(&[("username", "alice-archer")])).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(location, "/projects/team");
    let (_, secret) = cli_secret_of(&mut b, &app).await;
    let me: serde_json::Value = app
        .anon(Method::GET, "/api/v2.0/users/current")
        .basic_auth("alice-archer", Some(secret))
        .call()
        .await
        .json();
    assert_eq!(
        (me["username"].as_str(), me["email"].as_str()),
        (Some("alice-archer"), Some("alice@wharf.test"))
    );
    assert!(!b.jar().contains("wharf_oidc_onboard"), "the pending sign-in is gone: {}", b.jar());
    // Her next sign-in finds the account; a browser without a pending sign-in cannot onboard.
    let mut again = Browser::new();
    let (status, url, _) = again.sign_in_at(&format!("{}/c/oidc/login", app.base), "alice").await;
    assert_eq!((status, url), (StatusCode::OK, format!("{}/projects", app.base)));
    let mut stranger = Browser::new();
    stranger.send(Method::GET, &format!("{}/oidc-onboard?username=mallory", app.base), None).await;
    let (_, location, _) = stranger.send(Method::POST, &onboard, Some(&[("username", "mallory")])).await;
    assert!(location.contains("__err="), "{location}");
    assert!(wharf::db::users::by_username(app.state.db.reader(), "mallory").await.expect("q").is_none());
}

/// Signs the portal session of `b` out, as the bar's button does.
async fn sign_out(app: &TestApp, b: &mut Browser) -> (StatusCode, String, String) {
    let cookie = b.jar().split("; ").find(|c| c.starts_with("wharf_session=")).expect("session").to_owned();
    let csrf = app.csrf_token(&cookie).await;
    b.send(Method::POST, &format!("{}/ui/sign_out", app.base), Some(&[("csrf", csrf.as_str())])).await
}

#[tokio::test]
async fn signing_out_signs_out_at_the_provider_when_configured() {
    let (app, _provider) = oidc_app(Provider::start).await;
    let login = format!("{}/c/oidc/login", app.base);
    // Off (the default): signing out of Wharf leaves the provider's session alone.
    let mut b = Browser::new();
    b.sign_in_at(&login, "alice").await;
    let (status, location, _) = sign_out(&app, &mut b).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(location, "/login");
    let (status, _, _) = b.send(Method::GET, &format!("{}/api/v2.0/users/current", app.base), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "Wharf's session ended");

    // On: the browser goes on to the provider's sign-out, and comes back to the sign-in page.
    let res =
        app.admin(Method::PUT, "/api/v2.0/configurations").json(&json!({"oidc_logout": true})).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut b = Browser::new();
    b.sign_in_at(&login, "alice").await;
    let (_, location, _) = sign_out(&app, &mut b).await;
    assert!(location.starts_with(&_provider.issuer) && location.contains("client_id=wharf"), "{location}");
    let back_to = reqwest::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "post_logout_redirect_uri")
        .map(|(_, v)| v.into_owned());
    assert_eq!(back_to, Some(format!("{}/login", app.base)));
    let (status, _, page) = b.send(Method::GET, &location, None).await;
    assert_eq!(status, StatusCode::OK, "the provider asks to confirm: {page}");
    // Its confirmation form: every hidden field, and "yes".
    let action = page.split("action=\"").nth(1).and_then(|a| a.split('"').next()).expect("form").to_owned();
    let xsrf = page
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect("xsrf")
        .to_owned();
    let url = if action.starts_with("http") { action } else { format!("{}{action}", _provider.issuer) };
    let (status, back, _) =
        b.send(Method::POST, &url, Some(&[("xsrf", xsrf.as_str()), ("logout", "yes")])).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(back, format!("{}/login", app.base));
    // The provider's session is gone too: the next sign-in asks for the user again (with it,
    // the provider would send the browser straight back signed in).
    let mut url = login.clone();
    let page = loop {
        let (status, location, page) = b.send(Method::GET, &url, None).await;
        if !status.is_redirection() {
            break page;
        }
        url = if location.starts_with("http") { location } else { format!("{}{location}", _provider.issuer) };
    };
    assert!(page.contains(r#"name="prompt" value="login""#), "{page}");
}

#[tokio::test]
async fn a_provider_that_is_down_gives_a_clear_error_and_never_locks_out_the_admin() {
    let (app, provider) = oidc_app(|r| Provider::start_with_ttl(r, 1)).await;
    let mut b = Browser::new();
    b.sign_in_at(&format!("{}/c/oidc/login", app.base), "alice").await;
    let (_, secret) = cli_secret_of(&mut b, &app).await;
    let ask = || app.anon(Method::GET, "/v2/").basic_auth("alice", Some(secret.clone())).call();
    assert_eq!(ask().await.status(), StatusCode::OK);
    drop(provider);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // The session must be checked now and cannot be: 503, at once, with the OCI error body.
    let started = std::time::Instant::now();
    let res = ask().await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{}", res.text());
    assert!(res.text().contains("UNAVAILABLE"), "{}", res.text());
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "no hang: {:?}", started.elapsed());
    let res = app.admin(Method::GET, "/api/v2.0/users/current").call().await;
    assert_eq!(res.status(), StatusCode::OK, "the local admin still signs in");
    // The portal's sign-in still sends browsers to the provider (its address is known), where
    // the browser meets the outage itself.
    let (status, location, _) =
        Browser::new().send(Method::GET, &format!("{}/c/oidc/login", app.base), None).await;
    assert!(status.is_redirection() && location.starts_with("http://127.0.0.1:"), "{status} {location}");
}
