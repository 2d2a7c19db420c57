//! Proxy-cache projects: pulls of what is not cached go to the project's upstream endpoint.
//!
//! - A manifest by tag is checked with a `HEAD` upstream and served from the cache while the
//!   digest is unchanged; by digest it is served from the cache once cached. When the upstream
//!   fails, whatever is cached answers, tags included.
//! - A blob is fetched once however many clients ask at once (a *flight*): the fetch spools to
//!   a local file, every client streams from that file as it grows, and the last byte is held
//!   back until the digest is verified, so no client receives a complete wrong blob and nothing
//!   unverified is committed. The fetch runs on its own, so a client that hangs up does not
//!   abort what the next one will want.
//! - A fetched image manifest is cached once its blobs are (fetched in the background, joining
//!   the clients' flights); an index is cached at once, its children when clients ask for them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::future::{BoxFuture, Shared};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::error::RegistryError;
use super::manifests::{Children, ServedManifest};
use super::{Registry, RepoCtx};
use crate::db::{self, manifests::ManifestRow};
use crate::endpoints::Endpoints;
use crate::endpoints::client::{ClientError, FetchedManifest, ManifestHead, RegistryClient};
use crate::oci::digester::{Hasher, digest_of};
use crate::oci::manifest;
use crate::oci::reference::{Digest, Reference, RepoName, Tag};
use crate::storage::StorageKey;

/// How long a committed flight stays joinable (see [`Registry::flight`]).
const COMMITTED_LINGER: std::time::Duration = std::time::Duration::from_secs(10);

/// Bytes buffered before a spool write: followers lag the upstream by at most this much.
const SPOOL_CHUNK: usize = 1 << 20;

/// How far a flight has come.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Bytes are arriving.
    Fetching,
    /// All bytes arrived and match the digest: the spool may be served to its end.
    Verified,
    /// The blob is in the store and linked to the repository that started the fetch.
    Committed,
    /// The fetch failed.
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// The upstream does not have it.
    NotFound,
    /// The upstream failed (or sent the wrong bytes); the message names it.
    Upstream(String),
    /// Storing the fetched blob failed.
    Store(String),
}

#[derive(Debug, Clone)]
struct Progress {
    stage: Stage,
    /// The blob's size, once the upstream said (or once all bytes arrived).
    size: Option<u64>,
    /// Bytes in the spool file.
    written: u64,
    /// The upstream answered with the blob: bytes follow.
    started: bool,
}

/// One fetch of one blob from an upstream, which any number of clients follow.
struct Flight {
    file: Arc<std::fs::File>,
    progress: watch::Receiver<Progress>,
}

/// A request to an upstream that concurrent callers share.
type SharedCall<T> = Shared<BoxFuture<'static, Result<T, ClientError>>>;

/// Concurrent identical upstream requests, sent once: the callers all await the first one's.
struct Coalesce<T: Clone>(Mutex<HashMap<String, SharedCall<T>>>);

impl<T: Clone + Send + Sync + 'static> Coalesce<T> {
    fn new() -> Self {
        Self(Mutex::default())
    }

    async fn call(
        &self,
        key: String,
        make: impl FnOnce() -> BoxFuture<'static, Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        let call = {
            let Ok(mut calls) = self.0.lock() else { return make().await };
            calls.entry(key.clone()).or_insert_with(|| make().shared()).clone()
        };
        let out = call.clone().await;
        if let Ok(mut calls) = self.0.lock()
            && calls.get(&key).is_some_and(|c| c.ptr_eq(&call))
        {
            calls.remove(&key);
        }
        out
    }
}

/// The proxy-cache state of a registry.
pub struct Proxy {
    endpoints: Endpoints,
    spool: PathBuf,
    flights: Mutex<HashMap<String, Arc<Flight>>>,
    heads: Coalesce<Option<ManifestHead>>,
    manifests: Coalesce<Option<FetchedManifest>>,
    /// Manifests fetched and being cached in the background (until their blobs are), by
    /// repository and digest: pulls by digest meanwhile are answered from here, not upstream.
    completing: Mutex<HashMap<(i64, String), FetchedManifest>>,
}

impl Proxy {
    /// The proxy over `endpoints`, spooling under `spool` (emptied now: what a crash left there
    /// was never committed).
    pub fn new(endpoints: Endpoints, spool: PathBuf) -> Self {
        let _ = std::fs::remove_dir_all(&spool);
        Self {
            endpoints,
            spool,
            flights: Mutex::default(),
            heads: Coalesce::new(),
            manifests: Coalesce::new(),
            completing: Mutex::default(),
        }
    }
}

/// A blob a proxy project serves from its upstream.
pub struct ProxiedBlob {
    /// Its size, when known.
    pub size: Option<u64>,
    /// Its bytes (`None` for a HEAD).
    pub body: Option<BoxStream<'static, Result<Bytes, std::io::Error>>>,
}

fn upstream_error(e: &ClientError) -> RegistryError {
    RegistryError::Upstream(e.to_string())
}

impl Registry {
    fn proxy(&self) -> Result<&Arc<Proxy>, RegistryError> {
        self.proxy.as_ref().ok_or_else(|| RegistryError::Upstream("proxy caching is not set up".into()))
    }

    /// The refusal of a write into proxy project `project` of endpoint `upstream`.
    pub(super) async fn read_only(&self, project: &str, upstream: i64) -> RegistryError {
        let shown = match db::registries::get(self.db.reader(), upstream).await {
            Ok(Some(r)) => r.url,
            _ => format!("registry {upstream}"),
        };
        RegistryError::ProxyReadOnly(project.to_owned(), shown)
    }

    async fn upstream(&self, endpoint: i64) -> Result<Arc<RegistryClient>, RegistryError> {
        self.proxy()?.endpoints.client(endpoint).await.map_err(|e| RegistryError::Upstream(e.to_string()))
    }

    /// A manifest pull from proxy project repository `name` (`repo`), where `local` is what the
    /// cache holds for `reference`.
    pub(super) async fn pull_through(
        &self,
        name: &RepoName,
        reference: &Reference,
        repo: RepoCtx,
        endpoint: i64,
        local: Option<ManifestRow>,
    ) -> Result<ServedManifest, RegistryError> {
        let served = |row: ManifestRow| ServedManifest {
            id: row.id,
            repository_id: repo.repository_id,
            project_id: repo.project_id,
            digest: row.digest,
            media_type: row.media_type,
            content: row.content,
        };
        let client = match self.upstream(endpoint).await {
            Ok(c) => c,
            Err(e) => return local.map(served).ok_or(e),
        };
        let upstream_repo = client.upstream_repository(name.path());
        let wanted = match reference {
            // Content-addressed: a cached copy is the answer.
            Reference::Digest(d) => match local {
                Some(row) => return Ok(served(row)),
                None => d.as_str().to_owned(),
            },
            Reference::Tag(t) => {
                match self.head_upstream(endpoint, &client, &upstream_repo, t.as_str()).await {
                    Ok(Some(head)) => {
                        let unchanged =
                            local.as_ref().is_some_and(|r| head.digest.as_deref() == Some(&r.digest));
                        if unchanged && let Some(row) = local {
                            return Ok(served(row));
                        }
                        match head.digest {
                            Some(d) if d.parse::<Digest>().is_ok() => d,
                            _ => t.as_str().to_owned(),
                        }
                    }
                    Ok(None) => {
                        return Err(RegistryError::ManifestUnknown(format!(
                            "{t} is not in {upstream_repo} at {}",
                            client.shown()
                        )));
                    }
                    Err(e) => {
                        if let Some(row) = local {
                            tracing::warn!(repository = %name, error = %e, "upstream failed: serving the cached tag");
                            return Ok(served(row));
                        }
                        return Err(upstream_error(&e));
                    }
                }
            }
        };
        // Fetched a moment ago and still waiting for its blobs: no second fetch.
        if let Some(m) = self.completing(repo, &wanted) {
            return Ok(ServedManifest {
                id: 0,
                repository_id: repo.repository_id,
                project_id: repo.project_id,
                digest: wanted,
                media_type: m.media_type,
                content: m.content.to_vec(),
            });
        }
        let fetched = match self.get_upstream(endpoint, &client, &upstream_repo, &wanted).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(RegistryError::ManifestUnknown(format!(
                    "{reference} is not in {upstream_repo} at {}",
                    client.shown()
                )));
            }
            Err(e) => return Err(upstream_error(&e)),
        };
        let digest = match wanted.parse::<Digest>() {
            Ok(d) => {
                let actual = digest_of(d.algorithm(), &fetched.content);
                if actual != d {
                    return Err(RegistryError::Upstream(format!(
                        "{} sent a manifest whose digest is {actual}, not {d}",
                        client.shown()
                    )));
                }
                d
            }
            Err(_) => digest_of(crate::oci::reference::Algorithm::Sha256, &fetched.content),
        };
        let media_type = fetched.media_type.clone();
        let parsed = manifest::parse(&fetched.content, Some(&media_type))?;
        let tags: Vec<Tag> = match reference {
            Reference::Tag(t) => vec![t.clone()],
            Reference::Digest(_) => Vec::new(),
        };
        let by_digest = Reference::Digest(digest.clone());
        if !parsed.children().is_empty() {
            // An index: cached at once; its children come when clients ask for them.
            self.store_manifest(
                repo,
                &by_digest,
                &tags,
                Some(&media_type),
                &fetched.content,
                Children::Later,
                None,
            )
            .await?;
        } else {
            self.complete_later(repo, &client, &upstream_repo, digest.clone(), tags, fetched.clone());
        }
        Ok(ServedManifest {
            // Not cached yet: no row to count the pull against.
            id: 0,
            repository_id: repo.repository_id,
            project_id: repo.project_id,
            digest: digest.to_string(),
            media_type: if media_type.is_empty() { parsed.media_type } else { media_type },
            content: fetched.content.to_vec(),
        })
    }

    /// The referrers the upstream of endpoint `endpoint` knows for `subject` of `name`.
    pub(super) async fn upstream_referrers(
        &self,
        endpoint: i64,
        name: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<serde_json::Value>, RegistryError> {
        let client = self.upstream(endpoint).await?;
        let repo = client.upstream_repository(name.path());
        Ok(client
            .referrers(&repo, subject, artifact_type)
            .await
            .map_err(|e| upstream_error(&e))?
            .unwrap_or_default())
    }

    /// `HEAD` of manifest `reference` upstream, shared by concurrent pulls.
    async fn head_upstream(
        &self,
        endpoint: i64,
        client: &Arc<RegistryClient>,
        repository: &str,
        reference: &str,
    ) -> Result<Option<ManifestHead>, ClientError> {
        let proxy = self.proxy().map_err(|e| ClientError::Invalid(String::new(), e.to_string()))?;
        let (c, r, t) = (client.clone(), repository.to_owned(), reference.to_owned());
        let key = format!("{endpoint} {repository} {reference}");
        proxy.heads.call(key, move || async move { c.head_manifest(&r, &t).await }.boxed()).await
    }

    /// Manifest `reference` upstream, fetched once for concurrent pulls.
    async fn get_upstream(
        &self,
        endpoint: i64,
        client: &Arc<RegistryClient>,
        repository: &str,
        reference: &str,
    ) -> Result<Option<FetchedManifest>, ClientError> {
        let proxy = self.proxy().map_err(|e| ClientError::Invalid(String::new(), e.to_string()))?;
        let (c, r, t) = (client.clone(), repository.to_owned(), reference.to_owned());
        let key = format!("{endpoint} {repository} {reference}");
        proxy.manifests.call(key, move || async move { c.get_manifest(&r, &t).await }.boxed()).await
    }

    /// Caches image manifest `content` (`digest`) in `repo` once all its blobs are, fetching those
    /// no client is fetching; the tags move to it then.
    fn complete_later(
        &self,
        repo: RepoCtx,
        client: &Arc<RegistryClient>,
        upstream_repo: &str,
        digest: Digest,
        tags: Vec<Tag>,
        fetched: FetchedManifest,
    ) {
        let Ok(proxy) = self.proxy() else { return };
        let key = (repo.repository_id, digest.to_string());
        let content = fetched.content.clone();
        let fresh = proxy
            .completing
            .lock()
            .map(|mut c| match c.entry(key.clone()) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(fetched);
                    true
                }
            })
            .unwrap_or(false);
        if !fresh {
            return;
        }
        let me = self.clone();
        let client = client.clone();
        let upstream_repo = upstream_repo.to_owned();
        tokio::spawn(async move {
            let result = me.complete(repo, &client, &upstream_repo, &digest, &tags, &content).await;
            if let Err(e) = result {
                tracing::warn!(%digest, error = %e, "caching a proxied manifest failed; the next pull retries");
            }
            if let Ok(proxy) = me.proxy()
                && let Ok(mut c) = proxy.completing.lock()
            {
                c.remove(&key);
            }
        });
    }

    /// The manifest `digest` of `repo` fetched and not cached yet.
    fn completing(&self, repo: RepoCtx, digest: &str) -> Option<FetchedManifest> {
        let proxy = self.proxy().ok()?;
        let c = proxy.completing.lock().ok()?;
        c.get(&(repo.repository_id, digest.to_owned())).cloned()
    }

    async fn complete(
        &self,
        repo: RepoCtx,
        client: &Arc<RegistryClient>,
        upstream_repo: &str,
        digest: &Digest,
        tags: &[Tag],
        content: &[u8],
    ) -> Result<(), RegistryError> {
        let parsed = manifest::parse(content, None)?;
        for blob in parsed.required_blobs() {
            let d = blob.digest.clone();
            if self.adopt_blob(repo, &d).await? {
                continue;
            }
            let flight = self.flight(repo, client, upstream_repo, &d).await?;
            let mut progress = flight.progress.clone();
            loop {
                let stage = progress.borrow_and_update().stage.clone();
                match stage {
                    Stage::Committed => break,
                    Stage::Failed(f) => return Err(failure_error(&f, &d)),
                    Stage::Fetching | Stage::Verified => {
                        if progress.changed().await.is_err() && progress.borrow().stage != Stage::Committed {
                            return Err(RegistryError::Upstream(format!("the fetch of {d} ended early")));
                        }
                    }
                }
            }
            // Another repository's flight commits the blob to its own repository.
            self.adopt_blob(repo, &d).await?;
        }
        let (last, rest) = match tags.split_last() {
            Some((t, rest)) => (Reference::Tag(t.clone()), rest),
            None => (Reference::Digest(digest.clone()), tags),
        };
        self.store_manifest(repo, &last, rest, None, content, Children::Later, None).await?;
        Ok(())
    }

    /// Serves blob `digest` of proxy repository `repo` from its upstream (a `HEAD` asks the
    /// upstream for the size only). Call it when the cache does not have the blob.
    pub async fn proxy_blob(
        &self,
        repo: RepoCtx,
        name: &RepoName,
        digest: &Digest,
        head: bool,
    ) -> Result<ProxiedBlob, RegistryError> {
        let endpoint = repo.proxy.ok_or(RegistryError::BlobUnknown)?;
        if self.adopt_blob(repo, digest).await? {
            let size = self.stat_blob(repo, digest).await?;
            let body = if head { None } else { Some(self.read_blob(digest, None).await?.stream) };
            return Ok(ProxiedBlob {
                size: Some(size),
                body: body.map(|s| s.map(|r| r.map_err(std::io::Error::other)).boxed()),
            });
        }
        let client = self.upstream(endpoint).await?;
        let upstream_repo = client.upstream_repository(name.path());
        if head {
            return match client.head_blob(&upstream_repo, digest).await {
                Ok(Some(size)) => Ok(ProxiedBlob { size: Some(size), body: None }),
                Ok(None) => Err(RegistryError::BlobUnknown),
                Err(e) => Err(upstream_error(&e)),
            };
        }
        let flight = self.flight(repo, &client, &upstream_repo, digest).await?;
        // Wait for the upstream's answer, so a missing blob is a 404 and not a broken body.
        let mut progress = flight.progress.clone();
        let size = loop {
            let p = progress.borrow_and_update().clone();
            match p.stage {
                Stage::Failed(f) => return Err(failure_error(&f, digest)),
                _ if p.started => break p.size,
                _ => {}
            }
            if progress.changed().await.is_err() {
                let p = progress.borrow().clone();
                match p.stage {
                    Stage::Failed(f) => return Err(failure_error(&f, digest)),
                    _ => break p.size,
                }
            }
        };
        // A client of another repository joining this flight gets the blob linked to its own
        // repository once it is committed.
        let me = self.clone();
        let d = digest.clone();
        let mut watch_commit = flight.progress.clone();
        tokio::spawn(async move {
            while watch_commit.borrow_and_update().stage != Stage::Committed {
                if watch_commit.changed().await.is_err() {
                    break;
                }
            }
            if watch_commit.borrow().stage == Stage::Committed
                && let Err(e) = me.adopt_blob(repo, &d).await
            {
                tracing::warn!(digest = %d, error = %e, "linking a proxied blob failed");
            }
        });
        Ok(ProxiedBlob { size, body: Some(follow(flight.file.clone(), flight.progress.clone()).boxed()) })
    }

    /// The flight fetching `digest`: joined when one is under way, else started.
    async fn flight(
        &self,
        repo: RepoCtx,
        client: &Arc<RegistryClient>,
        upstream_repo: &str,
        digest: &Digest,
    ) -> Result<Arc<Flight>, RegistryError> {
        let proxy = self.proxy()?.clone();
        let speed = match repo.proxy {
            Some(_) => db::projects::proxy_speed(self.db.reader(), repo.project_id).await?,
            None => -1,
        };
        let mut flights = proxy.flights.lock().map_err(|_| RegistryError::Internal)?;
        if let Some(f) = flights.get(digest.as_str()) {
            return Ok(f.clone());
        }
        std::fs::create_dir_all(&proxy.spool).map_err(spool_error)?;
        let path = proxy.spool.join(uuid::Uuid::new_v4().simple().to_string());
        let writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(spool_error)?;
        let reader = writer.try_clone().map_err(spool_error)?;
        let (tx, rx) =
            watch::channel(Progress { stage: Stage::Fetching, size: None, written: 0, started: false });
        let flight = Arc::new(Flight { file: Arc::new(reader), progress: rx });
        flights.insert(digest.to_string(), flight.clone());
        drop(flights);
        let me = self.clone();
        let client = client.clone();
        let upstream_repo = upstream_repo.to_owned();
        let digest = digest.clone();
        tokio::spawn(async move {
            let result = me.fetch(repo, &client, &upstream_repo, &digest, speed, writer, &path, &tx).await;
            let committed = result.is_ok();
            match result {
                Ok(()) => tx.send_modify(|p| p.stage = Stage::Committed),
                Err(f) => {
                    tracing::warn!(%digest, failure = ?f, "a proxied blob fetch failed");
                    tx.send_modify(|p| p.stage = Stage::Failed(f));
                }
            }
            // Followers hold the file open: removing the name does not cut them off.
            let _ = tokio::fs::remove_file(&path).await;
            // A caller that found the blob missing a moment before this commit must join this
            // flight, not start a second fetch: the committed flight stays findable a while
            // (its file still open through the flight). A failed one goes at once, so the next
            // pull retries.
            if committed {
                tokio::time::sleep(COMMITTED_LINGER).await;
            }
            if let Ok(mut flights) = proxy.flights.lock() {
                flights.remove(digest.as_str());
            }
        });
        Ok(flight)
    }

    /// The flight's work: upstream → spool (hashing, at most `speed_kb` KiB/s) → verified →
    /// store → linked to `repo`.
    #[allow(clippy::too_many_arguments)]
    async fn fetch(
        &self,
        repo: RepoCtx,
        client: &RegistryClient,
        upstream_repo: &str,
        digest: &Digest,
        speed_kb: i64,
        file: std::fs::File,
        path: &Path,
        tx: &watch::Sender<Progress>,
    ) -> Result<(), Failure> {
        let blob = match client.get_blob(upstream_repo, digest).await {
            Ok(Some(b)) => b,
            Ok(None) => return Err(Failure::NotFound),
            Err(e) => return Err(Failure::Upstream(e.to_string())),
        };
        tx.send_modify(|p| {
            p.size = blob.size;
            p.started = true;
        });
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = Hasher::new(digest.algorithm());
        let mut body = blob.body;
        let mut buf = BytesMut::with_capacity(SPOOL_CHUNK);
        let mut written: u64 = 0;
        let started = Instant::now();
        let spool = |e: std::io::Error| Failure::Store(format!("spool: {e}"));
        loop {
            let next = body.next().await;
            let done = next.is_none();
            if let Some(chunk) = next {
                let chunk = chunk.map_err(|e| Failure::Upstream(e.to_string()))?;
                hasher.update(&chunk);
                buf.extend_from_slice(&chunk);
            }
            if buf.len() >= SPOOL_CHUNK || (done && !buf.is_empty()) {
                file.write_all(&buf).await.map_err(spool)?;
                file.flush().await.map_err(spool)?;
                written += buf.len() as u64;
                buf.clear();
                tx.send_modify(|p| p.written = written);
                if speed_kb > 0 {
                    // Sleep off whatever the transfer is ahead of the allowed rate.
                    let due = std::time::Duration::from_secs_f64(written as f64 / (speed_kb as f64 * 1024.0));
                    if let Some(ahead) = due.checked_sub(started.elapsed()) {
                        tokio::time::sleep(ahead).await;
                    }
                }
            }
            if done {
                break;
            }
        }
        let actual = hasher.finish();
        if &actual != digest || blob.size.is_some_and(|s| s != written) {
            return Err(Failure::Upstream(format!(
                "{} sent {written} bytes with digest {actual} for {digest}",
                client.shown()
            )));
        }
        tx.send_modify(|p| {
            p.size = Some(written);
            p.stage = Stage::Verified;
        });
        self.commit_spooled(repo, digest, written, path).await.map_err(|e| Failure::Store(e.to_string()))
    }

    /// Makes the verified spool file at `path` blob `digest` of `repo`, in the order the garbage
    /// collector relies on (see `uploads::commit_blob`).
    async fn commit_spooled(
        &self,
        repo: RepoCtx,
        digest: &Digest,
        size: u64,
        path: &Path,
    ) -> Result<(), RegistryError> {
        let deadline = tokio::time::Instant::now() + super::uploads::PURGE_WAIT;
        let mut written = false;
        loop {
            let mut tx = self.db.begin().await?;
            let usable = db::blobs::claim(&mut *tx, digest.as_str()).await?
                || (written && db::blobs::insert(&mut *tx, digest.as_str(), size as i64).await?);
            if usable {
                db::blobs::link(&mut *tx, repo.repository_id, digest.as_str()).await?;
                tx.commit().await.map_err(db::DbError::from)?;
                return Ok(());
            }
            let status = db::blobs::status(&mut *tx, digest.as_str()).await?;
            tx.rollback().await.map_err(db::DbError::from)?;
            match status {
                None => {
                    let file = tokio::fs::File::open(path).await.map_err(|e| {
                        tracing::error!(error = %e, "reading a proxy spool file failed");
                        RegistryError::Internal
                    })?;
                    let stream = tokio_util::io::ReaderStream::with_capacity(file, SPOOL_CHUNK);
                    self.store.write_stream(&StorageKey::Blob(digest.clone()), stream, |_| {}).await?;
                    written = true;
                }
                Some(s) if s.usable() => {}
                Some(_) => {
                    written = false;
                    if tokio::time::Instant::now() >= deadline {
                        return Err(RegistryError::Unavailable(format!(
                            "garbage collection is deleting {digest}"
                        )));
                    }
                    tokio::time::sleep(super::uploads::PURGE_POLL).await;
                }
            }
        }
    }
}

fn spool_error(e: std::io::Error) -> RegistryError {
    tracing::error!(error = %e, "the proxy spool failed");
    RegistryError::Internal
}

fn failure_error(f: &Failure, digest: &Digest) -> RegistryError {
    match f {
        Failure::NotFound => RegistryError::BlobUnknown,
        Failure::Upstream(m) => RegistryError::Upstream(m.clone()),
        Failure::Store(m) => {
            tracing::error!(%digest, error = %m, "storing a proxied blob failed");
            RegistryError::StorageUnavailable
        }
    }
}

/// The bytes of a flight's spool file as they arrive: everything but the last byte until the
/// digest is verified; an error if the fetch fails.
fn follow(
    file: Arc<std::fs::File>,
    progress: watch::Receiver<Progress>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures::stream::unfold(
        (file, progress, 0u64, false),
        |(file, mut progress, offset, closed)| async move {
            let mut closed = closed;
            loop {
                let p = progress.borrow_and_update().clone();
                let limit = match &p.stage {
                    Stage::Failed(f) => {
                        let e = std::io::Error::other(format!("the upstream transfer failed: {f:?}"));
                        return Some((Err(e), (file, progress, u64::MAX, true)));
                    }
                    Stage::Verified | Stage::Committed => p.written,
                    Stage::Fetching => p.written.saturating_sub(1),
                };
                if offset == u64::MAX {
                    return None;
                }
                if offset < limit {
                    let len = (limit - offset).min(SPOOL_CHUNK as u64) as usize;
                    let f = file.clone();
                    let read = tokio::task::spawn_blocking(move || {
                        let mut buf = vec![0u8; len];
                        std::os::unix::fs::FileExt::read_exact_at(&*f, &mut buf, offset).map(|()| buf)
                    })
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|r| r);
                    return match read {
                        Ok(buf) => {
                            Some((Ok(Bytes::from(buf)), (file, progress, offset + len as u64, closed)))
                        }
                        Err(e) => Some((Err(e), (file, progress, u64::MAX, true))),
                    };
                }
                if matches!(p.stage, Stage::Verified | Stage::Committed) {
                    return None;
                }
                if closed {
                    let e = std::io::Error::other("the upstream transfer ended early");
                    return Some((Err(e), (file, progress, u64::MAX, true)));
                }
                if progress.changed().await.is_err() {
                    // The fetch ended: its last word is in the channel; read it once more.
                    closed = true;
                }
            }
        },
    )
}
