//! The audit log and pull statistics: recorded off the request path, readable by the right
//! people.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use wharf::auth::Role;

use crate::support::*;

async fn logs(app: &TestApp, path: &str) -> Vec<Value> {
    let res = app.admin(Method::GET, path).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Vec<Value>>()
}

#[tokio::test]
async fn pushes_pulls_deletes_and_logins_are_logged_and_pulls_counted() {
    let app = TestApp::start().await;
    let (digest, manifest, _) = app.push_image("library/app", "v1").await;
    app.put_manifest("library/app", "old", OCI_MANIFEST, &manifest).await;
    for _ in 0..2 {
        let res = app.anon(Method::GET, "/v2/library/app/manifests/v1").call().await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // HEAD requests are not pulls.
    app.anon(Method::HEAD, "/v2/library/app/manifests/v1").call().await;
    assert_eq!(app.admin(Method::GET, "/v2/").call().await.status(), StatusCode::OK);
    assert_eq!(
        app.admin(Method::DELETE, "/v2/library/app/manifests/old").call().await.status(),
        StatusCode::ACCEPTED
    );
    app.state.auditor.flush().await;

    let all = logs(&app, "/api/v2.0/audit-logs?page_size=100").await;
    let ops: Vec<(&str, &str)> = all
        .iter()
        .map(|l| (l["operation"].as_str().unwrap_or(""), l["username"].as_str().unwrap_or("")))
        .collect();
    // Identical pulls in one batch are one entry; the pull count below has both.
    assert_eq!(ops.iter().filter(|o| **o == ("pull", "anonymous")).count(), 1, "{ops:?}");
    assert_eq!(ops.iter().filter(|o| **o == ("push", "admin")).count(), 2, "{ops:?}");
    assert!(ops.contains(&("delete", "admin")) && ops.contains(&("login", "admin")), "{ops:?}");
    assert!(all.iter().all(|l| l["client_ip"] == "127.0.0.1"));
    // A pull in a later batch is a new entry.
    app.anon(Method::GET, "/v2/library/app/manifests/v1").call().await;
    app.state.auditor.flush().await;
    let pulls = logs(&app, "/api/v2.0/audit-logs?q=operation%3Dpull").await;
    assert_eq!(pulls.len(), 2);
    assert_eq!(pulls[0]["resource"], format!("library/app@{digest}"));

    // Pull statistics, without a write per pull.
    let repos: Value = app.anon(Method::GET, "/api/v2.0/projects/library/repositories").call().await.json();
    assert_eq!(repos[0]["pull_count"], 3);
    let art: Value =
        app.anon(Method::GET, "/api/v2.0/projects/library/repositories/app/artifacts/v1").call().await.json();
    assert!(art["pull_time"].is_string(), "{art}");
    assert!(art["tags"][0]["pull_time"].is_string(), "{art}");
}

#[tokio::test]
async fn only_admins_read_logs() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    app.push_image("team/app", "v1").await;
    for (name, role) in [("lead", Role::ProjectAdmin), ("dev", Role::Developer)] {
        let id = app.create_user(name, "Passw0rd1").await;
        app.add_member("team", id, role).await;
    }
    app.state.auditor.flush().await;
    let get =
        |u: &'static str, p: &'static str| app.anon(Method::GET, p).basic_auth(u, Some("Passw0rd1")).call();
    let res = get("lead", "/api/v2.0/projects/team/logs").await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Vec<Value> = res.json();
    assert!(v.iter().any(|l| l["operation"] == "push"), "{v:?}");
    assert_eq!(get("dev", "/api/v2.0/projects/team/logs").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(get("lead", "/api/v2.0/audit-logs").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.anon(Method::GET, "/api/v2.0/audit-logs").call().await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn changes_made_through_the_api_are_logged_too() {
    let app = TestApp::start().await;
    let res = app
        .admin(Method::POST, "/api/v2.0/projects")
        .json(&serde_json::json!({"project_name": "team"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.push_image("team/app", "v1").await;
    app.push_image("team/other", "v1").await;
    let base = "/api/v2.0/projects/team/repositories/app/artifacts/v1";
    let res = app
        .admin(Method::POST, &format!("{base}/tags"))
        .json(&serde_json::json!({"name": "rc"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.admin(Method::DELETE, &format!("{base}/tags/rc")).call().await.status(), StatusCode::OK);
    assert_eq!(app.admin(Method::DELETE, base).call().await.status(), StatusCode::OK);
    let res = app.admin(Method::DELETE, "/api/v2.0/projects/team/repositories/other").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    app.state.auditor.flush().await;
    let entries = logs(&app, "/api/v2.0/projects/team/logs?page_size=100").await;
    let got: Vec<(String, String, String)> = entries
        .iter()
        .map(|l| {
            (
                l["operation"].as_str().unwrap_or("").into(),
                l["resource_type"].as_str().unwrap_or("").into(),
                l["resource"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    for want in [
        ("create", "project", "team"),
        ("create", "tag", "team/app:rc"),
        ("delete", "tag", "team/app:rc"),
        ("delete", "artifact", "team/app:v1"),
        ("delete", "repository", "team/other"),
    ] {
        assert!(
            got.iter().any(|g| (g.0.as_str(), g.1.as_str(), g.2.as_str()) == want),
            "{want:?} missing from {got:?}"
        );
    }
}
