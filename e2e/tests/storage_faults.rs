//! Storage failures with real processes: blobs on a full filesystem (a small tmpfs) and on an S3
//! server that goes away (a real `moto_server` behind a proxy the test cuts). Pushes fail with a
//! clean OCI error, nothing is half-committed, reads the database can answer go on, and pushes
//! work again once storage is back, without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use sha2::Digest as _;
use tokio::net::{TcpListener, TcpStream};
use wharf_e2e::{ADMIN_PASSWORD, WharfProcess, run, tool, wharf_binary};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

struct Api {
    client: Client,
    base: String,
}

impl Api {
    fn new(host: &str) -> Self {
        Self { client: Client::new(), base: format!("http://{host}") }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        self.client.request(method, url).basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    async fn push_blob(&self, repo: &str, data: &[u8]) -> reqwest::Response {
        self.req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={}", sha256(data)))
            .body(data.to_vec())
            .send()
            .await
            .expect("push blob")
    }

    /// Pushes a one-layer image; returns (manifest bytes, layer bytes).
    async fn push_image(&self, repo: &str, tag: &str, layer: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert_eq!(self.push_blob(repo, config).await.status(), StatusCode::CREATED);
        assert_eq!(self.push_blob(repo, &layer).await.status(), StatusCode::CREATED);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(&layer), "size": layer.len()}],
        }))
        .expect("manifest");
        let res = self
            .req(Method::PUT, &format!("/v2/{repo}/manifests/{tag}"))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
            .expect("manifest");
        assert_eq!(res.status(), StatusCode::CREATED);
        (manifest, layer)
    }

    /// The image reads back exactly.
    async fn assert_pulls(&self, repo: &str, tag: &str, manifest: &[u8], layer: &[u8]) {
        let res = self
            .req(Method::GET, &format!("/v2/{repo}/manifests/{tag}"))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .expect("manifest");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.expect("body").as_ref(), manifest);
        let res =
            self.req(Method::GET, &format!("/v2/{repo}/blobs/{}", sha256(layer))).send().await.expect("blob");
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.bytes().await.expect("body").as_ref() == layer);
    }

    /// Starts a chunked upload; returns its location.
    async fn start_upload(&self, repo: &str) -> String {
        let res = self.req(Method::POST, &format!("/v2/{repo}/blobs/uploads/")).send().await.expect("start");
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        res.headers()["location"].to_str().expect("location").to_owned()
    }

    async fn patch(&self, location: &str, offset: usize, chunk: &[u8]) -> reqwest::Response {
        self.req(Method::PATCH, location)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{offset}-{}", offset + chunk.len() - 1))
            .body(chunk.to_vec())
            .send()
            .await
            .expect("patch")
    }

    async fn status_of(&self, method: Method, path: &str) -> StatusCode {
        self.req(method, path).send().await.expect("request").status()
    }
}

/// The response is the OCI error `code` with `status`; returns its message.
async fn oci_error(res: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(res.status(), status);
    let body: serde_json::Value = res.json().await.expect("OCI error JSON");
    assert_eq!(body["errors"][0]["code"], code, "{body}");
    body["errors"][0]["message"].as_str().expect("message").to_owned()
}

async fn fsck(env: &[(&str, String)]) -> serde_json::Value {
    let out = tokio::process::Command::new(wharf_binary())
        .args(["fsck", "--json"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("WHARF_LOG", "warn")
        .output()
        .await
        .expect("fsck");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    serde_json::from_slice(&out.stdout).expect("report")
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(status.success(), "mounting a tmpfs needs root (CI runs as root)");
        Self(dir)
    }

    /// Every file below the mount, with its size.
    fn files(&self) -> Vec<(String, u64)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(String, u64)>) {
            for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
                let meta = entry.metadata().expect("meta");
                if meta.is_dir() {
                    walk(&entry.path(), out);
                } else {
                    out.push((entry.path().display().to_string(), meta.len()));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.0.path(), &mut out);
        out
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        std::process::Command::new("umount").arg(self.0.path()).status().ok();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_pushes_cleanly_and_reads_go_on() {
    let disk = Tmpfs::mount("8m");
    let data = tempfile::tempdir().expect("tmp");
    let env = vec![
        ("WHARF_DATA_DIR", data.path().display().to_string()),
        ("WHARF_STORAGE_URL", disk.0.path().display().to_string()),
    ];
    let server = WharfProcess::start(&env).await;
    let api = Api::new(&server.host);
    let (manifest, layer) = api.push_image("library/small", "1", bytes(200_000, 1)).await;

    // One request larger than the free space.
    let big = bytes(12 << 20, 2);
    let message =
        oci_error(api.push_blob("library/big", &big).await, StatusCode::INSUFFICIENT_STORAGE, "UNKNOWN")
            .await;
    assert!(message.contains("storage is full"), "{message}");
    // A chunked upload that fills the disk on its second chunk: the first stays usable.
    let location = api.start_upload("library/big").await;
    let first = &big[..5 << 20];
    let res = api.patch(&location, 0, first).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().expect("location").to_owned();
    oci_error(
        api.patch(&location, first.len(), &big[5 << 20..10 << 20]).await,
        StatusCode::INSUFFICIENT_STORAGE,
        "UNKNOWN",
    )
    .await;
    let res = api.req(Method::GET, &location).send().await.expect("status");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["range"],
        format!("0-{}", first.len() - 1).as_str(),
        "the failed chunk left nothing"
    );

    // Nothing half-written: the small image and the one recorded chunk are all that is stored.
    let files = disk.files();
    let stored: u64 = files.iter().map(|(_, n)| n).sum();
    assert!(stored < 200_000 + 200 + (5 << 20) + 4096, "{files:?}");
    assert!(files.iter().all(|(name, _)| !name.contains('#')), "no staging files left: {files:?}");
    assert_eq!(
        api.status_of(Method::HEAD, &format!("/v2/library/big/blobs/{}", sha256(&big))).await,
        StatusCode::NOT_FOUND
    );

    // Reads go on, for hand-written HTTP and for skopeo.
    api.assert_pulls("library/small", "1", &manifest, &layer).await;
    tool("skopeo");
    let dest = tempfile::tempdir().expect("tmp");
    run(tokio::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--src-creds", &format!("admin:{ADMIN_PASSWORD}")])
        .arg(format!("docker://{}/library/small:1", server.host))
        .arg(format!("dir:{}", dest.path().display())))
    .await;
    assert!(fsck(&env).await["problems"].as_array().expect("problems").is_empty());

    // Space freed (the abandoned session cancelled): pushes work again without a restart.
    assert_eq!(api.status_of(Method::DELETE, &location).await, StatusCode::NO_CONTENT);
    let (manifest, layer) = api.push_image("library/small", "2", bytes(3 << 20, 3)).await;
    api.assert_pulls("library/small", "2", &manifest, &layer).await;
}

/// A TCP proxy the test can cut (every connection dropped, new ones refused) and restore.
struct Proxy {
    addr: String,
    up: Arc<AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (u, l) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let upstream = upstream.clone();
                l.lock().expect("links").push(tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&upstream).await {
                        tokio::io::copy_bidirectional(&mut inbound, &mut out).await.ok();
                    }
                }));
            }
        });
        Self { addr, up, links }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A `moto_server` on a free loopback port, killed when dropped.
struct Moto {
    _process: tokio::process::Child,
    addr: String,
}

impl Moto {
    async fn start() -> Self {
        tool("moto_server");
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server");
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if TcpStream::connect(&addr).await.is_ok() {
                return Self { _process: child, addr };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not start");
    }
}

#[tokio::test]
async fn s3_going_away_fails_pushes_cleanly_and_they_work_again_when_it_returns() {
    let moto = Moto::start().await;
    let res = Client::new().put(format!("http://{}/faults", moto.addr)).send().await.expect("bucket");
    assert!(res.status().is_success());
    let proxy = Proxy::start(moto.addr.clone()).await;
    let data = tempfile::tempdir().expect("tmp");
    let env = vec![
        ("WHARF_DATA_DIR", data.path().display().to_string()),
        ("WHARF_STORAGE_URL", "s3://faults/wharf".to_owned()),
        ("AWS_ENDPOINT", format!("http://{}", proxy.addr)),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
    ];
    let server = WharfProcess::start(&env).await;
    let api = Api::new(&server.host);
    let (manifest, layer) = api.push_image("library/s3", "1", bytes(300_000, 4)).await;
    let location = api.start_upload("library/s3").await;

    proxy.cut();
    let blob = bytes(1 << 20, 5);
    let started = Instant::now();
    let res = api.push_blob("library/s3", &blob).await;
    assert_eq!(res.headers().get("retry-after").map(|v| v.to_str().expect("ascii")), Some("1"));
    oci_error(res, StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE").await;
    oci_error(api.patch(&location, 0, &blob[..1000]).await, StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
        .await;
    oci_error(
        api.req(Method::GET, &format!("/v2/library/s3/blobs/{}", sha256(&layer))).send().await.expect("get"),
        StatusCode::SERVICE_UNAVAILABLE,
        "UNAVAILABLE",
    )
    .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "failures come within seconds, not minutes: {took:?}");
    // What the database answers keeps working; health says which part is down.
    let res = api
        .req(Method::GET, "/v2/library/s3/manifests/1")
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.expect("body").as_ref(), manifest.as_slice());
    assert_eq!(api.status_of(Method::GET, "/v2/library/s3/tags/list").await, StatusCode::OK);
    assert_eq!(api.status_of(Method::GET, "/api/v2.0/projects/library/repositories").await, StatusCode::OK);
    let res = api.req(Method::GET, "/api/v2.0/health").send().await.expect("health");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: serde_json::Value = res.json().await.expect("json");
    assert_eq!(health["components"][2], serde_json::json!({"name": "storage", "status": "unhealthy"}));

    proxy.restore();
    // Nothing of the failed push was committed; the session and the old image are intact.
    assert_eq!(
        api.status_of(Method::HEAD, &format!("/v2/library/s3/blobs/{}", sha256(&blob))).await,
        StatusCode::NOT_FOUND
    );
    api.assert_pulls("library/s3", "1", &manifest, &layer).await;
    let res = api.patch(&location, 0, &blob).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().expect("location").to_owned();
    let sep = if location.contains('?') { '&' } else { '?' };
    let res =
        api.req(Method::PUT, &format!("{location}{sep}digest={}", sha256(&blob))).send().await.expect("put");
    assert_eq!(res.status(), StatusCode::CREATED);
    let (manifest, layer) = api.push_image("library/s3", "2", bytes(2 << 20, 6)).await;
    api.assert_pulls("library/s3", "2", &manifest, &layer).await;
    assert!(fsck(&env).await["problems"].as_array().expect("problems").is_empty());
    eprintln!("S3 cut: three failing requests answered in {took:?}");
}
