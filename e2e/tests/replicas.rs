//! Scale-out: two `wharf` processes sharing one PostgreSQL database and one S3 bucket, and
//! nothing else. Runs when the test command provides both (`WHARF_TEST_POSTGRES`,
//! `WHARF_TEST_S3` with the `AWS_*` variables); on the embedded default it says so and returns.

use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use wharf_e2e::{ADMIN_PASSWORD, Podman, WharfProcess, build_context, run, tool};

async fn start(db: &str, storage: &str, data: &std::path::Path) -> WharfProcess {
    WharfProcess::start(&[
        ("WHARF_DATA_DIR", data.display().to_string()),
        ("WHARF_DATABASE_URL", db.to_owned()),
        ("WHARF_STORAGE_URL", storage.to_owned()),
    ])
    .await
}

async fn fresh_database(template: &str) -> String {
    use sqlx::Connection;
    let name = format!("wharf_t_{:016x}", rand::random::<u64>());
    let mut admin =
        sqlx::PgConnection::connect(&template.replace("{db}", "postgres")).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
    template.replace("{db}", &name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_only_the_database_and_the_bucket() {
    let (Some(pg), Some(s3)) = (
        std::env::var("WHARF_TEST_POSTGRES").ok().filter(|v| !v.is_empty()),
        std::env::var("WHARF_TEST_S3").ok().filter(|v| !v.is_empty()),
    ) else {
        eprintln!("scale-out test skipped here: the test command runs it with PostgreSQL and S3");
        return;
    };
    let db = fresh_database(&pg).await;
    let storage = format!("{}/{:016x}", s3.trim_end_matches('/'), rand::random::<u64>());
    // Each replica gets its own data dir: they must not share anything on local disk.
    let (dir_a, dir_b) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    // Started together on an empty database: migrations (under PostgreSQL's advisory lock) and
    // the first-start setup (admin, library, signing key) must not race.
    let (a, b) = tokio::join!(start(&db, &storage, dir_a.path()), start(&db, &storage, dir_b.path()));
    let c = reqwest::Client::new();
    let on = |r: &WharfProcess, m: Method, path: &str| {
        c.request(m, format!("http://{}{path}", r.host)).basic_auth("admin", Some(ADMIN_PASSWORD))
    };

    // A chunked upload that alternates replicas: the second chunk lands on a replica that has
    // never seen the session, so it rebuilds the running hash from the parts in the bucket.
    let data: Vec<u8> = (0..3 * 6_000_000).map(|_| rand::random::<u8>()).collect();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
    let res = on(&a, Method::POST, "/v2/library/scale/blobs/uploads/").send().await.expect("post");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().expect("location").to_owned();
    let replicas = [&b, &a, &b];
    for (i, chunk) in data.chunks(6_000_000).enumerate() {
        let start = i * 6_000_000;
        let res = on(replicas[i], Method::PATCH, &location)
            .header("content-range", format!("{start}-{}", start + chunk.len() - 1))
            .body(chunk.to_vec())
            .send()
            .await
            .expect("patch");
        assert_eq!(res.status(), StatusCode::ACCEPTED, "chunk {i} on replica {}", replicas[i].host);
    }
    let res = on(&a, Method::PUT, &format!("{location}?digest={digest}")).send().await.expect("put");
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
    let pulled = on(&b, Method::GET, &format!("/v2/library/scale/blobs/{digest}")).send().await.expect("get");
    assert_eq!(
        pulled.bytes().await.expect("body").as_ref(),
        data.as_slice(),
        "pulled back from the other replica"
    );

    // A token issued by one replica is accepted by the other (the signing key is in the database).
    let token: serde_json::Value =
        on(&a, Method::GET, "/service/token?service=wharf&scope=repository:library/scale:pull,push")
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
    let token = token["token"].as_str().expect("token").to_owned();
    let res = c
        .get(format!("http://{}/v2/library/scale/blobs/{digest}", b.host))
        .bearer_auth(&token)
        .header("range", "bytes=0-9")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.expect("body").as_ref(), &data[..10]);

    // Real clients: podman pushes through one replica, skopeo reads through the other.
    let p = Podman::new();
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[2_000_000, 300_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/scale:1"]).arg(&ctx)).await;
    let creds = format!("admin:{ADMIN_PASSWORD}");
    run(p.cmd().args([
        "push",
        "--tls-verify=false",
        "--creds",
        &creds,
        "localhost/scale:1",
        &format!("{}/library/scale:1", a.host),
    ]))
    .await;
    tool("skopeo");
    let dest = tempfile::tempdir().expect("tmp");
    run(tokio::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--src-creds", &creds])
        .arg(format!("docker://{}/library/scale:1", b.host))
        .arg(format!("dir:{}", dest.path().display())))
    .await;
    // Both replicas list the same tags.
    for r in [&a, &b] {
        let v: serde_json::Value = on(r, Method::GET, "/v2/library/scale/tags/list")
            .send()
            .await
            .expect("tags")
            .json()
            .await
            .expect("json");
        assert_eq!(v["tags"], serde_json::json!(["1"]));
    }

    // A schedule both replicas see fires once per firing: every second for a few seconds,
    // then no two runs may share a second (the loser of each compare-and-set starts nothing).
    let res = on(&a, Method::PUT, "/api/v2.0/system/gc/schedule")
        .json(&serde_json::json!({"schedule": {"type": "Custom", "cron": "* * * * * *"}}))
        .send()
        .await
        .expect("schedule");
    assert_eq!(res.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    let res = on(&b, Method::PUT, "/api/v2.0/system/gc/schedule")
        .json(&serde_json::json!({"schedule": {"type": "None"}}))
        .send()
        .await
        .expect("unschedule");
    assert_eq!(res.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let runs: Vec<serde_json::Value> = on(&a, Method::GET, "/api/v2.0/system/gc?page_size=100")
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let seconds: Vec<&str> = runs.iter().map(|r| r["creation_time"].as_str().expect("time")).collect();
    let mut distinct = seconds.clone();
    distinct.dedup();
    assert!(runs.len() >= 3, "the schedule fired: {seconds:?}");
    assert_eq!(distinct.len(), seconds.len(), "one run per firing across both replicas: {seconds:?}");
    let mut hosts = std::collections::BTreeSet::new();
    for r in &runs {
        assert_eq!(
            (r["job_kind"].as_str(), r["job_status"].as_str()),
            (Some("SCHEDULE"), Some("Success")),
            "{r}"
        );
        let log = on(&b, Method::GET, &format!("/api/v2.0/system/gc/{}/log", r["id"]))
            .send()
            .await
            .expect("log")
            .text()
            .await
            .expect("text");
        hosts.insert(log.lines().next().unwrap_or("").split(" on ").nth(1).unwrap_or("").to_owned());
    }
    eprintln!("{} scheduled runs on {} replica(s)", runs.len(), hosts.len());
}
