//! Labels: Harbor's `/api/v2.0/labels` and artifact labels, with who may do what, and the
//! artifact listing's `q=labels=` filter.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

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
async fn global_and_project_labels_go_on_artifacts_and_filter_the_listing() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    app.create_project("other", false).await;
    let pid = project_id(&app, "team").await;
    let other = project_id(&app, "other").await;
    let res = app
        .admin(Method::POST, "/api/v2.0/labels")
        .json(&json!({"name": "prod", "color": "#ff0000", "scope": "g"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let prod = res.created_id();
    let res =
        app.admin(Method::POST, "/api/v2.0/labels").json(&json!({"name": "prod", "scope": "g"})).call().await;
    expect_error(res, StatusCode::CONFLICT, "CONFLICT").await;
    let res = app
        .admin(Method::POST, "/api/v2.0/labels")
        .json(&json!({"name": "x", "color": "red", "scope": "g"}))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;

    // Maintainers make project labels; developers may not, but may label artifacts.
    let maintainer = app.as_member("team", Role::Maintainer).await;
    let res = maintainer
        .post(
            "/api/v2.0/labels",
            &json!({"name": "qa-ok", "color": "#00aa00", "scope": "p", "project_id": pid}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let qa = res.created_id();
    let developer = app.as_member("team", Role::Developer).await;
    let res = developer
        .post("/api/v2.0/labels", &json!({"name": "dev-made", "scope": "p", "project_id": pid}))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        developer.post("/api/v2.0/labels", &json!({"name": "g2", "scope": "g"})).await.status(),
        StatusCode::FORBIDDEN
    );
    let res = app
        .admin(Method::POST, "/api/v2.0/labels")
        .json(&json!({"name": "theirs", "scope": "p", "project_id": other}))
        .call()
        .await;
    let theirs = res.created_id();

    let (d1, _, _) = app.push_image("team/app", "v1").await;
    let (d2, _, _) = app.push_image("team/app", "v2").await;
    let art = "/api/v2.0/projects/team/repositories/app/artifacts";
    for (reference, label) in [(&d1, prod), (&d1, qa), (&d2, prod)] {
        let res = developer.post(&format!("{art}/{reference}/labels"), &json!({"id": label})).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    }
    let res = developer.post(&format!("{art}/{d1}/labels"), &json!({"id": prod})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "a label goes on once");
    let res = developer.post(&format!("{art}/{d1}/labels"), &json!({"id": theirs})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "another project's label");
    let guest = app.as_member("team", Role::Guest).await;
    assert_eq!(
        guest.post(&format!("{art}/{d2}/labels"), &json!({"id": qa})).await.status(),
        StatusCode::FORBIDDEN
    );

    // The listing shows them, and filters on all the labels asked for.
    let a: Value = app.admin(Method::GET, &format!("{art}/{d1}")).call().await.json();
    let names: Vec<&str> =
        a["labels"].as_array().expect("labels").iter().filter_map(|l| l["name"].as_str()).collect();
    assert_eq!(names, vec!["prod", "qa-ok"]);
    assert_eq!(a["labels"][0]["color"], "#ff0000");
    let both = app.admin(Method::GET, &format!("{art}?q=labels%3D%28{prod}%20{qa}%29")).call().await;
    assert_eq!(header(&both, "x-total-count"), Some("1"));
    assert_eq!(both.json::<Value>()[0]["digest"], d1.as_str());
    let any_prod = app.admin(Method::GET, &format!("{art}?q=labels%3D{prod}")).call().await;
    assert_eq!(header(&any_prod, "x-total-count"), Some("2"));
    let res = app.admin(Method::GET, &format!("{art}?q=labels%3Dprod")).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;

    // Lists by scope; off again; deleting a label takes it off everything.
    let list: Value = developer.get(&format!("/api/v2.0/labels?scope=p&project_id={pid}")).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let globals: Value = developer.get("/api/v2.0/labels?scope=g").await.json();
    assert_eq!(globals[0]["name"], "prod");
    assert_eq!(app.anonymous().get("/api/v2.0/labels?scope=g").await.status(), StatusCode::UNAUTHORIZED);
    let res = developer.delete(&format!("{art}/{d1}/labels/{qa}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = developer.delete(&format!("{art}/{d1}/labels/{qa}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = maintainer
        .send_json(
            Method::PUT,
            &format!("/api/v2.0/labels/{qa}"),
            &json!({"name": "qa-passed", "color": "#00bb00"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(maintainer.delete(&format!("/api/v2.0/labels/{prod}")).await.status(), StatusCode::FORBIDDEN);
    app.admin(Method::DELETE, &format!("/api/v2.0/labels/{prod}")).call().await.expect(StatusCode::OK);
    let a: Value = app.admin(Method::GET, &format!("{art}/{d2}")).call().await.json();
    assert_eq!(a["labels"], json!([]));
}

async fn label(app: &TestApp, name: &str) -> i64 {
    let res =
        app.admin(Method::POST, "/api/v2.0/labels").json(&json!({"name": name, "scope": "g"})).call().await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    res.created_id()
}

async fn attach(app: &TestApp, repo: &str, reference: &str, label: i64) {
    let (project, path) = repo.split_once('/').expect("project/repo");
    let url = format!("/api/v2.0/projects/{project}/repositories/{path}/artifacts/{reference}/labels");
    app.admin(Method::POST, &url).json(&json!({"id": label})).call().await.expect(StatusCode::OK);
}

fn with_labels(names: &str) -> Value {
    json!({"kind": "label", "decoration": "withLabels", "pattern": names})
}

#[tokio::test]
async fn labels_select_in_retention_immutability_and_replication() {
    let site_b = TestApp::start().await;
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    let release = label(&app, "release").await;
    let qa = label(&app, "qa").await;

    // Retention: "always retain what is labelled qa" keeps exactly the labelled artifact.
    app.push_image("team/keep", "k1").await;
    let (k2, _, _) = app.push_image("team/keep", "k2").await;
    app.push_image("team/keep", "k3").await;
    attach(&app, "team/keep", &k2, qa).await;
    let res = app
        .admin(Method::POST, "/api/v2.0/retentions")
        .json(&json!({"algorithm": "or", "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
            "scope": {"level": "project", "ref": pid},
            "rules": [{"action": "retain", "template": "always",
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}, with_labels("qa")],
                "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "keep"}]}}]}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let policy = res.created_id();
    let bad = app
        .admin(Method::PUT, &format!("/api/v2.0/retentions/{policy}"))
        .json(&json!({"rules": [{"action": "retain", "template": "always",
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"},
                                  {"kind": "label", "decoration": "sometimes", "pattern": "qa"}],
                "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}],
              "scope": {"level": "project", "ref": pid}}))
        .call()
        .await;
    expect_error(bad, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    app.state.retention.run_now(policy, false).await.expect("run");
    assert_eq!(app.tag_digest("team/keep", "k2").await.as_deref(), Some(k2.as_str()));
    assert_eq!(app.tag_digest("team/keep", "k1").await, None);
    assert_eq!(app.tag_digest("team/keep", "k3").await, None);

    // Immutability: tags of artifacts labelled release are frozen; others move freely.
    let (d1, _, _) = app.push_image("team/app", "v1").await;
    let (d2, _, _) = app.push_image("team/app", "v2").await;
    attach(&app, "team/app", &d1, release).await;
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/immutabletagrules")
        .json(&json!({"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}, with_labels("release")],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "app"}]}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let (other, _) = app.image_blobs("team/app").await;
    let res = app.put_manifest("team/app", "v1", OCI_MANIFEST, &other).await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let res = app.admin(Method::DELETE, "/v2/team/app/manifests/v1").call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let res = app.admin(Method::DELETE, &format!("/v2/team/app/manifests/{d1}")).call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    let res = app.admin(Method::DELETE, "/api/v2.0/projects/team/repositories/app").call().await;
    expect_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION").await;
    assert_eq!(app.tag_digest("team/app", "v1").await.as_deref(), Some(d1.as_str()));
    assert_eq!(app.put_manifest("team/app", "v2", OCI_MANIFEST, &other).await.status(), StatusCode::CREATED);
    let other_digest = sha256(other.as_bytes());
    assert_eq!(app.tag_digest("team/app", "v2").await.as_deref(), Some(other_digest.as_str()));
    let art = "/api/v2.0/projects/team/repositories/app/artifacts";
    let list: Value = app
        .admin(Method::GET, &format!("{art}?with_tag=true&with_immutable_status=true"))
        .call()
        .await
        .json();
    let immutable: Vec<(String, bool)> = list
        .as_array()
        .expect("artifacts")
        .iter()
        .flat_map(|a| a["tags"].as_array().cloned().unwrap_or_default())
        .map(|t| (t["name"].as_str().unwrap_or("").to_owned(), t["immutable"].as_bool().unwrap_or(false)))
        .collect();
    assert!(
        immutable.contains(&("v1".into(), true)) && immutable.contains(&("v2".into(), false)),
        "{immutable:?}"
    );
    // Taking the label off unfreezes the tag.
    app.admin(Method::DELETE, &format!("{art}/{d1}/labels/{release}")).call().await.expect(StatusCode::OK);
    assert_eq!(
        app.admin(Method::DELETE, "/v2/team/app/manifests/v1").call().await.status(),
        StatusCode::ACCEPTED
    );
    app.put_manifest(
        "team/app",
        "v1",
        OCI_MANIFEST,
        &app.admin(Method::GET, &format!("/v2/team/app/manifests/{d2}"))
            .header("accept", OCI_MANIFEST)
            .call()
            .await
            .text(),
    )
    .await
    .expect(StatusCode::CREATED);

    // Replication: a label filter copies only the labelled artifacts.
    attach(&app, "team/app", &d2, release).await;
    let res = app
        .as_admin()
        .post(
            "/api/v2.0/registries",
            &json!({"name": "site-b", "url": site_b.base, "type": "harbor",
                    "credential": {"access_key": "admin", "access_secret": ADMIN_PASSWORD}}),
        )
        .await;
    let endpoint = res.expect(StatusCode::CREATED).created_id();
    let res = app
        .as_admin()
        .post(
            "/api/v2.0/replication/policies",
            &json!({"name": "releases", "dest_registry": {"id": endpoint}, "trigger": {"type": "manual"},
                    "filters": [{"type": "name", "value": "team/**"},
                                {"type": "label", "value": ["release"], "decoration": "matches"}]}),
        )
        .await;
    let policy = res.expect(StatusCode::CREATED).created_id();
    let res = app.as_admin().post("/api/v2.0/replication/executions", &json!({"policy_id": policy})).await;
    let eid = res.expect(StatusCode::CREATED).created_id();
    let mut status = Value::Null;
    for _ in 0..400 {
        let e: Value = app.as_admin().get(&format!("/api/v2.0/replication/executions/{eid}")).await.json();
        if e["status"] != "InProgress" && e["status"] != "Pending" {
            status = e;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(status["status"], "Succeed", "{status}");
    assert_eq!(status["total"], 1, "only v1 (now d2, labelled) goes: {status}");
    assert_eq!(site_b.tag_digest("team/app", "v1").await.as_deref(), Some(d2.as_str()));
    assert_eq!(site_b.tag_digest("team/app", "v2").await, None, "unlabelled");
    assert_eq!(site_b.tag_digest("team/keep", "k2").await, None, "labelled qa, not release");
}
