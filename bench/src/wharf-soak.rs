//! `wharf-soak`: a bounded soak test on loopback. Many clients push and pull for minutes against
//! one `wharf` process; prints throughput, latency percentiles per request kind, errors and the
//! server's RSS over time.
//!
//! Each client loops: push an image (a shared 1 MiB base layer, HEADed first as docker does, a
//! unique 4-36 KiB layer, a config, the manifest), pull it back (manifest by tag and every blob,
//! digests checked), and pull an image another client pushed. Any answer other than the expected
//! status, or a digest that does not match, is an error.
//!
//! Run with `cargo build --release -p wharf && cargo run --release -p wharf-bench --bin wharf-soak` (see the README). Settings
//! (environment): `WHARF_SOAK_SECONDS` (default 600), `WHARF_SOAK_CLIENTS` (default 50),
//! `WHARF_SOAK_SAMPLE_SECONDS` (RSS sampling, default 30), `WHARF_BIN` (default: the `wharf`
//! next to this binary), `WHARF_DATABASE_URL` / `WHARF_STORAGE_URL` passed through.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use support::{WharfChild, memory_mib};
use tokio::sync::Mutex;

const PASSWORD: &str = "Soak12345";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;
type Http = Client<HttpConnector, BoxBody>;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Request kinds measured separately.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Kind {
    BlobHead,
    BlobPush,
    ManifestPush,
    ManifestPull,
    BlobPull,
}

const KINDS: [Kind; 5] =
    [Kind::BlobHead, Kind::BlobPush, Kind::ManifestPush, Kind::ManifestPull, Kind::BlobPull];

#[derive(Default)]
struct Stats {
    /// Latencies in microseconds, by kind.
    latencies: [Vec<u32>; 5],
    errors: Vec<String>,
}

struct Shared {
    http: Http,
    base: String,
    auth: String,
    stats: Mutex<Stats>,
    /// Images pushed so far: (repository, tag, manifest digest).
    pushed: Mutex<Vec<(String, String, String)>>,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    images: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    async fn request(
        &self,
        kind: Kind,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        headers: &[(&str, &str)],
        want: StatusCode,
    ) -> Result<Bytes> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", &self.auth);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let up = body.as_ref().map_or(0, |b| b.len() as u64);
        let body = match body {
            Some(b) => Full::new(b).map_err(|never| match never {}).boxed_unsync(),
            None => Empty::new().map_err(|never| match never {}).boxed_unsync(),
        };
        let started = Instant::now();
        let res = self.http.request(req.body(body)?).await?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        let micros = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        self.bytes_up.fetch_add(up, Ordering::Relaxed);
        self.bytes_down.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.stats.lock().await.latencies[kind as usize].push(micros);
        ensure!(status == want, "{path}: {status}, wanted {want}: {}", String::from_utf8_lossy(&bytes));
        Ok(bytes)
    }

    async fn push_blob(&self, repo: &str, data: Bytes, head_first: bool) -> Result<String> {
        let digest = sha256(&data);
        if head_first {
            let path = format!("/v2/{repo}/blobs/{digest}");
            let started = Instant::now();
            let req = Request::builder()
                .method(Method::HEAD)
                .uri(format!("{}{path}", self.base))
                .header("authorization", &self.auth)
                .body(Empty::new().map_err(|never| match never {}).boxed_unsync())?;
            let status = self.http.request(req).await?.status();
            let micros = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
            self.stats.lock().await.latencies[Kind::BlobHead as usize].push(micros);
            if status == StatusCode::OK {
                return Ok(digest);
            }
            ensure!(status == StatusCode::NOT_FOUND, "{path}: HEAD answered {status}");
        }
        let path = format!("/v2/{repo}/blobs/uploads/?digest={digest}");
        self.request(Kind::BlobPush, Method::POST, &path, Some(data), &[], StatusCode::CREATED).await?;
        Ok(digest)
    }

    async fn push_image(&self, repo: &str, tag: &str, base: &Bytes, own: Bytes) -> Result<String> {
        let base_digest = self.push_blob(repo, base.clone(), true).await?;
        let (own_len, own_digest) = (own.len(), self.push_blob(repo, own, false).await?);
        let config = Bytes::from(format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"tag":"{repo}:{tag}"}}"#
        ));
        let config_len = config.len();
        let config_digest = self.push_blob(repo, config, false).await?;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_len},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": base_digest, "size": base.len()},
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": own_digest, "size": own_len},
            ],
        }))?;
        let digest = sha256(&manifest);
        let path = format!("/v2/{repo}/manifests/{tag}");
        let headers = [("content-type", OCI_MANIFEST)];
        self.request(
            Kind::ManifestPush,
            Method::PUT,
            &path,
            Some(manifest.into()),
            &headers,
            StatusCode::CREATED,
        )
        .await?;
        Ok(digest)
    }

    async fn pull_image(&self, repo: &str, tag: &str, digest: &str) -> Result<()> {
        let path = format!("/v2/{repo}/manifests/{tag}");
        let headers = [("accept", OCI_MANIFEST)];
        let manifest =
            self.request(Kind::ManifestPull, Method::GET, &path, None, &headers, StatusCode::OK).await?;
        ensure!(sha256(&manifest) == digest, "{repo}:{tag} has another manifest");
        let m: serde_json::Value = serde_json::from_slice(&manifest)?;
        let layers = m["layers"].as_array().context("layers")?;
        for d in layers.iter().chain([&m["config"]]).filter_map(|d| d["digest"].as_str()) {
            let path = format!("/v2/{repo}/blobs/{d}");
            let blob = self.request(Kind::BlobPull, Method::GET, &path, None, &[], StatusCode::OK).await?;
            ensure!(sha256(&blob) == d, "{path} served other bytes");
        }
        Ok(())
    }
}

async fn client_loop(shared: Arc<Shared>, id: u64, base: Bytes) {
    let repo = format!("library/soak{}", id % 10);
    let mut n = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        n += 1;
        let tag = format!("c{id}-{n}");
        let mut own = vec![0u8; 4096 + rand::random_range(0..32 * 1024)];
        rand::fill(&mut own[..]);
        let result = async {
            let digest = shared.push_image(&repo, &tag, &base, own.into()).await?;
            shared.images.fetch_add(1, Ordering::Relaxed);
            shared.pull_image(&repo, &tag, &digest).await?;
            shared.pushed.lock().await.push((repo.clone(), tag.clone(), digest));
            let other = {
                let pushed = shared.pushed.lock().await;
                pushed[rand::random_range(0..pushed.len())].clone()
            };
            shared.pull_image(&other.0, &other.1, &other.2).await
        }
        .await;
        if let Err(e) = result {
            shared.stats.lock().await.errors.push(format!("{e:#}"));
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let seconds = env_u64("WHARF_SOAK_SECONDS", 600);
    let clients = env_u64("WHARF_SOAK_CLIENTS", 50);
    let sample = Duration::from_secs(env_u64("WHARF_SOAK_SAMPLE_SECONDS", 30).max(1));
    let dir = tempfile::tempdir()?;
    let server = WharfChild::start(&dir.path().join("data"), PASSWORD)?;
    let pid = server.pid();
    let auth = {
        use base64::Engine;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}")))
    };
    let http: Http =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(64).build(HttpConnector::new());
    let shared = Arc::new(Shared {
        http,
        base: server.base.clone(),
        auth,
        stats: Mutex::default(),
        pushed: Mutex::default(),
        bytes_up: AtomicU64::new(0),
        bytes_down: AtomicU64::new(0),
        images: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut ready = false;
    for _ in 0..200 {
        if shared.request(Kind::ManifestPull, Method::GET, "/v2/", None, &[], StatusCode::OK).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !ready {
        bail!("wharf did not answer");
    }
    shared.stats.lock().await.latencies = Default::default();
    let mut base = vec![0u8; 1 << 20];
    rand::fill(&mut base[..]);
    let base = Bytes::from(base);
    println!("soak: {clients} clients for {seconds} s against {} (pid {pid})", shared.base);
    let started = Instant::now();
    let tasks: Vec<_> =
        (0..clients).map(|id| tokio::spawn(client_loop(shared.clone(), id, base.clone()))).collect();
    let mut samples = Vec::new();
    let rss0 = memory_mib(pid, "VmRSS")?;
    samples.push((0u64, rss0, shared.images.load(Ordering::Relaxed)));
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(sample.min(Duration::from_secs(seconds).saturating_sub(started.elapsed()))).await;
        let rss = memory_mib(pid, "VmRSS")?;
        let t = started.elapsed().as_secs();
        let images = shared.images.load(Ordering::Relaxed);
        println!("  t={t:>4} s  RSS {rss:>7.1} MiB  images pushed {images}");
        samples.push((t, rss, images));
    }
    shared.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (rss, peak) = (memory_mib(pid, "VmRSS")?, memory_mib(pid, "VmHWM")?);
    let mut stats = shared.stats.lock().await;
    let total: usize = stats.latencies.iter().map(Vec::len).sum();
    println!(
        "\n{clients} clients, {elapsed:.0} s: {} images pushed and pulled back, {total} requests ({:.0}/s); \
         {:.1} MB/s up, {:.1} MB/s down",
        shared.images.load(Ordering::Relaxed),
        total as f64 / elapsed,
        shared.bytes_up.load(Ordering::Relaxed) as f64 / elapsed / 1e6,
        shared.bytes_down.load(Ordering::Relaxed) as f64 / elapsed / 1e6,
    );
    println!("{:<14} {:>9} {:>9} {:>9} {:>9}", "request", "count", "p50 ms", "p99 ms", "max ms");
    for kind in KINDS {
        let l = &mut stats.latencies[kind as usize];
        l.sort_unstable();
        println!(
            "{:<14} {:>9} {:>9.2} {:>9.2} {:>9.2}",
            format!("{kind:?}"),
            l.len(),
            percentile(l, 0.5),
            percentile(l, 0.99),
            percentile(l, 1.0)
        );
    }
    let mut all: Vec<u32> = stats.latencies.iter().flatten().copied().collect();
    all.sort_unstable();
    println!(
        "{:<14} {:>9} {:>9.2} {:>9.2} {:>9.2}",
        "all",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
    let steady: Vec<f64> = samples.iter().filter(|(t, ..)| *t >= seconds / 5).map(|(_, r, _)| *r).collect();
    let (lo, hi) = steady.iter().fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    println!(
        "RSS: {rss0:.1} MiB at start, {lo:.1}-{hi:.1} MiB after the first fifth, {rss:.1} MiB at the end, peak {peak:.1} MiB"
    );
    println!("errors: {}", stats.errors.len());
    for e in stats.errors.iter().take(10) {
        println!("  {e}");
    }
    drop(server);
    ensure!(stats.errors.is_empty(), "{} requests failed", stats.errors.len());
    Ok(())
}
