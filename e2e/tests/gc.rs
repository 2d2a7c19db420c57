//! Garbage collection with real processes: `wharf gc` and the server are killed (SIGKILL) in the
//! middle of sweeps on a live data dir; every later state must be consistent, the next run must
//! finish the job, and images pushed with podman must still pull completely with skopeo.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use wharf_e2e::{ADMIN_PASSWORD, DataDir, Podman, WharfProcess, build_context, run, tool, wharf_binary};

/// The invariant the collector keeps at every instant: a `live` or `deleting` row has its
/// bytes, and bytes without a row are only ever left by a sweep that was deleting them.
/// Returns (rows, stored objects).
async fn check(data: &DataDir) -> (usize, usize) {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT digest, status FROM blobs").fetch_all(data.db.reader()).await.expect("rows");
    let stored: std::collections::HashSet<String> =
        data.store.list_blobs().await.expect("list").into_iter().map(|d| d.to_string()).collect();
    for (d, status) in &rows {
        if status != "purging" {
            assert!(stored.contains(d), "{status} row without bytes: {d}");
        }
    }
    for d in &stored {
        assert!(rows.iter().any(|(r, _)| r == d), "bytes without a row: {d}");
    }
    (rows.len(), stored.len())
}

async fn push_images(host: &str) -> Vec<String> {
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let mut images = Vec::new();
    for i in 0..2 {
        let ctx = p.dir().join(format!("ctx{i}"));
        build_context(&ctx, &[300_000, 50_000]);
        let local = format!("localhost/gc{i}:1");
        run(p.cmd().args(["build", "-q", "-t", &local]).arg(&ctx)).await;
        let remote = format!("{host}/library/gc{i}:1");
        run(p.cmd().args(["push", "--tls-verify=false", "--creds", &creds, &local, &remote])).await;
        images.push(format!("library/gc{i}:1"));
    }
    images
}

async fn pull_all(host: &str, images: &[String]) {
    tool("skopeo");
    let creds = format!("admin:{ADMIN_PASSWORD}");
    for image in images {
        let dest = tempfile::tempdir().expect("tmp");
        // skopeo verifies every blob's digest as it copies.
        run(tokio::process::Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false", "--src-creds", &creds])
            .arg(format!("docker://{host}/{image}"))
            .arg(format!("dir:{}", dest.path().display())))
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_collections_leave_consistent_state_and_the_next_run_finishes() {
    let data = DataDir::new().await;
    let server = WharfProcess::start(&data.env()).await;
    let images = push_images(&server.host).await;
    let (referenced, _) = check(&data).await;

    // How long one whole sweep of this much garbage takes on this machine, so the kills below
    // land inside it however fast the machine is (a fixed range once let most sweeps finish).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    data.add_garbage(1500).await;
    let t = std::time::Instant::now();
    let status = tokio::process::Command::new(wharf_binary())
        .arg("gc")
        .envs(data.env())
        .env("WHARF_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .expect("wharf gc");
    assert!(status.success());
    let sweep = t.elapsed().as_millis() as u64;
    assert_eq!(check(&data).await, (referenced, referenced), "a whole sweep leaves only what is referenced");

    // `wharf gc` on the live data dir, killed at a random moment of each sweep.
    let mut kill_points = vec![format!("a whole sweep took {sweep} ms")];
    let mut interrupted = 0;
    for round in 0..12 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        data.add_garbage(1500).await;
        let before = check(&data).await.0;
        let delay = Duration::from_millis(20 + sweep / 10 + rand::random::<u64>() % (sweep * 8 / 10).max(1));
        let mut gc = tokio::process::Command::new(wharf_binary())
            .arg("gc")
            .envs(data.env())
            .env("WHARF_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("wharf gc");
        let finished = tokio::time::timeout(delay, gc.wait()).await.is_ok();
        if !finished {
            gc.start_kill().expect("kill");
            gc.wait().await.expect("reap");
        }
        let (rows, stored) = check(&data).await;
        // Neither untouched nor finished: the kill landed mid-sweep (rows marked or purging,
        // or bytes already deleted under rows not yet removed).
        if (rows, stored) != (before, before) && (rows, stored) != (referenced, referenced) {
            interrupted += 1;
        }
        kill_points.push(format!(
            "round {round}: killed after {delay:?}: {before} -> {rows} rows, {stored} objects"
        ));
    }
    eprintln!("{}", kill_points.join("\n"));
    assert!(interrupted >= 3, "at least some kills landed mid-sweep ({interrupted})");

    // The server itself is killed during an API-started collection, then restarted. (First the
    // lease of a `wharf gc` killed in the last round lapses, as before every round.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    data.add_garbage(3000).await;
    let c = reqwest::Client::new();
    let res = c
        .post(format!("http://{}/api/v2.0/system/gc/schedule", server.host))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&serde_json::json!({"schedule": {"type": "Manual"}}))
        .send()
        .await
        .expect("start gc");
    assert_eq!(res.status(), StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(30)).await;
    server.kill();
    check(&data).await;
    let server = WharfProcess::start(&data.env()).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The next run finishes the job: only referenced blobs remain, all with their bytes.
    let out =
        run(tokio::process::Command::new(wharf_binary()).arg("gc").envs(data.env()).env("WHARF_LOG", "warn"))
            .await;
    assert!(out.contains("(Success)"), "{out}");
    let (rows, stored) = check(&data).await;
    assert_eq!((rows, stored), (referenced, referenced), "exactly the referenced blobs remain");
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT status FROM blobs").fetch_all(data.db.reader()).await.expect("s");
    assert_eq!(statuses, vec!["live".to_owned()]);
    // The run the server crash cut short is on record as failed, not running forever.
    let history: Vec<serde_json::Value> = c
        .request(Method::GET, format!("http://{}/api/v2.0/system/gc?page_size=50", server.host))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    assert!(
        history.iter().all(|r| r["job_status"] != "Running" && r["job_status"] != "Pending"),
        "{history:?}"
    );
    pull_all(&server.host, &images).await;
}

#[tokio::test]
async fn wharf_gc_dry_run_reports_and_deletes_nothing() {
    let data = DataDir::new().await;
    data.add_garbage(10).await;
    let out = run(tokio::process::Command::new(wharf_binary())
        .args(["gc", "--dry-run", "--delete-untagged"])
        .envs(data.env())
        .env("WHARF_LOG", "warn"))
    .await;
    assert!(out.contains("dry run: would delete 0 manifests, 10 blobs (640 bytes)"), "{out}");
    assert!(out.contains("would free 640 bytes"), "{out}");
    assert_eq!(check(&data).await, (10, 10));
    let out =
        run(tokio::process::Command::new(wharf_binary()).args(["gc", "--workers", "2"]).envs(data.env()))
            .await;
    assert!(out.contains("10 blobs") && out.contains("freed 640 bytes"), "{out}");
    assert_eq!(check(&data).await, (0, 0));
}
