//! Tag retention through Harbor's `/api/v2.0/retentions` paths, checked against what `/v2`
//! serves afterwards.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

fn rule(template: &str, n: Option<i64>, repos: &str, tags: &str, untagged: Option<bool>) -> Value {
    let params = n.map_or_else(|| json!({}), |n| json!({ template: n }));
    let extras = untagged.map_or_else(String::new, |u| json!({ "untagged": u }).to_string());
    json!({
        "disabled": false, "action": "retain", "template": template, "params": params,
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tags, "extras": extras}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repos}]},
    })
}

fn policy(project_id: i64, rules: Vec<Value>, cron: &str) -> Value {
    json!({
        "algorithm": "or", "rules": rules,
        "trigger": {"kind": "Schedule", "settings": {"cron": cron}},
        "scope": {"level": "project", "ref": project_id},
    })
}

async fn project_id(app: &TestApp, name: &str) -> i64 {
    let v: Value = app
        .admin(Method::GET, &format!("/api/v2.0/projects/{name}"))
        .header("x-is-resource-name", "true")
        .call()
        .await
        .json();
    v["project_id"].as_i64().expect("id")
}

async fn create_policy(app: &TestApp, body: &Value) -> i64 {
    let res = app.admin(Method::POST, "/api/v2.0/retentions").json(body).call().await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text());
    let loc = header(&res, "location").expect("location").to_owned();
    loc.rsplit('/').next().and_then(|s| s.parse().ok()).expect("id in location")
}

/// Starts an execution and waits for its end; returns it.
async fn run(app: &TestApp, policy: i64, dry_run: bool) -> Value {
    let res = app
        .admin(Method::POST, &format!("/api/v2.0/retentions/{policy}/executions"))
        .json(&json!({ "dry_run": dry_run }))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let loc = header(&res, "location").expect("location").to_owned();
    let eid: i64 = loc.rsplit('/').next().and_then(|s| s.parse().ok()).expect("eid");
    assert_eq!(loc, format!("/api/v2.0/retentions/{policy}/executions/{eid}"));
    wait_for(app, policy, eid).await
}

async fn wait_for(app: &TestApp, policy: i64, eid: i64) -> Value {
    for _ in 0..200 {
        let list: Value = app
            .admin(Method::GET, &format!("/api/v2.0/retentions/{policy}/executions?page_size=100"))
            .call()
            .await
            .json();
        let e = list.as_array().expect("array").iter().find(|e| e["id"] == eid).cloned().expect("listed");
        if e["status"] != "Running" {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {eid} did not end");
}

async fn tasks(app: &TestApp, policy: i64, eid: i64) -> Vec<Value> {
    let v: Value = app
        .admin(Method::GET, &format!("/api/v2.0/retentions/{policy}/executions/{eid}/tasks"))
        .call()
        .await
        .json();
    v.as_array().expect("array").clone()
}

async fn task_log(app: &TestApp, policy: i64, eid: i64, tid: i64) -> String {
    let res = app
        .admin(Method::GET, &format!("/api/v2.0/retentions/{policy}/executions/{eid}/tasks/{tid}"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-type").is_some_and(|c| c.starts_with("text/plain")));
    res.text()
}

async fn manifest_status(app: &TestApp, repo: &str, reference: &str) -> StatusCode {
    app.admin(Method::HEAD, &format!("/v2/{repo}/manifests/{reference}"))
        .header("accept", OCI_MANIFEST)
        .call()
        .await
        .status()
}

#[tokio::test]
async fn a_policy_round_trips_in_harbors_shape_and_shows_in_the_project_metadata() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    let body = policy(pid, vec![rule("latestPushedK", Some(3), "**", "v*", Some(false))], "0 0 3 * * *");
    let id = create_policy(&app, &body).await;

    let got: Value = app.admin(Method::GET, &format!("/api/v2.0/retentions/{id}")).call().await.json();
    assert_eq!(got["id"], id);
    assert_eq!(got["algorithm"], "or");
    assert_eq!(got["scope"], json!({"level": "project", "ref": pid}));
    assert_eq!(got["trigger"]["settings"]["cron"], "0 0 3 * * *");
    assert_eq!(got["rules"][0]["template"], "latestPushedK");
    assert_eq!(got["rules"][0]["params"]["latestPushedK"], 3);
    assert_eq!(got["rules"][0]["tag_selectors"][0]["extras"], r#"{"untagged":false}"#);
    assert_eq!(got["rules"][0]["scope_selectors"]["repository"][0]["decoration"], "repoMatches");
    let project: Value = app.admin(Method::GET, &format!("/api/v2.0/projects/{pid}")).call().await.json();
    assert_eq!(project["metadata"]["retention_id"], id.to_string());
    let schedule =
        wharf::db::schedules::get(app.state.db.reader(), &format!("retention:{id}")).await.expect("query");
    assert_eq!(schedule.map(|s| s.schedule.cron().to_owned()), Some("0 0 3 * * *".to_owned()));

    // One policy per project; rule limits and duplicates as in Harbor.
    let res = app.admin(Method::POST, "/api/v2.0/retentions").json(&body).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let dup = rule("always", None, "**", "**", None);
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/retentions/{id}"))
        .json(&policy(pid, vec![dup.clone(), dup], ""))
        .call()
        .await;
    expect_error(res, StatusCode::CONFLICT, "CONFLICT").await;
    let many: Vec<Value> = (0..16).map(|i| rule("latestPushedK", Some(i), "**", "**", None)).collect();
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/retentions/{id}"))
        .json(&policy(pid, many, ""))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    for bad in [
        rule("latestPushedK", Some(1), "{app", "**", None),
        rule("nope", None, "**", "**", None),
        rule("latestPushedK", None, "**", "**", None),
    ] {
        let res = app
            .admin(Method::PUT, &format!("/api/v2.0/retentions/{id}"))
            .json(&policy(pid, vec![bad], ""))
            .call()
            .await;
        expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    }
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/retentions/{id}"))
        .json(&policy(pid, vec![rule("always", None, "**", "**", None)], "0 0 0 * * *"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let schedule =
        wharf::db::schedules::get(app.state.db.reader(), &format!("retention:{id}")).await.expect("query");
    assert_eq!(schedule.map(|s| s.schedule.cron().to_owned()), Some("0 0 0 * * *".to_owned()));
    // No cron: no schedule.
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/retentions/{id}"))
        .json(&policy(pid, vec![rule("always", None, "**", "**", None)], ""))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        wharf::db::schedules::get(app.state.db.reader(), &format!("retention:{id}"))
            .await
            .expect("query")
            .is_none()
    );

    let meta: Value = app.admin(Method::GET, "/api/v2.0/retentions/metadatas").call().await.json();
    let templates: Vec<&str> = meta["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .filter_map(|t| t["rule_template"].as_str())
        .collect();
    assert!(templates.contains(&"latestPushedK") && templates.contains(&"always"), "{templates:?}");

    let res = app.admin(Method::DELETE, &format!("/api/v2.0/retentions/{id}")).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let project: Value = app.admin(Method::GET, &format!("/api/v2.0/projects/{pid}")).call().await.json();
    assert!(project["metadata"].get("retention_id").is_none());
    let res = app.admin(Method::GET, &format!("/api/v2.0/retentions/{id}")).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let res = app
        .admin(Method::POST, "/api/v2.0/retentions")
        .json(&policy(99_999, vec![rule("always", None, "**", "**", None)], ""))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
}

#[tokio::test]
async fn a_dry_run_deletes_nothing_and_the_run_deletes_exactly_what_it_listed() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    let mut digests = Vec::new();
    for i in 1..=5 {
        let (d, _, _) = app.push_image("team/app", &format!("v{i}")).await;
        digests.push(d);
        // Push times in whole milliseconds must differ for a stable order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // `latest` on v2, pushed last: v2's push time is now the latest over it and its tags, and
    // one matching tag keeps v2 with all its tags.
    let m2 = app
        .admin(Method::GET, &format!("/v2/team/app/manifests/{}", digests[1]))
        .header("accept", OCI_MANIFEST)
        .call()
        .await
        .text();
    app.put_manifest("team/app", "latest", OCI_MANIFEST, &m2).await;
    // An untagged image in the same repository and an image in a repository no rule names.
    let (untagged, _, _) = app.push_image("team/app", "scratch").await;
    app.admin(Method::DELETE, "/v2/team/app/manifests/scratch").call().await;
    let (other, _, _) = app.push_image("team/other", "v1").await;

    let rules = vec![
        rule("latestPushedK", Some(2), "app", "v*", Some(false)),
        rule("always", None, "app", "latest", Some(false)),
    ];
    let id = create_policy(&app, &policy(pid, rules, "")).await;

    let dry = run(&app, id, true).await;
    assert_eq!(dry["status"], "Success");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["trigger"], "MANUAL");
    let ts = tasks(&app, id, dry["id"].as_i64().expect("id")).await;
    assert_eq!(ts.len(), 1, "only team/app is in scope: {ts:?}");
    assert_eq!(ts[0]["repository"], "team/app");
    assert_eq!((ts[0]["total"].as_i64(), ts[0]["retained"].as_i64()), (Some(6), Some(2)));
    let log = task_log(&app, id, dry["id"].as_i64().expect("id"), ts[0]["id"].as_i64().expect("tid")).await;
    assert!(log.contains("dry run"), "{log}");
    // The two most recently pushed v* are v2 (re-tagged last) and v5.
    let deleted = [&digests[0], &digests[2], &digests[3], &untagged];
    let kept = [&digests[1], &digests[4]];
    for d in deleted {
        let line = log.lines().find(|l| l.starts_with(d.as_str())).unwrap_or_else(|| panic!("{d} in {log}"));
        assert!(line.contains(" DEL "), "{line}");
    }
    for d in kept {
        let line = log.lines().find(|l| l.starts_with(d.as_str())).unwrap_or_else(|| panic!("{d} in {log}"));
        assert!(line.contains(" RETAIN "), "{line}");
    }
    for d in digests.iter().chain([&untagged, &other]) {
        let repo = if d == &other { "team/other" } else { "team/app" };
        assert_eq!(manifest_status(&app, repo, d).await, StatusCode::OK, "the dry run deleted {d}");
    }

    let real = run(&app, id, false).await;
    assert_eq!(real["status"], "Success");
    assert_eq!(real["dry_run"], false);
    for d in deleted {
        assert_eq!(manifest_status(&app, "team/app", d).await, StatusCode::NOT_FOUND, "{d} should be gone");
    }
    for d in kept {
        assert_eq!(manifest_status(&app, "team/app", d).await, StatusCode::OK, "{d} should stay");
    }
    for t in ["v2", "latest", "v5"] {
        assert_eq!(manifest_status(&app, "team/app", t).await, StatusCode::OK, "tag {t}");
    }
    for t in ["v1", "v3", "v4"] {
        assert_eq!(manifest_status(&app, "team/app", t).await, StatusCode::NOT_FOUND, "tag {t}");
    }
    assert_eq!(manifest_status(&app, "team/other", "v1").await, StatusCode::OK, "untouched repository");

    let list = app
        .admin(Method::GET, &format!("/api/v2.0/retentions/{id}/executions?page=1&page_size=1"))
        .call()
        .await;
    assert_eq!(header(&list, "x-total-count"), Some("2"));
    let list: Value = list.json();
    assert_eq!(list[0]["id"], real["id"], "newest first");

    // Stopping an ended execution is refused; unknown actions are bad requests.
    let eid = real["id"].as_i64().expect("id");
    let res = app
        .admin(Method::PATCH, &format!("/api/v2.0/retentions/{id}/executions/{eid}"))
        .json(&json!({"action": "stop"}))
        .call()
        .await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let res = app
        .admin(Method::PATCH, &format!("/api/v2.0/retentions/{id}/executions/{eid}"))
        .json(&json!({"action": "pause"}))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    // A task of another execution is not found under this one.
    let dry_task = ts[0]["id"].as_i64().expect("tid");
    let res = app
        .admin(Method::GET, &format!("/api/v2.0/retentions/{id}/executions/{eid}/tasks/{dry_task}"))
        .call()
        .await;
    expect_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn developers_and_above_manage_retention_others_cannot() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    let body = policy(pid, vec![rule("always", None, "**", "**", None)], "");
    for (name, role) in [("guest", Role::Guest), ("dev", Role::Developer), ("limited", Role::LimitedGuest)] {
        let uid = app.create_user(name, "Secret123").await;
        app.add_member("team", uid, role).await;
    }
    app.create_user("stranger", "Secret123").await;
    let as_user =
        |name: &str, method: Method, path: &str| app.anon(method, path).basic_auth(name, Some("Secret123"));
    for name in ["guest", "limited"] {
        let res = as_user(name, Method::POST, "/api/v2.0/retentions").json(&body).call().await;
        expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    let res = as_user("stranger", Method::POST, "/api/v2.0/retentions").json(&body).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let res = app.anon(Method::POST, "/api/v2.0/retentions").json(&body).call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;

    let res = as_user("dev", Method::POST, "/api/v2.0/retentions").json(&body).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id: i64 =
        header(&res, "location").and_then(|l| l.rsplit('/').next()).and_then(|s| s.parse().ok()).expect("id");
    let path = format!("/api/v2.0/retentions/{id}");
    let runs = format!("{path}/executions");
    assert_eq!(as_user("dev", Method::GET, &path).call().await.status(), StatusCode::OK);
    let res = as_user("dev", Method::POST, &runs).json(&json!({"dry_run": true})).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    for name in ["guest", "limited"] {
        let res = as_user(name, Method::GET, &path).call().await;
        expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        let res = as_user(name, Method::POST, &runs).json(&json!({"dry_run": true})).call().await;
        expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        let res = as_user(name, Method::DELETE, &path).call().await;
        expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    // A private project's policy does not exist for those who cannot see the project.
    let res = as_user("stranger", Method::GET, &path).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let res = app.anon(Method::GET, &runs).call().await;
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn one_run_per_project_at_a_time_and_schedules_fire() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    app.push_image("team/app", "v1").await;
    let id = create_policy(&app, &policy(pid, vec![rule("always", None, "**", "**", None)], "")).await;

    // Another replica holds the project's lease: a run now is refused with 409.
    let lease = wharf::jobs::lease::LeaseGuard::acquire(
        &app.state.db,
        &format!("retention:{pid}"),
        "another-replica",
        Duration::from_secs(30),
    )
    .await
    .expect("query")
    .expect("lease");
    let res = app
        .admin(Method::POST, &format!("/api/v2.0/retentions/{id}/executions"))
        .json(&json!({"dry_run": true}))
        .call()
        .await;
    expect_error(res, StatusCode::CONFLICT, "CONFLICT").await;
    lease.release().await;

    // An every-second schedule starts runs with trigger SCHEDULE.
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/retentions/{id}"))
        .json(&policy(pid, vec![rule("always", None, "**", "**", None)], "* * * * * *"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut fired = None;
    for _ in 0..60 {
        let list: Value =
            app.admin(Method::GET, &format!("/api/v2.0/retentions/{id}/executions")).call().await.json();
        if let Some(e) = list.as_array().and_then(|l| l.iter().find(|e| e["trigger"] == "SCHEDULE")) {
            fired = Some(e.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fired = fired.expect("a scheduled run within 6 s");
    assert_eq!(fired["dry_run"], false);
    let ended = wait_for(&app, id, fired["id"].as_i64().expect("id")).await;
    assert_eq!(ended["status"], "Success");
    assert_eq!(manifest_status(&app, "team/app", "v1").await, StatusCode::OK, "always retains");
}

#[tokio::test]
async fn an_artifact_retagged_after_the_snapshot_is_kept() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let (digest, manifest, _) = app.push_image("team/app", "v1").await;
    let repo = wharf::db::repositories::by_name(app.state.db.reader(), "team/app")
        .await
        .expect("query")
        .expect("repo");
    let id: i64 = wharf::db::manifests::by_digest(app.state.db.reader(), repo.id, &digest)
        .await
        .expect("query")
        .expect("manifest")
        .id;
    let snapshot = wharf::db::now_ms();
    tokio::time::sleep(Duration::from_millis(5)).await;
    // A push after the snapshot tags the artifact again.
    app.put_manifest("team/app", "v1-again", OCI_MANIFEST, &manifest).await;
    let mut tx = app.state.db.begin().await.expect("tx");
    let gone = wharf::db::retention::delete_unchanged(&mut tx, app.state.db.backend(), repo.id, id, snapshot)
        .await
        .expect("delete");
    tx.commit().await.expect("commit");
    assert!(!gone, "a stale verdict must not delete a re-pushed artifact");
    assert_eq!(manifest_status(&app, "team/app", "v1").await, StatusCode::OK);
    let mut tx = app.state.db.begin().await.expect("tx");
    let gone = wharf::db::retention::delete_unchanged(
        &mut tx,
        app.state.db.backend(),
        repo.id,
        id,
        wharf::db::now_ms() + 1,
    )
    .await
    .expect("delete");
    tx.commit().await.expect("commit");
    assert!(gone, "unchanged since the snapshot: deleted");
    assert_eq!(manifest_status(&app, "team/app", "v1").await, StatusCode::NOT_FOUND);
}
