//! The audit log and pull statistics: recorded off the request path, readable by the right
//! people.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
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

#[tokio::test]
async fn audit_purges_keep_recent_entries_and_only_the_chosen_operations() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    app.push_image("team/app", "v1").await;
    for _ in 0..3 {
        app.admin(Method::GET, "/v2/team/app/manifests/v1").header("accept", OCI_MANIFEST).call().await;
    }
    app.state.auditor.flush().await;
    // Age every entry by two days, then add a fresh one.
    sqlx::query("UPDATE audit_logs SET op_time = op_time - 172800000")
        .execute(app.state.db.writer())
        .await
        .expect("age");
    app.push_image("team/app", "v2").await;
    app.state.auditor.flush().await;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_logs")
        .fetch_one(app.state.db.reader())
        .await
        .expect("count");
    let old_pulls: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_logs WHERE operation = 'pull' AND op_time < $1")
            .bind(wharf::db::now_ms() - 86_400_000)
            .fetch_one(app.state.db.reader())
            .await
            .expect("count");
    assert!(old_pulls >= 1, "the pulls were logged");

    // A dry run counts; a run of pulls only deletes the old pulls.
    let res = app
        .admin(Method::POST, "/api/v2.0/system/purgeaudit/schedule")
        .json(&json!({"schedule": {"type": "Manual"}, "parameters": {"audit_retention_hour": 24, "include_operations": "pull", "dry_run": true}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let id = res.created_id();
    let mut run = Value::Null;
    for _ in 0..100 {
        run = app.admin(Method::GET, &format!("/api/v2.0/system/purgeaudit/{id}")).call().await.json();
        if run["job_status"] != "Running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(run["job_name"], "PURGE_AUDIT");
    assert_eq!(run["job_status"], "Success");
    assert_eq!(run["purged"], old_pulls);
    let log = app.admin(Method::GET, &format!("/api/v2.0/system/purgeaudit/{id}/log")).call().await.text();
    assert!(log.contains("dry run") && log.contains("would be deleted"), "{log}");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_logs")
        .fetch_one(app.state.db.reader())
        .await
        .expect("count");
    assert_eq!(after, total, "a dry run deletes nothing");

    let params = wharf::purge::PurgeParams {
        audit_retention_hour: 24,
        include_operations: "pull".into(),
        dry_run: false,
    };
    let run = app.state.purge.run_now(wharf::vocab::Trigger::Manual, params).await.expect("purge");
    assert_eq!(run.deleted, old_pulls);
    let left: Vec<(String, i64)> = sqlx::query_as("SELECT operation, op_time FROM audit_logs")
        .fetch_all(app.state.db.reader())
        .await
        .expect("rows");
    assert_eq!(left.len() as i64, total - old_pulls);
    assert!(left.iter().any(|(op, _)| op == "push"), "old pushes stay: {left:?}");

    // Everything older than a day: only the fresh push stays.
    let params = wharf::purge::PurgeParams {
        audit_retention_hour: 24,
        include_operations: String::new(),
        dry_run: false,
    };
    app.state.purge.run_now(wharf::vocab::Trigger::Manual, params).await.expect("purge");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_logs")
        .fetch_one(app.state.db.reader())
        .await
        .expect("count");
    assert_eq!(left, 1);

    // Schedules, Harbor's refusals, and the history.
    let res = app
        .admin(Method::PUT, "/api/v2.0/system/purgeaudit/schedule")
        .json(&json!({"schedule": {"type": "Daily"}, "parameters": {"audit_retention_hour": 720, "include_operations": "create,delete,pull"}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let s: Value = app.admin(Method::GET, "/api/v2.0/system/purgeaudit/schedule").call().await.json();
    assert_eq!(s["schedule"]["type"], "Daily");
    assert!(s["job_parameters"].as_str().is_some_and(|p| p.contains("720")), "{s}");
    let res = app
        .admin(Method::PUT, "/api/v2.0/system/purgeaudit/schedule")
        .json(&json!({"schedule": {"type": "Daily"}, "parameters": {"audit_retention_hour": 0}}))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let history = app.admin(Method::GET, "/api/v2.0/system/purgeaudit").call().await;
    assert_eq!(header(&history, "x-total-count"), Some("3"));
    let dev = app.as_member("team", wharf::auth::Role::Developer).await;
    assert_eq!(dev.get("/api/v2.0/system/purgeaudit").await.status(), StatusCode::FORBIDDEN);
}
