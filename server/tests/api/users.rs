//! `/api/v2.0/users`: administrators manage accounts; users manage their own password.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn create(app: &TestApp, name: &str, password: &str) -> Answer {
    app.admin(Method::POST, "/api/v2.0/users")
        .json(&json!({"username": name, "email": format!("{name}@example.com"), "realname": "A Name", "password": password}))
        .call().await
}

async fn ping(app: &TestApp, user: &str, password: &str) -> StatusCode {
    app.anon(Method::GET, "/v2/").basic_auth(user, Some(password)).call().await.status()
}

#[tokio::test]
async fn administrators_create_and_list_users() {
    let app = TestApp::start().await;
    let res = create(&app, "dev", "Passw0rd1").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = header(&res, "location").expect("location").to_owned();
    assert_eq!(ping(&app, "dev", "Passw0rd1").await, StatusCode::OK);
    assert_eq!(create(&app, "dev", "Passw0rd1").await.status(), StatusCode::CONFLICT);
    assert_eq!(create(&app, "weak", "password").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(create(&app, "bad name", "Passw0rd1").await.status(), StatusCode::BAD_REQUEST);
    let v: Value = app.admin(Method::GET, &location).call().await.json();
    assert_eq!(
        (v["username"].clone(), v["email"].clone(), v["sysadmin_flag"].clone()),
        (json!("dev"), json!("dev@example.com"), json!(false))
    );
    assert!(v.get("password").is_none() && !v.to_string().contains("argon2"), "no secrets in answers: {v}");

    let res = app.admin(Method::GET, "/api/v2.0/users?page_size=1").call().await;
    assert_eq!(header(&res, "x-total-count"), Some("2"));
    let v: Value = app.admin(Method::GET, "/api/v2.0/users?username=de").call().await.json();
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    let dev = app.caller("dev", "Passw0rd1");
    dev.get("/api/v2.0/users").await.expect(StatusCode::FORBIDDEN);
    dev.post("/api/v2.0/users", &json!({"username": "x", "password": "Passw0rd1"}))
        .await
        .expect(StatusCode::FORBIDDEN);
    app.anonymous().get("/api/v2.0/users/current").await.expect(StatusCode::UNAUTHORIZED);
    let me: Value = dev.get("/api/v2.0/users/current").await.expect(StatusCode::OK).json();
    assert_eq!(me["username"], "dev");
    dev.get("/api/v2.0/users/1").await.expect(StatusCode::FORBIDDEN); // not someone else's
}

#[tokio::test]
async fn password_changes_and_disabling_take_effect_at_once() {
    let app = TestApp::start().await;
    let res = create(&app, "dev", "Passw0rd1").await;
    let id = header(&res, "location").expect("location").rsplit('/').next().expect("id").to_owned();
    // Warm the verified-credentials cache.
    assert_eq!(ping(&app, "dev", "Passw0rd1").await, StatusCode::OK);
    let path = format!("/api/v2.0/users/{id}/password");
    let as_dev = |m: Method, p: &str| app.anon(m, p).basic_auth("dev", Some("Passw0rd1"));
    let res = as_dev(Method::PUT, &path)
        .json(&json!({"old_password": "Wrong0ne1", "new_password": "N3wPassword"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = as_dev(Method::PUT, &path)
        .json(&json!({"old_password": "Passw0rd1", "new_password": "short"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = as_dev(Method::PUT, &path)
        .json(&json!({"old_password": "Passw0rd1", "new_password": "N3wPassword"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        ping(&app, "dev", "Passw0rd1").await,
        StatusCode::UNAUTHORIZED,
        "the old password stops working at once"
    );
    assert_eq!(ping(&app, "dev", "N3wPassword").await, StatusCode::OK);
    // An administrator resets it without the old one.
    let res = app.admin(Method::PUT, &path).json(&json!({"new_password": "Res3tByAdmin"})).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ping(&app, "dev", "Res3tByAdmin").await, StatusCode::OK);

    // Disabled, the account cannot sign in, even with credentials the cache knows.
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/users/{id}"))
        .json(&json!({"disabled": true}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ping(&app, "dev", "Res3tByAdmin").await, StatusCode::UNAUTHORIZED);
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/users/{id}"))
        .json(&json!({"disabled": false, "realname": "Dev Eloper"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ping(&app, "dev", "Res3tByAdmin").await, StatusCode::OK);
    let v: Value = app.admin(Method::GET, &format!("/api/v2.0/users/{id}")).call().await.json();
    assert_eq!(v["realname"], "Dev Eloper");
}

#[tokio::test]
async fn promotion_to_system_administrator() {
    let app = TestApp::start().await;
    let res = create(&app, "ops", "Passw0rd1").await;
    let id = header(&res, "location").expect("location").rsplit('/').next().expect("id").to_owned();
    let as_ops = |m: Method, p: &str| app.anon(m, p).basic_auth("ops", Some("Passw0rd1"));
    assert_eq!(as_ops(Method::GET, "/api/v2.0/users").call().await.status(), StatusCode::FORBIDDEN);
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/users/{id}/sysadmin"))
        .json(&json!({"sysadmin_flag": true}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(as_ops(Method::GET, "/api/v2.0/users").call().await.status(), StatusCode::OK);
    // Nobody changes their own flag (the last administrator cannot lock everyone out).
    let res = as_ops(Method::PUT, &format!("/api/v2.0/users/{id}/sysadmin"))
        .json(&json!({"sysadmin_flag": false}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .admin(Method::PUT, "/api/v2.0/users/999/sysadmin")
        .json(&json!({"sysadmin_flag": true}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
