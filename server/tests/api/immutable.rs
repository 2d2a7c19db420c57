//! Tag immutability through Harbor's `/projects/{p}/immutabletagrules`, checked against what the
//! registry then refuses and keeps.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

fn rule(repos: &str, tags: &str) -> Value {
    json!({
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tags}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repos}]},
    })
}

async fn add_rule(app: &TestApp, project: &str, body: &Value) -> i64 {
    let res = app
        .admin(Method::POST, &format!("/api/v2.0/projects/{project}/immutabletagrules"))
        .json(body)
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    res.created_id()
}

#[tokio::test]
async fn rules_round_trip_in_harbors_shape_with_harbors_limits() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let id = add_rule(&app, "team", &rule("**", "v*")).await;
    let list: Value = app.admin(Method::GET, "/api/v2.0/projects/team/immutabletagrules").call().await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let r = &list[0];
    assert_eq!(r["id"], id);
    assert_eq!(r["action"], "immutable");
    assert_eq!(r["template"], "immutable_template");
    assert_eq!(r["disabled"], false);
    assert_eq!(r["tag_selectors"][0]["pattern"], "v*");
    assert_eq!(r["scope_selectors"]["repository"][0]["decoration"], "repoMatches");

    // The same rule twice: 409; a bad pattern or decoration: 400.
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/immutabletagrules")
        .json(&rule("**", "v*"))
        .call()
        .await;
    expect_error(res, StatusCode::CONFLICT, "CONFLICT").await;
    let mut bad = rule("**", "v*");
    bad["tag_selectors"][0]["decoration"] = json!("sometimes");
    let res = app.admin(Method::POST, "/api/v2.0/projects/team/immutabletagrules").json(&bad).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/immutabletagrules")
        .json(&rule("**", "["))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;

    // Fifteen at most.
    for i in 0..14 {
        add_rule(&app, "team", &rule("**", &format!("r{i}-*"))).await;
    }
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/immutabletagrules")
        .json(&rule("**", "x"))
        .call()
        .await;
    expect_error(res, StatusCode::CONFLICT, "CONFLICT").await;
    let res =
        app.admin(Method::GET, "/api/v2.0/projects/team/immutabletagrules?page=2&page_size=10").call().await;
    assert_eq!(header(&res, "x-total-count"), Some("15"));
    assert_eq!(res.json::<Value>().as_array().map(Vec::len), Some(5));

    // Disable with Harbor's portal body (id and flag only): the selectors stay.
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/projects/team/immutabletagrules/{id}"))
        .json(&json!({"id": id, "disabled": true}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let list: Value = app.admin(Method::GET, "/api/v2.0/projects/team/immutabletagrules").call().await.json();
    assert_eq!(list[0]["disabled"], true);
    assert_eq!(list[0]["tag_selectors"][0]["pattern"], "v*");
    let res =
        app.admin(Method::DELETE, &format!("/api/v2.0/projects/team/immutabletagrules/{id}")).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res =
        app.admin(Method::DELETE, &format!("/api/v2.0/projects/team/immutabletagrules/{id}")).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn maintainers_change_rules_developers_and_guests_only_read_them() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let path = "/api/v2.0/projects/team/immutabletagrules";
    for (role, may_change) in
        [(Role::Guest, false), (Role::Developer, false), (Role::Maintainer, true), (Role::ProjectAdmin, true)]
    {
        let who = app.as_member("team", role).await;
        assert_eq!(who.get(path).await.status(), StatusCode::OK, "{role:?} lists");
        let res = who.post(path, &rule("**", &format!("{}-*", role.name().to_lowercase()))).await;
        let expected = if may_change { StatusCode::CREATED } else { StatusCode::FORBIDDEN };
        assert_eq!(res.status(), expected, "{role:?}: {}", res.text());
    }
    // A private project is hidden from the anonymous, as everywhere in the API.
    assert_eq!(app.anonymous().get(path).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_immutable_tag_is_never_moved_or_deleted_by_anyone_until_the_rule_is_off() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let (first, _, _) = app.push_image("team/app", "v1.0").await;
    app.push_image("team/app", "latest").await;
    let id = add_rule(&app, "team", &rule("app", "v*")).await;

    // Pushing another image over v1.0: Harbor's 412 and words; the old image stays.
    let other = app.image_blobs("team/app").await.0;
    let res = app.put_manifest("team/app", "v1.0", OCI_MANIFEST, &other).await;
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = res.json();
    assert_eq!(body["errors"][0]["code"], "PRECONDITION");
    assert_eq!(
        body["errors"][0]["message"],
        "Failed to process request due to 'app:v1.0' configured as immutable."
    );
    assert_eq!(app.tag_digest("team/app", "v1.0").await.as_deref(), Some(first.as_str()));
    // The same image again changes nothing and is fine; a new matching tag may be created once;
    // a tag no rule matches still moves.
    let text = app
        .admin(Method::GET, "/v2/team/app/manifests/v1.0")
        .header("accept", OCI_MANIFEST)
        .call()
        .await
        .text();
    assert_eq!(app.put_manifest("team/app", "v1.0", OCI_MANIFEST, &text).await.status(), StatusCode::CREATED);
    assert_eq!(
        app.put_manifest("team/app", "v2.0", OCI_MANIFEST, &other).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.put_manifest("team/app", "latest", OCI_MANIFEST, &other).await.status(),
        StatusCode::CREATED
    );

    // Deletes: the tag on /v2, the artifact by digest on /v2 and the API, the tag and the
    // repository on the API. Administrators are refused like everyone.
    let res = app.admin(Method::DELETE, "/v2/team/app/manifests/v1.0").call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let res = app.admin(Method::DELETE, &format!("/v2/team/app/manifests/{first}")).call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let art = "/api/v2.0/projects/team/repositories/app/artifacts";
    let res = app.admin(Method::DELETE, &format!("{art}/{first}")).call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let res = app.admin(Method::DELETE, &format!("{art}/v1.0/tags/v1.0")).call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let res = app.admin(Method::DELETE, "/api/v2.0/projects/team/repositories/app").call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    // Moving it with the API's tag call is refused too.
    let other_digest = sha256(other.as_bytes());
    let res = app
        .admin(Method::POST, &format!("{art}/{other_digest}/tags"))
        .json(&json!({"name": "v1.0"}))
        .call()
        .await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    assert_eq!(app.tag_digest("team/app", "v1.0").await.as_deref(), Some(first.as_str()));

    // The listing says which tags are immutable.
    let list: Value = app
        .admin(Method::GET, &format!("{art}?with_tag=true&with_immutable_status=true"))
        .call()
        .await
        .json();
    let tags: Vec<(String, bool)> = list
        .as_array()
        .expect("artifacts")
        .iter()
        .flat_map(|a| a["tags"].as_array().cloned().unwrap_or_default())
        .map(|t| (t["name"].as_str().unwrap_or("").to_owned(), t["immutable"].as_bool().unwrap_or(false)))
        .collect();
    assert!(tags.contains(&("v1.0".into(), true)), "{tags:?}");
    assert!(tags.contains(&("v2.0".into(), true)), "{tags:?}");
    assert!(tags.contains(&("latest".into(), false)), "{tags:?}");

    // Disabled, the rule protects nothing.
    app.admin(Method::PUT, &format!("/api/v2.0/projects/team/immutabletagrules/{id}"))
        .json(&json!({"disabled": true}))
        .call()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        app.put_manifest("team/app", "v1.0", OCI_MANIFEST, &other).await.status(),
        StatusCode::CREATED
    );
    let res = app.admin(Method::DELETE, "/v2/team/app/manifests/v2.0").call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn two_pushes_racing_for_a_new_immutable_tag_cannot_both_win() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    add_rule(&app, "team", &rule("**", "release-*")).await;
    for round in 0..5 {
        let tag = format!("release-{round}");
        let a = app.image_blobs("team/app").await.0;
        let b = app.image_blobs("team/app").await.0;
        let (ra, rb) = tokio::join!(
            app.put_manifest("team/app", &tag, OCI_MANIFEST, &a),
            app.put_manifest("team/app", &tag, OCI_MANIFEST, &b)
        );
        let statuses = [ra.status(), rb.status()];
        assert!(
            statuses.contains(&StatusCode::CREATED) && statuses.contains(&StatusCode::PRECONDITION_FAILED),
            "round {round}: {statuses:?}"
        );
        let winner =
            if ra.status() == StatusCode::CREATED { sha256(a.as_bytes()) } else { sha256(b.as_bytes()) };
        assert_eq!(app.tag_digest("team/app", &tag).await, Some(winner), "round {round}");
    }
}

#[tokio::test]
async fn retention_keeps_artifacts_with_immutable_tags_and_says_why() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let (old, _, _) = app.push_image("team/app", "v1").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (mid, _, _) = app.push_image("team/app", "dev-1").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.push_image("team/app", "dev-2").await;
    add_rule(&app, "team", &rule("**", "v*")).await;
    let pid: i64 =
        app.admin(Method::GET, "/api/v2.0/projects/team").call().await.json::<Value>()["project_id"]
            .as_i64()
            .expect("id");
    let res = app
        .admin(Method::POST, "/api/v2.0/retentions")
        .json(&json!({"algorithm": "or", "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
            "scope": {"level": "project", "ref": pid},
            "rules": [{"action": "retain", "template": "latestPushedK", "params": {"latestPushedK": 1},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}]}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let policy = res.created_id();
    // Runs to its end.
    let run = app.state.retention.run_now(policy, false).await.expect("run");
    assert!(app.tag_digest("team/app", "v1").await.is_some(), "the immutable v1 stays");
    assert!(app.tag_digest("team/app", "dev-2").await.is_some(), "the newest stays");
    assert!(app.tag_digest("team/app", "dev-1").await.is_none(), "dev-1 goes");
    let tasks: Value = app
        .admin(Method::GET, &format!("/api/v2.0/retentions/{policy}/executions/{}/tasks", run.id))
        .call()
        .await
        .json();
    let tid = tasks[0]["id"].as_i64().expect("task");
    assert_eq!(tasks[0]["retained"], 2);
    let log = app
        .admin(Method::GET, &format!("/api/v2.0/retentions/{policy}/executions/{}/tasks/{tid}", run.id))
        .call()
        .await
        .text();
    let line = log.lines().find(|l| l.starts_with(&old)).expect("v1's line");
    assert!(line.contains("RETAIN") && line.contains("immutable"), "{line}");
    assert!(log.lines().any(|l| l.starts_with(&mid) && l.contains("DEL")), "{log}");
}

#[tokio::test]
async fn a_rule_changed_on_one_replica_binds_the_next_push_on_another() {
    let a = TestApp::start().await;
    let (db, store) = (a.state.config.database_url.clone(), a.state.config.storage_url.clone());
    let b = TestApp::start_with(move |_, s| {
        s.database_url = Some(db);
        s.storage_url = Some(store);
    })
    .await;
    a.create_project("team", false).await;
    b.push_image("team/app", "v1").await;
    let (v2, _, _) = b.push_image("team/app", "v2").await;
    let id = add_rule(&a, "team", &rule("**", "v1")).await;
    // B compiles and keeps the rules of this version; v2 is not protected yet.
    let (other, _) = b.image_blobs("team/app").await;
    expect_error(
        b.put_manifest("team/app", "v1", OCI_MANIFEST, &other).await,
        StatusCode::PRECONDITION_FAILED,
        "PRECONDITION",
    )
    .await;
    b.put_manifest("team/app", "v2", OCI_MANIFEST, &other).await.expect(StatusCode::CREATED);
    b.put_manifest(
        "team/app",
        "v2",
        OCI_MANIFEST,
        &b.admin(Method::GET, &format!("/v2/team/app/manifests/{v2}"))
            .header("accept", OCI_MANIFEST)
            .call()
            .await
            .text(),
    )
    .await
    .expect(StatusCode::CREATED);
    // A widens the rule: B's very next push over v2 is refused, and its delete too.
    a.admin(Method::PUT, &format!("/api/v2.0/projects/team/immutabletagrules/{id}"))
        .json(&rule("**", "v*"))
        .call()
        .await
        .expect(StatusCode::OK);
    let res = b.put_manifest("team/app", "v2", OCI_MANIFEST, &other).await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let res = b.admin(Method::DELETE, "/v2/team/app/manifests/v2").call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    assert_eq!(b.tag_digest("team/app", "v2").await.as_deref(), Some(v2.as_str()));
    // A switches it off: B moves v2 at once.
    a.admin(Method::PUT, &format!("/api/v2.0/projects/team/immutabletagrules/{id}"))
        .json(&json!({"id": id, "disabled": true}))
        .call()
        .await
        .expect(StatusCode::OK);
    b.put_manifest("team/app", "v2", OCI_MANIFEST, &other).await.expect(StatusCode::CREATED);
}
