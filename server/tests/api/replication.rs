//! Replication policies and executions (`/api/v2.0/replication`), against a second real Wharf
//! as the `harbor`-type peer: push-based manual and event-based (with deletions), pull-based
//! on a schedule, filters and flattening.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn peer(app: &TestApp, other: &TestApp) -> i64 {
    let res = app
        .as_admin()
        .post(
            "/api/v2.0/registries",
            &json!({"name": "site-b", "url": other.base, "type": "harbor",
                    "credential": {"access_key": "admin", "access_secret": ADMIN_PASSWORD}}),
        )
        .await;
    res.expect(StatusCode::CREATED).created_id()
}

/// Waits for execution `id` to end; returns it.
async fn finished(app: &TestApp, id: i64) -> Value {
    for _ in 0..400 {
        let e: Value = app.as_admin().get(&format!("/api/v2.0/replication/executions/{id}")).await.json();
        if e["status"] != "InProgress" && e["status"] != "Pending" {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("execution {id} did not end");
}

#[tokio::test]
async fn push_based_manual_replication_copies_what_the_filters_select_once() {
    let site_b = TestApp::start().await;
    let app = TestApp::start().await;
    app.create_project("lib", false).await;
    app.create_project("other", false).await;
    let (d1, _, _) = app.push_image("lib/team/app", "1.0").await;
    app.push_image("lib/team/app", "dev").await;
    app.push_image("other/x", "1.0").await;
    let endpoint = peer(&app, &site_b).await;
    let admin = app.as_admin();

    // Refusals first.
    let bad = admin
        .post(
            "/api/v2.0/replication/policies",
            &json!({"name": "p", "src_registry": {"id": endpoint}, "dest_registry": {"id": endpoint}}),
        )
        .await;
    bad.expect(StatusCode::BAD_REQUEST);
    let bad = admin
        .post(
            "/api/v2.0/replication/policies",
            &json!({"name": "p", "src_registry": {"id": endpoint}, "trigger": {"type": "event_based"}}),
        )
        .await;
    assert!(bad.expect(StatusCode::BAD_REQUEST).text().contains("push-based"));
    let bad = admin
        .post(
            "/api/v2.0/replication/policies",
            &json!({"name": "p", "dest_registry": {"id": endpoint},
               "trigger": {"type": "scheduled", "trigger_settings": {"cron": "every day"}}}),
        )
        .await;
    bad.expect(StatusCode::BAD_REQUEST);
    let member = app.as_member("lib", wharf::auth::Role::ProjectAdmin).await;
    member.get("/api/v2.0/replication/policies").await.expect(StatusCode::FORBIDDEN);

    let policy = json!({
        "name": "to-site-b", "description": "releases", "dest_registry": {"id": endpoint},
        "dest_namespace": "mirror", "dest_namespace_replace_count": -1,
        "trigger": {"type": "manual"}, "override": true, "enabled": true,
        "filters": [{"type": "name", "value": "lib/**"}, {"type": "tag", "value": "1.*", "decoration": "matches"},
                    {"type": "resource", "value": "image"}]
    });
    let res = admin.post("/api/v2.0/replication/policies", &policy).await;
    let pid = res.expect(StatusCode::CREATED).created_id();
    let got: Value =
        admin.get(&format!("/api/v2.0/replication/policies/{pid}")).await.expect(StatusCode::OK).json();
    assert_eq!(got["dest_registry"]["name"], "site-b");
    assert_eq!(got["dest_registry"]["credential"]["access_secret"], "*****");
    assert!(got["src_registry"].is_null());
    assert_eq!(got["trigger"]["type"], "manual");
    assert_eq!(got["filters"].as_array().map(Vec::len), Some(3));
    admin.post("/api/v2.0/replication/policies", &policy).await.expect(StatusCode::CONFLICT);
    // The endpoint is in use now.
    admin.delete(&format!("/api/v2.0/registries/{endpoint}")).await.expect(StatusCode::PRECONDITION_FAILED);

    let res = admin.post("/api/v2.0/replication/executions", &json!({"policy_id": pid})).await;
    let eid = res.expect(StatusCode::CREATED).created_id();
    let e = finished(&app, eid).await;
    assert_eq!(e["status"], "Succeed", "{e}");
    assert_eq!(e["trigger"], "manual");
    assert_eq!((e["total"].as_i64(), e["succeed"].as_i64()), (Some(1), Some(1)), "{e}");
    // Flattened into the namespace (created there), same digest.
    assert_eq!(site_b.tag_digest("mirror/app", "1.0").await.as_deref(), Some(d1.as_str()));
    assert_eq!(site_b.tag_digest("mirror/app", "dev").await, None, "the tag filter left dev out");
    let tasks: Vec<Value> = admin
        .get(&format!("/api/v2.0/replication/executions/{eid}/tasks"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["source_resource"], "lib/team/app:1.0");
    assert_eq!(tasks[0]["destination_resource"], "mirror/app:1.0");
    assert_eq!(tasks[0]["operation"], "copy");
    assert_eq!(tasks[0]["status"], "Succeed");
    assert!(tasks[0]["bytes"].as_i64().is_some_and(|b| b > 4096));
    let log =
        admin.get(&format!("/api/v2.0/replication/executions/{eid}/tasks/{}/log", tasks[0]["id"])).await;
    let log = log.expect(StatusCode::OK).text();
    assert!(log.contains("sent") && log.contains("manifest"), "{log}");

    // Again: nothing is sent twice.
    let res = admin.post("/api/v2.0/replication/executions", &json!({"policy_id": pid})).await;
    let eid = res.expect(StatusCode::CREATED).created_id();
    assert_eq!(finished(&app, eid).await["status"], "Succeed");
    let tasks: Vec<Value> = admin.get(&format!("/api/v2.0/replication/executions/{eid}/tasks")).await.json();
    assert_eq!(tasks[0]["bytes"], 0);
    let list =
        admin.get(&format!("/api/v2.0/replication/executions?policy_id={pid}")).await.expect(StatusCode::OK);
    assert_eq!(list.header_value("x-total-count"), Some("2"));

    admin.delete(&format!("/api/v2.0/replication/policies/{pid}")).await.expect(StatusCode::OK);
    admin.get(&format!("/api/v2.0/replication/executions/{eid}")).await.expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn event_based_replication_follows_pushes_and_deletions() {
    let site_b = TestApp::start().await;
    let app = TestApp::start().await;
    app.create_project("lib", false).await;
    let endpoint = peer(&app, &site_b).await;
    let admin = app.as_admin();
    admin
        .post(
            "/api/v2.0/replication/policies",
            &json!({"name": "follow", "dest_registry": {"id": endpoint}, "trigger": {"type": "event_based"},
                    "replicate_deletion": true, "filters": [{"type": "name", "value": "lib/**"}]}),
        )
        .await
        .expect(StatusCode::CREATED);
    let (d, _, _) = app.push_image("lib/app", "v1").await;
    let mut there = None;
    for _ in 0..400 {
        there = site_b.tag_digest("lib/app", "v1").await;
        if there.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(there.as_deref(), Some(d.as_str()), "the push was replicated");
    let list: Vec<Value> = admin.get("/api/v2.0/replication/executions").await.json();
    assert_eq!(list[0]["trigger"], "event_based");

    app.as_admin()
        .delete(&format!("/api/v2.0/projects/lib/repositories/app/artifacts/{d}"))
        .await
        .expect(StatusCode::OK);
    for _ in 0..400 {
        if site_b.tag_digest("lib/app", &d).await.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the deletion was not replicated");
}

#[tokio::test]
async fn pull_based_scheduled_replication_copies_from_a_peer() {
    let site_b = TestApp::start().await;
    site_b.create_project("lib", false).await;
    let (d, _, _) = site_b.push_image("lib/app", "1").await;
    let app = TestApp::start().await;
    let endpoint = peer(&app, &site_b).await;
    let admin = app.as_admin();
    let res = admin
        .post(
            "/api/v2.0/replication/policies",
            &json!({"name": "pull", "src_registry": {"id": endpoint}, "dest_namespace": "pulled",
                    "dest_namespace_replace_count": 1,
                    "trigger": {"type": "scheduled", "trigger_settings": {"cron": "* * * * * *"}},
                    "filters": [{"type": "name", "value": "lib/*"}]}),
        )
        .await;
    let pid = res.expect(StatusCode::CREATED).created_id();
    let mut there = None;
    for _ in 0..400 {
        there = app.tag_digest("pulled/app", "1").await;
        if there.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let list: Vec<Value> =
        admin.get(&format!("/api/v2.0/replication/executions?policy_id={pid}")).await.json();
    assert_eq!(there.as_deref(), Some(d.as_str()), "the scheduled pull copied it: {list:?}");
    assert!(list.iter().any(|e| e["trigger"] == "scheduled"), "{list:?}");
    // The copy is a real artifact here: its blobs were verified and stored.
    let res = admin.get("/api/v2.0/projects/pulled/repositories/app/artifacts").await.expect(StatusCode::OK);
    assert!(res.text().contains(&d));
}

#[tokio::test]
async fn a_stopped_execution_ends_before_its_next_task() {
    let site_b = TestApp::start().await;
    let app = TestApp::start().await;
    app.create_project("lib", false).await;
    for i in 0..4 {
        app.push_image(&format!("lib/app{i}"), "1").await;
    }
    let endpoint = peer(&app, &site_b).await;
    let admin = app.as_admin();
    // 4 KiB/s: each image (a 4 KiB layer and its config) takes about a second.
    let res = admin
        .post(
            "/api/v2.0/replication/policies",
            &json!({"name": "slow", "dest_registry": {"id": endpoint}, "speed": 4,
                    "filters": [{"type": "name", "value": "lib/**"}]}),
        )
        .await;
    let pid = res.expect(StatusCode::CREATED).created_id();
    let res = admin.post("/api/v2.0/replication/executions", &json!({"policy_id": pid})).await;
    let eid = res.expect(StatusCode::CREATED).created_id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    admin
        .send_json(Method::PUT, &format!("/api/v2.0/replication/executions/{eid}"), &json!({}))
        .await
        .expect(StatusCode::OK);
    let e = finished(&app, eid).await;
    assert_eq!(e["status"], "Stopped", "{e}");
    assert!(e["total"].as_i64().is_some_and(|t| t < 4), "stopped before the last task: {e}");
    // A second stop has nothing to stop.
    admin
        .send_json(Method::PUT, &format!("/api/v2.0/replication/executions/{eid}"), &json!({}))
        .await
        .expect(StatusCode::BAD_REQUEST);
}
