//! `systeminfo`, `search`, and the registry catalog: each shows only what the caller may read.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use wharf::auth::Role;

use crate::support::*;

#[tokio::test]
async fn systeminfo_names_the_registry() {
    let app = TestApp::start().await;
    let v: Value = app.anon(Method::GET, "/api/v2.0/systeminfo").call().await.json();
    assert!(v["harbor_version"].as_str().is_some_and(|s| s.starts_with("wharf-")));
    assert_eq!(v["registry_url"], app.addr.to_string());
    assert_eq!(v["auth_mode"], "db_auth");
}

#[tokio::test]
async fn ping_answers_pong_as_text_to_anyone() {
    let app = TestApp::start().await;
    let res = app.anon(Method::GET, "/api/v2.0/ping").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-type").is_some_and(|t| t.starts_with("text/plain")));
    assert_eq!(res.text(), "Pong");
}

#[tokio::test]
async fn search_and_catalog_show_only_readable_repositories() {
    let app = TestApp::start().await;
    app.push_image("library/web-app", "1").await;
    app.create_project("secret", false).await;
    app.push_image("secret/web-api", "1").await;
    let member = app.create_user("member", "Passw0rd1").await;
    app.add_member("secret", member, Role::LimitedGuest).await;
    app.create_user("stranger", "Passw0rd1").await;
    let search = |user: Option<&'static str>| {
        let req = app.anon(Method::GET, "/api/v2.0/search?q=web");
        let req = match user {
            Some(u) => req.basic_auth(u, Some("Passw0rd1")),
            None => req,
        };
        async move {
            let v: Value = req.call().await.json();
            let mut names: Vec<String> = v["repository"]
                .as_array()
                .expect("array")
                .iter()
                .filter_map(|r| r["repository_name"].as_str().map(str::to_owned))
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(search(None).await, ["library/web-app"]);
    assert_eq!(search(Some("stranger")).await, ["library/web-app"]);
    assert_eq!(search(Some("member")).await, ["library/web-app", "secret/web-api"]);
    let v: Value = app.admin(Method::GET, "/api/v2.0/search?q=secr").call().await.json();
    assert_eq!(v["project"][0]["name"], "secret");

    let catalog =
        |user: &'static str| app.anon(Method::GET, "/v2/_catalog").basic_auth(user, Some("Passw0rd1")).call();
    let v: Value = catalog("member").await.json();
    assert_eq!(v["repositories"], serde_json::json!(["library/web-app", "secret/web-api"]));
    let res = catalog("stranger").await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json();
    assert_eq!(v["repositories"], serde_json::json!(["library/web-app"]));
}

#[tokio::test]
async fn statistics_count_what_the_caller_may_see_and_volumes_show_the_disk() {
    let app = TestApp::start().await;
    app.create_project("open", true).await;
    app.create_project("hidden", false).await;
    app.create_project("mine", false).await;
    app.push_image("open/a", "v1").await;
    app.push_image("hidden/b", "v1").await;
    app.push_image("mine/c", "v1").await;
    app.push_image("mine/d", "v1").await;
    let s: serde_json::Value = app.admin(reqwest::Method::GET, "/api/v2.0/statistics").call().await.json();
    // `library` is public and empty.
    assert_eq!(s["public_project_count"], 2, "{s}");
    assert_eq!(s["private_project_count"], 2, "{s}");
    assert_eq!(
        (s["public_repo_count"].as_i64(), s["private_repo_count"].as_i64()),
        (Some(1), Some(3)),
        "{s}"
    );
    assert_eq!((s["total_project_count"].as_i64(), s["total_repo_count"].as_i64()), (Some(4), Some(4)));
    assert!(s["total_storage_consumption"].as_i64().is_some_and(|b| b > 4 * 4096), "{s}");

    let dev = app.as_member("mine", wharf::auth::Role::Developer).await;
    let s: serde_json::Value = dev.get("/api/v2.0/statistics").await.json();
    assert_eq!(
        (s["private_project_count"].as_i64(), s["private_repo_count"].as_i64()),
        (Some(1), Some(2)),
        "{s}"
    );
    assert_eq!(s["public_repo_count"], 1);
    assert!(s.get("total_storage_consumption").is_none(), "{s}");
    assert_eq!(app.anonymous().get("/api/v2.0/statistics").await.status(), reqwest::StatusCode::UNAUTHORIZED);

    assert_eq!(dev.get("/api/v2.0/systeminfo/volumes").await.status(), reqwest::StatusCode::FORBIDDEN);
    let v: serde_json::Value =
        app.admin(reqwest::Method::GET, "/api/v2.0/systeminfo/volumes").call().await.json();
    if test_storage().is_none() {
        let disk = &v["storage"][0];
        let (total, free) = (disk["total"].as_u64().expect("total"), disk["free"].as_u64().expect("free"));
        assert!(total > 0 && free > 0 && free <= total, "{v}");
    } else {
        assert_eq!(v["storage"], serde_json::json!([]), "a bucket has no size");
    }
}

#[tokio::test]
async fn configurations_in_harbors_shape_secrets_sealed_and_never_answered() {
    let app = TestApp::start_with(|_, s| {
        s.configurations = Some(wharf::config::Secret::from(r#"{"ldap_timeout": 7}"#.to_owned()));
    })
    .await;
    let get = || app.admin(Method::GET, "/api/v2.0/configurations").call();
    let v: Value = get().await.json();
    assert_eq!(v["auth_mode"], serde_json::json!({"value": "db_auth", "editable": true}));
    assert_eq!(v["ldap_uid"]["value"], "cn");
    assert_eq!(
        v["ldap_timeout"],
        serde_json::json!({"value": 7, "editable": false}),
        "fixed by the operator"
    );
    let res = app
        .admin(Method::PUT, "/api/v2.0/configurations")
        .json(&serde_json::json!({"ldap_url": "ldaps://dir.example:636", "ldap_search_password": "Dir-s3cret-77",
            "ldap_scope": 1, "ldap_verify_cert": false}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let text = get().await.text();
    assert!(!text.contains("Dir-s3cret-77") && !text.contains("ldap_search_password"), "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        (&v["ldap_url"]["value"], &v["ldap_scope"]["value"], &v["ldap_verify_cert"]["value"]),
        (&serde_json::json!("ldaps://dir.example:636"), &serde_json::json!(1), &serde_json::json!(false))
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT value FROM configurations")
        .fetch_all(app.state.db.reader())
        .await
        .expect("rows");
    assert!(stored.iter().all(|v| !v.contains("Dir-s3cret-77")), "sealed at rest");
    for (body, why) in [
        (serde_json::json!({"ldap_timeout": 9}), "fixed"),
        (serde_json::json!({"ldap_scope": 5}), "range"),
        (serde_json::json!({"made_up": true}), "unknown"),
        (serde_json::json!({"auth_mode": "kerberos"}), "mode"),
    ] {
        let res = app.admin(Method::PUT, "/api/v2.0/configurations").json(&body).call().await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{why}");
        let e: Value = res.json();
        assert_eq!(e["errors"][0]["code"], "BAD_REQUEST", "{why}: Harbor's error body");
    }
    // Once another user exists, the accounts belong to the mode: it cannot change.
    app.create_user("dev", "Passw0rd1").await;
    let v: Value = get().await.json();
    assert_eq!(v["auth_mode"]["editable"], false);
    let res = app
        .admin(Method::PUT, "/api/v2.0/configurations")
        .json(&serde_json::json!({"auth_mode": "ldap_auth"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let dev =
        app.anon(Method::GET, "/api/v2.0/configurations").basic_auth("dev", Some("Passw0rd1")).call().await;
    assert_eq!(dev.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.anon(Method::GET, "/api/v2.0/configurations").call().await.status(),
        StatusCode::UNAUTHORIZED
    );
}
