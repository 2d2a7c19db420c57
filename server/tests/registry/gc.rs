//! Garbage collection: exactly the unreferenced blobs go (rows and bytes), the grace window and
//! untagged rules are respected, the Harbor-shaped API works, and concurrent pushes survive.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::config::HumanDuration;
use wharf::storage::StorageKey;

use crate::support::*;

async fn start_with_grace(grace: &str) -> TestApp {
    let grace: HumanDuration = grace.parse().expect("duration");
    TestApp::start_with(|_, s| s.gc_grace = Some(grace)).await
}

/// Starts a collection through the API and waits for it to end; returns the run.
async fn run_gc(app: &TestApp, params: Value) -> Value {
    let res = app
        .admin(Method::POST, "/api/v2.0/system/gc/schedule")
        .json(&json!({"schedule": {"type": "Manual"}, "parameters": params}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text());
    let location = header(&res, "location").expect("location").to_owned();
    for _ in 0..600 {
        let run: Value = app.admin(Method::GET, &location).call().await.json();
        if !matches!(run["job_status"].as_str(), Some("Pending" | "Running")) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("garbage collection did not end");
}

async fn blob_exists(app: &TestApp, digest: &str) -> bool {
    match app.state.store.size(&StorageKey::Blob(digest.parse().expect("digest"))).await {
        Ok(_) => true,
        Err(wharf::storage::StorageError::NotFound(_)) => false,
        Err(e) => panic!("storage: {e}"),
    }
}

async fn blob_rows(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT digest, status FROM blobs ORDER BY digest")
        .fetch_all(app.state.db.reader())
        .await
        .expect("blobs")
}

async fn head_blob(app: &TestApp, repo: &str, digest: &str) -> StatusCode {
    app.admin(Method::HEAD, &format!("/v2/{repo}/blobs/{digest}")).call().await.status()
}

/// Every blob row is live with its bytes, and every stored blob has a row.
async fn assert_accounted(app: &TestApp) {
    let rows = blob_rows(app).await;
    for (digest, status) in &rows {
        assert_eq!(status, "live", "{digest}");
        assert!(blob_exists(app, digest).await, "row without bytes: {digest}");
    }
    let mut stored = 0;
    let listed = list_blob_keys(app).await;
    for d in &listed {
        assert!(rows.iter().any(|(r, _)| r == d), "bytes without a row: {d}");
        stored += 1;
    }
    assert_eq!(stored, rows.len(), "stored objects vs rows");
}

async fn list_blob_keys(app: &TestApp) -> Vec<String> {
    app.state.store.list_blobs().await.expect("list blobs").into_iter().map(|d| d.to_string()).collect()
}

#[tokio::test]
async fn gc_frees_exactly_the_unreferenced_blobs() {
    let app = start_with_grace("0s").await;
    let (_, kept_manifest, kept_layer) = app.push_image("library/keep", "v1").await;
    let stray = random_bytes(3000);
    let stray_digest = app.push_blob("library/keep", &stray).await;
    let (gone_digest, gone_manifest, gone_layer) = app.push_image("library/gone", "v1").await;
    let gone_config = serde_json::from_str::<Value>(&gone_manifest).expect("json")["config"]["digest"]
        .as_str()
        .expect("config")
        .to_owned();
    let gone_config_size = serde_json::from_str::<Value>(&gone_manifest).expect("json")["config"]["size"]
        .as_i64()
        .expect("size");
    let res = app.admin(Method::DELETE, &format!("/v2/library/gone/manifests/{gone_digest}")).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);

    let run = run_gc(&app, json!({})).await;
    assert_eq!(run["job_status"], "Success", "{run}");
    assert_eq!(run["job_kind"], "MANUAL");
    assert_eq!(run["job_name"], "GARBAGE_COLLECTION");
    assert_eq!(run["blobs_deleted"], 3, "stray, gone layer, gone config: {run}");
    assert_eq!(run["bytes_freed"].as_i64(), Some(3000 + 4096 + gone_config_size));

    for d in [&stray_digest, &gone_layer, &gone_config] {
        assert!(!blob_exists(&app, d).await, "{d} bytes still stored");
        assert_eq!(head_blob(&app, "library/keep", d).await, StatusCode::NOT_FOUND);
    }
    let kept_config = serde_json::from_str::<Value>(&kept_manifest).expect("json")["config"]["digest"]
        .as_str()
        .expect("config")
        .to_owned();
    for d in [&kept_layer, &kept_config] {
        assert!(blob_exists(&app, d).await, "{d} was referenced");
        let res = app.admin(Method::GET, &format!("/v2/library/keep/blobs/{d}")).call().await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(&sha256(res.bytes()), d);
    }
    assert_accounted(&app).await;

    let log = app.admin(Method::GET, &format!("/api/v2.0/system/gc/{}/log", run["id"])).call().await;
    assert_eq!(header(&log, "content-type"), Some("text/plain; charset=utf-8"));
    let log = log.text();
    assert!(log.contains("garbage collection started") && log.contains("3 blobs"), "{log}");

    // A second run finds nothing, and the history lists both, newest first.
    let again = run_gc(&app, json!({"workers": 2})).await;
    assert_eq!((again["job_status"].as_str(), again["blobs_deleted"].as_i64()), (Some("Success"), Some(0)));
    let res = app.admin(Method::GET, "/api/v2.0/system/gc?page_size=1").call().await;
    assert_eq!(header(&res, "x-total-count"), Some("2"));
    let history: Value = res.json();
    assert_eq!(history[0]["id"], again["id"]);
    assert!(history[0]["job_parameters"].as_str().expect("params").contains("\"workers\":2"));
}

/// Makes blob `digest` look last used two hours ago.
async fn age_blob(app: &TestApp, digest: &str) {
    sqlx::query("UPDATE blobs SET touched_at = touched_at - 7200000 WHERE digest = $1")
        .bind(digest)
        .execute(app.state.db.writer())
        .await
        .expect("age");
}

#[tokio::test]
async fn the_grace_window_spares_recently_pushed_blobs() {
    let app = start_with_grace("1h").await;
    let fresh = app.push_blob("library/a", &random_bytes(100)).await;
    let old = app.push_blob("library/a", &random_bytes(200)).await;
    // The second blob was last used two hours ago.
    age_blob(&app, &old).await;
    let dry = run_gc(&app, json!({"dry_run": true})).await;
    assert_eq!((dry["blobs_deleted"].as_i64(), dry["bytes_freed"].as_i64()), (Some(1), Some(200)), "{dry}");
    assert!(dry["dry_run"].as_bool().expect("dry"));
    assert!(blob_exists(&app, &old).await, "a dry run deletes nothing");

    let run = run_gc(&app, json!({})).await;
    assert_eq!(run["blobs_deleted"], 1, "{run}");
    assert!(!blob_exists(&app, &old).await);
    assert!(blob_exists(&app, &fresh).await, "inside the grace window");
    assert_eq!(head_blob(&app, "library/a", &fresh).await, StatusCode::OK);
}

#[tokio::test]
async fn a_head_restarts_the_grace_window() {
    let app = start_with_grace("1h").await;
    let d = app.push_blob("library/a", &random_bytes(100)).await;
    age_blob(&app, &d).await;
    // A pushing client checks the layer exists before it pushes a manifest using it.
    assert_eq!(head_blob(&app, "library/a", &d).await, StatusCode::OK);
    let run = run_gc(&app, json!({})).await;
    assert_eq!(run["blobs_deleted"], 0, "{run}");
    assert!(blob_exists(&app, &d).await);
}

/// Pushes `manifest` by digest (untagged); returns the digest.
async fn push_untagged(app: &TestApp, repo: &str, media_type: &str, manifest: &str) -> String {
    let digest = sha256(manifest.as_bytes());
    let res = app.put_manifest(repo, &digest, media_type, manifest).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text());
    digest
}

async fn manifest_status(app: &TestApp, repo: &str, reference: &str) -> StatusCode {
    app.admin(Method::HEAD, &format!("/v2/{repo}/manifests/{reference}"))
        .header("accept", format!("{OCI_MANIFEST}, {OCI_INDEX}"))
        .call()
        .await
        .status()
}

#[tokio::test]
async fn delete_untagged_spares_index_children_and_referrers_of_present_subjects() {
    let app = start_with_grace("0s").await;
    let repo = "library/multi";
    // A tagged index over two untagged platform images.
    let (child_a, _, _) = app.push_image(repo, "tmp-a").await;
    let (child_b, _, _) = app.push_image(repo, "tmp-b").await;
    for t in ["tmp-a", "tmp-b"] {
        let res = app.admin(Method::DELETE, &format!("/v2/{repo}/manifests/{t}")).call().await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{child_a}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{child_b}","size":1,"platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#
    );
    let res = app.put_manifest(repo, "v1", OCI_INDEX, &index).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // A tagged image with an untagged signature-like referrer.
    let (signed, signed_manifest, _) = app.push_image(repo, "signed").await;
    let signed_size = signed_manifest.len();
    let empty = app.push_blob(repo, b"{}").await;
    let referrer = |subject: &str, size: usize| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/example.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":{size}}},"annotations":{{"n":"{}"}}}}"#,
            rand_hex()
        )
    };
    let kept_referrer = push_untagged(&app, repo, OCI_MANIFEST, &referrer(&signed, signed_size)).await;
    // An untagged image with its own referrer: both go, the referrer on the second pass.
    let (orphan, orphan_manifest, orphan_layer) = app.push_image(repo, "tmp-c").await;
    let res = app.admin(Method::DELETE, &format!("/v2/{repo}/manifests/tmp-c")).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let orphan_referrer =
        push_untagged(&app, repo, OCI_MANIFEST, &referrer(&orphan, orphan_manifest.len())).await;

    let dry = run_gc(&app, json!({"dry_run": true, "delete_untagged": true})).await;
    assert_eq!(dry["manifests_deleted"], 2, "{dry}");
    assert_eq!(manifest_status(&app, repo, &orphan).await, StatusCode::OK, "a dry run deletes nothing");

    let run = run_gc(&app, json!({"delete_untagged": true})).await;
    assert_eq!(run["job_status"], "Success", "{run}");
    assert_eq!(run["manifests_deleted"], 2, "{run}");
    assert_eq!(run["blobs_deleted"], dry["blobs_deleted"], "the dry run counted what the run deleted");
    for kept in [&child_a, &child_b, &signed, &kept_referrer] {
        assert_eq!(manifest_status(&app, repo, kept).await, StatusCode::OK, "{kept}");
    }
    assert_eq!(manifest_status(&app, repo, "v1").await, StatusCode::OK);
    for gone in [&orphan, &orphan_referrer] {
        assert_eq!(manifest_status(&app, repo, gone).await, StatusCode::NOT_FOUND, "{gone}");
    }
    assert!(!blob_exists(&app, &orphan_layer).await);
    assert!(blob_exists(&app, &empty).await, "the kept referrer uses it");
    assert_accounted(&app).await;
}

#[tokio::test]
async fn untagged_manifests_inside_the_grace_window_stay() {
    let app = start_with_grace("1h").await;
    let (d, _, layer) = app.push_image("library/a", "tmp").await;
    app.admin(Method::DELETE, "/v2/library/a/manifests/tmp").call().await;
    let run = run_gc(&app, json!({"delete_untagged": true})).await;
    assert_eq!(
        (run["manifests_deleted"].as_i64(), run["blobs_deleted"].as_i64()),
        (Some(0), Some(0)),
        "{run}"
    );
    assert_eq!(manifest_status(&app, "library/a", &d).await, StatusCode::OK);
    assert!(blob_exists(&app, &layer).await);
}

#[tokio::test]
async fn abandoned_uploads_are_purged_with_their_data() {
    let grace: HumanDuration = "0s".parse().expect("d");
    let age: HumanDuration = "1h".parse().expect("d");
    let app = TestApp::start_with(|_, s| {
        s.gc_grace = Some(grace);
        s.gc_upload_age = Some(age);
    })
    .await;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let res = app.admin(Method::POST, "/v2/library/a/blobs/uploads/").call().await;
        let location = header(&res, "location").expect("location").to_owned();
        let res = app
            .admin(Method::PATCH, &location)
            .header("content-type", "application/octet-stream")
            .body(random_bytes(1000))
            .call()
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        sessions.push(location);
    }
    // The first session was abandoned a day ago; the second is in use.
    let first_id = sessions[0].rsplit('/').next().expect("id").to_owned();
    sqlx::query("UPDATE uploads SET updated_at = updated_at - 86400000 WHERE id = $1")
        .bind(&first_id)
        .execute(app.state.db.writer())
        .await
        .expect("age");
    let parts_before = app.state.store.list(&StorageKey::UploadArea).await.expect("list").len();
    assert_eq!(parts_before, 2);
    let run = run_gc(&app, json!({})).await;
    assert_eq!(run["uploads_purged"], 1, "{run}");
    let left = app.state.store.list(&StorageKey::UploadArea).await.expect("list");
    assert_eq!(left.len(), 1);
    assert!(!left[0].starts_with(&first_id));
    let res = app.admin(Method::GET, &sessions[0]).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.admin(Method::GET, &sessions[1]).call().await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT, "the active session survives");
}

#[tokio::test]
async fn gc_api_is_for_system_admins_in_harbor_shapes() {
    let app = TestApp::start().await;
    app.create_user("dev", "Passw0rd!").await;
    for (method, path) in [
        (Method::GET, "/api/v2.0/system/gc"),
        (Method::GET, "/api/v2.0/system/gc/schedule"),
        (Method::POST, "/api/v2.0/system/gc/schedule"),
        (Method::PUT, "/api/v2.0/system/gc/schedule"),
        (Method::GET, "/api/v2.0/system/gc/1"),
        (Method::PUT, "/api/v2.0/system/gc/1"),
        (Method::GET, "/api/v2.0/system/gc/1/log"),
    ] {
        let body = json!({"schedule": {"type": "Manual"}});
        let res = app.anon(method.clone(), path).json(&body).call().await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let res =
            app.anon(method.clone(), path).basic_auth("dev", Some("Passw0rd!")).json(&body).call().await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert!(
        app.admin(Method::GET, "/api/v2.0/system/gc")
            .call()
            .await
            .json::<Value>()
            .as_array()
            .expect("array")
            .is_empty()
    );

    let get_schedule =
        || async { app.admin(Method::GET, "/api/v2.0/system/gc/schedule").call().await.json::<Value>() };
    assert_eq!(get_schedule().await["schedule"]["type"], "None");
    let res = app
        .admin(Method::POST, "/api/v2.0/system/gc/schedule")
        .json(&json!({"schedule": {"type": "Daily"}, "parameters": {"delete_untagged": true, "workers": 3}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let s = get_schedule().await;
    assert_eq!(
        (s["schedule"]["type"].as_str(), s["schedule"]["cron"].as_str()),
        (Some("Daily"), Some("0 0 0 * * *"))
    );
    assert!(s["schedule"]["next_scheduled_time"].as_str().expect("next").ends_with("T00:00:00Z"), "{s}");
    assert_eq!(s["parameters"], json!({"delete_untagged": true, "dry_run": false, "workers": 3}));
    let res = app
        .admin(Method::PUT, "/api/v2.0/system/gc/schedule")
        .json(&json!({"schedule": {"type": "Custom", "cron": "0 30 2 * * 6"}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let s = get_schedule().await;
    assert_eq!(s["schedule"]["cron"], "0 30 2 * * 6");
    assert!(s["schedule"]["next_scheduled_time"].as_str().expect("next").ends_with("T02:30:00Z"), "{s}");
    for bad in [
        json!({"schedule": {"type": "Custom", "cron": "0 0 * * *"}}),
        json!({"schedule": {"type": "Custom", "cron": "0 0 0 * * 9"}}),
        json!({"schedule": {"type": "Sometimes"}}),
        json!({"schedule": {"type": "Manual"}, "parameters": {"workers": 0}}),
        json!({"schedule": {"type": "Daily"}, "parameters": {"dry_run": "yes"}}),
    ] {
        let res = app.admin(Method::PUT, "/api/v2.0/system/gc/schedule").json(&bad).call().await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = res.json();
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let res = app
        .admin(Method::PUT, "/api/v2.0/system/gc/schedule")
        .json(&json!({"schedule": {"type": "None"}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(get_schedule().await["schedule"]["type"], "None");

    // One run at a time, across replicas: another holder's lease refuses a manual run.
    assert!(
        wharf::db::leases::acquire(app.state.db.writer(), "gc", "other-replica", 60_000)
            .await
            .expect("lease")
    );
    let res = app
        .admin(Method::POST, "/api/v2.0/system/gc/schedule")
        .json(&json!({"schedule": {"type": "Manual"}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    wharf::db::leases::release(app.state.db.writer(), "gc", "other-replica").await.expect("release");
    let run = run_gc(&app, json!({})).await;
    assert_eq!(run["job_status"], "Success");
    let res = app.admin(Method::PUT, &format!("/api/v2.0/system/gc/{}", run["id"])).call().await;
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED, "a finished run cannot be stopped");
    let res = app.admin(Method::GET, "/api/v2.0/system/gc/999").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.admin(Method::GET, "/api/v2.0/system/gc/x").call().await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_schedule_fires_and_records_a_scheduled_run() {
    let app = start_with_grace("0s").await;
    let stray = app.push_blob("library/a", &random_bytes(10)).await;
    let res = app
        .admin(Method::PUT, "/api/v2.0/system/gc/schedule")
        .json(&json!({"schedule": {"type": "Custom", "cron": "* * * * * *"}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut found = None;
    for _ in 0..100 {
        let history: Value = app.admin(Method::GET, "/api/v2.0/system/gc").call().await.json();
        if let Some(run) = history.as_array().expect("array").iter().find(|r| r["job_status"] == "Success") {
            found = Some(run.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = found.expect("a scheduled run within 10 s");
    assert_eq!(
        (run["job_kind"].as_str(), run["schedule"]["type"].as_str()),
        (Some("SCHEDULE"), Some("Schedule"))
    );
    assert!(!blob_exists(&app, &stray).await);
    app.admin(Method::PUT, "/api/v2.0/system/gc/schedule")
        .json(&json!({"schedule": {"type": "None"}}))
        .call()
        .await;
}

#[tokio::test]
async fn a_stop_request_ends_the_run_after_its_batch() {
    use wharf::gc::collector::{GcParams, Outcome, Reporter};
    let app = start_with_grace("0s").await;
    // 2,500 unreferenced rows (no bytes needed: deleting a missing object is fine).
    for i in 0..2500 {
        wharf::db::blobs::insert(app.state.db.writer(), &format!("sha256:{i:064x}"), 1).await.expect("row");
    }
    sqlx::query("UPDATE blobs SET touched_at = 0").execute(app.state.db.writer()).await.expect("age");
    let db = &app.state.db;
    let id = wharf::db::gc_runs::insert(db.writer(), wharf::vocab::Trigger::Manual, false, false, 4)
        .await
        .expect("run");
    assert!(
        wharf::db::runs::request_stop(db.writer(), wharf::db::runs::RunTable::Gc, id).await.expect("stop")
    );
    let lease = wharf::jobs::lease::LeaseGuard::acquire(db, "gc", "test", Duration::from_secs(30))
        .await
        .expect("lease")
        .expect("free");
    let collector = wharf::gc::collector::Collector::new(
        db.clone(),
        app.state.store.clone(),
        Duration::ZERO,
        Duration::from_secs(3600),
    );
    let mut rep = Reporter::new(db.clone(), id, None);
    let outcome = collector.run(GcParams::default(), 4, &lease, &mut rep).await.expect("run");
    assert_eq!(outcome, Outcome::Stopped);
    assert_eq!(rep.progress().blobs_deleted, 1000, "one batch, then the stop");
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM blobs").fetch_one(db.reader()).await.expect("count");
    assert_eq!(left, 1500);
    lease.release().await;
}

/// Pushes an image over `shared` layers plus one fresh layer, retrying the way a client does
/// when a collection removed an unreferenced layer between its upload and the manifest.
/// Returns the manifest digest and how many retries it took, or `None` when every attempt was
/// refused cleanly (with no grace window, a slow push can keep losing its fresh layers).
async fn push_with_retries(
    app: &TestApp,
    repo: &str,
    tag: &str,
    shared: &[Vec<u8>],
) -> Option<(String, usize)> {
    let fresh = random_bytes(2048);
    let config = format!(r#"{{"architecture":"amd64","os":"linux","n":"{}"}}"#, rand_hex());
    for attempt in 0..ATTEMPTS {
        let mut layers = Vec::new();
        for l in shared.iter().chain(std::iter::once(&fresh)) {
            let d = sha256(l);
            // HEAD first, upload only when missing, as docker does.
            if head_blob(app, repo, &d).await != StatusCode::OK {
                let res = app
                    .admin(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={d}"))
                    .body(l.clone())
                    .call()
                    .await;
                assert!(
                    res.status() == StatusCode::CREATED || res.status() == StatusCode::SERVICE_UNAVAILABLE,
                    "blob push: {}",
                    res.status()
                );
            }
            layers.push((d, l.len()));
        }
        let cd = app.push_blob(repo, config.as_bytes()).await;
        let refs: Vec<(&str, usize)> = layers.iter().map(|(d, s)| (d.as_str(), *s)).collect();
        let manifest = image_manifest(&cd, config.len(), &refs);
        let res = app.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
        match res.status() {
            StatusCode::CREATED => return Some((sha256(manifest.as_bytes()), attempt)),
            StatusCode::BAD_REQUEST => {
                let body: Value = res.json();
                assert_eq!(body["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN", "{body}");
            }
            other => panic!("manifest push: {other}"),
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_survive_repeated_collections() {
    // A one-second window: layers of dropped images become garbage within the test, while a
    // push (HEAD, upload, manifest) normally completes inside it; one that does not gets the
    // clean MANIFEST_BLOB_UNKNOWN and retries.
    race("1s", Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_no_grace_window_racing_pushes_get_clean_retryable_errors() {
    // Every unreferenced blob is fair game at once: sweeps keep claiming layers between their
    // upload and the manifest, so this exercises the claim/commit races (the pause lets pushes
    // through between sweeps).
    race("0s", Duration::from_millis(100)).await;
}

/// Manifest push attempts per image in the race tests.
const ATTEMPTS: usize = 10;

async fn race(grace: &str, pause: Duration) {
    let busy_for = grace.parse::<HumanDuration>().expect("grace").0 * 3;
    let app = std::sync::Arc::new(start_with_grace(grace).await);
    let shared: std::sync::Arc<Vec<Vec<u8>>> =
        std::sync::Arc::new((0..4).map(|_| random_bytes(4096)).collect());
    // Sweeps must leave pushes room to finish: pause at least twice as long as one push takes
    // on this backend (S3 emulation is far slower than a local disk).
    let t = std::time::Instant::now();
    push_with_retries(&app, "library/warmup", "t", &shared[..2]).await.expect("push without collections");
    let pause = pause.max(t.elapsed() * 2);
    eprintln!("one push takes {:?}; sweeps pause {pause:?}", t.elapsed());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let collector = {
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut runs, mut deleted) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let params = wharf::gc::collector::GcParams { delete_untagged: true, ..Default::default() };
                match app.state.gc.run_now(wharf::gc::Trigger::Manual, params, None).await {
                    Ok(run) => {
                        assert_eq!(run.status, wharf::vocab::RunStatus::Success);
                        runs += 1;
                        deleted += run.blobs_deleted;
                    }
                    Err(e) => panic!("gc: {e}"),
                }
                tokio::time::sleep(pause).await;
            }
            (runs, deleted)
        })
    };
    let mut pushers = Vec::new();
    for w in 0..6 {
        let (app, shared) = (app.clone(), shared.clone());
        pushers.push(tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut retries = 0;
            // Push for a few grace windows at least, so dropped layers age past the window
            // while pushes still run (however fast this machine pushes).
            let started = std::time::Instant::now();
            for i in 0.. {
                if i >= 12 && started.elapsed() >= busy_for {
                    break;
                }
                let repo = format!("library/w{w}");
                // Two layers of four, varying, so layers keep being dropped and reused.
                let pick = [shared[(w + i) % 4].clone(), shared[(w + i + 1) % 4].clone()];
                let Some((digest, r)) = push_with_retries(&app, &repo, &format!("t{i}"), &pick).await else {
                    retries += ATTEMPTS;
                    continue;
                };
                retries += r;
                if i % 2 == 1 {
                    // Drop every other image: its layers become garbage unless shared.
                    let res =
                        app.admin(Method::DELETE, &format!("/v2/{repo}/manifests/{digest}")).call().await;
                    assert_eq!(res.status(), StatusCode::ACCEPTED);
                } else {
                    kept.push((repo, format!("t{i}")));
                }
            }
            (kept, retries)
        }));
    }
    let mut kept = Vec::new();
    let mut retries = 0;
    for p in pushers {
        let (k, r) = p.await.expect("pusher");
        kept.extend(k);
        retries += r;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (runs, deleted) = collector.await.expect("collector");
    assert!(kept.len() >= 6, "most pushes got through: {} kept images", kept.len());
    eprintln!("{runs} collections deleted {deleted} blobs during the pushes; {retries} manifest retries");
    assert!(runs >= 2 && deleted > 0, "collections deleted garbage while pushes ran");

    // One final collection, then every kept image pulls completely and storage is exact.
    app.state.gc.run_now(wharf::gc::Trigger::Manual, Default::default(), None).await.expect("final");
    for (repo, tag) in &kept {
        let res = app
            .admin(Method::GET, &format!("/v2/{repo}/manifests/{tag}"))
            .header("accept", OCI_MANIFEST)
            .call()
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{repo}:{tag}");
        let m: Value = res.json();
        let mut digests = vec![m["config"]["digest"].as_str().expect("config").to_owned()];
        digests.extend(
            m["layers"]
                .as_array()
                .expect("layers")
                .iter()
                .map(|l| l["digest"].as_str().expect("d").to_owned()),
        );
        for d in digests {
            let res = app.admin(Method::GET, &format!("/v2/{repo}/blobs/{d}")).call().await;
            assert_eq!(res.status(), StatusCode::OK, "{repo}:{tag} {d}");
            assert_eq!(sha256(res.bytes()), d);
        }
    }
    assert_accounted(&app).await;
}
