//! Project quotas: Harbor's `/api/v2.0/quotas` and `storage_limit`, usage counted as Harbor
//! counts it, pushes over the limit refused with nothing stored, exact under concurrency, and
//! repaired by `fsck`.

use frontend::components::human_size;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

async fn quota(app: &TestApp, project_id: i64) -> Value {
    let res = app.admin(Method::GET, &format!("/api/v2.0/quotas/{project_id}")).call().await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    res.json()
}

async fn used(app: &TestApp, project_id: i64) -> i64 {
    quota(app, project_id).await["used"]["storage"].as_i64().expect("used")
}

async fn set_limit(app: &TestApp, project_id: i64, bytes: i64) {
    app.admin(Method::PUT, &format!("/api/v2.0/quotas/{project_id}"))
        .json(&json!({"hard": {"storage": bytes}}))
        .call()
        .await
        .expect(StatusCode::OK);
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

/// An image's parts, uploaded to `repo`: (manifest text, config size, layer size).
async fn upload_image(app: &TestApp, repo: &str, layer: &[u8]) -> (String, usize) {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","n":"{}"}}"#, rand_hex());
    let cd = app.push_blob(repo, config.as_bytes()).await;
    let ld = app.push_blob(repo, layer).await;
    (image_manifest(&cd, config.len(), &[(&ld, layer.len())]), config.len())
}

#[tokio::test]
async fn quotas_in_harbors_shape_for_administrators_with_limits_at_creation() {
    let app =
        TestApp::start_with(|_, s| s.storage_per_project = Some(wharf::config::HumanSize(1 << 30))).await;
    let res = app
        .admin(Method::POST, "/api/v2.0/projects")
        .json(&json!({"project_name": "capped", "storage_limit": 5_000_000}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let capped = res.created_id();
    let q = quota(&app, capped).await;
    assert_eq!(q["id"], capped);
    assert_eq!(q["ref"]["name"], "capped");
    assert_eq!(q["ref"]["owner_name"], "admin");
    assert_eq!(q["hard"], json!({"storage": 5_000_000}));
    assert_eq!(q["used"], json!({"storage": 0}));
    assert!(q["creation_time"].as_str().is_some_and(|t| t.ends_with('Z')));

    // Without a limit, a new project gets the configured default; a non-administrator's
    // storage_limit is ignored, as in Harbor.
    app.create_user("dev", "Passw0rd!").await;
    let res = app
        .caller("dev", "Passw0rd!")
        .post("/api/v2.0/projects", &json!({"project_name": "mine", "storage_limit": -1}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let mine = res.created_id();
    assert_eq!(quota(&app, mine).await["hard"]["storage"], 1 << 30);

    let list = app
        .admin(Method::GET, &format!("/api/v2.0/quotas?reference=project&reference_id={mine}"))
        .call()
        .await;
    assert_eq!(header(&list, "x-total-count"), Some("1"));
    let all = app.admin(Method::GET, "/api/v2.0/quotas?page_size=100").call().await;
    assert!(all.json::<Value>().as_array().is_some_and(|a| a.len() >= 3), "library, capped, mine");

    // System administrators only; bad limits are 400.
    let outsider = app.caller("dev", "Passw0rd!");
    assert_eq!(outsider.get("/api/v2.0/quotas").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        outsider
            .send_json(Method::PUT, &format!("/api/v2.0/quotas/{mine}"), &json!({"hard": {"storage": -1}}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/quotas/{capped}"))
        .json(&json!({"hard": {"storage": -7}}))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/quotas/{capped}"))
        .json(&json!({"hard": {"count": 3}}))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let res = app.admin(Method::GET, "/api/v2.0/quotas/999999").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    set_limit(&app, capped, -1).await;
    assert_eq!(quota(&app, capped).await["hard"]["storage"], -1);

    // The project summary carries the quota for the project's members.
    app.add_member("mine", app.create_user("g1", "Passw0rd!").await, Role::Guest).await;
    let s: Value = app.caller("dev", "Passw0rd!").get("/api/v2.0/projects/mine/summary").await.json();
    assert_eq!(s["project_admin_count"], 1);
    assert_eq!(s["guest_count"], 1);
    assert_eq!(s["quota"]["hard"]["storage"], 1 << 30);
    assert_eq!(s["quota"]["used"]["storage"], 0);
}

#[tokio::test]
async fn usage_counts_each_blob_once_per_project_and_drops_with_deletes() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    let layer = random_bytes(100_000);
    let (a, config_a) = upload_image(&app, "team/one", &layer).await;
    assert_eq!(used(&app, pid).await, 0, "uploads alone are not counted");
    app.put_manifest("team/one", "a", OCI_MANIFEST, &a).await.expect(StatusCode::CREATED);
    let image_a = (a.len() + config_a + layer.len()) as i64;
    assert_eq!(used(&app, pid).await, image_a);

    // Another image sharing the layer, in another repository: only its manifest and config.
    let (b, config_b) = upload_image(&app, "team/two", &layer).await;
    app.put_manifest("team/two", "b", OCI_MANIFEST, &b).await.expect(StatusCode::CREATED);
    let image_b_own = (b.len() + config_b) as i64;
    assert_eq!(used(&app, pid).await, image_a + image_b_own);
    // The same artifact in a second repository, and a second tag: nothing more.
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/repositories/two/artifacts?from=team/one:a")
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    app.put_manifest("team/one", "again", OCI_MANIFEST, &a).await.expect(StatusCode::CREATED);
    assert_eq!(used(&app, pid).await, image_a + image_b_own);

    // Deleting one copy of a keeps the bytes counted (the other copy holds them); deleting the
    // repository holding the rest brings it down at once, no garbage collection needed.
    let a_digest = sha256(a.as_bytes());
    app.admin(Method::DELETE, &format!("/v2/team/one/manifests/{a_digest}"))
        .call()
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(used(&app, pid).await, image_a + image_b_own);
    let b_digest = sha256(b.as_bytes());
    app.admin(Method::DELETE, &format!("/v2/team/two/manifests/{b_digest}"))
        .call()
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(used(&app, pid).await, image_a);
    app.admin(Method::DELETE, "/api/v2.0/projects/team/repositories/two").call().await.expect(StatusCode::OK);
    assert_eq!(used(&app, pid).await, 0);
    let report = app.state.gc.fsck(fsck_params(false)).await.expect("fsck");
    assert!(report.clean(), "{:?}", report.problems);
}

fn fsck_params(repair: bool) -> wharf::gc::fsck::FsckParams {
    wharf::gc::fsck::FsckParams { repair, verify_content: false, workers: 2 }
}

#[tokio::test]
async fn a_push_over_the_limit_is_refused_in_harbors_words_and_stores_nothing() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    app.push_image("team/app", "v1").await;
    let before = used(&app, pid).await;
    set_limit(&app, pid, before + 10_000).await;

    // A layer that cannot fit is refused when it is uploaded.
    let big = random_bytes(50_000);
    let digest = sha256(&big);
    let res = app
        .admin(Method::POST, &format!("/v2/team/app/blobs/uploads/?digest={digest}"))
        .body(big.clone())
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    let expected = format!(
        "adding 48.8 KiB of storage resource, which when updated to current usage of {} will exceed the configured upper limit of {}.",
        human_size(before),
        human_size(before + 10_000)
    );
    assert_eq!(body["errors"][0]["message"], expected.as_str());
    assert_eq!(
        app.admin(Method::HEAD, &format!("/v2/team/app/blobs/{digest}")).call().await.status(),
        StatusCode::NOT_FOUND
    );

    // Blobs uploaded while there was room, then the limit lowered: the manifest is the gate.
    set_limit(&app, pid, -1).await;
    let (m, _) = upload_image(&app, "team/app", &big).await;
    set_limit(&app, pid, before + 10_000).await;
    let res = app.put_manifest("team/app", "v2", OCI_MANIFEST, &m).await;
    expect_error(res, StatusCode::FORBIDDEN, "DENIED").await;
    assert_eq!(used(&app, pid).await, before, "nothing was counted");
    assert_eq!(
        app.admin(Method::HEAD, "/v2/team/app/manifests/v2")
            .header("accept", OCI_MANIFEST)
            .call()
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Pushes that add nothing still work at the limit: another tag on a stored image.
    set_limit(&app, pid, before).await;
    let v1 = app
        .admin(Method::GET, "/v2/team/app/manifests/v1")
        .header("accept", OCI_MANIFEST)
        .call()
        .await
        .text();
    app.put_manifest("team/app", "v1-again", OCI_MANIFEST, &v1).await.expect(StatusCode::CREATED);
    assert_eq!(used(&app, pid).await, before);
}

#[tokio::test]
async fn parallel_pushes_cannot_overshoot_the_limit_and_usage_stays_exact() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    let mut manifests = Vec::new();
    let mut each = 0;
    for i in 0..8 {
        let (m, config) = upload_image(&app, &format!("team/r{i}"), &random_bytes(20_000)).await;
        each = (m.len() + config + 20_000) as i64;
        manifests.push((format!("team/r{i}"), m));
    }
    // Room for exactly three of the eight images (they are the same size).
    set_limit(&app, pid, 3 * each + each / 2).await;
    let pushes = manifests.iter().map(|(repo, m)| app.put_manifest(repo, "v1", OCI_MANIFEST, m));
    let answers = futures::future::join_all(pushes).await;
    let created = answers.iter().filter(|a| a.status() == StatusCode::CREATED).count();
    let denied = answers.iter().filter(|a| a.status() == StatusCode::FORBIDDEN).count();
    assert_eq!((created, denied), (3, 5), "{:?}", answers.iter().map(|a| a.status()).collect::<Vec<_>>());
    assert_eq!(used(&app, pid).await, 3 * each);
    let report = app.state.gc.fsck(fsck_params(false)).await.expect("fsck");
    assert!(report.clean(), "{:?}", report.problems);
}

#[tokio::test]
async fn fsck_finds_and_repairs_usage_that_does_not_match_the_artifacts() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let pid = project_id(&app, "team").await;
    app.push_image("team/app", "v1").await;
    let right = used(&app, pid).await;
    // As a restore of an older backup could leave it.
    sqlx::query("UPDATE project_quotas SET used = 12345 WHERE project_id = $1")
        .bind(pid)
        .execute(app.state.db.writer())
        .await
        .expect("update");
    sqlx::query("DELETE FROM project_blobs WHERE project_id = $1")
        .bind(pid)
        .execute(app.state.db.writer())
        .await
        .expect("delete");
    let report = app.state.gc.fsck(fsck_params(false)).await.expect("fsck");
    let problem = report
        .problems
        .iter()
        .find(|p| p.kind == wharf::gc::fsck::ProblemKind::QuotaDrift)
        .expect("drift found");
    assert!(problem.detail.contains("stored usage 12345 bytes"), "{}", problem.detail);
    assert!(!report.clean());
    let report = app.state.gc.fsck(fsck_params(true)).await.expect("fsck --repair");
    assert!(report.clean(), "{:?}", report.problems);
    assert_eq!(used(&app, pid).await, right);
    let report = app.state.gc.fsck(fsck_params(false)).await.expect("fsck");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
