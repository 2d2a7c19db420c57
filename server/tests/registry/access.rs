//! Ping, authentication, names and projects on `/v2`.

use reqwest::{Method, StatusCode};

use crate::support::*;

#[tokio::test]
async fn ping_challenges_anonymous_and_accepts_the_admin() {
    let app = TestApp::start().await;
    let res = app.anon(Method::GET, "/v2/").call().await;
    let realm = format!("Bearer realm=\"{}/service/token\",service=\"wharf\"", app.base);
    assert_eq!(header(&res, "www-authenticate"), Some(realm.as_str()));
    assert_eq!(header(&res, "docker-distribution-api-version"), Some("registry/2.0"));
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app.admin(Method::GET, "/v2/").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let wrong = app.anon(Method::GET, "/v2/").basic_auth("admin", Some("nope")).call().await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let unknown = app.anon(Method::GET, "/v2/").basic_auth("ghost", Some("x")).call().await;
    expect_error(unknown, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let garbage = app.anon(Method::GET, "/v2/").header("authorization", "Basic ***").call().await;
    expect_error(garbage, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn health_reports_healthy() {
    let app = TestApp::start().await;
    let res = app.anon(Method::GET, "/api/v2.0/health").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = res.json();
    assert_eq!(v["status"], "healthy");
    assert!(v["components"].as_array().is_some_and(|c| c.len() == 3));
}

#[tokio::test]
async fn anonymous_pulls_public_projects_only_and_never_pushes() {
    let app = TestApp::start().await;
    let (digest, _, layer) = app.push_image("library/pub", "v1").await;
    let res = app.anon(Method::GET, "/v2/library/pub/manifests/v1").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.anon(Method::GET, &format!("/v2/library/pub/blobs/{layer}")).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.anon(Method::POST, "/v2/library/pub/blobs/uploads/").call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app.anon(Method::DELETE, &format!("/v2/library/pub/manifests/{digest}")).call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;

    app.create_project("secret", false).await;
    app.push_image("secret/app", "v1").await;
    let res = app.anon(Method::GET, "/v2/secret/app/manifests/v1").call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app.anon(Method::GET, "/v2/secret/app/tags/list").call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    // A private project and a missing one look the same to anonymous callers.
    let res = app.anon(Method::GET, "/v2/nosuch/app/tags/list").call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn names_are_validated_and_projects_must_exist() {
    let app = TestApp::start().await;
    for bad in ["Library/x", "library/a..b", "library/-x", "nginx", "library//x"] {
        let res = app.admin(Method::GET, &format!("/v2/{bad}/tags/list")).call().await;
        expect_error(res, StatusCode::BAD_REQUEST, "NAME_INVALID").await;
    }
    let long = format!("library/{}", "a".repeat(250));
    let res = app.admin(Method::GET, &format!("/v2/{long}/tags/list")).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "NAME_INVALID").await;
    // `..` as a segment is normalised by some clients; sent raw it is still refused.
    let res = app.admin(Method::GET, "/v2/library/%2e%2e/x/tags/list").call().await;
    assert!(res.status().is_client_error());
    let res = app.admin(Method::POST, "/v2/nosuch/x/blobs/uploads/").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "NAME_UNKNOWN").await;
    let res = app.admin(Method::GET, "/v2/library/never-pushed/tags/list").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "NAME_UNKNOWN").await;
    let res = app.admin(Method::GET, "/v2/library/x/nothing/here").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wrong_methods_are_unsupported() {
    let app = TestApp::start().await;
    app.push_image("library/m", "v1").await;
    let res = app.admin(Method::POST, "/v2/library/m/manifests/v1").call().await;
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED").await;
    let res = app.admin(Method::PUT, "/v2/library/m/tags/list").call().await;
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED").await;
}

#[tokio::test]
async fn huge_headers_are_refused_and_the_server_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::start().await;
    let mut s = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let req = format!("GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(2 * 1024 * 1024));
    // The server may close before reading it all; either way the request is not served.
    let _ = s.write_all(req.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 431"), "{text}");
    let res = app.anon(Method::GET, "/api/v2.0/health").call().await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_down_with_429() {
    let app = TestApp::start().await;
    for _ in 0..5 {
        let res = app.anon(Method::GET, "/v2/").basic_auth("admin", Some("guess")).call().await;
        expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    }
    // Even the right password is refused while the account is locked, without a hash check.
    let res = app.admin(Method::GET, "/v2/").call().await;
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS").await;
    let res = app
        .anon(Method::GET, "/service/token?service=wharf")
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .call()
        .await;
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS").await;
    // Other accounts and anonymous pulls are not affected.
    let res = app.anon(Method::GET, "/v2/library/x/tags/list").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "NAME_UNKNOWN").await;
}

#[tokio::test]
async fn signed_in_users_without_permission_are_denied() {
    let app = TestApp::start().await;
    app.push_image("library/shared", "v1").await;
    app.create_user("dev", "Developer1").await;
    let as_dev = |m: Method, p: &str| app.anon(m, p).basic_auth("dev", Some("Developer1"));
    let res = as_dev(Method::GET, "/v2/").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = as_dev(Method::GET, "/v2/library/shared/manifests/v1").call().await;
    assert_eq!(res.status(), StatusCode::OK, "public projects are readable by everyone");
    let res = as_dev(Method::POST, "/v2/library/shared/blobs/uploads/").call().await;
    expect_error(res, StatusCode::FORBIDDEN, "DENIED").await;
    app.create_project("private", false).await;
    let res = as_dev(Method::GET, "/v2/private/x/tags/list").call().await;
    expect_error(res, StatusCode::FORBIDDEN, "DENIED").await;
}

#[tokio::test]
async fn project_roles_decide_pull_push_and_delete() {
    use wharf::auth::Role;
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let (_, manifest, _) = app.push_image("team/app", "v1").await;
    // (user, role, may pull, may push, may delete)
    let table = [
        ("padmin", Some(Role::ProjectAdmin), true, true, true),
        ("maint", Some(Role::Maintainer), true, true, true),
        ("dev", Some(Role::Developer), true, true, false),
        ("guest", Some(Role::Guest), true, false, false),
        ("lguest", Some(Role::LimitedGuest), true, false, false),
        ("outsider", None, false, false, false),
    ];
    for (name, role, pull, push, delete) in table {
        let id = app.create_user(name, "Passw0rd1").await;
        if let Some(role) = role {
            app.add_member("team", id, role).await;
        }
        let tag = format!("for-{name}");
        app.put_manifest("team/app", &tag, OCI_MANIFEST, &manifest).await;
        let as_user = |m: Method, p: &str| app.anon(m, p).basic_auth(name, Some("Passw0rd1"));
        let status = |allowed: bool, ok: StatusCode| if allowed { ok } else { StatusCode::FORBIDDEN };
        let res = as_user(Method::GET, "/v2/team/app/manifests/v1").call().await;
        assert_eq!(res.status(), status(pull, StatusCode::OK), "{name} pull");
        let res = as_user(Method::POST, "/v2/team/app/blobs/uploads/").call().await;
        assert_eq!(res.status(), status(push, StatusCode::ACCEPTED), "{name} push");
        let res = as_user(Method::DELETE, &format!("/v2/team/app/manifests/{tag}")).call().await;
        assert_eq!(res.status(), status(delete, StatusCode::ACCEPTED), "{name} delete");
        // Tokens carry exactly the same decisions.
        let res =
            as_user(Method::GET, "/service/token?service=wharf&scope=repository:team/app:pull,push,delete")
                .call()
                .await;
        let v: serde_json::Value = res.json();
        let token = v["token"].as_str().expect("token").to_owned();
        let res = app.anon(Method::POST, "/v2/team/app/blobs/uploads/").bearer_auth(&token).call().await;
        assert_eq!(
            res.status(),
            if push { StatusCode::ACCEPTED } else { StatusCode::FORBIDDEN },
            "{name} token push"
        );
    }
}

#[tokio::test]
async fn every_response_has_a_request_id_and_security_headers() {
    let app = TestApp::start().await;
    let a = app.anon(Method::GET, "/v2/").call().await;
    let b = app.anon(Method::GET, "/api/v2.0/health").call().await;
    let (ida, idb) = (
        header(&a, "x-request-id").expect("id").to_owned(),
        header(&b, "x-request-id").expect("id").to_owned(),
    );
    assert!(ida.len() >= 20, "{ida}");
    assert_ne!(ida, idb);
    for res in [&a, &b] {
        assert_eq!(header(res, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(res, "x-frame-options"), Some("DENY"));
        assert_eq!(header(res, "referrer-policy"), Some("same-origin"));
    }
    // A request id the client (or a proxy) sent is kept.
    let res = app.anon(Method::GET, "/api/v2.0/health").header("x-request-id", "trace-me-42").call().await;
    assert_eq!(header(&res, "x-request-id"), Some("trace-me-42"));
}
