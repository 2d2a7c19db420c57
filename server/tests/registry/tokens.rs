//! Docker's token flow: challenges, the token service, and scope enforcement.

use reqwest::{Method, StatusCode};

use crate::support::*;

async fn token(app: &TestApp, creds: Option<(&str, &str)>, scopes: &[&str]) -> Answer {
    let query: Vec<(&str, &str)> =
        std::iter::once(("service", "wharf")).chain(scopes.iter().map(|s| ("scope", *s))).collect();
    let mut req = app.anon(Method::GET, "/service/token").query(&query);
    if let Some((u, p)) = creds {
        req = req.basic_auth(u, Some(p));
    }
    req.call().await
}

async fn token_text(res: Answer) -> String {
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = res.json();
    assert_eq!(v["expires_in"], 300);
    assert!(v["issued_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(v["token"], v["access_token"]);
    v["token"].as_str().expect("token").to_owned()
}

fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.anon(method, path).bearer_auth(token)
}

#[tokio::test]
async fn challenges_name_the_scope_a_request_needs() {
    let app = TestApp::start().await;
    let res = app.anon(Method::POST, "/v2/library/x/blobs/uploads/").call().await;
    let want = format!(
        "Bearer realm=\"{}/service/token\",service=\"wharf\",scope=\"repository:library/x:pull,push\"",
        app.base
    );
    assert_eq!(header(&res, "www-authenticate"), Some(want.as_str()));
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn anonymous_tokens_pull_public_repositories_only() {
    let app = TestApp::start().await;
    app.push_image("library/pub", "v1").await;
    let t = token_text(token(&app, None, &["repository:library/pub:pull,push"]).await).await;
    let res = bearer(&app, Method::GET, "/v2/library/pub/manifests/v1", &t).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = bearer(&app, Method::POST, "/v2/library/pub/blobs/uploads/", &t).call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    // A token for one repository never opens another.
    app.push_image("library/other", "v1").await;
    let res = bearer(&app, Method::GET, "/v2/library/other/manifests/v1", &t).call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    app.create_project("private", false).await;
    app.push_image("private/app", "v1").await;
    let t = token_text(token(&app, None, &["repository:private/app:pull"]).await).await;
    let res = bearer(&app, Method::GET, "/v2/private/app/manifests/v1", &t).call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn admin_tokens_push_and_wrong_passwords_get_none() {
    let app = TestApp::start().await;
    let res = token(&app, Some(("admin", "wrong")), &["repository:library/x:push"]).await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let t = token_text(
        token(
            &app,
            Some(("admin", ADMIN_PASSWORD)),
            &["repository:library/x:pull,push", "registry:catalog:*"],
        )
        .await,
    )
    .await;
    let data = b"pushed with a token".to_vec();
    let d = sha256(&data);
    let res = bearer(&app, Method::POST, &format!("/v2/library/x/blobs/uploads/?digest={d}"), &t)
        .body(data)
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = bearer(&app, Method::GET, "/v2/_catalog", &t).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    // The token lacks delete, but the admin may delete: 401 so the client asks for more.
    let res = bearer(&app, Method::DELETE, &format!("/v2/library/x/blobs/{d}"), &t).call().await;
    assert!(header(&res, "www-authenticate").is_some_and(|h| h.contains("repository:library/x:delete")));
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = bearer(&app, Method::GET, "/v2/", &t).call().await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn tampered_or_foreign_tokens_are_refused() {
    let app = TestApp::start().await;
    let t = token_text(token(&app, None, &["repository:library/x:pull"]).await).await;
    let mut bad = t.clone();
    bad.pop();
    bad.push(if t.ends_with('A') { 'B' } else { 'A' });
    for tok in [bad.as_str(), "not-a-token", "a.b.c"] {
        let res = bearer(&app, Method::GET, "/v2/library/x/tags/list", tok).call().await;
        expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    }
    // A token from another Wharf (another signing key) is refused too.
    let other = TestApp::start().await;
    let foreign =
        token_text(token(&other, Some(("admin", ADMIN_PASSWORD)), &["repository:library/x:pull"]).await)
            .await;
    let res = bearer(&app, Method::GET, "/v2/", &foreign).call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn oauth2_password_and_refresh_grants() {
    let app = TestApp::start().await;
    let form = [
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", ADMIN_PASSWORD),
        ("service", "wharf"),
        ("scope", "repository:library/x:pull,push"),
        ("client_id", "containerd"),
        ("access_type", "offline"),
    ];
    let res = app.anon(Method::POST, "/service/token").form(&form).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = res.json();
    let refresh = v["refresh_token"].as_str().expect("refresh token").to_owned();
    let access = v["access_token"].as_str().expect("access token").to_owned();
    let res = bearer(&app, Method::POST, "/v2/library/x/blobs/uploads/", &access).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("service", "wharf"),
        ("scope", "repository:library/x:pull"),
    ];
    let res = app.anon(Method::POST, "/service/token").form(&form).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    // A refresh token is not an access token, and an access token is not a refresh token.
    let res = bearer(&app, Method::GET, "/v2/", &refresh).call().await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let form = [("grant_type", "refresh_token"), ("refresh_token", access.as_str())];
    let res = app.anon(Method::POST, "/service/token").form(&form).call().await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let form = [("grant_type", "password"), ("username", "admin"), ("password", "nope")];
    let res = app.anon(Method::POST, "/service/token").form(&form).call().await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_checks_are_rate_limited_per_address_and_known_credentials_are_not() {
    let app = TestApp::start().await;
    // The admin's credentials are verified once and then answered from the cache.
    assert_eq!(token(&app, Some(("admin", ADMIN_PASSWORD)), &[]).await.status(), StatusCode::OK);
    // Guesses for ever-new usernames from one address: each would cost an argon2 check.
    let mut limited = None;
    for i in 0..60 {
        let user = format!("nobody{i}");
        let res = token(&app, Some((&user, "Wrong1234")), &[]).await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, res));
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let (at, res) = limited.expect("the address is limited within 60 guesses");
    assert!(at >= 25, "a burst is allowed first (limited after {at})");
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS").await;
    // Known credentials still work: no password check is needed for them.
    assert_eq!(token(&app, Some(("admin", ADMIN_PASSWORD)), &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_burst_of_parallel_requests_with_right_credentials_is_never_throttled() {
    // Before any check is cached (as after the cache entry expires): 100 parallel requests,
    // more than the address's burst of checks, all with the right password.
    let app = TestApp::start().await;
    app.create_user("busy-ci", "Passw0rd-ci").await;
    let requests =
        (0..100).map(|_| app.anon(Method::GET, "/v2/").basic_auth("busy-ci", Some("Passw0rd-ci")).call());
    let statuses: Vec<StatusCode> =
        futures::future::join_all(requests).await.into_iter().map(|r| r.status()).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
}
