//! What an outside probe found, pinned: unbounded metrics labels, slow request bodies, lockouts
//! through a proxy, unthrottled password changes, sessions and refresh tokens that outlived a
//! password change, huge usernames and scope lists, a world-readable database.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let app = TestApp::start().await;
    for i in 0..300 {
        let method = Method::from_bytes(format!("FOO{i}").as_bytes()).expect("method");
        app.anon(method, "/v2/").call().await;
    }
    let text = app.anon(Method::GET, "/metrics").call().await.text();
    assert!(!text.contains("FOO"), "raw methods became labels");
    assert!(text.contains(r#"method="other""#));
    assert!(text.len() < 64 * 1024, "the exposition stays small: {} bytes", text.len());
}

#[tokio::test]
async fn metrics_can_be_served_on_their_own_listener_only() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let metrics: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let app = TestApp::start_with(|_, s| s.metrics_listen = Some(metrics)).await;
    let res = app.anon(Method::GET, "/metrics").call().await;
    assert_ne!(res.status(), StatusCode::OK, "not on the main listener");
    let mut text = String::new();
    for _ in 0..50 {
        if let Ok(res) = reqwest::get(format!("http://{metrics}/metrics")).await {
            text = res.text().await.expect("body");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text.contains("wharf_http_requests_total"), "{text}");
}

/// Sends a request head promising a body, then trickles it; returns what came back and when.
async fn trickle(app: &TestApp, head: &str) -> (String, Duration) {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        // A byte every 300 ms: fast enough for any idle timeout, far too slow for the body.
        let _ = s.write_all(b"a").await;
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => assert!(started.elapsed() < Duration::from_secs(15), "the body was never cut off"),
        }
    }
    (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
}

#[tokio::test]
async fn slow_bodies_are_cut_off_on_the_token_endpoint_the_api_and_the_portal() {
    let app = TestApp::start_with(|_, s| s.body_timeout = Some("1s".parse().expect("duration"))).await;
    for (path, kind) in [
        ("/service/token", "application/x-www-form-urlencoded"),
        ("/api/v2.0/projects", "application/json"),
        ("/ui/sign_in", "application/x-www-form-urlencoded"),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\nContent-Type: {kind}\r\nContent-Length: 100000\r\n\r\n",
            app.addr, app.base
        );
        let (answer, took) = trickle(&app, &head).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(took < Duration::from_secs(5), "{path}: cut off after {took:?}");
        if path.starts_with("/api/") {
            let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
            assert!(body.is_empty() || body.contains("errors"), "{body}");
        }
    }
    // A blob upload streams on as long as bytes keep coming, but not when they stop.
    let res = app.admin(Method::POST, "/v2/library/slow/blobs/uploads/").call().await;
    let location = header(&res, "location").expect("location").to_owned();
    let path = location.trim_start_matches(&app.base);
    let mut s = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let auth = base64_basic("admin", ADMIN_PASSWORD);
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n",
        app.addr
    );
    s.write_all(head.as_bytes()).await.expect("head");
    for _ in 0..5 {
        s.write_all(b"0123456789").await.expect("bytes keep coming");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let n =
        tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.expect("answered").unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(started.elapsed() < Duration::from_secs(5), "idle upload cut off after {:?}", started.elapsed());
    assert!(
        answer.is_empty() || !answer.starts_with("HTTP/1.1 2"),
        "a stalled upload was accepted: {answer}"
    );
}

#[tokio::test]
async fn oversized_api_bodies_are_refused_in_the_apis_format() {
    let app = TestApp::start().await;
    let res = app
        .admin(Method::POST, "/api/v2.0/projects")
        .header("content-type", "application/json")
        .body(vec![b' '; 5 * 1024 * 1024])
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: serde_json::Value = res.json();
    assert_eq!(v["errors"][0]["code"], "PAYLOAD_TOO_LARGE", "{v}");
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[tokio::test]
async fn connections_per_address_are_limited() {
    let app = TestApp::start_with(|_, s| s.max_connections_per_client = Some(4)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
        s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: w\r\n\r\n").await.expect("write");
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.expect("answer");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 401"));
        held.push(s);
    }
    let mut fifth = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let _ = fifth.write_all(b"GET /v2/ HTTP/1.1\r\nHost: w\r\n\r\n").await;
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), fifth.read(&mut buf))
        .await
        .expect("closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "the fifth connection is closed unanswered");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = app.anon(Method::GET, "/api/v2.0/health").call().await;
    assert_eq!(res.status(), StatusCode::OK, "closed connections give their slots back");
}

#[tokio::test]
async fn guessing_through_a_trusted_proxy_locks_out_guessers_not_the_user() {
    let app = TestApp::start_with(|_, s| s.trusted_proxies = Some("127.0.0.1".into())).await;
    let via = |addr: &str, password: &str| {
        app.anon(Method::GET, "/v2/").header("x-forwarded-for", addr).basic_auth("admin", Some(password))
    };
    // Ten addresses behind the proxy exhaust the account's allowance.
    for i in 1..=10 {
        for _ in 0..5 {
            let res = via(&format!("198.51.100.{i}"), "guess").call().await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
    }
    let res = via("198.51.100.1", ADMIN_PASSWORD).call().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a guessing address waits");
    let res = via("203.0.113.7", ADMIN_PASSWORD).call().await;
    assert_eq!(res.status(), StatusCode::OK, "the real admin, from its own address, signs in");
    // The audit log records the real client, not the proxy.
    app.state.auditor.flush().await;
    let logs = app.admin(Method::GET, "/api/v2.0/audit-logs?page_size=100").call().await;
    let text = logs.text();
    assert!(text.contains("203.0.113.7"), "{text}");
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarding_headers_change_nothing() {
    let app = TestApp::start().await;
    for i in 0..5 {
        let res = app
            .anon(Method::GET, "/v2/")
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .basic_auth("admin", Some("guess"))
            .call()
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app
        .anon(Method::GET, "/v2/")
        .header("x-forwarded-for", "203.0.113.99")
        .basic_auth("admin", Some("guess"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a forged header does not buy new guesses");
}

#[tokio::test]
async fn huge_usernames_are_refused_unchecked_and_not_remembered() {
    let app = TestApp::start().await;
    let huge = "u".repeat(250_000);
    for _ in 0..20 {
        let res = app
            .anon(Method::POST, "/service/token")
            .form(&[
                ("grant_type", "password"),
                ("username", huge.as_str()),
                ("password", "x"),
                ("service", "wharf"),
            ])
            .call()
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Nothing was counted against the address: the admin still signs in from it.
    let res = app.admin(Method::GET, "/v2/").call().await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_old_passwords_are_throttled_like_sign_ins() {
    let app = TestApp::start().await;
    let id = app.create_user("dana", "Passw0rd!").await;
    let change = |old: &str| {
        app.anon(Method::PUT, &format!("/api/v2.0/users/{id}/password"))
            .basic_auth("dana", Some("Passw0rd!"))
            .json(&serde_json::json!({ "old_password": old, "new_password": "N3wPassword" }))
    };
    for _ in 0..5 {
        assert_eq!(change("wrong").call().await.status(), StatusCode::BAD_REQUEST);
    }
    let res = change("wrong").call().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "guessing the old password is slowed down");
    // The right password was verified moments ago (it signs these very requests): as at sign-in,
    // credentials already verified are never throttled.
    let res = change("Passw0rd!").call().await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn refresh_token(app: &TestApp, user: &str, password: &str) -> String {
    let res = app
        .anon(Method::POST, "/service/token")
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("service", "wharf"),
            ("access_type", "offline"),
        ])
        .call()
        .await;
    let v: serde_json::Value = res.json();
    v["refresh_token"].as_str().expect("refresh token").to_owned()
}

async fn refresh(app: &TestApp, token: &str) -> StatusCode {
    app.anon(Method::POST, "/service/token")
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token), ("service", "wharf")])
        .call()
        .await
        .status()
}

async fn portal_session(app: &TestApp, user: &str, password: &str) -> String {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/ui/sign_in", app.base))
        .header("origin", &app.base)
        .form(&[("username", user), ("password", password)])
        .call()
        .await;
    header(&res, "set-cookie").expect("cookie").split(';').next().expect("pair").to_owned()
}

async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    let html = app.anon(Method::GET, "/account").header("cookie", cookie).call().await.text();
    html.contains("Sign out")
}

#[tokio::test]
async fn a_password_change_or_disabling_ends_every_session_and_refresh_token() {
    let app = TestApp::start().await;
    let id = app.create_user("erin", "Passw0rd!").await;
    let (a, b) =
        (portal_session(&app, "erin", "Passw0rd!").await, portal_session(&app, "erin", "Passw0rd!").await);
    let old_refresh = refresh_token(&app, "erin", "Passw0rd!").await;
    assert!(signed_in(&app, &a).await && signed_in(&app, &b).await);
    assert_eq!(refresh(&app, &old_refresh).await, StatusCode::OK, "a refresh token works until then");

    // Her own change, through the API.
    let res = app
        .anon(Method::PUT, &format!("/api/v2.0/users/{id}/password"))
        .basic_auth("erin", Some("Passw0rd!"))
        .json(&serde_json::json!({ "old_password": "Passw0rd!", "new_password": "N3wPassword" }))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!signed_in(&app, &a).await && !signed_in(&app, &b).await, "both sessions ended");
    assert_eq!(refresh(&app, &old_refresh).await, StatusCode::UNAUTHORIZED, "the refresh token ended");

    // A reset by an administrator.
    let c = portal_session(&app, "erin", "N3wPassword").await;
    let second = refresh_token(&app, "erin", "N3wPassword").await;
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/users/{id}/password"))
        .json(&serde_json::json!({ "new_password": "Res3tByAdmin" }))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!signed_in(&app, &c).await);
    assert_eq!(refresh(&app, &second).await, StatusCode::UNAUTHORIZED);

    // Disabling, then enabling again: what was issued before stays dead.
    let d = portal_session(&app, "erin", "Res3tByAdmin").await;
    let third = refresh_token(&app, "erin", "Res3tByAdmin").await;
    for disabled in [true, false] {
        let res = app
            .admin(Method::PUT, &format!("/api/v2.0/users/{id}"))
            .json(&serde_json::json!({ "disabled": disabled }))
            .call()
            .await;
        assert!(res.status().is_success(), "{}", res.status());
    }
    assert!(!signed_in(&app, &d).await);
    assert_eq!(refresh(&app, &third).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&app, &refresh_token(&app, "erin", "Res3tByAdmin").await).await, StatusCode::OK);
}

#[tokio::test]
async fn token_requests_name_a_bounded_number_of_scopes() {
    let app = TestApp::start().await;
    let scopes: Vec<String> = (0..20_000).map(|i| format!("scope=repository:library/r{i}:pull")).collect();
    let started = Instant::now();
    let res = app
        .admin(Method::GET, &format!("/service/token?service=wharf&{}", scopes[..200].join("&")))
        .call()
        .await;
    let status = res.status();
    let text = res.text();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("scopes"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let res = app
        .admin(Method::POST, "/service/token")
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("scope", &scopes.iter().map(|s| s.trim_start_matches("scope=")).collect::<Vec<_>>().join(" ")),
        ])
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .admin(Method::GET, &format!("/service/token?service=wharf&{}", scopes[..10].join("&")))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "a normal number of scopes is fine");
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_database_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let _app = TestApp::start_with(|_, s| {
        s.data_dir = Some(data.clone());
        s.database_url = None;
        s.storage_url = None;
    })
    .await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir");
    let db = data.join("wharf.db");
    if db.exists() {
        assert_eq!(mode(&db) & 0o077, 0, "the database (signing key, sessions) is not readable by others");
    }
}
