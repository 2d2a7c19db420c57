//! `wharf-inspect-bench`: looking inside images and the portal's summaries, timed.
//!
//! 1. A layer of `WHARF_BENCH_FILES` files (default 50,000) holding `WHARF_BENCH_LAYER_MIB` MiB
//!    of incompressible content (default 500), gzip-compressed, pushed over HTTP: the time to
//!    the first page of its file list (the whole layer is read: it is streamed and indexed),
//!    the time to list every page once it is held, and the process's memory before, at its
//!    peak and after (the index, not the layer, stays in memory). The limit in the same run:
//!    decompressing the same blob alone (`flate2`, one thread).
//! 2. The merged filesystem of a 10-layer image (5,000 files each, a tenth deleted by the
//!    layer above): cold, then warm.
//! 3. A project summary over a year of audit data (`WHARF_BENCH_AUDIT_PER_DAY` entries a day,
//!    default 1,000, so 365,000): the summary computed by the server (the call the page makes),
//!    median and 99th percentile of 50 calls.
//!
//! Run: `cargo run --release -p wharf-bench --bin wharf-inspect-bench`.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use wharf::app;
use wharf::config::{Config, Secret, Settings};
use wharf::db;
use wharf::state::AppState;

const PASSWORD: &str = "Bench12345";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// This process's resident memory in MiB (`VmRSS` now, `VmHWM` peak).
fn memory(field: &str) -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("memory")?;
    Ok(kb / 1024.0)
}

/// Resets the peak (`VmHWM`) to the current resident size.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").ok();
}

/// Writes a gzip-compressed tar of `files` files, `bytes` of random content in all (plus
/// `extra` entries named by the caller), to `path`; returns its sha256 digest and size.
fn write_layer(
    path: &Path,
    prefix: &str,
    files: usize,
    bytes: usize,
    whiteouts: &[String],
) -> Result<(String, u64)> {
    struct Hashing<W: Write> {
        inner: W,
        hash: Sha256,
        size: u64,
    }
    impl<W: Write> Write for Hashing<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hash.update(&buf[..n]);
            self.size += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let out = Hashing {
        inner: std::io::BufWriter::new(std::fs::File::create(path)?),
        hash: Sha256::new(),
        size: 0,
    };
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let per = bytes / files.max(1);
    let mut content = vec![0u8; per];
    let mut rng = rand::rng();
    for i in 0..files {
        rng.fill_bytes(&mut content);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(per as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, format!("{prefix}/d{:03}/f{i:06}.bin", i % 500), &content[..])?;
    }
    for w in whiteouts {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        h.set_mode(0o644);
        tar.append_data(&mut h, w, std::io::empty())?;
    }
    let mut out = tar.into_inner()?.finish()?;
    out.flush()?;
    Ok((format!("sha256:{}", hex::encode(out.hash.finalize())), out.size))
}

struct Registry {
    base: String,
    client: reqwest::Client,
}

impl Registry {
    async fn push_file(&self, repo: &str, path: &Path, digest: &str) -> Result<()> {
        let file = tokio::fs::File::open(path).await?;
        let body = reqwest::Body::wrap_stream(tokio_util_stream(file));
        let res = self
            .client
            .post(format!("{}/v2/{repo}/blobs/uploads/?digest={digest}", self.base))
            .basic_auth("admin", Some(PASSWORD))
            .body(body)
            .send()
            .await?;
        ensure!(res.status() == 201, "push {digest}: {}", res.status());
        Ok(())
    }

    async fn push_bytes(&self, repo: &str, bytes: Vec<u8>) -> Result<String> {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let res = self
            .client
            .post(format!("{}/v2/{repo}/blobs/uploads/?digest={digest}", self.base))
            .basic_auth("admin", Some(PASSWORD))
            .body(bytes)
            .send()
            .await?;
        ensure!(res.status() == 201, "push {digest}: {}", res.status());
        Ok(digest)
    }

    /// Pushes an image of `layers` (digest, size) under `repo:tag`.
    async fn push_image(&self, repo: &str, tag: &str, layers: &[(String, u64)]) -> Result<()> {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"n":"{tag}"}}"#
        );
        let config_size = config.len();
        let cd = self.push_bytes(repo, config.into_bytes()).await?;
        let layers: Vec<String> = layers
            .iter()
            .map(|(d, s)| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":{s}}}"#))
            .collect();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{config_size}}},"layers":[{}]}}"#,
            layers.join(",")
        );
        let res = self
            .client
            .put(format!("{}/v2/{repo}/manifests/{tag}", self.base))
            .basic_auth("admin", Some(PASSWORD))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest)
            .send()
            .await?;
        ensure!(res.status() == 201, "manifest: {}", res.status());
        Ok(())
    }

    async fn get_json(&self, path: &str) -> Result<(Duration, serde_json::Value)> {
        let t = Instant::now();
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .await?;
        let status = res.status();
        let body = res.bytes().await?;
        let took = t.elapsed();
        ensure!(status == 200, "{path}: {status}: {}", String::from_utf8_lossy(&body));
        Ok((took, serde_json::from_slice(&body)?))
    }
}

/// A file as a stream of chunks, for a streamed request body.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let files = env_usize("WHARF_BENCH_FILES", 50_000);
    let mib = env_usize("WHARF_BENCH_LAYER_MIB", 500);
    let per_day = env_usize("WHARF_BENCH_AUDIT_PER_DAY", 1_000);
    let dir = tempfile::tempdir_in(
        std::env::var_os("WHARF_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        data_dir: Some(dir.path().join("data")),
        admin_password: Some(Secret::from(PASSWORD)),
        listen: Some(addr),
        log: Some("warn".into()),
        ..Default::default()
    };
    let state = AppState::init(Config::resolve(settings)?).await?;
    let serving = state.clone();
    tokio::spawn(async move { app::serve_http(serving, listener, std::future::pending()).await });
    let reg = Registry { base: format!("http://{addr}"), client: reqwest::Client::new() };

    // 1. One big layer.
    let layer = dir.path().join("big.tar.gz");
    let (digest, size) = {
        let layer = layer.clone();
        tokio::task::spawn_blocking(move || write_layer(&layer, "data", files, mib << 20, &[])).await??
    };
    let limit = {
        let layer = layer.clone();
        tokio::task::spawn_blocking(move || -> Result<Duration> {
            let t = Instant::now();
            let mut gz =
                flate2::read::MultiGzDecoder::new(std::io::BufReader::new(std::fs::File::open(layer)?));
            let mut buf = vec![0u8; 1 << 20];
            while gz.read(&mut buf)? > 0 {}
            Ok(t.elapsed())
        })
        .await??
    };
    reg.push_file("library/big", &layer, &digest).await?;
    reg.push_image("library/big", "v1", &[(digest.clone(), size)]).await?;
    std::fs::remove_file(&layer)?;
    let files_path =
        format!("/api/v2.0/projects/library/repositories/big/artifacts/v1/layers/{digest}/files");
    let before = memory("VmRSS")?;
    reset_peak();
    let (first, page) = reg.get_json(&format!("{files_path}?page_size=100")).await?;
    ensure!(page["entries"].as_u64() == Some(files as u64), "entries: {}", page["entries"]);
    let peak = memory("VmHWM")?;
    let t = Instant::now();
    let pages = files.div_ceil(100);
    for p in 1..=pages {
        let (_, page) = reg.get_json(&format!("{files_path}?page={p}&page_size=100")).await?;
        ensure!(page["files"].as_array().is_some_and(|f| !f.is_empty()), "page {p}");
    }
    let all = t.elapsed();
    let after = memory("VmRSS")?;
    println!(
        "layer of {files} files, {mib} MiB ({:.0} MiB compressed): first page {} (the whole layer read; decompressing it alone: {}, ratio {:.2}); all {pages} pages once held {} ({} a page)",
        size as f64 / (1 << 20) as f64,
        ms(first),
        ms(limit),
        limit.as_secs_f64() / first.as_secs_f64(),
        ms(all),
        ms(all / pages as u32),
    );
    println!(
        "  memory: {before:.1} MiB before, peak {peak:.1} MiB while reading, {after:.1} MiB after (the index)"
    );

    // 2. A 10-layer image.
    let mut layers = Vec::new();
    for i in 0..10 {
        let path = dir.path().join(format!("l{i}.tar.gz"));
        // Each layer deletes a tenth of the one below.
        let whiteouts: Vec<String> = if i == 0 {
            Vec::new()
        } else {
            (0..500).map(|f| format!("l{}/d{:03}/.wh.f{f:06}.bin", i - 1, f % 500)).collect()
        };
        let (d, s) = {
            let path = path.clone();
            let prefix = format!("l{i}");
            tokio::task::spawn_blocking(move || write_layer(&path, &prefix, 5_000, 5_000 * 1024, &whiteouts))
                .await??
        };
        reg.push_file("library/ten", &path, &d).await?;
        layers.push((d, s));
    }
    reg.push_image("library/ten", "v1", &layers).await?;
    let tree = "/api/v2.0/projects/library/repositories/ten/artifacts/v1/filesystem?path=/";
    let (cold, v) = reg.get_json(tree).await?;
    ensure!(v["dir"]["files"].as_u64() == Some(50_000 - 9 * 500), "files: {}", v["dir"]["files"]);
    let mut warm = Vec::new();
    for _ in 0..20 {
        warm.push(reg.get_json(tree).await?.0);
    }
    warm.sort();
    println!(
        "merged view of 10 layers (50,000 files, 4,500 deleted above): cold {}, warm median {}",
        ms(cold),
        ms(warm[warm.len() / 2])
    );

    // 3. A year of audit data, then the summary.
    let project =
        db::projects::access(state.db.reader(), "library", "", 0).await?.context("library")?.project_id;
    let now = db::now_ms();
    let mut tx = state.db.begin().await?;
    let mut rows = Vec::with_capacity(per_day);
    for day in 0..365 {
        rows.clear();
        for i in 0..per_day {
            rows.push(db::audit::AuditRow {
                id: 0,
                project_id: Some(project),
                username: "admin".into(),
                operation: if i % 4 == 0 { "push".into() } else { "pull".into() },
                resource: format!("library/app:{i}"),
                resource_type: "artifact".into(),
                client_ip: "127.0.0.1".into(),
                op_time: now - day * 86_400_000 - i as i64 * 1000,
            });
        }
        db::audit::insert_all(&mut tx, &rows).await?;
    }
    tx.commit().await?;
    let who = wharf::auth::Identity::User { id: 1, name: "admin".into(), sysadmin: true };
    let p = wharf::projects::ProjectRef::Name("library".into());
    state.dashboards.project(&who, &p).await?;
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let d = state.dashboards.project(&who, &p).await?;
        times.push(t.elapsed());
        ensure!(d.activity.pushes.iter().map(|x| x.value).sum::<i64>() >= 30 * per_day as i64 / 4, "pushes");
    }
    times.sort();
    println!(
        "project summary over {} audit entries (a year): median {}, p99 {} server-side",
        365 * per_day,
        ms(times[times.len() / 2]),
        ms(times[times.len() * 99 / 100])
    );
    Ok(())
}
