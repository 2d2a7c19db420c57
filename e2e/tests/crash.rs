//! Crash consistency: `wharf` is SIGKILLed at random moments while several clients push images
//! that share layers (monolithic, chunked and cross-repository mounts) and, every third round,
//! while a garbage collection sweeps. After every kill `wharf fsck` must find no blob row without
//! its bytes, no corrupt content and no broken session; at the end every push a client saw
//! succeed must pull back byte for byte (and with skopeo), and `fsck --repair` must leave the
//! data dir clean.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use sha2::Digest as _;
use tokio::sync::Mutex;
use wharf_e2e::{ADMIN_PASSWORD, DataDir, WharfProcess, run, tool, wharf_binary};

const ROUNDS: usize = 60;
const CLIENTS: usize = 5;
/// Base layers every image shares, so concurrent pushes race on the same digests.
const SHARED: [(u64, usize); 3] = [(1, 700_000), (2, 300_000), (3, 65_536)];
const CHUNK: usize = 256 * 1024;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Deterministic bytes for `seed`, so a layer can be compared after the fact without keeping it.
fn layer_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// A push the client saw succeed.
#[derive(Clone)]
struct Pushed {
    repo: String,
    tag: String,
    manifest: Vec<u8>,
    layers: Vec<(u64, usize)>,
}

struct Registry {
    client: Client,
    base: String,
}

impl Registry {
    fn new(host: &str) -> Self {
        let client = Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
        Self { client, base: format!("http://{host}") }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    /// Uploads `data` the way `style` picks: 0 monolithic, 1 chunked, 2 HEAD first and skip
    /// when present (what docker does for shared layers), 3 mount from `from`.
    async fn upload(&self, repo: &str, data: &[u8], style: u64, from: &str) -> Result<(), String> {
        use reqwest::Method;
        let digest = sha256(data);
        let check = |res: reqwest::Response, want: StatusCode| {
            if res.status() == want {
                Ok(res)
            } else {
                Err(format!("{} answered {}", res.url(), res.status()))
            }
        };
        let err = |e: reqwest::Error| e.to_string();
        match style % 4 {
            0 => {
                let res = self
                    .req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={digest}"))
                    .body(data.to_vec())
                    .send()
                    .await
                    .map_err(err)?;
                check(res, StatusCode::CREATED)?;
            }
            2 | 3 => {
                let res = self
                    .req(Method::HEAD, &format!("/v2/{repo}/blobs/{digest}"))
                    .send()
                    .await
                    .map_err(err)?;
                if res.status() == StatusCode::OK {
                    return Ok(());
                }
                if style % 4 == 3 {
                    let res = self
                        .req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"))
                        .send()
                        .await
                        .map_err(err)?;
                    if res.status() == StatusCode::CREATED {
                        return Ok(());
                    }
                }
                return Box::pin(self.upload(repo, data, 1, from)).await;
            }
            _ => {
                let res = self
                    .req(Method::POST, &format!("/v2/{repo}/blobs/uploads/"))
                    .send()
                    .await
                    .map_err(err)?;
                let mut location = check(res, StatusCode::ACCEPTED)?
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or("no location")?
                    .to_owned();
                let mut offset = 0;
                for chunk in data.chunks(CHUNK) {
                    let res = self
                        .client
                        .patch(self.absolute(&location))
                        .basic_auth("admin", Some(ADMIN_PASSWORD))
                        .header("content-type", "application/octet-stream")
                        .header("content-range", format!("{offset}-{}", offset + chunk.len() - 1))
                        .body(chunk.to_vec())
                        .send()
                        .await
                        .map_err(err)?;
                    let res = check(res, StatusCode::ACCEPTED)?;
                    location =
                        res.headers().get("location").and_then(|v| v.to_str().ok()).ok_or("loc")?.into();
                    offset += chunk.len();
                }
                let sep = if location.contains('?') { '&' } else { '?' };
                let res = self
                    .client
                    .put(format!("{}{sep}digest={digest}", self.absolute(&location)))
                    .basic_auth("admin", Some(ADMIN_PASSWORD))
                    .send()
                    .await
                    .map_err(err)?;
                check(res, StatusCode::CREATED)?;
            }
        }
        Ok(())
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http") { location.to_owned() } else { format!("{}{location}", self.base) }
    }

    /// Pushes an image of the shared layers plus `own`; Ok only when the manifest is accepted.
    async fn push_image(&self, repo: &str, tag: &str, own: &[(u64, usize)]) -> Result<Pushed, String> {
        let layers: Vec<(u64, usize)> = SHARED.iter().chain(own).copied().collect();
        let mut descriptors = Vec::new();
        for (i, &(seed, len)) in layers.iter().enumerate() {
            let data = layer_bytes(seed, len);
            self.upload(repo, &data, seed.wrapping_add(i as u64), "library/crash0").await?;
            descriptors.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha256(&data), "size": len,
            }));
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
            "created": format!("{repo}:{tag}"),
        }))
        .expect("config");
        self.upload(repo, &config, 0, "").await?;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha256(&config), "size": config.len()},
            "layers": descriptors,
        }))
        .expect("manifest");
        let res = self
            .req(reqwest::Method::PUT, &format!("/v2/{repo}/manifests/{tag}"))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if res.status() != StatusCode::CREATED {
            return Err(format!("manifest answered {}", res.status()));
        }
        Ok(Pushed { repo: repo.into(), tag: tag.into(), manifest, layers })
    }

    /// Pulls `p` back and compares every byte.
    async fn verify(&self, p: &Pushed, layers_seen: &mut std::collections::HashSet<(String, u64)>) {
        let res = self
            .req(reqwest::Method::GET, &format!("/v2/{}/manifests/{}", p.repo, p.tag))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .expect("get manifest");
        assert_eq!(res.status(), StatusCode::OK, "{}:{}", p.repo, p.tag);
        assert_eq!(res.bytes().await.expect("body").as_ref(), p.manifest.as_slice(), "{}:{}", p.repo, p.tag);
        let manifest: serde_json::Value = serde_json::from_slice(&p.manifest).expect("json");
        let config = manifest["config"]["digest"].as_str().expect("config");
        let res = self
            .req(reqwest::Method::GET, &format!("/v2/{}/blobs/{config}", p.repo))
            .send()
            .await
            .expect("config");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(sha256(&res.bytes().await.expect("body")), config);
        for &(seed, len) in &p.layers {
            // Shared layers are compared once per repository that must serve them.
            if SHARED.iter().any(|(s, _)| *s == seed) && !layers_seen.insert((p.repo.clone(), seed)) {
                continue;
            }
            let want = layer_bytes(seed, len);
            let res = self
                .req(reqwest::Method::GET, &format!("/v2/{}/blobs/{}", p.repo, sha256(&want)))
                .send()
                .await
                .expect("layer");
            assert_eq!(res.status(), StatusCode::OK, "{}:{} layer {seed}", p.repo, p.tag);
            assert!(
                res.bytes().await.expect("body").as_ref() == want.as_slice(),
                "{}:{} layer {seed}",
                p.repo,
                p.tag
            );
        }
    }
}

/// Runs `wharf fsck` on the data dir; returns (exit code, report).
async fn fsck(env: &[(&str, String)], extra: &[&str]) -> (i32, serde_json::Value) {
    let out = tokio::process::Command::new(wharf_binary())
        .arg("fsck")
        .arg("--json")
        .args(extra)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("WHARF_LOG", "warn")
        .output()
        .await
        .expect("wharf fsck");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("fsck output: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), report)
}

/// Problem kinds a crash may leave (bytes written, row not yet recorded); anything else is
/// damage.
const CRASH_DEBRIS: [&str; 2] = ["orphan_blob", "orphan_upload_part"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_pushes_and_sweeps_loses_nothing() {
    let data = DataDir::new().await;
    let mut env = data.env();
    // Blobs a client uploaded within the last second are not collected before its manifest.
    env.retain(|(k, _)| *k != "WHARF_GC_GRACE");
    env.push(("WHARF_GC_GRACE", "1s".into()));
    // Every kill abandons upload sessions; they must not use up the account's allowance.
    env.push(("WHARF_MAX_UPLOADS", "100000".into()));
    let pushed: Arc<Mutex<Vec<Pushed>>> = Arc::default();
    let mut kill_points = Vec::new();
    let mut next_seed = 100u64;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let gc = round % 3 == 2;
        if gc {
            // Enough old garbage that the sweep is still running when the kill comes.
            data.add_garbage(2000).await;
        }
        let server = WharfProcess::start(&env).await;
        let reg = Arc::new(Registry::new(&server.host));
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let (reg, stop, pushed) = (reg.clone(), stop.clone(), pushed.clone());
            let first_seed = next_seed;
            next_seed += 1000;
            clients.push(tokio::spawn(async move {
                let (mut ok, mut failed) = (0, 0);
                let mut seed = first_seed;
                while !stop.load(Ordering::SeqCst) {
                    seed += 2;
                    let own = [
                        (seed, 40_000 + (seed as usize * 7919) % 600_000),
                        (seed + 1, 1 + seed as usize % 5000),
                    ];
                    // The last client makes garbage: it pushes and deletes, for sweeps to collect.
                    let repo = if client == CLIENTS - 1 {
                        "library/crash-junk".to_owned()
                    } else {
                        format!("library/crash{client}")
                    };
                    match reg.push_image(&repo, &format!("r{round}-{seed}"), &own).await {
                        Ok(p) if client == CLIENTS - 1 => {
                            let digest = sha256(&p.manifest);
                            reg.req(reqwest::Method::DELETE, &format!("/v2/{repo}/manifests/{digest}"))
                                .send()
                                .await
                                .ok();
                        }
                        Ok(p) => {
                            ok += 1;
                            pushed.lock().await.push(p);
                        }
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed)
            }));
        }
        if gc {
            let reg = reg.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 400)).await;
                reg.req(reqwest::Method::POST, "/api/v2.0/system/gc/schedule")
                    .json(&serde_json::json!({"schedule": {"type": "Manual"}, "parameters": {"delete_untagged": true}}))
                    .send()
                    .await
                    .ok();
            });
        }
        let delay = Duration::from_millis(150 + rand::random::<u64>() % 1500);
        tokio::time::sleep(delay).await;
        server.kill();
        stop.store(true, Ordering::SeqCst);
        let (mut ok, mut failed) = (0, 0);
        for c in clients {
            let (o, f) = c.await.expect("client");
            ok += o;
            failed += f;
        }
        let (_, report) = fsck(&env, &["--no-verify"]).await;
        let problems = report["problems"].as_array().expect("problems");
        let damage: Vec<&serde_json::Value> =
            problems.iter().filter(|p| !CRASH_DEBRIS.contains(&p["kind"].as_str().unwrap_or(""))).collect();
        assert!(damage.is_empty(), "round {round}: damage after a kill: {damage:#?}");
        kill_points.push(format!(
            "round {round:2}: killed after {:4} ms{}: {ok} pushes acknowledged, {failed} cut off; fsck: {} blobs, {} purging, {} unrecorded objects",
            delay.as_millis(),
            if gc { " (collection started)" } else { "" },
            report["blobs"],
            report["purging"],
            problems.len() as u64 + report["recent_unrecorded"].as_u64().unwrap_or(0),
        ));
    }
    eprintln!("{}", kill_points.join("\n"));

    // A collection finishes what the killed ones left; then every acknowledged push pulls back
    // byte for byte.
    let server = WharfProcess::start(&env).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = run(tokio::process::Command::new(wharf_binary())
        .arg("gc")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("WHARF_LOG", "warn"))
    .await;
    assert!(out.contains("(Success)"), "{out}");
    let reg = Registry::new(&server.host);
    let pushed = pushed.lock().await.clone();
    assert!(pushed.len() >= ROUNDS, "too few pushes got through to prove anything: {}", pushed.len());
    let mut seen = std::collections::HashSet::new();
    for p in &pushed {
        reg.verify(p, &mut seen).await;
    }
    // A real client agrees, for a sample.
    tool("skopeo");
    for p in pushed.iter().step_by(pushed.len() / 4 + 1) {
        let dest = tempfile::tempdir().expect("tmp");
        run(tokio::process::Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false", "--src-creds", &format!("admin:{ADMIN_PASSWORD}")])
            .arg(format!("docker://{}/{}:{}", server.host, p.repo, p.tag))
            .arg(format!("oci:{}:x", dest.path().display())))
        .await;
    }
    let runs: Vec<serde_json::Value> = reg
        .req(reqwest::Method::GET, "/api/v2.0/system/gc?page_size=100")
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let cut = runs.iter().filter(|r| r["job_status"] != "Success").count();
    let swept: i64 = runs.iter().filter_map(|r| r["blobs_deleted"].as_i64()).sum();
    drop(server);

    // The debris crashes leave is repairable, and then nothing is wrong, contents verified.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, repaired) = fsck(&env, &["--repair"]).await;
    assert_eq!(code, 0, "{repaired:#}");
    let (code, last) = fsck(&env, &[]).await;
    assert_eq!(code, 0, "{last:#}");
    assert!(last["problems"].as_array().expect("problems").is_empty());
    eprintln!(
        "{ROUNDS} kills in {:?}: {} acknowledged pushes verified byte for byte; {} collections \
         started, {cut} cut short by a kill, {swept} blobs swept; fsck --repair fixed {} crash leftovers; {} blobs, {} bytes hashed",
        started.elapsed(),
        pushed.len(),
        runs.len(),
        repaired["problems"].as_array().map_or(0, Vec::len),
        last["blobs"],
        last["bytes_verified"],
    );
}
