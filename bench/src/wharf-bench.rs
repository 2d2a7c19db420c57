//! `wharf-bench`: measures the registry's hot paths against a real `wharf` process.
//!
//! Prints: monolithic push throughput of a random blob (default 1 GiB) and its ratio to
//! `openssl dgst -sha256` of the same file (the hashing limit) and, with fsync on, to the slower
//! of that and the disk (the same file copied to the data dir's disk and synced: a durable push
//! cannot outrun either); chunked push (16 MiB chunks);
//! pull throughput; manifest `GET` by tag at 64 concurrent connections, with its limit (the same
//! server answering `GET /v2/` without credentials, no database) and the ratio; the server's RSS idle
//! and at its peak; and the time from starting the server on the existing data dir to its first
//! answer; then the same phases against Debian's `docker-registry` (Distribution, the reference
//! registry) started by the bench when it is installed, side by side; then the same phases against
//! Wharf on PostgreSQL and S3 (`moto_server`, both on this machine), with the limits of that
//! object store alone and each phase's database round trips and S3 requests counted. Run it with `cargo build --release -p wharf && cargo run --release -p wharf-bench --bin wharf-bench` (see the README).
//!
//! Settings (environment): `WHARF_BENCH_BLOB_MIB` (default 1024), `WHARF_BENCH_SECONDS` for the
//! manifest load (default 10), `WHARF_BENCH_CONNECTIONS` (default 64), `WHARF_BIN` (default: the
//! `wharf` next to this binary), `WHARF_BENCH_DIR` (default: a temp dir), and
//! `WHARF_DATABASE_URL` / `WHARF_STORAGE_URL` passed through to the server (the first run);
//! for the scale-out run `WHARF_BENCH_PG_SOCKET` (default `/var/run/postgresql/.s.PGSQL.5432`,
//! peer authentication as the bench's user), `WHARF_BENCH_S3_BLOB_MIB` (default 256), and
//! `WHARF_BENCH_SCALE_OUT=0` to skip it.

use std::path::Path;
use std::process::Command;
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
use sqlx::Connection as _;
use support::{WharfChild, memory_mib};
use tokio::io::AsyncWriteExt;

const PASSWORD: &str = "Bench12345";
const MIB: u64 = 1024 * 1024;

type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The registry under test: a `wharf` this bench started, or an external one
/// (`WHARF_BENCH_TARGET`, with `WHARF_BENCH_TARGET_PID` for its memory) to compare against, or
/// the reference (Distribution) this bench started.
struct Server {
    /// Kept for its `Drop`, which stops the server.
    _child: Option<WharfChild>,
    _reference: Option<KillOnDrop>,
    pid: Option<u32>,
    base: String,
}

/// A child process stopped when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Server {
    fn start(dir: &Path) -> Result<Self> {
        if let Ok(base) = std::env::var("WHARF_BENCH_TARGET") {
            let pid = std::env::var("WHARF_BENCH_TARGET_PID").ok().and_then(|p| p.parse().ok());
            return Ok(Self {
                _child: None,
                _reference: None,
                pid,
                base: base.trim_end_matches('/').to_owned(),
            });
        }
        let child = WharfChild::start(&dir.join("data"), PASSWORD)?;
        Ok(Self { pid: Some(child.pid()), base: child.base.clone(), _child: Some(child), _reference: None })
    }

    /// Debian's `docker-registry` (Distribution) on its own directory under `dir`, open to
    /// anonymous pushes; `None` when it is not installed.
    fn distribution(dir: &Path) -> Result<Option<Self>> {
        let Ok(bin) = which("docker-registry") else { return Ok(None) };
        let root = dir.join("distribution");
        std::fs::create_dir_all(&root)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = root.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  \
                 delete: {{enabled: true}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
                root.join("data").display()
            ),
        )?;
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting docker-registry")?;
        let pid = Some(child.id());
        Ok(Some(Self {
            _child: None,
            _reference: Some(KillOnDrop(child)),
            pid,
            base: format!("http://127.0.0.1:{port}"),
        }))
    }

    /// Resident set size of the server process now, in MiB (`None`: unknown process).
    fn rss_mib(&self) -> Result<Option<f64>> {
        self.pid.map(|pid| memory_mib(pid, "VmRSS")).transpose()
    }

    /// Peak resident set size of the server process so far, in MiB (`None`: unknown process).
    fn peak_rss_mib(&self) -> Result<Option<f64>> {
        self.pid.map(|pid| memory_mib(pid, "VmHWM")).transpose()
    }
}

/// `name` found on `PATH`.
fn which(name: &str) -> Result<std::path::PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("{name} is not on PATH"))
}

fn client() -> Client<HttpConnector, BoxBody> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

fn auth() -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}")))
}

fn empty() -> BoxBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn full(b: Bytes) -> BoxBody {
    Full::new(b).map_err(|never| match never {}).boxed_unsync()
}

async fn send(
    c: &Client<HttpConnector, BoxBody>,
    method: Method,
    url: &str,
    body: BoxBody,
    headers: &[(&str, String)],
) -> Result<hyper::Response<hyper::body::Incoming>> {
    let mut req = Request::builder().method(method).uri(url).header("authorization", auth());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    Ok(c.request(req.body(body)?).await?)
}

async fn wait_ready(c: &Client<HttpConnector, BoxBody>, base: &str) -> Result<()> {
    for _ in 0..200 {
        if let Ok(r) = send(c, Method::GET, &format!("{base}/v2/"), empty(), &[]).await
            && !r.status().is_server_error()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the registry did not answer")
}

async fn random_file(path: &Path, mib: u64) -> Result<String> {
    let mut f = tokio::fs::File::create(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; MIB as usize];
    for _ in 0..mib {
        rand::fill(&mut buf[..]);
        hasher.update(&buf);
        f.write_all(&buf).await?;
    }
    f.flush().await?;
    // On disk before any timing: otherwise the kernel writes this file back during the pushes.
    f.sync_all().await?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

fn gbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e9
}

fn location(res: &hyper::Response<hyper::body::Incoming>, base: &str) -> Result<String> {
    let loc = res.headers().get("location").context("location")?.to_str()?;
    Ok(if loc.starts_with("http") { loc.to_owned() } else { format!("{base}{loc}") })
}

/// One HTTP/1.1 request on a fresh connection; a body is `len` bytes of `file` from `offset`,
/// sent by `std::io::copy`, which Linux turns into `sendfile`: the client costs almost no CPU, so
/// on a shared machine the figure is the server's. Returns the status and the `Location` header.
fn raw_request(
    base: &str,
    method: &str,
    target: &str,
    body: Option<(&Path, u64, u64)>,
) -> Result<(u16, Option<String>)> {
    use std::io::{BufRead, BufReader, Read, Seek, Write};
    let authority = base.trim_start_matches("http://");
    let path = target.strip_prefix(base).unwrap_or(target);
    let mut stream = std::net::TcpStream::connect(authority)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: {}\r\nConnection: close\r\n",
        auth()
    );
    let len = body.map_or(0, |(_, _, len)| len);
    head.push_str(&format!("Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n"));
    if let Some((_, offset, len)) = body.filter(|b| b.1 > 0 || method == "PATCH") {
        head.push_str(&format!("Content-Range: {offset}-{}\r\n", offset + len - 1));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some((file, offset, len)) = body {
        let mut f = std::fs::File::open(file)?;
        f.seek(std::io::SeekFrom::Start(offset))?;
        let sent = std::io::copy(&mut f.take(len), &mut stream)?;
        ensure!(sent == len, "sent {sent} of {len} bytes");
    }
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line.split(' ').nth(1).and_then(|c| c.parse().ok()).context("status line")?;
    let mut location = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("location")
        {
            let v = v.trim();
            location = Some(if v.starts_with("http") { v.to_owned() } else { format!("{base}{v}") });
        }
    }
    Ok((status, location))
}

/// A monolithic push as the spec describes it: `POST` to open, one `PUT` with the whole blob.
fn push_monolithic(base: &str, repo: &str, file: &Path, size: u64, digest: &str) -> Result<Duration> {
    let t = Instant::now();
    let (status, loc) = raw_request(base, "POST", &format!("/v2/{repo}/blobs/uploads/"), None)?;
    ensure!(status == 202, "start upload: {status}");
    let loc = loc.context("location")?;
    let sep = if loc.contains('?') { '&' } else { '?' };
    let (status, _) = raw_request(base, "PUT", &format!("{loc}{sep}digest={digest}"), Some((file, 0, size)))?;
    ensure!(status == 201, "monolithic push: {status}");
    Ok(t.elapsed())
}

/// A chunked push: `POST`, one `PATCH` with `Content-Range` per chunk, then `PUT ?digest=`.
fn push_chunked(
    base: &str,
    repo: &str,
    file: &Path,
    size: u64,
    digest: &str,
    chunk: u64,
) -> Result<Duration> {
    let t = Instant::now();
    let (status, loc) = raw_request(base, "POST", &format!("/v2/{repo}/blobs/uploads/"), None)?;
    ensure!(status == 202, "start upload: {status}");
    let mut loc = loc.context("location")?;
    let mut offset = 0;
    while offset < size {
        let len = chunk.min(size - offset);
        let (status, next) = raw_request(base, "PATCH", &loc, Some((file, offset, len)))?;
        ensure!(status == 202, "chunk at {offset}: {status}");
        loc = next.context("location")?;
        offset += len;
    }
    let sep = if loc.contains('?') { '&' } else { '?' };
    let (status, _) = raw_request(base, "PUT", &format!("{loc}{sep}digest={digest}"), None)?;
    ensure!(status == 201, "complete upload: {status}");
    Ok(t.elapsed())
}

/// Pulls a blob over a raw HTTP/1.1 connection into one reused buffer, so the client costs as
/// little as curl does and the figure is the server's.
async fn pull(base: &str, repo: &str, digest: &str, size: u64) -> Result<Duration> {
    get_body(base, &format!("/v2/{repo}/blobs/{digest}"), size).await
}

/// `GET path`, its body of `size` bytes read as [`pull`] does.
async fn get_body(base: &str, path: &str, size: u64) -> Result<Duration> {
    use tokio::io::AsyncReadExt;
    let authority = base.trim_start_matches("http://");
    let t = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        auth()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = vec![0u8; MIB as usize];
    let mut head = Vec::new();
    let mut in_body = false;
    let mut body = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if in_body {
            body += n as u64;
            continue;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            ensure!(head.starts_with(b"HTTP/1.1 200"), "pull: {}", String::from_utf8_lossy(&head[..end]));
            body = (head.len() - end - 4) as u64;
            in_body = true;
        }
    }
    ensure!(body == size, "pulled {body} of {size} bytes");
    Ok(t.elapsed())
}

/// Pushes a small image tagged `latest` and returns its manifest URL path.
async fn push_small_image(c: &Client<HttpConnector, BoxBody>, base: &str) -> Result<String> {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = vec![7u8; 1024];
    let mut digests = Vec::new();
    for blob in [&config[..], &layer[..]] {
        let d = format!("sha256:{}", hex::encode(Sha256::digest(blob)));
        // POST then PUT: the form every registry implements.
        let res =
            send(c, Method::POST, &format!("{base}/v2/library/bench/blobs/uploads/"), empty(), &[]).await?;
        ensure!(res.status() == StatusCode::ACCEPTED, "start upload: {}", res.status());
        let loc = location(&res, base)?;
        let sep = if loc.contains('?') { '&' } else { '?' };
        let res =
            send(c, Method::PUT, &format!("{loc}{sep}digest={d}"), full(Bytes::copy_from_slice(blob)), &[])
                .await?;
        ensure!(res.status() == StatusCode::CREATED, "blob: {}", res.status());
        digests.push(d);
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":1024}}]}}"#,
        digests[0],
        config.len(),
        digests[1]
    );
    let res = send(
        c,
        Method::PUT,
        &format!("{base}/v2/library/bench/manifests/latest"),
        full(Bytes::from(manifest)),
        &[("content-type", "application/vnd.oci.image.manifest.v1+json".into())],
    )
    .await?;
    ensure!(res.status() == StatusCode::CREATED, "manifest: {}", res.status());
    Ok("/v2/library/bench/manifests/latest".into())
}

/// Anonymous GETs of `path` from `connections` keep-alive connections for `secs`: requests per
/// second answered `expected`, how many were, and how many were answered otherwise.
async fn load(
    base: &str,
    path: &str,
    expected: StatusCode,
    connections: u64,
    secs: u64,
) -> Result<(f64, u64, u64)> {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let url: hyper::Uri = format!("{base}{path}").parse()?;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (ok, failed, stop, url) = (ok.clone(), failed.clone(), stop.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let stream =
                tokio::net::TcpStream::connect(url.authority().map(|a| a.as_str()).unwrap_or_default())
                    .await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(
                hyper_util::rt::TokioIo::new(stream),
            )
            .await?;
            tokio::spawn(conn);
            while !stop.load(Ordering::Relaxed) {
                let req = Request::get(url.path())
                    .header("host", "bench")
                    .header("accept", "application/vnd.oci.image.manifest.v1+json")
                    .body(Empty::new())?;
                let res = sender.send_request(req).await?;
                let good = res.status() == expected;
                res.into_body().collect().await?;
                if good { &ok } else { &failed }.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    let ok = ok.load(Ordering::Relaxed);
    Ok((ok as f64 / t.elapsed().as_secs_f64(), ok, failed.load(Ordering::Relaxed)))
}

/// The server's counts of manifest pulls answered from memory and read from the database
/// (`/metrics`).
async fn pull_cache_counts(c: &Client<HttpConnector, BoxBody>, base: &str) -> Result<(u64, u64)> {
    let res = send(c, Method::GET, &format!("{base}/metrics"), empty(), &[]).await?;
    let text = String::from_utf8(res.into_body().collect().await?.to_bytes().to_vec())?;
    let count = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .context("the counter is missing")
    };
    Ok((count("wharf_manifest_pulls_from_memory_total ")?, count("wharf_manifest_pulls_read_total ")?))
}

/// Flushes every dirty page so one phase's writeback does not slow the next one down.
fn settle() {
    Command::new("sync").status().ok();
}

fn openssl_gbps(file: &Path, size: u64) -> Result<f64> {
    let t = Instant::now();
    let out = Command::new("openssl").args(["dgst", "-sha256"]).arg(file).output().context("openssl")?;
    ensure!(out.status.success(), "openssl dgst failed");
    Ok(gbps(size, t.elapsed()))
}

/// The disk's limit for a durable push: `file` copied to a new file in `dir` (the data dir's
/// filesystem) by `dd` in 4 MiB direct writes (`oflag=direct`, around the page cache, as the
/// server writes with fsync on) and synced at the end; the copy is removed before anything else
/// runs. A push cannot be faster than the slower of this and hashing.
fn durable_write_gbps(file: &Path, dir: &Path, size: u64) -> Result<f64> {
    let copy = dir.join("durable-write-limit");
    // The blob was just written: its own dirty pages must not be flushed on this clock.
    settle();
    let t = Instant::now();
    let out = Command::new("dd")
        .arg(format!("if={}", file.display()))
        .arg(format!("of={}", copy.display()))
        .args(["bs=4M", "oflag=direct", "conv=fdatasync"])
        .output()
        .context("dd")?;
    ensure!(out.status.success(), "dd failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::File::open(dir)?.sync_all()?;
    let rate = gbps(size, t.elapsed());
    std::fs::remove_file(&copy)?;
    settle();
    Ok(rate)
}

#[tokio::main]
async fn main() -> Result<()> {
    let mib = env_u64("WHARF_BENCH_BLOB_MIB", 1024);
    let secs = env_u64("WHARF_BENCH_SECONDS", 10);
    let connections = env_u64("WHARF_BENCH_CONNECTIONS", 64);
    let tmp = match std::env::var_os("WHARF_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let size = mib * MIB;
    let blob = tmp.path().join("blob");
    eprintln!("writing a {mib} MiB random blob…");
    let digest = random_file(&blob, mib).await?;
    // Warm the page cache and measure the hashing limit on the same file.
    openssl_gbps(&blob, size)?;
    let hash_limit = openssl_gbps(&blob, size)?;
    let fsync = std::env::var("WHARF_STORAGE_FSYNC").unwrap_or_else(|_| "true".into());
    // With fsync on, the disk bounds a push as much as hashing does: when the server under test
    // keeps blobs on this machine's disk (its own data dir, not a bucket or another registry).
    let local_disk =
        std::env::var_os("WHARF_BENCH_TARGET").is_none() && std::env::var_os("WHARF_STORAGE_URL").is_none();
    let disk_limit =
        if fsync == "true" && local_disk { Some(durable_write_gbps(&blob, tmp.path(), size)?) } else { None };

    let server = Server::start(tmp.path())?;
    let wharf = measure(&server, &blob, &digest, size, connections, secs, None).await?;
    let started_own = server._child.is_some();
    drop(server);
    let start = if started_own { Some(start_to_first_answer(&tmp.path().join("data"), &[])?) } else { None };
    // The reference registry on the same machine, same file, same client, same run.
    let distribution = if started_own { Server::distribution(tmp.path())? } else { None };
    let reference = match distribution {
        Some(d) => Some(measure(&d, &blob, &digest, size, connections, secs, None).await?),
        None => None,
    };
    // The scale-out shape, unless the server under test is someone else's or it is turned off.
    let scale_out = if started_own && std::env::var("WHARF_BENCH_SCALE_OUT").as_deref() != Ok("0") {
        Some(scale_out(tmp.path(), connections, secs).await?)
    } else {
        None
    };

    let target = std::env::var("WHARF_BENCH_TARGET")
        .map(|t| format!("external registry {t}"))
        .unwrap_or_else(|_| format!("wharf, storage fsync {fsync}"));
    println!("wharf-bench: {target}; blob {mib} MiB, {connections} connections, {secs} s manifest load");
    println!("hashing limit (openssl dgst -sha256): {hash_limit:.2} GB/s");
    if let Some(disk) = disk_limit {
        println!("durable write limit (the blob copied to the data dir's disk and synced): {disk:.2} GB/s");
    }
    let push_limit = disk_limit.map_or(hash_limit, |d| d.min(hash_limit));
    let of_limits = |d: Duration| {
        let rate = gbps(size, d);
        format!(
            "{rate:.2} GB/s ({:.2} of the hashing limit, {:.2} of the slower of hashing and the disk; {:.2} s)",
            rate / hash_limit,
            rate / push_limit,
            d.as_secs_f64()
        )
    };
    println!("monolithic push:    {}", of_limits(wharf.mono));
    println!("chunked push 16MiB: {}", of_limits(wharf.chunked));
    println!(
        "pull:               {:.2} GB/s ({:.2} s)",
        gbps(size, wharf.pulled),
        wharf.pulled.as_secs_f64()
    );
    println!("GET /v2/ (the limit): {:.0} requests/s", wharf.ping_rps);
    println!(
        "manifest GET by tag: {:.0} requests/s ({:.2} of the limit; {} failed)",
        wharf.rps,
        wharf.rps / wharf.ping_rps,
        wharf.failed
    );
    if let Some((memory, read)) = wharf.from_memory {
        println!("  answered from memory: {memory} pulls, read from the database: {read}");
    }
    println!("server RSS: {}", wharf.rss());
    if let Some((median, all)) = start {
        let all: Vec<String> = all.iter().map(|d| format!("{:.1}", d.as_secs_f64() * 1e3)).collect();
        println!(
            "start to first answer on the existing data dir: {:.1} ms (median of {}: {} ms)",
            median.as_secs_f64() * 1e3,
            all.len(),
            all.join(", ")
        );
    }
    match reference {
        Some(r) => {
            println!("reference, same run: Distribution (Debian docker-registry; it does not fsync)");
            println!(
                "  monolithic push:    {} — Wharf {:.2}x",
                of_limits(r.mono),
                r.mono.as_secs_f64() / wharf.mono.as_secs_f64()
            );
            println!(
                "  chunked push 16MiB: {} — Wharf {:.2}x",
                of_limits(r.chunked),
                r.chunked.as_secs_f64() / wharf.chunked.as_secs_f64()
            );
            println!(
                "  pull:               {:.2} GB/s — Wharf {:.2}x",
                gbps(size, r.pulled),
                r.pulled.as_secs_f64() / wharf.pulled.as_secs_f64()
            );
            println!(
                "  manifest GET by tag: {:.0} requests/s ({} failed; its GET /v2/: {:.0}/s) — Wharf {:.2}x",
                r.rps,
                r.failed,
                r.ping_rps,
                wharf.rps / r.rps
            );
            println!("  RSS: {}", r.rss());
        }
        None if started_own => {
            println!("reference: docker-registry is not installed (apt-get install docker-registry)")
        }
        None => {}
    }
    match scale_out {
        Some(Ok(report)) => print!("{report}"),
        Some(Err(why)) => println!("scale-out: skipped, {why}"),
        None => {}
    }
    Ok(())
}

/// The same phases against Wharf on PostgreSQL and S3 (`moto_server`), with a blob of
/// `WHARF_BENCH_S3_BLOB_MIB` (default 256: moto keeps objects in memory, in Python), the limits
/// of that object store alone, and the database round trips and S3 requests of each phase.
async fn scale_out(dir: &Path, connections: u64, secs: u64) -> Result<Result<String, String>> {
    use std::fmt::Write as _;
    let dir = dir.join("scale-out");
    std::fs::create_dir_all(&dir)?;
    let shape = match ScaleOut::start(&dir).await? {
        Ok(shape) => shape,
        Err(why) => return Ok(Err(why)),
    };
    let mib = env_u64("WHARF_BENCH_S3_BLOB_MIB", 256);
    let size = mib * MIB;
    let blob = dir.join("blob");
    eprintln!("scale-out: writing a {mib} MiB random blob…");
    let digest = random_file(&blob, mib).await?;
    openssl_gbps(&blob, size)?;
    let hash_limit = openssl_gbps(&blob, size)?;
    let (put, got) = shape.limits(&blob, size).await?;

    let child = WharfChild::start_with(&dir.join("data"), PASSWORD, &shape.env)?;
    let server =
        Server { pid: Some(child.pid()), base: child.base.clone(), _child: Some(child), _reference: None };
    let counter = || shape.counts();
    let f = measure(&server, &blob, &digest, size, connections, secs, Some(&counter)).await?;
    drop(server);
    let (start, _) = start_to_first_answer(&dir.join("data"), &shape.env)?;
    shape.drop_database().await?;

    let mut out = String::new();
    let (put_rate, get_rate) = (gbps(size, put), gbps(size, got));
    let push_limit = put_rate.min(hash_limit);
    writeln!(
        out,
        "scale-out, same run: Wharf on PostgreSQL (through a relay that counts round trips) and S3 \
         (moto_server: Python, objects in memory); blob {mib} MiB"
    )?;
    writeln!(
        out,
        "  limits: hashing {hash_limit:.2} GB/s; moto alone, same file and client: PUT {put_rate:.2} GB/s, GET {get_rate:.2} GB/s"
    )?;
    let push = |d: Duration| {
        let rate = gbps(size, d);
        format!("{rate:.2} GB/s ({:.2} of the push limit; {:.2} s)", rate / push_limit, d.as_secs_f64())
    };
    writeln!(out, "  monolithic push:    {}", push(f.mono))?;
    writeln!(out, "  chunked push 16MiB: {}", push(f.chunked))?;
    let pull = gbps(size, f.pulled);
    writeln!(out, "  pull:               {pull:.2} GB/s ({:.2} of moto's GET)", pull / get_rate)?;
    writeln!(out, "  GET /v2/ (the limit): {:.0} requests/s", f.ping_rps)?;
    writeln!(
        out,
        "  manifest GET by tag: {:.0} requests/s ({:.2} of the limit; {} failed)",
        f.rps,
        f.rps / f.ping_rps,
        f.failed
    )?;
    if let Some((memory, read)) = f.from_memory {
        writeln!(out, "    answered from memory: {memory} pulls, read from the database: {read}")?;
    }
    writeln!(out, "  server RSS: {}", f.rss())?;
    writeln!(out, "  start to first answer: {:.1} ms (median of 5)", start.as_secs_f64() * 1e3)?;
    writeln!(out, "  behind each phase:")?;
    for phase in &f.traffic {
        writeln!(out, "    {}", phase.describe())?;
    }
    Ok(Ok(out))
}

/// One registry's figures.
struct Figures {
    mono: Duration,
    chunked: Duration,
    pulled: Duration,
    /// `GET /v2/` without credentials: the server's own limit for a request.
    ping_rps: f64,
    rps: f64,
    failed: u64,
    from_memory: Option<(u64, u64)>,
    rss: [Option<f64>; 3],
    /// What each phase cost in database round trips and object store requests (when counted).
    traffic: Vec<Phase>,
}

/// A phase's requests to the registry and the traffic they caused behind it.
struct Phase {
    name: &'static str,
    requests: u64,
    /// Database round trips and object store requests.
    counts: [u64; 2],
}

impl Phase {
    fn describe(&self) -> String {
        let per = |n: u64| n as f64 / self.requests.max(1) as f64;
        format!(
            "{:<36} {:>7} requests: {:>6} DB round trips ({:.3} a request), {:>4} S3 requests ({:.3} a request)",
            self.name,
            self.requests,
            self.counts[0],
            per(self.counts[0]),
            self.counts[1],
            per(self.counts[1])
        )
    }
}

impl Figures {
    fn rss(&self) -> String {
        match self.rss {
            [Some(i), Some(a), Some(b)] => {
                format!("{i:.1} MiB idle; peak {a:.1} MiB after the monolithic push, {b:.1} MiB at the end")
            }
            _ => "unknown (set WHARF_BENCH_TARGET_PID)".into(),
        }
    }
}

/// Reads the traffic behind a server: database round trips and object store requests so far.
type Counter<'a> = Option<&'a (dyn Fn() -> [u64; 2] + Sync)>;

/// Runs every phase against `server`: pushes of `blob`, pulls, and the manifest load; with a
/// `counter`, what each phase cost behind the server.
async fn measure(
    server: &Server,
    blob: &Path,
    digest: &str,
    size: u64,
    connections: u64,
    secs: u64,
    counter: Counter<'_>,
) -> Result<Figures> {
    let c = client();
    wait_ready(&c, &server.base).await?;
    let mut traffic = Vec::new();
    let mut last = [0u64; 2];
    // Counts since the previous phase; the object store's log is written after its answer, so
    // give it a moment.
    let mut phase = async |name: &'static str, requests: u64| {
        if let Some(count) = counter {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = count();
            traffic.push(Phase { name, requests, counts: [now[0] - last[0], now[1] - last[1]] });
            last = now;
        }
    };
    phase("start", 0).await;
    // Idle: started and answered once, nothing else yet.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = server.rss_mib()?;
    phase("idle, 1 s (background work)", 0).await;

    settle();
    let (base, file, d) = (server.base.clone(), blob.to_owned(), digest.to_owned());
    let mono = tokio::task::spawn_blocking(move || push_monolithic(&base, "library/mono", &file, size, &d))
        .await??;
    let rss_after_push = server.peak_rss_mib()?;
    phase("monolithic push (POST, PUT)", 2).await;
    settle();
    let (base, file, d) = (server.base.clone(), blob.to_owned(), digest.to_owned());
    let chunked = tokio::task::spawn_blocking(move || {
        push_chunked(&base, "library/chunked", &file, size, &d, 16 * MIB)
    })
    .await??;
    phase("chunked push (POST, PATCHes, PUT)", 2 + size.div_ceil(16 * MIB)).await;
    pull(&server.base, "library/mono", digest, size).await?;
    let pulled = pull(&server.base, "library/mono", digest, size).await?;
    phase("blob pulls", 2).await;
    let path = push_small_image(&c, &server.base).await?;
    phase("small image push (2 blobs, manifest)", 5).await;
    // The limit for manifest reads: the same server answering `/v2/` without a credential
    // (Wharf: a 401 with its challenge, no database; an open registry: 200), from the same
    // client, in the same run.
    let anonymous = Request::get(format!("{}/v2/", server.base)).body(empty())?;
    let ping = c.request(anonymous).await?.status();
    let (ping_rps, pings, _) = load(&server.base, "/v2/", ping, connections, secs).await?;
    phase("GET /v2/ load", pings).await;
    let (rps, gets, failed) = load(&server.base, &path, StatusCode::OK, connections, secs).await?;
    phase("manifest GET by tag load", gets).await;
    let from_memory = pull_cache_counts(&c, &server.base).await.ok();
    let rss_end = server.peak_rss_mib()?;
    Ok(Figures {
        mono,
        chunked,
        pulled,
        ping_rps,
        rps,
        failed,
        from_memory,
        rss: [rss_idle, rss_after_push, rss_end],
        traffic,
    })
}

/// Wharf in its scale-out shape: PostgreSQL through a relay that counts round trips, and S3
/// served by `moto_server` whose request log is counted. Dropped: Wharf first, then the
/// database is removed.
struct ScaleOut {
    trips: support::RoundTrips,
    _moto: KillOnDrop,
    moto_log: std::path::PathBuf,
    moto_base: String,
    admin_url: String,
    database: String,
    env: Vec<(String, String)>,
}

impl ScaleOut {
    /// `None` (and why) when PostgreSQL's socket or `moto_server` is missing.
    async fn start(dir: &Path) -> Result<Result<Self, String>> {
        let socket = std::path::PathBuf::from(
            std::env::var("WHARF_BENCH_PG_SOCKET")
                .unwrap_or_else(|_| "/var/run/postgresql/.s.PGSQL.5432".into()),
        );
        if !socket.exists() {
            return Ok(Err(format!("no PostgreSQL socket at {} (WHARF_BENCH_PG_SOCKET)", socket.display())));
        }
        let Ok(moto) = which("moto_server") else {
            return Ok(Err("moto_server is not installed (pip install 'moto[server]')".into()));
        };
        let user = String::from_utf8(Command::new("id").arg("-un").output()?.stdout)?.trim().to_owned();
        let socket_dir = socket.parent().context("socket dir")?.display().to_string();
        let admin_url = format!("postgres://{user}@localhost/postgres?host={socket_dir}");
        let database = format!("wharf_bench_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {database}")).execute(&mut admin).await?;
        sqlx::query(&format!("CREATE DATABASE {database}")).execute(&mut admin).await?;
        admin.close().await?;
        let trips = support::RoundTrips::start(socket).await?;

        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let moto_log = dir.join("moto.log");
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&moto_log)?)
            .spawn()
            .context("starting moto_server")?;
        let moto = KillOnDrop(child);
        let moto_base = format!("http://127.0.0.1:{port}");
        let c = client();
        let mut created = false;
        for _ in 0..200 {
            if let Ok(r) = send(&c, Method::PUT, &format!("{moto_base}/wharf-bench"), empty(), &[]).await {
                ensure!(r.status().is_success(), "creating the bucket: {}", r.status());
                created = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ensure!(created, "moto_server did not answer");
        let env = [
            (
                "WHARF_DATABASE_URL",
                format!("postgres://{user}@127.0.0.1:{}/{database}?sslmode=disable", trips.port),
            ),
            ("WHARF_STORAGE_URL", "s3://wharf-bench".into()),
            ("AWS_ENDPOINT", moto_base.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "bench".into()),
            ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec();
        Ok(Ok(Self { trips, _moto: moto, moto_log, moto_base, admin_url, database, env }))
    }

    /// Database round trips and object store requests so far.
    fn counts(&self) -> [u64; 2] {
        let log = std::fs::read_to_string(&self.moto_log).unwrap_or_default();
        [self.trips.count(), log.lines().filter(|l| l.contains(" HTTP/1.1\" ")).count() as u64]
    }

    /// The object store alone: a `PUT` of `file` and a `GET` of it back, from the same client.
    async fn limits(&self, file: &Path, size: u64) -> Result<(Duration, Duration)> {
        let (base, path) = (self.moto_base.clone(), file.to_owned());
        let put = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let (status, _) = raw_request(&base, "PUT", "/wharf-bench/limit", Some((&path, 0, size)))?;
            ensure!(status == 200, "PUT to moto: {status}");
            anyhow::Ok(t.elapsed())
        })
        .await??;
        let got = get_body(&self.moto_base, "/wharf-bench/limit", size).await?;
        Ok((put, got))
    }

    /// Removes the bench's database (once the server using it has stopped).
    async fn drop_database(&self) -> Result<()> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database))
            .execute(&mut admin)
            .await?;
        Ok(())
    }
}

/// Starts the server on `data` (which holds everything the run pushed) five times, timing each
/// from the spawn to the first byte of its answer to `GET /v2/`; the median and every time.
fn start_to_first_answer(data: &Path, env: &[(String, String)]) -> Result<(Duration, Vec<Duration>)> {
    use std::io::{Read, Write};
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let child = WharfChild::start_with(data, PASSWORD, env)?;
        let addr = child.base.trim_start_matches("http://").to_owned();
        let answered = loop {
            ensure!(t.elapsed() < Duration::from_secs(10), "the server did not answer");
            let Ok(mut conn) = std::net::TcpStream::connect(&addr) else {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            };
            conn.write_all(b"GET /v2/ HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?;
            let mut first = [0u8; 1];
            if conn.read(&mut first)? == 1 {
                break t.elapsed();
            }
        };
        times.push(answered);
        drop(child);
    }
    let mut sorted = times.clone();
    sorted.sort();
    Ok((sorted[sorted.len() / 2], times))
}
