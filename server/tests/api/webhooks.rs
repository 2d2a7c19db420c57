//! Webhooks: Harbor's policies API, and events delivered to a real HTTP receiver in Harbor's
//! Default and CloudEvents shapes, durably (a receiver that is down gets everything when it is
//! back), with every attempt visible.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::receiver::{Receiver, event_type};
use crate::support::*;

fn policy(name: &str, url: &str, events: &[&str], format: &str) -> Value {
    json!({
        "name": name, "enabled": true, "event_types": events,
        "targets": [{"type": "http", "address": url, "auth_header": "Bearer s3cret-hook",
                     "skip_cert_verify": false, "payload_format": format}],
    })
}

async fn create(app: &TestApp, project: &str, body: &Value) -> i64 {
    let res = app
        .admin(Method::POST, &format!("/api/v2.0/projects/{project}/webhook/policies"))
        .json(body)
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    res.created_id()
}

async fn project_id(app: &TestApp, name: &str) -> i64 {
    app.admin(Method::GET, &format!("/api/v2.0/projects/{name}"))
        .header("x-is-resource-name", "true")
        .call()
        .await
        .json::<Value>()["project_id"]
        .as_i64()
        .expect("id")
}

#[tokio::test]
async fn policies_round_trip_in_harbors_shape_and_never_give_back_the_auth_header() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let id = create(
        &app,
        "team",
        &policy("ci", "http://127.0.0.1:9/hook", &["PUSH_ARTIFACT", "DELETE_ARTIFACT"], "CloudEvents"),
    )
    .await;
    let got: Value =
        app.admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{id}")).call().await.json();
    assert_eq!(got["name"], "ci");
    assert_eq!(got["enabled"], true);
    assert_eq!(got["event_types"], json!(["PUSH_ARTIFACT", "DELETE_ARTIFACT"]));
    assert_eq!(got["targets"][0]["type"], "http");
    assert_eq!(got["targets"][0]["payload_format"], "CloudEvents");
    assert_eq!(got["targets"][0]["auth_header"], "*****");
    assert_eq!(got["creator"], "admin");
    assert_eq!(got["project_id"], project_id(&app, "team").await);
    // Stored sealed, never in the clear.
    let stored: String = sqlx::query_scalar("SELECT targets FROM webhook_policies WHERE id = $1")
        .bind(id)
        .fetch_one(app.state.db.reader())
        .await
        .expect("row");
    assert!(!stored.contains("s3cret") && stored.contains("v1:"), "{stored}");

    // A round trip (the masked header sent back) keeps the header; an empty one removes it.
    let mut back = got.clone();
    back["description"] = json!("builds");
    app.admin(Method::PUT, &format!("/api/v2.0/projects/team/webhook/policies/{id}"))
        .json(&back)
        .call()
        .await
        .expect(StatusCode::OK);
    let again: Value =
        app.admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{id}")).call().await.json();
    assert_eq!(
        (again["description"].as_str(), again["targets"][0]["auth_header"].as_str()),
        (Some("builds"), Some("*****"))
    );
    back["targets"][0]["auth_header"] = json!("");
    app.admin(Method::PUT, &format!("/api/v2.0/projects/team/webhook/policies/{id}"))
        .json(&back)
        .call()
        .await
        .expect(StatusCode::OK);
    let again: Value =
        app.admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{id}")).call().await.json();
    assert!(again["targets"][0].get("auth_header").is_none(), "{again}");

    // Harbor's refusals.
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/webhook/policies")
        .json(&policy("ci", "http://x/", &["PUSH_ARTIFACT"], "Default"))
        .call()
        .await;
    expect_error(res, StatusCode::CONFLICT, "CONFLICT").await;
    for bad in [
        policy("a", "ftp://x/", &["PUSH_ARTIFACT"], "Default"),
        policy("b", "http://x/", &["SCANNING_NEVER"], "Default"),
        policy("c", "http://x/", &[], "Default"),
        policy("d", "http://x/", &["PUSH_ARTIFACT"], "Yaml"),
    ] {
        let res = app.admin(Method::POST, "/api/v2.0/projects/team/webhook/policies").json(&bad).call().await;
        expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    }
    let events: Value = app.admin(Method::GET, "/api/v2.0/projects/team/webhook/events").call().await.json();
    assert!(events["event_type"].as_array().is_some_and(|e| e.contains(&json!("QUOTA_WARNING"))));
    assert_eq!(events["notify_type"], json!(["http", "slack"]));

    // Maintainers read, only project administrators change; developers see nothing.
    let maintainer = app.as_member("team", Role::Maintainer).await;
    assert_eq!(maintainer.get("/api/v2.0/projects/team/webhook/policies").await.status(), StatusCode::OK);
    let res = maintainer
        .post(
            "/api/v2.0/projects/team/webhook/policies",
            &policy("m", "http://x/", &["PUSH_ARTIFACT"], "Default"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let developer = app.as_member("team", Role::Developer).await;
    assert_eq!(
        developer.get("/api/v2.0/projects/team/webhook/policies").await.status(),
        StatusCode::FORBIDDEN
    );
    let list = app.admin(Method::GET, "/api/v2.0/projects/team/webhook/policies?q=name%3D~c").call().await;
    assert_eq!(header(&list, "x-total-count"), Some("1"));
    app.admin(Method::DELETE, &format!("/api/v2.0/projects/team/webhook/policies/{id}"))
        .call()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn pushes_pulls_and_deletes_reach_a_real_receiver_in_both_formats() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let plain = Receiver::start().await;
    let cloud = Receiver::start().await;
    let p1 = create(
        &app,
        "team",
        &policy("default", &plain.url, &["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"], "Default"),
    )
    .await;
    let p2 = create(&app, "team", &policy("cloud", &cloud.url, &["PUSH_ARTIFACT"], "CloudEvents")).await;
    // A Slack incoming webhook takes a JSON body with `text` (and answers 200 "ok").
    let slack = Receiver::start().await;
    create(
        &app,
        "team",
        &json!({"name": "chat", "event_types": ["PUSH_ARTIFACT"],
                "targets": [{"type": "slack", "address": slack.url}]}),
    )
    .await;
    let pid = project_id(&app, "team").await;
    plain.answer_len(32 << 10);

    let (digest, _, _) = app.push_image("team/app", "v1").await;
    let got = plain.wait_until(10, |r| r.iter().any(|x| event_type(x) == "PUSH_ARTIFACT")).await;
    let push = got.iter().find(|x| event_type(x) == "PUSH_ARTIFACT").expect("push");
    assert_eq!(push.headers.get("authorization").map(String::as_str), Some("Bearer s3cret-hook"));
    assert_eq!(push.headers.get("content-type").map(String::as_str), Some("application/json"));
    let b = &push.body;
    assert_eq!(b["type"], "PUSH_ARTIFACT");
    assert_eq!(b["operator"], "admin");
    assert!(b["occur_at"].as_i64().is_some_and(|t| t > 1_700_000_000));
    let resource = &b["event_data"]["resources"][0];
    assert_eq!(resource["digest"], digest.as_str());
    assert_eq!(resource["tag"], "v1");
    assert_eq!(resource["resource_url"], format!("{}/team/app:v1", app.addr));
    let repo = &b["event_data"]["repository"];
    assert_eq!((repo["name"].as_str(), repo["namespace"].as_str()), (Some("app"), Some("team")));
    assert_eq!(
        (repo["repo_full_name"].as_str(), repo["repo_type"].as_str()),
        (Some("team/app"), Some("private"))
    );
    assert!(repo["date_created"].as_i64().is_some());

    let c = cloud.wait_until(10, |r| !r.is_empty()).await;
    let ce = &c[0];
    assert_eq!(ce.headers.get("content-type").map(String::as_str), Some("application/cloudevents+json"));
    assert_eq!(ce.body["specversion"], "1.0");
    assert_eq!(ce.body["type"], "harbor.artifact.pushed");
    assert_eq!(ce.body["source"], format!("/projects/{pid}/webhook/policies/{p2}"));
    assert_eq!(ce.body["datacontenttype"], "application/json");
    assert_eq!(ce.body["data"]["resources"][0]["digest"], digest.as_str());
    assert_eq!(ce.body["operator"], "admin");
    assert!(ce.body["id"].as_str().is_some_and(|id| id.starts_with("wharf-")));

    let m = slack.wait_until(10, |r| !r.is_empty()).await;
    assert_eq!(m[0].headers.get("content-type").map(String::as_str), Some("application/json"));
    let fields: Vec<&String> = m[0].body.as_object().expect("an object").keys().collect();
    assert_eq!(fields, vec!["text"], "Slack's message shape");
    let text = m[0].body["text"].as_str().expect("text");
    assert!(text.contains("event_type: PUSH_ARTIFACT") && text.contains("operator: admin"), "{text}");
    assert!(text.contains(&digest) && text.contains("```"), "the event data as a code block: {text}");

    // A pull storm: forty pulls of one tag make a handful of events, not forty.
    for _ in 0..40 {
        app.admin(Method::GET, "/v2/team/app/manifests/v1")
            .header("accept", OCI_MANIFEST)
            .call()
            .await
            .expect(StatusCode::OK);
    }
    app.state.auditor.flush().await;
    let got = plain.wait_until(10, |r| r.iter().any(|x| event_type(x) == "PULL_ARTIFACT")).await;
    let pulls: Vec<_> = got.iter().filter(|x| event_type(x) == "PULL_ARTIFACT").collect();
    assert!(!pulls.is_empty() && pulls.len() <= 5, "{} pull events", pulls.len());
    assert_eq!(pulls[0].body["event_data"]["resources"][0]["tag"], "v1");

    // A delete names the tags the artifact had.
    app.admin(Method::DELETE, &format!("/v2/team/app/manifests/{digest}"))
        .call()
        .await
        .expect(StatusCode::ACCEPTED);
    let got = plain.wait_until(10, |r| r.iter().any(|x| event_type(x) == "DELETE_ARTIFACT")).await;
    let del = got.iter().find(|x| event_type(x) == "DELETE_ARTIFACT").expect("delete");
    assert_eq!(del.body["event_data"]["resources"][0]["tag"], "v1");
    assert_eq!(cloud.received().len(), 1, "the CloudEvents policy subscribed to pushes only");
    // A receiver answering a page of text: reading it to the end lets the sender reuse its
    // connection.
    let (sent, opened) = (plain.received().len() as u64, plain.connections());
    assert!(opened < sent, "{sent} deliveries over {opened} connections");

    // The history: one execution per event, a task per target, each attempt in its log.
    let execs: Value = app
        .admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{p1}/executions"))
        .call()
        .await
        .json();
    let execs = execs.as_array().expect("executions");
    assert!(execs.len() >= 3, "{execs:?}");
    let first = execs.last().expect("oldest");
    assert_eq!(first["vendor_type"], "WEBHOOK");
    assert_eq!(first["vendor_id"], p1);
    assert_eq!(first["status"], "Success");
    assert_eq!(first["trigger"], "EVENT");
    assert_eq!(first["extra_attrs"]["event_type"], "PUSH_ARTIFACT");
    assert_eq!(first["metrics"]["task_count"], 1);
    assert_eq!(first["metrics"]["success_task_count"], 1);
    let eid = first["id"].as_i64().expect("id");
    let tasks: Value = app
        .admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{p1}/executions/{eid}/tasks"))
        .call()
        .await
        .json();
    assert_eq!(tasks[0]["status"], "Success");
    assert_eq!(tasks[0]["run_count"], 1);
    assert_eq!(tasks[0]["extra_attrs"]["address"], plain.url.as_str());
    let tid = tasks[0]["id"].as_i64().expect("task");
    let log = app
        .admin(
            Method::GET,
            &format!("/api/v2.0/projects/team/webhook/policies/{p1}/executions/{eid}/tasks/{tid}/log"),
        )
        .call()
        .await
        .text();
    assert!(log.contains("attempt 1: delivered: HTTP 200"), "{log}");
    assert!(!log.contains("s3cret"), "{log}");
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_every_event_when_it_comes_back() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let mut receiver = Receiver::start().await;
    let id = create(&app, "team", &policy("ci", &receiver.url, &["PUSH_ARTIFACT"], "Default")).await;
    receiver.stop();
    let mut digests = HashSet::new();
    for i in 0..5 {
        let (d, _, _) = app.push_image("team/app", &format!("v{i}")).await;
        digests.insert(d);
    }
    // Attempts fail meanwhile, each visible with its error.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let execs: Value = app
        .admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{id}/executions"))
        .call()
        .await
        .json();
    let eid = execs[0]["id"].as_i64().expect("id");
    assert_eq!(execs[0]["status"], "Running");
    let tasks: Value = app
        .admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{id}/executions/{eid}/tasks"))
        .call()
        .await
        .json();
    assert_eq!(tasks[0]["status"], "Pending", "{tasks}");
    assert!(tasks[0]["run_count"].as_i64().is_some_and(|n| n >= 1), "{tasks}");
    assert!(tasks[0]["status_message"].as_str().is_some_and(|m| m.contains("sending failed")), "{tasks}");

    // Back: everything arrives (at least once), and the history turns to Success.
    receiver.resume().await;
    let got = receiver
        .wait_until(30, |r| {
            let seen: HashSet<String> = r
                .iter()
                .filter_map(|x| x.body["event_data"]["resources"][0]["digest"].as_str().map(str::to_owned))
                .collect();
            digests.is_subset(&seen)
        })
        .await;
    assert!(got.len() >= 5);
    for _ in 0..100 {
        let execs: Value = app
            .admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{id}/executions"))
            .call()
            .await
            .json();
        if execs.as_array().is_some_and(|e| e.iter().all(|x| x["status"] == "Success")) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("executions did not all end in Success");
}

#[tokio::test]
async fn quota_retention_and_failing_receivers() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let receiver = Receiver::start().await;
    let ops = create(
        &app,
        "team",
        &policy("ops", &receiver.url, &["QUOTA_WARNING", "QUOTA_EXCEED", "TAG_RETENTION"], "Default"),
    )
    .await;
    let pid = project_id(&app, "team").await;
    app.push_image("team/app", "v1").await;
    let used = app.admin(Method::GET, &format!("/api/v2.0/quotas/{pid}")).call().await.json::<Value>()["used"]["storage"].as_i64().expect("used");
    // The next image (about the same size) takes it past 85 %, the one after over the limit.
    app.admin(Method::PUT, &format!("/api/v2.0/quotas/{pid}"))
        .json(&json!({"hard": {"storage": used * 2 + used / 10}}))
        .call()
        .await
        .expect(StatusCode::OK);
    app.push_image("team/app", "v2").await;
    let got = receiver.wait_until(10, |r| r.iter().any(|x| event_type(x) == "QUOTA_WARNING")).await;
    let warn = got.iter().find(|x| event_type(x) == "QUOTA_WARNING").expect("warning");
    assert!(
        warn.body["event_data"]["custom_attributes"]["Details"]
            .as_str()
            .is_some_and(|d| d.starts_with("quota usage reach 85%")),
        "{:?}",
        warn.body
    );
    assert_eq!(warn.body["event_data"]["repository"]["repo_full_name"], "team/app");
    // Over the limit: the push is refused, the event still goes out.
    let config = format!(r#"{{"n":"{}"}}"#, rand_hex());
    let layer = random_bytes(4096);
    app.admin(Method::PUT, &format!("/api/v2.0/quotas/{pid}"))
        .json(&json!({"hard": {"storage": -1}}))
        .call()
        .await
        .expect(StatusCode::OK);
    let cd = app.push_blob("team/app", config.as_bytes()).await;
    let ld = app.push_blob("team/app", &layer).await;
    app.admin(Method::PUT, &format!("/api/v2.0/quotas/{pid}"))
        .json(&json!({"hard": {"storage": used * 2 + used / 10}}))
        .call()
        .await
        .expect(StatusCode::OK);
    let m = image_manifest(&cd, config.len(), &[(&ld, layer.len())]);
    let res = app.put_manifest("team/app", "v3", OCI_MANIFEST, &m).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let got = receiver.wait_until(10, |r| r.iter().any(|x| event_type(x) == "QUOTA_EXCEED")).await;
    let exceed = got.iter().find(|x| event_type(x) == "QUOTA_EXCEED").expect("exceed");
    assert!(
        exceed.body["event_data"]["custom_attributes"]["Details"]
            .as_str()
            .is_some_and(|d| d.contains("will exceed the configured upper limit"))
    );
    assert_eq!(exceed.body["event_data"]["resources"][0]["digest"], sha256(m.as_bytes()).as_str());

    // A retention run reports what it did.
    let res = app
        .admin(Method::POST, "/api/v2.0/retentions")
        .json(&json!({"algorithm": "or", "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
            "scope": {"level": "project", "ref": pid},
            "rules": [{"action": "retain", "template": "latestPushedK", "params": {"latestPushedK": 1},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}]}))
        .call()
        .await;
    let policy_id = res.created_id();
    app.state.retention.run_now(policy_id, false).await.expect("run");
    let got = receiver.wait_until(10, |r| r.iter().any(|x| event_type(x) == "TAG_RETENTION")).await;
    let ret = &got.iter().find(|x| event_type(x) == "TAG_RETENTION").expect("retention").body["event_data"]["retention"];
    assert_eq!((ret["total"].as_i64(), ret["retained"].as_i64()), (Some(2), Some(1)), "{ret}");
    assert_eq!(ret["project_name"], "team");
    assert_eq!(ret["retention_policy_id"], policy_id);
    assert_eq!(ret["result"], "SUCCESS");
    assert_eq!(ret["deleted_artifact"][0]["name_tag"], "team/app:v1");
    assert_eq!(ret["retention_rule"][0]["template"], "latestPushedK");

    // A receiver answering 500 is retried; its attempts say so.
    receiver.answer(500);
    let before = receiver.received().len();
    app.admin(Method::PUT, &format!("/api/v2.0/quotas/{pid}"))
        .json(&json!({"hard": {"storage": 1}}))
        .call()
        .await
        .expect(StatusCode::OK);
    let res = app.put_manifest("team/app", "v4", OCI_MANIFEST, &m).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    receiver.wait_until(10, |r| r.len() >= before + 2).await;
    let execs: Value = app
        .admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{ops}/executions"))
        .call()
        .await
        .json();
    let newest = &execs[0];
    assert_eq!(
        (newest["status"].as_str(), newest["extra_attrs"]["event_type"].as_str()),
        (Some("Running"), Some("QUOTA_EXCEED"))
    );
    let eid = newest["id"].as_i64().expect("id");
    let tasks: Value = app
        .admin(Method::GET, &format!("/api/v2.0/projects/team/webhook/policies/{ops}/executions/{eid}/tasks"))
        .call()
        .await
        .json();
    assert!(tasks[0]["run_count"].as_i64().is_some_and(|n| n >= 2), "{tasks}");
    assert_eq!(tasks[0]["status_message"], "the receiver answered HTTP 500");
    // Answering again: the retry succeeds.
    receiver.answer(200);
    for _ in 0..100 {
        let tasks: Value = app
            .admin(
                Method::GET,
                &format!("/api/v2.0/projects/team/webhook/policies/{ops}/executions/{eid}/tasks"),
            )
            .call()
            .await
            .json();
        if tasks[0]["status"] == "Success" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the retry never succeeded");
}
