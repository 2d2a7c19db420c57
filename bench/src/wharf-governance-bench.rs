//! `wharf-governance-bench`: what governance costs on the hot paths, and the quota recount.
//!
//! Part 1, against a real `wharf` process: two public projects, `plain` (no rule, no limit)
//! and `governed` (a tag immutability rule matching every pushed tag, a storage limit, and a
//! webhook policy on pushes posting to a receiver the bench runs, so every push reads the
//! rules, checks the quota and records an event). Manifest pushes (each a new tag on a new
//! manifest over shared blobs) and manifest `GET`s by tag are run on both, in alternating
//! rounds, and the governed throughput is printed as a ratio of the plain one measured in the
//! same run (the goal: within 5 %).
//!
//! Part 2, on the database alone: a project of `WHARF_BENCH_ARTIFACTS` artifacts (default
//! 100,000; each a manifest with its own config and a layer shared by all), counted by the
//! triggers as they are inserted; then `fsck`'s recount of that project, timed against a plain
//! read of the same rows (the limit: a recount cannot be faster than reading what it counts).
//!
//! Settings: `WHARF_BENCH_PUSHES` per round (default 1000), `WHARF_BENCH_ROUNDS` (default 8),
//! `WHARF_BENCH_WEBHOOK` (`deliver`, the default; `hold`: events recorded but the receiver holds
//! every delivery while pushes run; `none`: no webhook policy; the last two tell the costs of
//! recording and of delivering apart, and skip the delivery figures),
//! `WHARF_BENCH_CONNECTIONS` (default 16), `WHARF_BENCH_SECONDS` per GET round (default 2),
//! `WHARF_DATABASE_URL` for part 2 on PostgreSQL (else SQLite in a temp dir).
//! Run: `cargo build --release -p wharf && cargo run --release -p wharf-bench --bin wharf-governance-bench`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

use anyhow::{Context, Result, ensure};
use sha2::{Digest as _, Sha256};
use support::WharfChild;
use wharf::db::{self, Db};

const PASSWORD: &str = "Bench12345";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

struct Target {
    http: reqwest::Client,
    base: String,
}

impl Target {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).basic_auth("admin", Some(PASSWORD))
    }

    async fn wait_ready(&self) -> Result<()> {
        for _ in 0..200 {
            if let Ok(r) = self.http.get(format!("{}/api/v2.0/health", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("wharf did not come up")
    }

    async fn blob(&self, repo: &str, data: &[u8]) -> Result<String> {
        let digest = sha256(data);
        let res = self
            .req(reqwest::Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={digest}"))
            .body(data.to_vec())
            .send()
            .await?;
        ensure!(res.status() == reqwest::StatusCode::CREATED, "blob upload: {}", res.status());
        Ok(digest)
    }
}

/// Pushes `n` new manifests tagged `<prefix>-<i>` to `repo` from `connections` tasks; returns
/// pushes per second.
async fn push_round(
    t: &Arc<Target>,
    repo: &str,
    prefix: &str,
    n: u64,
    connections: u64,
    blobs: &(String, usize, String, usize),
) -> Result<f64> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (t, next, repo, prefix) = (t.clone(), next.clone(), repo.to_owned(), prefix.to_owned());
        let (cd, cs, ld, ls) = blobs.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                let manifest = format!(
                    r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{ld}","size":{ls}}}],"annotations":{{"n":"{prefix}-{i}"}}}}"#
                );
                let res = t
                    .req(reqwest::Method::PUT, &format!("/v2/{repo}/manifests/v-{prefix}-{i}"))
                    .header("content-type", OCI_MANIFEST)
                    .body(manifest)
                    .send()
                    .await?;
                ensure!(res.status() == reqwest::StatusCode::CREATED, "push: {} {}", res.status(), res.text().await?);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// A webhook receiver that answers every request 200 and counts them: plain HTTP/1.1 over a
/// socket, so the bench needs no server stack. While `gate` holds `false` it keeps requests
/// waiting (a receiver that is slow to answer), so a backlog builds up.
async fn receiver(gate: tokio::sync::watch::Receiver<bool>) -> Result<(String, Arc<AtomicU64>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counted = counted.clone();
            let mut gate = gate.clone();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(8192);
                let mut chunk = [0u8; 8192];
                loop {
                    // One request: the head, then Content-Length bytes.
                    let (head_end, length) = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, length);
                        }
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buf.len() < head_end + length {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + length);
                    if gate.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    counted.fetch_add(1, Ordering::Relaxed);
                    if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((url, count))
}

/// Anonymous manifest GETs of `path` from `connections` tasks for `secs`; returns requests/s.
async fn get_round(base: &str, path: &str, connections: u64, secs: u64) -> Result<f64> {
    let http = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let url = format!("{base}{path}");
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, stop, done, url) = (http.clone(), stop.clone(), done.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let res = http.get(&url).header("accept", OCI_MANIFEST).send().await?;
                ensure!(res.status().is_success(), "GET: {}", res.status());
                res.bytes().await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// The median, lowest and highest of `a[i] / b[i]`.
fn paired(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let mut r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    r.sort_by(f64::total_cmp);
    let mid = if r.len() % 2 == 1 { r[r.len() / 2] } else { (r[r.len() / 2 - 1] + r[r.len() / 2]) / 2.0 };
    (mid, r[0], r[r.len() - 1])
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

async fn hot_paths() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let child = WharfChild::start(&dir.path().join("data"), PASSWORD)?;
    let t = Arc::new(Target { http: reqwest::Client::new(), base: child.base.clone() });
    t.wait_ready().await?;
    for (name, body) in [
        ("plain", serde_json::json!({"project_name": "plain", "public": true})),
        (
            "governed",
            serde_json::json!({"project_name": "governed", "public": true, "storage_limit": 1_i64 << 40}),
        ),
    ] {
        let res = t.req(reqwest::Method::POST, "/api/v2.0/projects").json(&body).send().await?;
        ensure!(res.status() == reqwest::StatusCode::CREATED, "project {name}: {}", res.status());
    }
    let rule = serde_json::json!({
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v-*"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    });
    let res = t
        .req(reqwest::Method::POST, "/api/v2.0/projects/governed/immutabletagrules")
        .json(&rule)
        .send()
        .await?;
    ensure!(res.status() == reqwest::StatusCode::CREATED, "rule: {}", res.status());
    let (gate, gate_rx) = tokio::sync::watch::channel(true);
    let (hook, delivered) = receiver(gate_rx).await?;
    let policy = serde_json::json!({"name": "bench", "event_types": ["PUSH_ARTIFACT"],
        "targets": [{"type": "http", "address": hook, "payload_format": "Default"}]});
    // What governance includes of webhooks, to tell their cost apart: `deliver` (the default),
    // `hold` (events recorded, the receiver holding every delivery while pushes run) or `none`.
    let webhooks = std::env::var("WHARF_BENCH_WEBHOOK").unwrap_or_else(|_| "deliver".into());
    ensure!(
        ["deliver", "hold", "none"].contains(&webhooks.as_str()),
        "WHARF_BENCH_WEBHOOK: deliver, hold or none"
    );
    if webhooks != "none" {
        let res = t
            .req(reqwest::Method::POST, "/api/v2.0/projects/governed/webhook/policies")
            .json(&policy)
            .send()
            .await?;
        ensure!(res.status() == reqwest::StatusCode::CREATED, "webhook policy: {}", res.status());
    }

    let pushes = env_u64("WHARF_BENCH_PUSHES", 1000);
    let rounds = env_u64("WHARF_BENCH_ROUNDS", 8);
    let connections = env_u64("WHARF_BENCH_CONNECTIONS", 16);
    let secs = env_u64("WHARF_BENCH_SECONDS", 2);
    let mut blobs = Vec::new();
    for project in ["plain", "governed"] {
        let repo = format!("{project}/app");
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let layer = vec![7u8; 4096];
        let cd = t.blob(&repo, config).await?;
        let ld = t.blob(&repo, &layer).await?;
        blobs.push((cd, config.len(), ld, layer.len()));
    }
    let (mut plain_push, mut gov_push, mut plain_get, mut gov_get) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    gate.send_replace(webhooks != "hold");
    // CPU seconds used by the server and by this process (clients and receiver) in each kind
    // of push round.
    let (mut plain_cpu, mut gov_cpu) = ((0.0, 0.0), (0.0, 0.0));
    let cpu = |pid: u32| -> Result<(f64, f64)> {
        Ok((support::cpu_seconds(pid)?, support::cpu_seconds(std::process::id())?))
    };
    for round in 0..rounds {
        let prefix = format!("r{round}");
        // The first push round after a GET round also pays for what that load left behind
        // (the pulls' audit entries, a WAL checkpoint): the projects take turns going first.
        let governed_first = round % 2 == 1;
        for governed in [governed_first, !governed_first] {
            let before = cpu(child.pid())?;
            let (repo, blobs, rates, used) = if governed {
                ("governed/app", &blobs[1], &mut gov_push, &mut gov_cpu)
            } else {
                ("plain/app", &blobs[0], &mut plain_push, &mut plain_cpu)
            };
            rates.push(push_round(&t, repo, &prefix, pushes, connections, blobs).await?);
            let after = cpu(child.pid())?;
            *used = (used.0 + after.0 - before.0, used.1 + after.1 - before.1);
        }
        plain_get.push(get_round(&t.base, "/v2/plain/app/manifests/v-r0-0", connections, secs).await?);
        gov_get.push(get_round(&t.base, "/v2/governed/app/manifests/v-r0-0", connections, secs).await?);
    }
    let (median, low, high) = paired(&gov_push, &plain_push);
    let per = |c: f64| c * 1e6 / (pushes * rounds) as f64;
    let each: Vec<String> = plain_push.iter().zip(&gov_push).map(|(p, g)| format!("{p:.0}/{g:.0}")).collect();
    let push_report = format!(
        "  paired rounds: median ratio {median:.3} (range {low:.3}–{high:.3} over {rounds} rounds)\n  \
         rounds (plain/governed pushes/s): {}\n  CPU per push, server / bench process: plain {:.0} / {:.0} µs, \
         governed {:.0} / {:.0} µs\n  server CPU per push, governed / plain: {:.3} (what governance adds to a push's \
         work; steadier than throughput, which swings with the machine)",
        each.join(" "),
        per(plain_cpu.0),
        per(plain_cpu.1),
        per(gov_cpu.0),
        per(gov_cpu.1),
        gov_cpu.0 / plain_cpu.0
    );
    if webhooks != "deliver" {
        println!("manifest push, webhooks {webhooks} ({connections} connections, {pushes} per round):");
        println!("{push_report}");
        return Ok(());
    }
    // Every governed push made an event: how fast the backlog left when the load ended drains.
    let pushed = pushes * rounds;
    let (backlog_at, drain_started) = (delivered.load(Ordering::Relaxed), Instant::now());
    while delivered.load(Ordering::Relaxed) < pushed {
        ensure!(
            drain_started.elapsed() < Duration::from_secs(300),
            "deliveries stalled at {}",
            delivered.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = drain_started.elapsed();
    let received = delivered.load(Ordering::Relaxed);

    // Delivery rate: a backlog of `pushes` events built while the receiver holds its answers,
    // then drained; the limit is the same receiver posted to directly, with as many requests in
    // flight as the sender sends at once (64), in the same run.
    gate.send_replace(false);
    let before = delivered.load(Ordering::Relaxed);
    push_round(&t, "governed/app", "burst", pushes, connections, &blobs[1]).await?;
    let started = Instant::now();
    gate.send_replace(true);
    while delivered.load(Ordering::Relaxed) < before + pushes {
        ensure!(started.elapsed() < Duration::from_secs(300), "the backlog did not drain");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivery_rate = pushes as f64 / started.elapsed().as_secs_f64();
    let payload = vec![b'x'; 700];
    let raw_started = Instant::now();
    let raw_before = delivered.load(Ordering::Relaxed);
    let http = reqwest::Client::new();
    let posts = (0..64u64).map(|i| {
        let (http, hook, payload) = (http.clone(), hook.clone(), payload.clone());
        async move {
            for _ in (i..pushes).step_by(64) {
                let res = http
                    .post(&hook)
                    .header("content-type", "application/json")
                    .body(payload.clone())
                    .send()
                    .await?;
                ensure!(res.status().is_success(), "raw post: {}", res.status());
            }
            anyhow::Ok(())
        }
    });
    for r in futures::future::join_all(posts).await {
        r?;
    }
    let raw_rate =
        (delivered.load(Ordering::Relaxed) - raw_before) as f64 / raw_started.elapsed().as_secs_f64();
    let (pp, gp, pg, gg) = (best(&plain_push), best(&gov_push), best(&plain_get), best(&gov_get));
    println!("manifest push ({connections} connections, {pushes} per round, best of {rounds}):");
    println!("  plain    {pp:8.0} pushes/s");
    println!("  governed {gp:8.0} pushes/s   ratio {:.3}", gp / pp);
    // The machine's noise moves single rounds by ±10 %; each round pairs the two projects
    // back to back, so the median of the paired ratios is the steadier figure.
    println!("{push_report}");
    println!("manifest GET by tag ({connections} connections, {secs} s rounds, best of {rounds}):");
    println!("  plain    {pg:8.0} requests/s");
    println!("  governed {gg:8.0} requests/s ratio {:.3}", gg / pg);
    let q: serde_json::Value =
        t.req(reqwest::Method::GET, "/api/v2.0/projects/governed/summary").send().await?.json().await?;
    println!("  governed project usage after the run: {} bytes", q["quota"]["used"]["storage"]);
    println!(
        "webhook deliveries: {received} received for {pushed} pushes; the {} still queued when the load ended drained in {:.2} s ({:.0} deliveries/s)",
        pushed.saturating_sub(backlog_at),
        drained.as_secs_f64(),
        pushed.saturating_sub(backlog_at) as f64 / drained.as_secs_f64().max(0.001)
    );
    println!(
        "webhook delivery rate: a backlog of {pushes} events drained at {delivery_rate:.0}/s; the receiver posted to directly: {raw_rate:.0}/s; ratio {:.2}",
        delivery_rate / raw_rate
    );
    println!("server peak RSS: {:.0} MiB", support::memory_mib(child.pid(), "VmHWM")?);
    Ok(())
}

async fn recount() -> Result<()> {
    let artifacts = env_u64("WHARF_BENCH_ARTIFACTS", 100_000);
    let dir = tempfile::tempdir()?;
    let db_url = std::env::var("WHARF_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/wharf.db?mode=rwc", dir.path().display()));
    let db = Db::connect(&db_url).await.context("database")?;
    let project = db::projects::insert(db.writer(), "recount", false, None).await?;
    let repos = 100;
    let layer = sha256(b"shared layer");
    db::blobs::insert(db.writer(), &layer, 50_000_000).await?;
    let started = Instant::now();
    let per = artifacts / repos;
    for r in 0..repos {
        let repo = db::repositories::ensure(db.writer(), project, &format!("recount/app-{r}")).await?;
        let mut tx = db.begin().await?;
        for a in 0..per {
            let config = sha256(format!("config {r} {a}").as_bytes());
            db::blobs::insert(&mut *tx, &config, 1000 + a as i64).await?;
            let content = format!("{{\"schemaVersion\":2,\"r\":{r},\"n\":{a}}}");
            let digest = sha256(content.as_bytes());
            let new = db::manifests::NewManifest {
                repository_id: repo,
                digest: &digest,
                media_type: OCI_MANIFEST,
                artifact_type: None,
                config_media_type: Some("application/vnd.oci.image.config.v1+json"),
                subject_digest: None,
                annotations: None,
                total_size: 50_001_000,
                content: content.as_bytes(),
            };
            let id = db::manifests::upsert(&mut tx, &new).await?;
            db::manifests::add_blob_refs(&mut tx, id, &[config.as_str(), layer.as_str()]).await?;
        }
        tx.commit().await?;
    }
    let generated = started.elapsed();
    let counted = db::quotas::usage(db.reader(), project).await?.0;
    println!(
        "generated {} artifacts ({} blob references) in {:.1} s, counted by the triggers as they went: {counted} bytes",
        repos * per,
        repos * per * 2,
        generated.as_secs_f64()
    );
    let mut best_read = Duration::MAX;
    let mut best_recount = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let (n, bytes): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(s), 0) AS BIGINT) FROM ( \
             SELECT m.size AS s FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.project_id = $1 \
             UNION ALL SELECT b.size FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id \
             JOIN repositories r ON r.id = m.repository_id JOIN blobs b ON b.digest = mb.digest WHERE r.project_id = $1) x",
        )
        .bind(project)
        .fetch_one(db.reader())
        .await?;
        best_read = best_read.min(t.elapsed());
        ensure!(n as u64 == repos * per * 3 && bytes > 0, "read {n} rows");
        let t = Instant::now();
        let mut tx = db.begin().await?;
        db::quotas::lock(&mut tx, db.backend(), project).await?;
        let (before, after) = db::quotas::recount(&mut tx, project).await?;
        tx.commit().await?;
        best_recount = best_recount.min(t.elapsed());
        ensure!(
            before == counted && after == counted,
            "recount {before} -> {after}, triggers said {counted}"
        );
    }
    println!(
        "quota recount of {} artifacts: {:.0} ms; reading the same rows: {:.0} ms; ratio {:.2} (the triggers' count matched)",
        repos * per,
        best_recount.as_secs_f64() * 1000.0,
        best_read.as_secs_f64() * 1000.0,
        best_recount.as_secs_f64() / best_read.as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    if std::env::var("WHARF_BENCH_SKIP_HTTP").is_err() {
        hot_paths().await?;
    }
    recount().await
}
