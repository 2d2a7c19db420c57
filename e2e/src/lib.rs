//! Support for the end-to-end tests: a running Wharf on an ephemeral port, sandboxes for the
//! real clients (podman, dockerd, skopeo, oras), and command helpers that fail loudly.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed set-up step should stop the test with its message"
)]

/// The typed test client the integration tests use too.
#[path = "../../server/tests/support/client.rs"]
pub mod client;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use tokio::process::Command;
use wharf::app;
use wharf::config::{Config, Secret, Settings};
use wharf::db::Db;
use wharf::state::AppState;
use wharf::storage::{BlobStore, StorageKey};

/// The admin password of every e2e server.
pub const ADMIN_PASSWORD: &str = "Harbor12345";

/// A Wharf server serving on 127.0.0.1 with its own data dir; stops when dropped.
pub struct Wharf {
    /// `127.0.0.1:<port>`, the registry host in image names.
    pub host: String,
    /// The data dir.
    pub dir: tempfile::TempDir,
    /// Server state, for checks against the database.
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Wharf {
    /// Starts a server.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts a server whose settings `adjust` may change.
    pub async fn start_with_settings(adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::launch(None, adjust).await
    }

    /// Starts a server, over HTTPS when `tls` names a PEM certificate and key.
    pub async fn start_with(tls: Option<(PathBuf, PathBuf)>) -> Self {
        Self::launch(tls, |_| {}).await
    }

    async fn launch(tls: Option<(PathBuf, PathBuf)>, adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let settings = Settings {
            data_dir: Some(dir.path().to_path_buf()),
            admin_password: Some(Secret::from(ADMIN_PASSWORD)),
            listen: Some(addr),
            tls_cert: tls.as_ref().map(|t| t.0.clone()),
            tls_key: tls.as_ref().map(|t| t.1.clone()),
            ..Default::default()
        };
        let mut settings = settings;
        adjust(&mut settings);
        let state = AppState::init(Config::resolve(settings).unwrap()).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            let stop = async {
                rx.await.ok();
            };
            match tls {
                Some((cert, key)) => app::serve_https(serving, listener, &cert, &key, stop).await.unwrap(),
                None => {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    app::serve_http(serving, listener, stop).await.unwrap()
                }
            }
        });
        Self { host: addr.to_string(), dir, state, stop: Some(tx) }
    }

    /// `<host>/<repo>:<tag>`
    pub fn image(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.host)
    }

    /// An administrator's call to this server's API with a JSON body; the answer's status.
    pub async fn admin_api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::StatusCode {
        reqwest::Client::new()
            .request(method, format!("http://{}{path}", self.host))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(&body)
            .send()
            .await
            .expect("API call")
            .status()
    }

    /// Creates a project directly in the database.
    pub async fn create_project(&self, name: &str, public: bool) {
        wharf::db::projects::insert_if_missing(self.state.db.writer(), name, public, None).await.unwrap();
    }
}

impl Drop for Wharf {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            tx.send(()).ok();
        }
    }
}

/// Runs `cmd`, panicking with its output unless it succeeds; returns stdout.
pub async fn run(cmd: &mut Command) -> String {
    let out = output(cmd).await;
    assert!(out.0, "command failed: {cmd:?}\nstdout: {}\nstderr: {}", out.1, out.2);
    out.1
}

/// Runs `cmd`, panicking unless it fails; returns stderr.
pub async fn run_fails(cmd: &mut Command) -> String {
    let out = output(cmd).await;
    assert!(!out.0, "command should have failed: {cmd:?}\nstdout: {}", out.1);
    format!("{}{}", out.1, out.2)
}

async fn output(cmd: &mut Command) -> (bool, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.stdin(Stdio::null()).output())
        .await
        .unwrap_or_else(|_| panic!("command timed out: {cmd:?}"))
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The path of a required tool; panics with the install hint when missing.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("{name} is not installed: run .ci/install-e2e-tools (the test command does)")
    })
}

/// Writes a build context with one `COPY` layer per size in `layers` (random content).
pub fn build_context(dir: &Path, layers: &[usize]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut file = String::from("FROM scratch\n");
    for (i, size) in layers.iter().enumerate() {
        let data: Vec<u8> = (0..*size).map(|_| rand::random::<u8>()).collect();
        std::fs::write(dir.join(format!("layer{i}")), data).unwrap();
        file.push_str(&format!("COPY layer{i} /layer{i}\n"));
    }
    file.push_str("LABEL org.opencontainers.image.title=wharf-e2e\nCMD [\"/layer0\"]\n");
    std::fs::write(dir.join("Containerfile"), file).unwrap();
}

/// Builds `local` (a `localhost/…` name) with podman: a static busybox, an `/app` directory
/// (`secret`, `config` holding `mode`, a 200 KiB `data.bin`), a `RUN` that deletes
/// `/app/secret` in a layer of its own, and `ENV MODE=<mode>`. Three layers, one of them a
/// whiteout, built from scratch without any registry.
pub async fn build_layered_image(p: &Podman, local: &str, mode: &str) {
    let ctx = p.dir().join(format!("layered-{mode}"));
    std::fs::create_dir_all(ctx.join("app")).unwrap();
    // Debian's busybox-static (scripts/test.sh installs it): a dynamic one cannot run in scratch.
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|b| std::path::Path::new(b).is_file())
        .expect("busybox-static is not installed: run scripts/test.sh");
    std::fs::copy(busybox, ctx.join("busybox")).unwrap();
    std::fs::write(ctx.join("app/secret"), "password=hunter2\n").unwrap();
    std::fs::write(ctx.join("app/config"), format!("mode={mode}\n")).unwrap();
    std::fs::write(ctx.join("app/data.bin"), vec![7u8; 200 * 1024]).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY app /app/\nRUN [\"/bin/busybox\", \"rm\", \"/app/secret\"]\n\
             ENV MODE={mode}\nLABEL org.opencontainers.image.title=layered\n"
        ),
    )
    .unwrap();
    run(p.cmd().args(["build", "-q", "--isolation", "chroot", "-t", local]).arg(&ctx)).await;
}

/// A daemonless podman with its own storage in a temp dir.
pub struct Podman {
    root: tempfile::TempDir,
}

impl Podman {
    /// A fresh podman sandbox.
    pub fn new() -> Self {
        tool("podman");
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("auth.json"), "{\"auths\":{}}").unwrap();
        Self { root }
    }

    /// `podman <global flags>` ready for arguments.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        let r = self.root.path();
        c.arg("--root").arg(r.join("root")).arg("--runroot").arg(r.join("run"));
        c.args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]);
        c.env("REGISTRY_AUTH_FILE", r.join("auth.json"));
        // Without an entry in its own file podman falls back to docker's `config.json`: the
        // user's one may hold the admin's password for a port an earlier test's server had,
        // and an "anonymous" push then signs in.
        c.env("DOCKER_CONFIG", r.join("docker"));
        c
    }

    /// Where build contexts for this sandbox go.
    pub fn dir(&self) -> &Path {
        self.root.path()
    }
}

impl Default for Podman {
    fn default() -> Self {
        Self::new()
    }
}

/// A `dockerd` started for one test (root, no systemd, no networking); killed when dropped.
pub struct Dockerd {
    dir: tempfile::TempDir,
    child: tokio::process::Child,
}

impl Dockerd {
    /// Starts dockerd and waits until it answers.
    pub async fn start() -> Self {
        tool("dockerd");
        tool("docker");
        // A short path: unix socket paths are limited to ~100 bytes.
        let dir = tempfile::Builder::new().prefix("wd").tempdir_in("/tmp").unwrap();
        let d = dir.path();
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"])
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .arg("--host")
            .arg(format!("unix://{}", d.join("sock").display()))
            .stdout(std::fs::File::create(d.join("log")).unwrap())
            .stderr(std::fs::File::create(d.join("err")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("start dockerd");
        let me = Self { dir, child };
        for _ in 0..100 {
            if output(me.cmd().arg("version")).await.0 {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let log = std::fs::read_to_string(me.dir.path().join("err")).unwrap_or_default();
        panic!("dockerd did not start:\n{log}");
    }

    /// `docker` pointed at this daemon, with its own client config.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.dir.path().join("sock").display()));
        c.env("DOCKER_CONFIG", self.dir.path().join("client"));
        c.env("DOCKER_BUILDKIT", "0");
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.child.start_kill().ok();
    }
}

/// Debian's `docker-registry` (Distribution 2.x) on a free port with its own storage: the other
/// side of proxy caches and replication. Its access log counts what it served. Killed when
/// dropped; [`Self::stop`] and [`Self::start_again`] take it down and up on the same port and
/// storage.
pub struct Distribution {
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
    /// `127.0.0.1:<port>`
    pub host: String,
}

impl Distribution {
    /// Starts a registry and waits until it answers.
    pub async fn start() -> Self {
        Self::launch(None).await
    }

    /// Starts a registry that requires HTTP Basic authentication as `user` with `password`
    /// (Distribution's htpasswd, bcrypt).
    pub async fn start_with_basic(user: &str, password: &str) -> Self {
        Self::launch(Some((user, password))).await
    }

    async fn launch(basic: Option<(&str, &str)>) -> Self {
        tool("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        let config = match basic {
            None => config,
            Some((user, password)) => {
                // bcrypt through the system's crypt(3) (libxcrypt), as htpasswd -B writes it.
                let out = std::process::Command::new("python3")
                    .args(["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))"])
                    .arg(password)
                    .output()
                    .expect("python3 for bcrypt");
                let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                assert!(hash.starts_with("$2"), "no bcrypt hash: {hash}");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{user}:{hash}\n")).unwrap();
                format!("{config}auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n", file.display())
            }
        };
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut me = Self { dir, child: None, host };
        me.start_again().await;
        me
    }

    /// Starts the stopped registry again (same port, same storage).
    pub async fn start_again(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&self.host).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("docker-registry on {} did not start", self.host);
    }

    /// Kills the registry at once (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    /// How many `GET`s of blob `digest` it has answered (from its access log).
    pub fn blob_gets(&self, digest: &str) -> usize {
        self.gets(&format!("/blobs/{digest} "))
    }

    /// How many `GET`s of a path containing `fragment` it has answered.
    pub fn gets(&self, fragment: &str) -> usize {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        log.lines().filter(|l| l.contains("\"GET ") && l.contains(fragment)).count()
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `sha256:<hex>` of a file.
pub fn file_digest(path: &Path) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap())))
}

/// The `wharf` binary cargo built next to the test binary.
pub fn wharf_binary() -> PathBuf {
    // Test binaries live in <target>/<profile>/deps; cargo builds `wharf` one level up.
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|d| d.parent()).unwrap().join("wharf");
    assert!(bin.is_file(), "{} is missing: build it with `cargo build -p wharf`", bin.display());
    bin
}

/// A `wharf serve` process of the real binary; killed (SIGKILL) when dropped.
pub struct WharfProcess {
    child: std::process::Child,
    /// `127.0.0.1:<port>`
    pub host: String,
}

impl WharfProcess {
    /// Starts `wharf` on a free port with `env` (`WHARF_*` settings) and waits until healthy.
    pub async fn start(env: &[(&str, String)]) -> Self {
        Self::launch(env, None).await
    }

    /// Like [`Self::start`], with the process's log (standard error) written to `log`.
    pub async fn start_logged(env: &[(&str, String)], log: &Path) -> Self {
        Self::launch(env, Some(std::fs::File::create(log).expect("log file"))).await
    }

    /// Starts the binary at `binary` in the working directory `cwd`, as [`Self::start`] does.
    pub async fn start_binary(binary: &Path, env: &[(&str, String)], cwd: &Path) -> Self {
        let mut cmd = std::process::Command::new(binary);
        cmd.current_dir(cwd);
        Self::launch_command(cmd, env, None).await
    }

    async fn launch(env: &[(&str, String)], log: Option<std::fs::File>) -> Self {
        Self::launch_command(std::process::Command::new(wharf_binary()), env, log).await
    }

    async fn launch_command(
        mut cmd: std::process::Command,
        env: &[(&str, String)],
        log: Option<std::fs::File>,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        cmd.env("WHARF_LISTEN", &host).env("WHARF_ADMIN_PASSWORD", ADMIN_PASSWORD).env("WHARF_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(f) = log {
            cmd.stderr(f);
        }
        let child = cmd.stdout(Stdio::null()).spawn().expect("start wharf");
        let me = Self { child, host };
        for _ in 0..200 {
            if let Ok(r) = reqwest_health(&me.host).await
                && r
            {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("wharf on {} did not become healthy", me.host);
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Drop for WharfProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

async fn reqwest_health(host: &str) -> Result<bool, std::io::Error> {
    // A bare HTTP/1.1 request: the library has no HTTP client dependency of its own.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(host).await?;
    s.write_all(
        format!("GET /api/v2.0/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await?;
    Ok(&head[9..12] == b"200")
}

/// A SQLite + disk data dir the test opens directly, beside the `wharf` processes using it.
pub struct DataDir {
    dir: tempfile::TempDir,
    /// Its database.
    pub db: Db,
    /// Its blob store.
    pub store: BlobStore,
}

impl DataDir {
    /// A fresh data dir.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let db =
            Db::connect(&format!("sqlite://{}/wharf.db?mode=rwc", dir.path().display())).await.expect("db");
        let store = BlobStore::open(&dir.path().join("blobs").display().to_string(), false).expect("store");
        Self { dir, db, store }
    }

    /// The settings of a `wharf` process on this data dir (grace 0s, one-second job leases).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WHARF_DATA_DIR", self.dir.path().display().to_string()),
            ("WHARF_GC_GRACE", "0s".into()),
            ("WHARF_STORAGE_FSYNC", "false".into()),
            // A killed run's lease lapses after this; the next round waits it out.
            ("WHARF_JOB_LEASE", "1s".into()),
        ]
    }

    /// Adds `n` unreferenced blobs (rows and bytes) the way an upload leaves them.
    pub async fn add_garbage(&self, n: usize) {
        let digests: Vec<(String, Vec<u8>)> = (0..n)
            .map(|_| {
                let data: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
                (format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data))), data)
            })
            .collect();
        futures::stream::iter(digests.iter())
            .for_each_concurrent(16, |(d, data)| async move {
                let key = StorageKey::Blob(d.parse().expect("digest"));
                self.store.put(&key, data.clone().into()).await.expect("put");
            })
            .await;
        let mut tx = self.db.begin().await.expect("tx");
        for (d, data) in &digests {
            wharf::db::blobs::insert(&mut *tx, d, data.len() as i64).await.expect("row");
        }
        tx.commit().await.expect("commit");
        sqlx::query("UPDATE blobs SET touched_at = 0 WHERE touched_at > $1")
            .bind(wharf::db::now_ms() - 60_000)
            .execute(self.db.writer())
            .await
            .expect("age");
    }
}
