//! `TestApp`: a real Wharf server on an ephemeral port with a temp data dir, and helpers to
//! speak the distribution API to it.
#![allow(dead_code, reason = "each test binary uses a different subset of the helpers")]

use std::net::SocketAddr;

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use sha2::{Digest as _, Sha256};
use wharf::app;
use wharf::config::{Config, Secret, Settings};
use wharf::state::AppState;

mod client;
pub use client::*;
pub mod ldap;
pub mod oidc;
pub mod receiver;

/// The admin password every test server is started with.
pub const ADMIN_PASSWORD: &str = "Harbor12345";

/// A running server; stops when dropped.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// The server's address.
    pub addr: SocketAddr,
    /// The server's state, for setting up rows the API cannot create yet.
    pub state: AppState,
    /// The data dir.
    pub dir: tempfile::TempDir,
    client: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// Starts a server with a fresh data dir, on PostgreSQL and S3 when the environment names
    /// them (see [`test_database`], [`test_storage`]).
    pub async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }

    /// Starts a server whose settings `adjust` may change, given the data dir.
    pub async fn start_with(adjust: impl FnOnce(&std::path::Path, &mut Settings)) -> Self {
        // The server's warnings and errors go to the test's captured output, so a failing test
        // shows why the server answered as it did (`WHARF_TEST_LOG` widens the filter).
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                std::env::var("WHARF_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            ))
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let settings = Settings {
            data_dir: Some(dir.path().to_path_buf()),
            admin_password: Some(Secret::from(ADMIN_PASSWORD)),
            storage_fsync: Some(false),
            listen: Some(addr),
            database_url: test_database().await.map(Secret::from),
            storage_url: test_storage(),
            ..Default::default()
        };
        let mut settings = settings;
        adjust(dir.path(), &mut settings);
        let config = Config::resolve(settings).expect("config");
        let state = AppState::init(config).await.expect("init");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            app::serve_http(serving, listener, async {
                rx.await.ok();
            })
            .await
            .expect("serve");
        });
        Self { base: format!("http://{addr}"), addr, state, dir, client: Client::new(), stop: Some(tx) }
    }

    /// A request as the admin.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.anon(method, path).basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    /// A request without credentials.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Calls as user (or robot) `name` with `password`.
    pub fn caller(&self, name: &str, password: &str) -> Caller {
        Caller::new(self.client.clone(), &self.base, Some((name, password)))
    }

    /// Calls as the administrator.
    pub fn as_admin(&self) -> Caller {
        self.caller("admin", ADMIN_PASSWORD)
    }

    /// Calls without credentials.
    pub fn anonymous(&self) -> Caller {
        Caller::new(self.client.clone(), &self.base, None)
    }

    /// Calls as a new user who is a member of `project` with `role`.
    pub async fn as_member(&self, project: &str, role: wharf::auth::Role) -> Caller {
        let name = format!("{}-{}", role.name().to_lowercase(), &rand_hex()[..6]);
        let id = self.create_user(&name, "Passw0rd!").await;
        self.add_member(project, id, role).await;
        self.caller(&name, "Passw0rd!")
    }

    /// The anti-forgery token the portal's forms carry for the session `cookie`, read from a
    /// page as a browser would find it.
    pub async fn csrf_token(&self, cookie: &str) -> String {
        csrf_token_at(&self.client, &self.base, cookie).await
    }

    /// Creates a project directly in the database (the projects API comes later).
    pub async fn create_project(&self, name: &str, public: bool) {
        wharf::db::projects::insert_if_missing(self.state.db.writer(), name, public, None)
            .await
            .expect("create project");
    }

    /// Creates a user directly in the database; returns its id.
    pub async fn create_user(&self, name: &str, password: &str) -> i64 {
        let hash = wharf::auth::password::hash(password.into()).await.expect("hash");
        let user = wharf::db::users::NewUser {
            username: name,
            email: "",
            realname: "",
            password_hash: &hash,
            sysadmin: false,
        };
        wharf::db::users::create(self.state.db.writer(), &user).await.expect("user")
    }

    /// Makes a user a member of a project directly in the database.
    pub async fn add_member(&self, project: &str, user_id: i64, role: wharf::auth::Role) {
        let access = wharf::db::projects::access(self.state.db.reader(), project, "", 0)
            .await
            .expect("query")
            .expect("project");
        wharf::db::members::add(
            self.state.db.writer(),
            access.project_id,
            wharf::db::members::Entity::User(user_id),
            role,
        )
        .await
        .expect("member");
    }

    /// Uploads `data` to `repo` in one request; returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let res = self
            .admin(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={digest}"))
            .body(data.to_vec())
            .call()
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "push blob");
        digest
    }

    /// The digest tag `tag` of `repo` names, as a client's HEAD sees it (`None`: no such tag).
    pub async fn tag_digest(&self, repo: &str, tag: &str) -> Option<String> {
        let res = self
            .admin(Method::HEAD, &format!("/v2/{repo}/manifests/{tag}"))
            .header("accept", OCI_MANIFEST)
            .call()
            .await;
        (res.status() == StatusCode::OK)
            .then(|| header(&res, "docker-content-digest").unwrap_or("").to_owned())
    }

    /// Pushes a manifest of `media_type` under `reference`.
    pub async fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, body: &str) -> Answer {
        self.admin(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(body.to_owned())
            .call()
            .await
    }

    /// A one-layer OCI image with random content: its blobs pushed to `repo`, its manifest
    /// returned (not pushed) with the layer's digest.
    pub async fn image_blobs(&self, repo: &str) -> (String, String) {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"n":"{}"}}"#,
            rand_hex()
        );
        let layer: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
        let cd = self.push_blob(repo, config.as_bytes()).await;
        let ld = self.push_blob(repo, &layer).await;
        (image_manifest(&cd, config.len(), &[(&ld, layer.len())]), ld)
    }

    /// Pushes an OCI image of real filesystem layers (each a compressed tar and its media type)
    /// with `config` under `tag`; returns the manifest digest and the layer digests.
    pub async fn push_layers(
        &self,
        repo: &str,
        tag: &str,
        config: &str,
        layers: &[(Vec<u8>, &str)],
    ) -> (String, Vec<String>) {
        let cd = self.push_blob(repo, config.as_bytes()).await;
        let mut descriptors = Vec::new();
        let mut digests = Vec::new();
        for (bytes, media_type) in layers {
            let d = self.push_blob(repo, bytes).await;
            descriptors
                .push(format!(r#"{{"mediaType":"{media_type}","digest":"{d}","size":{}}}"#, bytes.len()));
            digests.push(d);
        }
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{}]}}"#,
            config.len(),
            descriptors.join(",")
        );
        let res = self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(res.status(), StatusCode::CREATED, "push manifest: {}", res.text());
        (sha256(manifest.as_bytes()), digests)
    }

    /// Pushes a one-layer OCI image with random content under `tag`; returns the manifest
    /// digest, the manifest text and the layer digest.
    pub async fn push_image(&self, repo: &str, tag: &str) -> (String, String, String) {
        let (manifest, ld) = self.image_blobs(repo).await;
        let res = self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(res.status(), StatusCode::CREATED, "push manifest");
        (sha256(manifest.as_bytes()), manifest, ld)
    }
}

/// With `WHARF_TEST_POSTGRES` set (a URL with a `{db}` placeholder, e.g.
/// `postgres:///{db}?host=/var/run/postgresql`), a fresh PostgreSQL database for one test;
/// otherwise `None`, and the test uses SQLite in its data dir.
pub async fn test_database() -> Option<String> {
    use sqlx::Connection;
    let template = std::env::var("WHARF_TEST_POSTGRES").ok().filter(|t| !t.is_empty())?;
    let name = format!("wharf_t_{}", rand_hex());
    let mut admin = sqlx::PgConnection::connect(&template.replace("{db}", "postgres"))
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
    Some(template.replace("{db}", &name))
}

/// With `WHARF_TEST_S3` set (a bucket URL such as `s3://wharf-test`, with the `AWS_*` variables
/// pointing at the S3 server), a fresh prefix in that bucket for one test; otherwise `None`, and
/// the test stores blobs in its data dir.
pub fn test_storage() -> Option<String> {
    let bucket = std::env::var("WHARF_TEST_S3").ok().filter(|b| !b.is_empty())?;
    Some(format!("{}/{}", bucket.trim_end_matches('/'), rand_hex()))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            tx.send(()).ok();
        }
    }
}

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// 16 random hex characters.
pub fn rand_hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

/// An OCI image manifest over a config and layers.
pub fn image_manifest(config: &str, config_size: usize, layers: &[(&str, usize)]) -> String {
    let layers: Vec<String> = layers
        .iter()
        .map(|(d, s)| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":{s}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{}]}}"#,
        layers.join(",")
    )
}

/// OCI media type of a gzip-compressed layer.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI media type of a zstd-compressed layer.
pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A tar archive of `files` (path and content; a path ending in `/` is a directory).
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        if path.ends_with('/') {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
        } else {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
        }
        header.set_size(content.len() as u64);
        builder.append_data(&mut header, path, *content).expect("tar entry");
    }
    builder.into_inner().expect("tar")
}

/// A gzip-compressed tar of `files`.
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_of(files)).expect("gzip");
    gz.finish().expect("gzip")
}

/// A zstd-compressed tar of `files`.
pub fn tar_zst(files: &[(&str, &[u8])]) -> Vec<u8> {
    zstd::encode_all(&tar_of(files)[..], 3).expect("zstd")
}

/// Asserts a response's status and OCI error code (and that the body is the spec's JSON).
pub async fn expect_error(res: Answer, status: StatusCode, code: &str) {
    assert_eq!(res.status(), status, "status for {code}");
    assert_eq!(res.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    let v: serde_json::Value = res.json();
    assert_eq!(v["errors"][0]["code"].as_str(), Some(code), "{v}");
    assert!(v["errors"][0]["message"].is_string());
}

/// The anti-forgery token the portal at `base` gives the session `cookie`, read from a page.
pub async fn csrf_token_at(client: &Client, base: &str, cookie: &str) -> String {
    let html = client.get(format!("{base}/account")).header("cookie", cookie).call().await.text();
    csrf_of_page(&html).expect("the page's forms carry a token")
}

/// The anti-forgery token in a page's forms.
pub fn csrf_of_page(html: &str) -> Option<String> {
    let after = html.split(r#"name="csrf""#).nth(1)?;
    let value = after.split("value=\"").nth(1)?.split('"').next()?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// A response header as text.
pub fn header<'a>(res: &'a impl HeaderOf, name: &str) -> Option<&'a str> {
    res.header_value(name)
}
