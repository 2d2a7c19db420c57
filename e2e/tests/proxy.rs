//! Proxy-cache projects in front of a real Distribution (Debian's `docker-registry`), pulled
//! through with real clients: podman, skopeo and the docker CLI.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::process::Command;
use wharf_e2e::client::{Call, Caller};
use wharf_e2e::*;

fn skopeo() -> Command {
    tool("skopeo");
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

fn admin(w: &Wharf) -> Caller {
    Caller::new(reqwest::Client::new(), &format!("http://{}", w.host), Some(("admin", ADMIN_PASSWORD)))
}

/// Adds `upstream` as an endpoint of `kind` and a public proxy project `project` of it (with
/// `speed_kb` as its bandwidth limit); returns the endpoint's id.
async fn proxy_project(w: &Wharf, upstream: &Distribution, kind: &str, project: &str, speed_kb: i64) -> i64 {
    let a = admin(w);
    let res = a
        .post(
            "/api/v2.0/registries",
            &json!({"name": format!("{project}-up"), "url": format!("http://{}", upstream.host), "type": kind}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id: i64 = res.created_id();
    a.post(
        "/api/v2.0/projects",
        &json!({"project_name": project, "registry_id": id,
                "metadata": {"public": "true", "proxy_speed_kb": speed_kb.to_string()}}),
    )
    .await
    .expect(StatusCode::CREATED);
    id
}

/// Builds an image of random layers of `sizes` and pushes it to `upstream` as `repo_tag`;
/// returns the layers' digests as the upstream stores them.
async fn seed(p: &Podman, upstream: &Distribution, repo_tag: &str, sizes: &[usize]) -> Vec<String> {
    let ctx = p.dir().join(format!("ctx-{}", repo_tag.replace(['/', ':'], "-")));
    build_context(&ctx, sizes);
    let local = format!("localhost/{repo_tag}");
    run(p.cmd().args(["build", "-q", "-t", &local]).arg(&ctx)).await;
    let target = format!("docker://{}/{repo_tag}", upstream.host);
    run(p.cmd().args(["push", "--tls-verify=false", &local, &target])).await;
    let raw = run(skopeo().args(["inspect", "--raw", "--tls-verify=false", &target])).await;
    let m: serde_json::Value = serde_json::from_str(&raw).expect("test");
    m["layers"]
        .as_array()
        .expect("test")
        .iter()
        .map(|l| l["digest"].as_str().expect("test").to_owned())
        .collect()
}

async fn podman_image_id(p: &Podman, image: &str) -> String {
    run(p.cmd().args(["image", "inspect", "--format", "{{.Id}}", image])).await.trim().to_owned()
}

/// Whether the proxy has committed blob `digest`.
async fn has_blob(w: &Wharf, digest: &str) -> bool {
    wharf::db::blobs::status(w.state.db.reader(), digest).await.expect("test").is_some()
}

async fn wait_for_blob(w: &Wharf, digest: &str) {
    for _ in 0..400 {
        if has_blob(w, digest).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{digest} was never cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_skopeo_and_docker_pull_through_a_proxy_of_distribution() {
    let upstream = Distribution::start().await;
    let w = Wharf::start().await;
    let p = Podman::new();
    let layers = seed(&p, &upstream, "team/app:1", &[400_000, 2_000_000]).await;
    let built = podman_image_id(&p, "localhost/team/app:1").await;
    proxy_project(&w, &upstream, "docker-registry", "cache", -1).await;

    // First pull goes upstream; the image is the one pushed there.
    let image = w.image("cache/team/app:1");
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &image])).await;
    assert_eq!(podman_image_id(&p, &image).await, built);
    for l in &layers {
        wait_for_blob(&w, l).await;
        assert_eq!(upstream.blob_gets(l), 1, "{l} fetched once");
    }

    // The docker CLI through its own daemon, from the cache.
    let d = Dockerd::start().await;
    run(d.cmd().args(["pull", &image])).await;

    // A push into the proxy project is refused with the reason.
    run(p.cmd().args(["login", "--tls-verify=false", "-u", "admin", "-p", ADMIN_PASSWORD, &w.host])).await;
    run(p.cmd().args(["tag", &image, &w.image("cache/team/app:mine")])).await;
    let err = run_fails(p.cmd().args(["push", "--tls-verify=false", &w.image("cache/team/app:mine")])).await;
    assert!(err.contains("proxy cache") || err.contains("denied"), "{err}");

    // The upstream goes away: cached pulls still work, tags included; others fail clearly.
    let mut upstream = upstream;
    upstream.stop();
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &image])).await;
    assert_eq!(podman_image_id(&p, &image).await, built);
    let err = run_fails(skopeo().args([
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}", w.image("cache/team/app:2")),
    ]))
    .await;
    assert!(err.contains("502") || err.contains("upstream"), "{err}");

    // Back up, the upstream moves the tag: the next pull gets the new image.
    upstream.start_again().await;
    seed(&p, &upstream, "team/app:1", &[300_000]).await;
    let moved = podman_image_id(&p, "localhost/team/app:1").await;
    run(p.cmd().args(["rmi", "-f", &image])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &image])).await;
    assert_eq!(podman_image_id(&p, &image).await, moved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_first_pulls_fetch_each_blob_and_manifest_once() {
    let upstream = Distribution::start().await;
    let w = Wharf::start().await;
    let p = Podman::new();
    let layers = seed(&p, &upstream, "big/image:1", &[100 << 20]).await;
    proxy_project(&w, &upstream, "docker-registry", "cache", -1).await;
    let seeding_gets = upstream.gets("/v2/big/image/manifests/");

    let out = tempfile::tempdir().expect("test");
    let source = format!("docker://{}", w.image("cache/big/image:1"));
    let pulls: Vec<_> = (0..20)
        .map(|i| {
            let dest = format!("dir:{}", out.path().join(format!("copy{i}")).display());
            let mut cmd = skopeo();
            cmd.args(["copy", "--src-tls-verify=false", &source, &dest]);
            tokio::spawn(async move { run(&mut cmd).await })
        })
        .collect();
    for pull in pulls {
        pull.await.expect("test");
    }
    // Every copy holds the verified layer (skopeo checks digests as it copies).
    for i in 0..20 {
        let dir = out.path().join(format!("copy{i}"));
        let layer = dir.join(layers[0].trim_start_matches("sha256:"));
        assert_eq!(file_digest(&layer), layers[0], "copy {i}");
    }
    assert_eq!(upstream.blob_gets(&layers[0]), 1, "the 100 MiB layer was fetched once for twenty clients");
    let manifest_gets = upstream.gets("/v2/big/image/manifests/") - seeding_gets;
    assert_eq!(manifest_gets, 1, "the manifest was fetched {manifest_gets} times");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_killed_mid_blob_caches_nothing_and_the_next_pull_completes() {
    let mut upstream = Distribution::start().await;
    let w = Wharf::start().await;
    let p = Podman::new();
    let layers = seed(&p, &upstream, "slow/image:1", &[40 << 20]).await;
    // 8 MiB/s: the 40 MiB layer takes five seconds, long enough to cut it off midway.
    proxy_project(&w, &upstream, "docker-registry", "cache", 8 * 1024).await;

    let out = tempfile::tempdir().expect("test");
    let source = format!("docker://{}", w.image("cache/slow/image:1"));
    let dest = format!("dir:{}", out.path().join("first").display());
    let mut cmd = skopeo();
    cmd.args(["copy", "--retry-times", "0", "--src-tls-verify=false", &source, &dest]);
    let pull = tokio::spawn(async move { run_fails(&mut cmd).await });
    // Cut it off once the layer is on its way: a fixed wait was flaky on a loaded machine.
    let spool = w.dir.path().join("proxy-spool");
    let spooled = || {
        std::fs::read_dir(&spool)
            .map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum::<u64>())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while spooled() < 4 << 20 {
        assert!(std::time::Instant::now() < deadline, "the layer never started to arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    upstream.stop();
    let err = pull.await.expect("test");
    assert!(!err.is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!has_blob(&w, &layers[0]).await, "nothing of the broken transfer is cached");
    let left = std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the spool is cleaned up");

    upstream.start_again().await;
    admin(&w)
        .send_json(
            reqwest::Method::PUT,
            "/api/v2.0/projects/cache/metadatas/proxy_speed_kb",
            &json!({"proxy_speed_kb": "-1"}),
        )
        .await
        .expect(StatusCode::OK);
    let dest = format!("dir:{}", out.path().join("second").display());
    run(skopeo().args(["copy", "--src-tls-verify=false", &source, &dest])).await;
    let layer = out.path().join("second").join(layers[0].trim_start_matches("sha256:"));
    assert_eq!(file_digest(&layer), layers[0]);
    wait_for_blob(&w, &layers[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_hub_endpoints_find_single_name_images_under_library() {
    let upstream = Distribution::start().await;
    let w = Wharf::start().await;
    let p = Podman::new();
    seed(&p, &upstream, "library/alpine:3", &[100_000]).await;
    let built = podman_image_id(&p, "localhost/library/alpine:3").await;
    proxy_project(&w, &upstream, "docker-hub", "dockerhub-proxy", -1).await;
    let image = w.image("dockerhub-proxy/alpine:3");
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &image])).await;
    assert_eq!(podman_image_id(&p, &image).await, built);

    // One address for "ours, else Docker Hub": a group of the hosted library and the proxy.
    admin(&w)
        .post(
            "/api/v2.0/projects",
            &json!({"project_name": "all", "metadata": {"public": "true"},
                    "group_members": ["library", "dockerhub-proxy"]}),
        )
        .await
        .expect(StatusCode::CREATED);
    let via_group = w.image("all/alpine:3");
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &via_group])).await;
    assert_eq!(podman_image_id(&p, &via_group).await, built, "the proxy member answered");
    // Ours first: an image pushed to the library shadows Docker Hub's of the same name.
    let ctx = p.dir().join("ours");
    build_context(&ctx, &[50_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/ours:3"]).arg(&ctx)).await;
    let ours = podman_image_id(&p, "localhost/ours:3").await;
    let creds = format!("admin:{ADMIN_PASSWORD}");
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/ours:3"])
        .arg(w.image("library/alpine:3")))
    .await;
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &via_group])).await;
    assert_eq!(podman_image_id(&p, &via_group).await, ours, "the first member answered");
    let err = run_fails(p.cmd().args(["push", "--tls-verify=false", "--creds", &creds, &via_group])).await;
    assert!(err.contains("denied") || err.contains("group"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_arch_index_is_cached_with_the_children_clients_ask_for() {
    let upstream = Distribution::start().await;
    let w = Wharf::start().await;
    let p = Podman::new();
    let list = "localhost/multi:1";
    run(p.cmd().args(["manifest", "create", list])).await;
    for (arch, size) in [("amd64", 100_000), ("arm64", 120_000)] {
        let ctx = p.dir().join(format!("ctx-{arch}"));
        build_context(&ctx, &[size]);
        let tag = format!("localhost/multi-{arch}:1");
        run(p.cmd().args(["build", "-q", "--arch", arch, "-t", &tag]).arg(&ctx)).await;
        run(p.cmd().args(["manifest", "add", list, &format!("containers-storage:{tag}")])).await;
    }
    let target = format!("docker://{}/team/multi:1", upstream.host);
    run(p.cmd().args(["manifest", "push", "--all", "--tls-verify=false", list, &target])).await;
    let raw = run(skopeo().args(["inspect", "--raw", "--tls-verify=false", &target])).await;
    let index: serde_json::Value = serde_json::from_str(&raw).expect("test");
    let child = |arch: &str| -> String {
        index["manifests"]
            .as_array()
            .expect("test")
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .and_then(|m| m["digest"].as_str())
            .expect("test")
            .to_owned()
    };
    proxy_project(&w, &upstream, "docker-registry", "cache", -1).await;

    let out = tempfile::tempdir().expect("test");
    let source = format!("docker://{}", w.image("cache/team/multi:1"));
    let dest = format!("dir:{}", out.path().join("arm").display());
    run(skopeo().args(["copy", "--override-arch", "arm64", "--src-tls-verify=false", &source, &dest])).await;

    // The index and the arm64 image are cached; amd64 is not (nobody asked).
    let db = w.state.db.reader();
    let repo: i64 = sqlx::query_scalar("SELECT id FROM repositories WHERE name = 'cache/team/multi'")
        .fetch_one(db)
        .await
        .expect("test");
    let pool = w.state.db.reader().clone();
    let cached = |digest: String| {
        let pool = pool.clone();
        async move {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM manifests WHERE repository_id = $1 AND digest = $2")
                    .bind(repo)
                    .bind(digest)
                    .fetch_one(&pool)
                    .await
                    .expect("test");
            n == 1
        }
    };
    for _ in 0..200 {
        if cached(child("arm64")).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(cached(child("arm64")).await, "the child asked for is cached");
    assert!(!cached(child("amd64")).await, "the child nobody asked for is not");
    let links: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM manifest_children").fetch_one(db).await.expect("test");
    assert_eq!(links, 1, "the cached child is linked to its index");

    // Asked for later, the other child joins its index too; the tag lists the index.
    let dest = format!("dir:{}", out.path().join("amd").display());
    run(skopeo().args(["copy", "--override-arch", "amd64", "--src-tls-verify=false", &source, &dest])).await;
    for _ in 0..200 {
        if cached(child("amd64")).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let links: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM manifest_children").fetch_one(db).await.expect("test");
    assert_eq!(links, 2);
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM manifest_pending_children")
        .fetch_one(db)
        .await
        .expect("test");
    assert_eq!(pending, 0);
    let res = reqwest::Client::new()
        .get(format!("http://{}/v2/cache/team/multi/tags/list", w.host))
        .call()
        .await
        .expect(StatusCode::OK);
    assert!(res.text().contains("\"1\""));
}

/// nginx in front of `upstream`, answering every blob `GET` with a redirect to `upstream`
/// itself, as registries backed by object storage send clients to the bucket.
struct RedirectingFront {
    child: std::process::Child,
    host: String,
    dir: tempfile::TempDir,
}

impl RedirectingFront {
    async fn start(upstream: &Distribution) -> Self {
        tool("nginx");
        let dir = tempfile::tempdir().expect("dir");
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let d = dir.path().display();
        let up = &upstream.host;
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{\n    listen 127.0.0.1:{port};\n\
             location ~ ^/v2/.+/blobs/sha256: {{\n      if ($request_method = GET) {{ return 307 http://{up}$request_uri; }}\n\
             proxy_pass http://{up};\n    }}\n    location / {{ proxy_pass http://{up}; }}\n  }}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("conf");
        let child = std::process::Command::new("nginx")
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-p")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx");
        let host = format!("127.0.0.1:{port}");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&host).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self { child, host, dir }
    }

    /// How many blob `GET`s it redirected.
    fn redirects(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains("/blobs/") && l.contains("\" 307 "))
            .count()
    }
}

impl Drop for RedirectingFront {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_redirected_to_storage_are_followed() {
    let upstream = Distribution::start().await;
    let front = RedirectingFront::start(&upstream).await;
    let w = Wharf::start().await;
    let p = Podman::new();
    let layers = seed(&p, &upstream, "team/app:1", &[300_000]).await;
    let built = podman_image_id(&p, "localhost/team/app:1").await;
    let a = admin(&w);
    let res = a
        .post(
            "/api/v2.0/registries",
            &json!({"name": "fronted", "url": format!("http://{}", front.host), "type": "docker-registry"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id: i64 = res.created_id();
    a.post(
        "/api/v2.0/projects",
        &json!({"project_name": "cache", "registry_id": id, "metadata": {"public": "true"}}),
    )
    .await
    .expect(StatusCode::CREATED);
    let image = w.image("cache/team/app:1");
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &image])).await;
    assert_eq!(podman_image_id(&p, &image).await, built);
    assert!(front.redirects() >= 2, "the blobs (config and layer) were redirected");
    assert_eq!(upstream.blob_gets(&layers[0]), 1, "and fetched where the redirect pointed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_with_basic_authentication_is_reached_with_the_stored_credentials() {
    let upstream = Distribution::start_with_basic("puller", "Pull-Secret-7").await;
    let w = Wharf::start().await;
    let p = Podman::new();
    run(p.cmd().args(["login", "--tls-verify=false", "-u", "puller", "-p", "Pull-Secret-7", &upstream.host]))
        .await;
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[200_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/team/app:1"]).arg(&ctx)).await;
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "localhost/team/app:1"])
        .arg(format!("docker://{}/team/app:1", upstream.host)))
    .await;
    let built = podman_image_id(&p, "localhost/team/app:1").await;
    let a = admin(&w);
    // The wrong password is refused with the reason; the right one is stored, sealed.
    let res = a
        .post(
            "/api/v2.0/registries/ping",
            &json!({"type": "docker-registry", "url": format!("http://{}", upstream.host),
                    "access_key": "puller", "access_secret": "wrong"}),
        )
        .await;
    assert!(res.expect(StatusCode::BAD_REQUEST).text().contains("refused the credentials"));
    let res = a
        .post(
            "/api/v2.0/registries",
            &json!({"name": "basic", "url": format!("http://{}", upstream.host), "type": "docker-registry",
                    "credential": {"type": "basic", "access_key": "puller", "access_secret": "Pull-Secret-7"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id: i64 = res.created_id();
    a.post(
        "/api/v2.0/projects",
        &json!({"project_name": "cache", "registry_id": id, "metadata": {"public": "true"}}),
    )
    .await
    .expect(StatusCode::CREATED);
    run(p.cmd().args(["logout", &upstream.host])).await;
    let image = w.image("cache/team/app:1");
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &image])).await;
    assert_eq!(podman_image_id(&p, &image).await, built);
}
