//! Replication to a real Distribution (Debian's `docker-registry`), proven with real clients:
//! images pushed to Wharf with podman arrive there (manual and on push), deletions follow, and
//! an execution whose Wharf process is killed midway is marked failed on restart, then
//! completes when started again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::Command;
use wharf_e2e::client::Caller;
use wharf_e2e::*;

fn skopeo() -> Command {
    tool("skopeo");
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

fn admin_at(host: &str) -> Caller {
    Caller::new(reqwest::Client::new(), &format!("http://{host}"), Some(("admin", ADMIN_PASSWORD)))
}

/// Adds `upstream` as a `docker-registry` endpoint and a push-based policy to it; returns the
/// policy's id.
async fn push_policy(host: &str, upstream: &Distribution, trigger: &str, speed: i64) -> i64 {
    let a = admin_at(host);
    let res = a
        .post(
            "/api/v2.0/registries",
            &json!({"name": "dist", "url": format!("http://{}", upstream.host), "type": "docker-registry"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let endpoint = res.created_id();
    let res = a
        .post(
            "/api/v2.0/replication/policies",
            &json!({"name": "to-dist", "dest_registry": {"id": endpoint}, "trigger": {"type": trigger},
                    "replicate_deletion": true, "speed": speed,
                    "filters": [{"type": "name", "value": "library/**"}]}),
        )
        .await
        .expect(StatusCode::CREATED);
    res.created_id()
}

async fn execution(host: &str, id: i64) -> Value {
    admin_at(host).get(&format!("/api/v2.0/replication/executions/{id}")).await.json()
}

async fn until_ended(host: &str, id: i64, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let e = execution(host, id).await;
        if e["status"] != "InProgress" && e["status"] != "Pending" {
            return e;
        }
        assert!(tokio::time::Instant::now() < deadline, "execution {id} still running: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start(host: &str, policy: i64) -> i64 {
    let res = admin_at(host)
        .post("/api/v2.0/replication/executions", &json!({"policy_id": policy}))
        .await
        .expect(StatusCode::CREATED);
    res.created_id()
}

async fn upstream_digest(upstream: &Distribution, image: &str) -> Option<String> {
    let out = tokio::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{}/{image}", upstream.host))
        .output()
        .await
        .expect("skopeo");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_replicate_to_distribution_manually_and_on_push_with_deletions() {
    let upstream = Distribution::start().await;
    let w = Wharf::start().await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[300_000, 700_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/app:1"]).arg(&ctx)).await;
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/app:1"])
        .arg(w.image("library/app:1")))
    .await;

    let policy = push_policy(&w.host, &upstream, "manual", -1).await;
    let eid = start(&w.host, policy).await;
    let e = until_ended(&w.host, eid, Duration::from_secs(60)).await;
    assert_eq!(e["status"], "Succeed", "{e}");
    let ours = run(skopeo()
        .args(["inspect", "--tls-verify=false", "--creds", &creds, "--format", "{{.Digest}}"])
        .arg(format!("docker://{}", w.image("library/app:1"))))
    .await;
    assert_eq!(upstream_digest(&upstream, "library/app:1").await.as_deref(), Some(ours.trim()));
    // podman pulls the copy from Distribution: the same image.
    let built = run(p.cmd().args(["image", "inspect", "--format", "{{.Id}}", "localhost/app:1"])).await;
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    let there = format!("{}/library/app:1", upstream.host);
    run(p.cmd().args(["pull", "--tls-verify=false", &there])).await;
    let pulled = run(p.cmd().args(["image", "inspect", "--format", "{{.Id}}", &there])).await;
    assert_eq!(pulled, built);

    // Event-based: a new tag arrives by itself; deleting the artifact deletes it there.
    admin_at(&w.host)
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v2.0/replication/policies/{policy}"),
            &json!({"name": "to-dist", "dest_registry": {"id": 1}, "trigger": {"type": "event_based"},
                    "replicate_deletion": true, "filters": [{"type": "name", "value": "library/**"}]}),
        )
        .await
        .expect(StatusCode::OK);
    let ctx2 = p.dir().join("ctx2");
    build_context(&ctx2, &[200_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/app:2"]).arg(&ctx2)).await;
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/app:2"])
        .arg(w.image("library/app:2")))
    .await;
    let mut digest = None;
    for _ in 0..200 {
        digest = upstream_digest(&upstream, "library/app:2").await;
        if digest.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let digest = digest.expect("the push was replicated");
    admin_at(&w.host)
        .delete(&format!("/api/v2.0/projects/library/repositories/app/artifacts/{digest}"))
        .await
        .expect(StatusCode::OK);
    for _ in 0..200 {
        if upstream_digest(&upstream, "library/app:2").await.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the deletion was not replicated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_killed_midway_is_failed_on_restart_and_completes_when_run_again() {
    let upstream = Distribution::start().await;
    let data = DataDir::new().await;
    let server = WharfProcess::start(&data.env()).await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[24 << 20]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/big:1"]).arg(&ctx)).await;
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/big:1"])
        .arg(format!("{}/library/big:1", server.host)))
    .await;
    // 4 MiB/s: the 24 MiB layer takes six seconds.
    let policy = push_policy(&server.host, &upstream, "manual", 4096).await;
    let eid = start(&server.host, policy).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(execution(&server.host, eid).await["status"], "InProgress");
    server.kill();

    let server = WharfProcess::start(&data.env()).await;
    let e = until_ended(&server.host, eid, Duration::from_secs(20)).await;
    assert_eq!(e["status"], "Failed", "{e}");
    assert!(e["status_text"].as_str().is_some_and(|t| t.contains("interrupted")), "{e}");
    assert!(upstream_digest(&upstream, "library/big:1").await.is_none(), "no tag without all its content");

    let again = start(&server.host, policy).await;
    let e = until_ended(&server.host, again, Duration::from_secs(60)).await;
    assert_eq!(e["status"], "Succeed", "{e}");
    assert!(upstream_digest(&upstream, "library/big:1").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_arch_index_replicates_whole_to_distribution() {
    let upstream = Distribution::start().await;
    let w = Wharf::start().await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let list = "localhost/multi:1";
    run(p.cmd().args(["manifest", "create", list])).await;
    for (arch, size) in [("amd64", 100_000), ("arm64", 120_000)] {
        let ctx = p.dir().join(format!("ctx-{arch}"));
        build_context(&ctx, &[size]);
        let tag = format!("localhost/multi-{arch}:1");
        run(p.cmd().args(["build", "-q", "--arch", arch, "-t", &tag]).arg(&ctx)).await;
        run(p.cmd().args(["manifest", "add", list, &format!("containers-storage:{tag}")])).await;
    }
    let ours = format!("docker://{}", w.image("library/multi:1"));
    run(p.cmd().args(["manifest", "push", "--all", "--tls-verify=false", "--creds", &creds, list, &ours]))
        .await;
    let policy = push_policy(&w.host, &upstream, "manual", -1).await;
    let eid = start(&w.host, policy).await;
    let e = until_ended(&w.host, eid, Duration::from_secs(60)).await;
    assert_eq!(e["status"], "Succeed", "{e}");
    let raw = |image: String, creds: Option<String>| async move {
        let mut cmd = skopeo();
        cmd.args(["inspect", "--raw", "--tls-verify=false"]);
        if let Some(c) = creds {
            cmd.args(["--creds", &c]);
        }
        run(cmd.arg(image)).await
    };
    let here = raw(ours.clone(), Some(creds.clone())).await;
    let there = raw(format!("docker://{}/library/multi:1", upstream.host), None).await;
    assert_eq!(here, there, "the index arrived byte for byte");
    // Both platforms are there, pulled by podman from Distribution.
    for arch in ["amd64", "arm64"] {
        run(p
            .cmd()
            .args(["pull", "--tls-verify=false", "--arch", arch])
            .arg(format!("{}/library/multi:1", upstream.host)))
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_pull_copies_from_a_second_wharf_process() {
    let site_b_data = DataDir::new().await;
    let site_b = WharfProcess::start(&site_b_data.env()).await;
    let w = Wharf::start().await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[250_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/tool:2"]).arg(&ctx)).await;
    let built = run(p.cmd().args(["image", "inspect", "--format", "{{.Id}}", "localhost/tool:2"])).await;
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/tool:2"])
        .arg(format!("{}/library/tool:2", site_b.host)))
    .await;

    let a = admin_at(&w.host);
    let res = a
        .post(
            "/api/v2.0/registries",
            &json!({"name": "site-b", "url": format!("http://{}", site_b.host), "type": "harbor",
                    "credential": {"access_key": "admin", "access_secret": ADMIN_PASSWORD}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let endpoint = res.created_id();
    a.post(
        "/api/v2.0/replication/policies",
        &json!({"name": "from-b", "src_registry": {"id": endpoint}, "dest_namespace": "mirror",
                "dest_namespace_replace_count": 1,
                "trigger": {"type": "scheduled", "trigger_settings": {"cron": "*/2 * * * * *"}},
                "filters": [{"type": "name", "value": "library/**"}, {"type": "tag", "value": "2"}]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let image = w.image("mirror/tool:2");
    let mut pulled = false;
    for _ in 0..60 {
        run(p.cmd().args(["rmi", "-a", "-f"])).await;
        let out = p
            .cmd()
            .args(["pull", "--tls-verify=false", "--creds", &creds, &image])
            .output()
            .await
            .expect("podman");
        if out.status.success() {
            pulled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(pulled, "the scheduled pull never brought {image}");
    let got = run(p.cmd().args(["image", "inspect", "--format", "{{.Id}}", &image])).await;
    assert_eq!(got, built);
}
