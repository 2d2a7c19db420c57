//! `wharf-proxy-bench`: the proxy cache and replication against a real Distribution (Debian's
//! `docker-registry`), each measured against a limit taken in the same run.
//!
//! Prints: a direct pull of a large image (default 1 GiB in 4 layers) from Distribution; the
//! first pull of the same image through a Wharf proxy project and its ratio to the direct pull
//! (goal ≥ 0.8); the cached pull and its ratio to a pull of the same image pushed to a normal
//! Wharf project (goal: equal); Wharf's peak RSS; then a push-based replication of 100 images
//! of 10 layers each (5 shared, 5 their own) to Distribution: images per second, and the bytes
//! sent against the bytes of the distinct blobs (goal: 1.00, every blob sent once).
//!
//! Run: `cargo build --release -p wharf && cargo run --release -p wharf-bench --bin
//! wharf-proxy-bench`. Settings (environment): `WHARF_BENCH_IMAGE_MIB` (default 1024),
//! `WHARF_BENCH_IMAGES` (default 100), `WHARF_BIN`, `WHARF_BENCH_DIR`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use rand::{RngCore, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{WharfChild, memory_mib};

const PASSWORD: &str = "Bench12345";
const MIB: u64 = 1024 * 1024;
const CHUNK: usize = 8 << 20;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A `docker-registry` process on a free port; killed when dropped.
struct Distribution {
    child: Child,
    base: String,
}

impl Distribution {
    fn start(dir: &std::path::Path) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = dir.join("distribution.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("distribution").display()
            ),
        )?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting docker-registry (apt-get install docker-registry)")?;
        Ok(Self { child, base: format!("http://127.0.0.1:{port}") })
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

async fn wait_up(http: &reqwest::Client, url: &str) -> Result<()> {
    for _ in 0..200 {
        if http.get(url).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not answer")
}

/// A registry to push to: base URL and optional admin credentials.
#[derive(Clone)]
struct Target {
    base: String,
    admin: bool,
}

impl Target {
    fn req(&self, http: &reqwest::Client, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = http.request(method, format!("{}{path}", self.base));
        if self.admin { r.basic_auth("admin", Some(PASSWORD)) } else { r }
    }
}

/// Pushes a blob of `size` pseudo-random bytes (seeded: the same seed gives the same blob)
/// to `repo` in 8 MiB chunks; returns its digest.
async fn push_random(http: &reqwest::Client, t: &Target, repo: &str, seed: u64, size: u64) -> Result<String> {
    let res = t.req(http, reqwest::Method::POST, &format!("/v2/{repo}/blobs/uploads/")).send().await?;
    ensure!(res.status() == 202, "start upload: {}", res.status());
    let mut location = res.headers()["location"].to_str()?.to_owned();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        let mut buf = vec![0u8; n];
        rng.fill_bytes(&mut buf);
        hasher.update(&buf);
        let url =
            if location.starts_with("http") { location.clone() } else { format!("{}{location}", t.base) };
        let mut req = http.patch(url).header("content-type", "application/octet-stream").body(buf);
        if t.admin {
            req = req.basic_auth("admin", Some(PASSWORD));
        }
        let res = req.send().await?;
        ensure!(res.status() == 202, "chunk: {}", res.status());
        location = res.headers()["location"].to_str()?.to_owned();
        left -= n as u64;
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    let url = if location.starts_with("http") { location } else { format!("{}{location}", t.base) };
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut req = http.put(format!("{url}{sep}digest={digest}"));
    if t.admin {
        req = req.basic_auth("admin", Some(PASSWORD));
    }
    let res = req.send().await?;
    ensure!(res.status() == 201, "finish upload: {} {}", res.status(), res.text().await.unwrap_or_default());
    Ok(digest)
}

/// Pushes an image whose layers are blobs of `sizes` seeded with `seeds`; returns the layer
/// digests.
async fn push_image(
    http: &reqwest::Client,
    t: &Target,
    repo: &str,
    tag: &str,
    layers: &[(u64, u64)],
) -> Result<Vec<String>> {
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                        "seeds": layers.iter().map(|l| l.0).collect::<Vec<_>>()})
    .to_string();
    let cd = format!("sha256:{}", hex::encode(Sha256::digest(config.as_bytes())));
    // Distribution has no one-request upload: start a session, then finish it with the body.
    let res = t.req(http, reqwest::Method::POST, &format!("/v2/{repo}/blobs/uploads/")).send().await?;
    ensure!(res.status() == 202, "config upload: {}", res.status());
    let location = res.headers()["location"].to_str()?.to_owned();
    let url = if location.starts_with("http") { location } else { format!("{}{location}", t.base) };
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut req = http
        .put(format!("{url}{sep}digest={cd}"))
        .header("content-type", "application/octet-stream")
        .body(config.clone());
    if t.admin {
        req = req.basic_auth("admin", Some(PASSWORD));
    }
    let res = req.send().await?;
    ensure!(res.status() == 201, "config: {}", res.status());
    let mut digests = Vec::new();
    for (seed, size) in layers {
        digests.push(push_random(http, t, repo, *seed, *size).await?);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": digests.iter().zip(layers).map(|(d, (_, size))| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": size
        })).collect::<Vec<_>>()
    });
    let res = t
        .req(http, reqwest::Method::PUT, &format!("/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await?;
    ensure!(res.status() == 201, "manifest: {} {}", res.status(), res.text().await.unwrap_or_default());
    Ok(digests)
}

/// Pulls `repo:tag` as a client does (manifest, then the blobs three at a time, bodies
/// drained); returns the bytes and the seconds it took.
async fn pull(http: &reqwest::Client, t: &Target, repo: &str, tag: &str) -> Result<(u64, f64)> {
    let start = Instant::now();
    let res = t
        .req(http, reqwest::Method::GET, &format!("/v2/{repo}/manifests/{tag}"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await?;
    ensure!(res.status() == 200, "manifest {repo}:{tag}: {}", res.status());
    let m: Value = res.json().await?;
    let mut blobs: Vec<String> = vec![m["config"]["digest"].as_str().unwrap_or_default().to_owned()];
    blobs.extend(
        m["layers"].as_array().into_iter().flatten().filter_map(|l| l["digest"].as_str().map(str::to_owned)),
    );
    let results = futures::stream::iter(blobs)
        .map(|d| {
            let (http, t, repo) = (http.clone(), t.clone(), repo.to_owned());
            async move {
                let res = t.req(&http, reqwest::Method::GET, &format!("/v2/{repo}/blobs/{d}")).send().await?;
                ensure!(res.status() == 200, "blob {d}: {}", res.status());
                let mut body = res.bytes_stream();
                let mut n = 0u64;
                while let Some(chunk) = body.next().await {
                    n += chunk?.len() as u64;
                }
                Ok::<u64, anyhow::Error>(n)
            }
        })
        .buffer_unordered(3)
        .collect::<Vec<_>>()
        .await;
    let mut total = 0;
    for r in results {
        total += r?;
    }
    Ok((total, start.elapsed().as_secs_f64()))
}

fn mib_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / MIB as f64 / secs
}

#[tokio::main]
async fn main() -> Result<()> {
    let image_mib = env_u64("WHARF_BENCH_IMAGE_MIB", 1024);
    let images = env_u64("WHARF_BENCH_IMAGES", 100);
    let keep = std::env::var_os("WHARF_BENCH_DIR").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let http = reqwest::Client::new();
    let dist = Distribution::start(&dir)?;
    let wharf = WharfChild::start(&dir.join("wharf"), PASSWORD)?;
    wait_up(&http, &format!("{}/v2/", dist.base)).await?;
    wait_up(&http, &format!("{}/api/v2.0/health", wharf.base)).await?;
    let up = Target { base: dist.base.clone(), admin: false };
    let local = Target { base: wharf.base.clone(), admin: true };

    // One large image, upstream and in a normal Wharf project (the same bytes).
    let layer = image_mib * MIB / 4;
    let layers: Vec<(u64, u64)> = (1..=4).map(|s| (s, layer)).collect();
    println!("image: {image_mib} MiB in 4 layers");
    push_image(&http, &up, "bench/big", "1", &layers).await?;
    push_image(&http, &local, "library/big", "1", &layers).await?;

    let admin = |m: reqwest::Method, p: &str| local.req(&http, m, p);
    let res = admin(reqwest::Method::POST, "/api/v2.0/registries")
        .json(&json!({"name": "dist", "url": dist.base, "type": "docker-registry"}))
        .send()
        .await?;
    ensure!(res.status() == 201, "endpoint: {}", res.status());
    let endpoint: i64 = res.headers()["location"].to_str()?.rsplit('/').next().unwrap_or("0").parse()?;
    let res = admin(reqwest::Method::POST, "/api/v2.0/projects")
        .json(&json!({"project_name": "cache", "registry_id": endpoint, "metadata": {"public": "true"}}))
        .send()
        .await?;
    ensure!(res.status() == 201, "proxy project: {}", res.status());

    let before_proxy = memory_mib(wharf.pid(), "VmHWM")?;
    // Warm Distribution's side once, so the order of the measurements favours nobody.
    pull(&http, &up, "bench/big", "1").await?;
    let (bytes, direct) = pull(&http, &up, "bench/big", "1").await?;
    let expected = 4 * layer;
    ensure!(bytes >= expected, "the direct pull returned {bytes} bytes");
    println!("direct pull from Distribution:   {:8.1} MiB/s ({direct:.2} s)", mib_s(bytes, direct));
    let (bytes, first) = pull(&http, &local, "cache/bench/big", "1").await?;
    ensure!(bytes >= expected, "the proxy pull returned {bytes} bytes");
    println!(
        "wharf peak RSS before the proxy pull: {before_proxy:.0} MiB, after it: {:.0} MiB (streams, not buffers)",
        memory_mib(wharf.pid(), "VmHWM")?
    );
    println!(
        "first pull through the proxy:     {:8.1} MiB/s ({first:.2} s), {:.2}x the direct pull (goal >= 0.8)",
        mib_s(bytes, first),
        direct / first
    );
    // The manifest is cached once all its blobs are.
    for _ in 0..600 {
        let res =
            admin(reqwest::Method::GET, "/api/v2.0/projects/cache/repositories/bench%252Fbig/artifacts")
                .send()
                .await?;
        if res.status() == 200 && res.json::<Value>().await?.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (bytes, normal) = pull(&http, &local, "library/big", "1").await?;
    let (cached_bytes, cached) = pull(&http, &local, "cache/bench/big", "1").await?;
    ensure!(cached_bytes == bytes, "the cached pull returned {cached_bytes} bytes, not {bytes}");
    println!("pull of a normal Wharf project:   {:8.1} MiB/s ({normal:.2} s)", mib_s(bytes, normal));
    println!(
        "cached pull through the proxy:    {:8.1} MiB/s ({cached:.2} s), {:.2}x the normal pull (goal 1.0)",
        mib_s(bytes, cached),
        normal / cached
    );
    println!("wharf peak RSS: {:.0} MiB", memory_mib(wharf.pid(), "VmHWM")?);

    // Replication: images of 10 layers, 5 shared by all, 5 their own.
    let small = 256 * 1024;
    let start = Instant::now();
    for i in 0..images {
        let layers: Vec<(u64, u64)> =
            (0..5).map(|s| (1000 + s, small)).chain((0..5).map(|s| (10_000 + i * 10 + s, small))).collect();
        push_image(&http, &local, &format!("library/rep-{i:03}"), "1", &layers).await?;
    }
    println!("pushed {images} images of 10 layers to Wharf in {:.1} s", start.elapsed().as_secs_f64());
    let res = admin(reqwest::Method::POST, "/api/v2.0/replication/policies")
        .json(&json!({"name": "bench", "dest_registry": {"id": endpoint},
                      "filters": [{"type": "name", "value": "library/rep-*"}]}))
        .send()
        .await?;
    ensure!(res.status() == 201, "policy: {}", res.status());
    let policy: i64 = res.headers()["location"].to_str()?.rsplit('/').next().unwrap_or("0").parse()?;
    let start = Instant::now();
    let res = admin(reqwest::Method::POST, "/api/v2.0/replication/executions")
        .json(&json!({"policy_id": policy}))
        .send()
        .await?;
    ensure!(res.status() == 201, "execution: {}", res.status());
    let execution: i64 = res.headers()["location"].to_str()?.rsplit('/').next().unwrap_or("0").parse()?;
    let e = loop {
        let e: Value = admin(reqwest::Method::GET, &format!("/api/v2.0/replication/executions/{execution}"))
            .send()
            .await?
            .json()
            .await?;
        if e["status"] != "InProgress" {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secs = start.elapsed().as_secs_f64();
    ensure!(e["status"] == "Succeed", "replication: {e}");
    let mut sent = 0i64;
    let mut page = 1;
    loop {
        let tasks: Vec<Value> = admin(
            reqwest::Method::GET,
            &format!("/api/v2.0/replication/executions/{execution}/tasks?page={page}&page_size=100"),
        )
        .send()
        .await?
        .json()
        .await?;
        if tasks.is_empty() {
            break;
        }
        sent += tasks.iter().filter_map(|t| t["bytes"].as_i64()).sum::<i64>();
        page += 1;
    }
    // Distinct layer bytes (configs are a few hundred bytes each and are counted by the tasks).
    let distinct = (5 + 5 * images) * small;
    println!(
        "replicated {images} images in {secs:.1} s ({:.1} images/s); bytes sent / distinct layer bytes: {:.2} (goal 1.00)",
        images as f64 / secs,
        (sent as f64) / distinct as f64
    );
    Ok(())
}
