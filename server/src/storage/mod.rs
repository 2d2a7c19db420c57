//! Blob bytes: every object key comes from [`StorageKey`], every byte moves as a stream.
//!
//! All object I/O lives here; callers never build object paths. The store is an
//! `Arc<dyn ObjectStore>` so the local filesystem and S3 share one code path.

mod key;
mod local;

pub use key::StorageKey;
pub use local::Staged;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetResultPayload, ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::oci::reference::Digest;

/// Size of the parts handed to the local filesystem while streaming a write: small enough that
/// the bytes are still in cache when written.
const LOCAL_PART_SIZE: usize = 2 * 1024 * 1024;
/// Size of the parts of an S3 multipart upload (S3 wants at least 5 MiB for all but the last).
const S3_PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's CopyObject refuses sources over 5 GiB.
const S3_COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
/// Parts in flight per write; bounds the memory one upload holds.
const PARTS_IN_FLIGHT: usize = 4;
/// Read buffer when serving a local file.
const READ_CHUNK: usize = 1024 * 1024;
/// Chunks read ahead of the client when serving a local file.
const READ_AHEAD: usize = 4;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object does not exist.
    #[error("object not found: {0}")]
    NotFound(String),
    /// The client's body stream failed (disconnect, timeout); nothing was committed.
    #[error("request body failed: {0}")]
    Body(String),
    /// Another request is writing the object.
    #[error("another request is writing {0}")]
    Busy(String),
    /// The storage URL cannot be used.
    #[error("invalid storage configuration: {0}")]
    Config(String),
    /// Any other object store failure.
    #[error(transparent)]
    Store(#[from] object_store::Error),
    /// A local I/O failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl StorageError {
    /// Whether the store is out of space (or over quota): a full disk, not a passing failure.
    pub fn is_full(&self) -> bool {
        let full = |io: &std::io::Error| {
            io.kind() == std::io::ErrorKind::StorageFull || matches!(io.raw_os_error(), Some(28 | 122))
        };
        // `Io` is transparent: its `source()` skips the I/O error itself.
        if let Self::Io(io) = self {
            return full(io);
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && full(io)
            {
                return true;
            }
            source = e.source();
        }
        false
    }
}

fn map_err(key: &StorageKey, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound(key.to_string()),
        other => StorageError::Store(other),
    }
}

/// A readable object: its bytes as a stream, the range served and the object's full size.
pub struct ObjectRead {
    /// The bytes of the requested range.
    pub stream: BoxStream<'static, Result<Bytes, StorageError>>,
    /// The range of the object the stream covers.
    pub range: Range<u64>,
    /// The object's total size.
    pub size: u64,
}

/// An object found by listing.
#[derive(Debug, Clone)]
pub struct ListedObject {
    /// Its key relative to the listed area.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modified, unix milliseconds.
    pub modified: i64,
}

/// The blob store: content-addressed blobs plus upload parts, over any object store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    part_size: usize,
    /// Largest object `rename` moves with the store's own copy; larger ones are streamed.
    copy_limit: u64,
    /// The store deletes many keys per request (S3's `DeleteObjects`).
    bulk_delete: bool,
    /// Writes of a filesystem store, which bypass object_store's (see `local`).
    local: Option<local::LocalDir>,
    /// The directory of a filesystem store (whose free space can be known).
    root: Option<std::path::PathBuf>,
}

impl BlobStore {
    /// Opens the store named by `url`: a filesystem path, a `file://` URL, or
    /// `s3://bucket[/prefix]` (endpoint, region and credentials from the standard `AWS_*`
    /// environment variables: `AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`, …).
    pub fn open(url: &str, fsync: bool) -> Result<Self, StorageError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StorageError::Config(format!("no bucket in storage URL {url:?}")));
            }
            // object_store retries a failing request for up to three minutes by default: a client
            // pushing while S3 is unreachable would hang that long. Fail within seconds instead;
            // the client gets 503 UNAVAILABLE and retries the request itself.
            let retry = object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(10),
                ..Default::default()
            };
            let s3 = AmazonS3Builder::from_env().with_bucket_name(bucket).with_retry(retry).build()?;
            let prefix = prefix.trim_matches('/');
            let store: Arc<dyn ObjectStore> =
                if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) };
            return Ok(Self {
                store,
                part_size: S3_PART_SIZE,
                copy_limit: S3_COPY_LIMIT,
                bulk_delete: true,
                local: None,
                root: None,
            });
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        if path.contains("://") {
            return Err(StorageError::Config(format!(
                "unsupported storage URL {url:?}: use a directory, a file:// URL or s3://bucket/prefix"
            )));
        }
        std::fs::create_dir_all(path)?;
        let fs = LocalFileSystem::new_with_prefix(path)?.with_automatic_cleanup(true).with_fsync(fsync);
        Ok(Self {
            store: Arc::new(fs),
            part_size: LOCAL_PART_SIZE,
            copy_limit: u64::MAX,
            bulk_delete: false,
            local: Some(local::LocalDir::new(path.into(), fsync)),
            root: Some(path.into()),
        })
    }

    /// (total, free) bytes of the volume a filesystem store is on; `None` for a bucket, whose
    /// size has no meaning.
    pub fn volume(&self) -> Option<(u64, u64)> {
        let root = self.root.as_ref()?;
        let st = rustix::fs::statvfs(root).ok()?;
        Some((st.f_blocks.saturating_mul(st.f_frsize), st.f_bavail.saturating_mul(st.f_frsize)))
    }

    /// Streams `body` into `key`, calling `observe` on every chunk in order (for hashing).
    /// Returns the number of bytes written. On any error nothing is left at `key`.
    pub async fn write_stream<S, E>(
        &self,
        key: &StorageKey,
        body: S,
        mut observe: impl FnMut(&[u8]),
    ) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        if let Some(local) = &self.local {
            return local.write_new(key, body, observe).await;
        }
        let mut writer = self.writer(key).await?;
        let mut body = std::pin::pin!(body);
        let mut pump = async || -> Result<(), StorageError> {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| StorageError::Body(e.to_string()))?;
                observe(&chunk);
                writer.push(chunk).await?;
            }
            Ok(())
        };
        let result = pump().await;
        writer.end(key, result).await
    }

    /// Writes the concatenation of `parts` to `to`, streaming.
    pub async fn concat(&self, parts: &[StorageKey], to: &StorageKey) -> Result<u64, StorageError> {
        if let Some(local) = &self.local {
            // A part that cannot be read fails the write as its body; keep its own error.
            let failed = std::sync::Mutex::new(None);
            let store = self.clone();
            let body = futures::stream::iter(parts.to_vec())
                .then(move |part| {
                    let store = store.clone();
                    async move { store.read(&part, None).await }
                })
                .map_ok(|read| read.stream)
                .try_flatten()
                .map_err(|e| {
                    let text = e.to_string();
                    if let Ok(mut slot) = failed.lock() {
                        slot.get_or_insert(e);
                    }
                    text
                });
            let written = local.write_new(to, body, |_| {}).await;
            return match (written, failed.into_inner().ok().flatten()) {
                (Err(StorageError::Body(_)), Some(e)) => Err(e),
                (written, _) => written,
            };
        }
        let mut writer = self.writer(to).await?;
        let mut result = Ok(());
        for part in parts {
            let mut read = match self.read(part, None).await {
                Ok(r) => r,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            loop {
                match read.stream.try_next().await {
                    Ok(Some(chunk)) => {
                        if let Err(e) = writer.push(chunk).await {
                            result = Err(e);
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            if result.is_err() {
                break;
            }
        }
        writer.end(to, result).await
    }

    async fn writer(&self, key: &StorageKey) -> Result<Writer, StorageError> {
        let upload = self.store.put_multipart(&key.path()).await.map_err(|e| map_err(key, e))?;
        Ok(Writer { inner: WriteMultipart::new_with_chunk_size(upload, self.part_size), written: 0 })
    }

    /// Whether upload sessions append every chunk to one staging object, published by
    /// [`Self::publish_staged`] (a filesystem store), rather than storing one object per chunk
    /// that completion concatenates (S3, whose objects cannot be appended to).
    pub fn stages_in_place(&self) -> bool {
        self.local.is_some()
    }

    /// Locks the staging object `key` for an append, creating it when missing. `Busy` while
    /// another request holds it; `NotFound` once it was published or removed.
    pub async fn stage(&self, key: &StorageKey) -> Result<Staged, StorageError> {
        self.local_dir()?.stage(key).await
    }

    /// Waits for the lock on the existing staging object `key`, for publishing.
    pub async fn stage_existing(&self, key: &StorageKey) -> Result<Staged, StorageError> {
        self.local_dir()?.stage_existing(key).await
    }

    /// Appends `body` to a locked staging object at `offset` (what the session recorded),
    /// calling `observe` on every chunk; durable on return when fsync is on.
    pub async fn append_staged<S, E>(
        &self,
        staged: &Staged,
        offset: u64,
        body: S,
        observe: impl FnMut(&[u8]),
    ) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        staged.append(offset, body, observe).await
    }

    /// Publishes the first `len` bytes of a locked staging object as `to`.
    pub async fn publish_staged(
        &self,
        staged: &Staged,
        len: u64,
        to: &StorageKey,
    ) -> Result<(), StorageError> {
        staged.publish(len, self.local_dir()?.path(to)).await
    }

    fn local_dir(&self) -> Result<&local::LocalDir, StorageError> {
        self.local
            .as_ref()
            .ok_or_else(|| StorageError::Config("staging in place needs a filesystem store".into()))
    }

    /// Writes a small object in one request.
    pub async fn put(&self, key: &StorageKey, data: Bytes) -> Result<(), StorageError> {
        self.store.put(&key.path(), data.into()).await.map_err(|e| map_err(key, e))?;
        Ok(())
    }

    /// Reads `key`, or the `range` of it, as a stream.
    pub async fn read(
        &self,
        key: &StorageKey,
        range: Option<Range<u64>>,
    ) -> Result<ObjectRead, StorageError> {
        let options = GetOptions::new().with_range(range);
        let got = self.store.get_opts(&key.path(), options).await.map_err(|e| map_err(key, e))?;
        let size = got.meta.size;
        let range = got.range.clone();
        let stream = match got.payload {
            // object_store reads local files 8 KiB per blocking call; a tokio file with a large
            // buffer streams several times faster.
            GetResultPayload::File(file, _) => local_file_stream(file, range.clone()),
            GetResultPayload::Stream(s) => s.map_err(StorageError::from).boxed(),
        };
        Ok(ObjectRead { stream, range, size })
    }

    /// The size of `key`, or `NotFound`.
    pub async fn size(&self, key: &StorageKey) -> Result<u64, StorageError> {
        let meta = self.store.head(&key.path()).await.map_err(|e| map_err(key, e))?;
        Ok(meta.size)
    }

    /// Moves `from` to `to`, replacing `to` atomically.
    pub async fn rename(&self, from: &StorageKey, to: &StorageKey) -> Result<(), StorageError> {
        if self.copy_limit < u64::MAX && self.size(from).await? > self.copy_limit {
            // Too large for the store's copy (S3: 5 GiB): stream it into a new object instead.
            self.concat(std::slice::from_ref(from), to).await?;
            return self.delete(from).await;
        }
        self.store.rename(&from.path(), &to.path()).await.map_err(|e| map_err(from, e))
    }

    /// Copies `from` to `to`, replacing `to` atomically and keeping `from` (a hard link on the
    /// local filesystem, a server-side copy on S3).
    pub async fn copy(&self, from: &StorageKey, to: &StorageKey) -> Result<(), StorageError> {
        if self.copy_limit < u64::MAX && self.size(from).await? > self.copy_limit {
            self.concat(std::slice::from_ref(from), to).await?;
            return Ok(());
        }
        self.store.copy(&from.path(), &to.path()).await.map_err(|e| map_err(from, e))
    }

    /// Deletes `key`; deleting a missing object is not an error.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        match self.store.delete(&key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes `keys`, `workers` requests at a time (on S3, up to 1,000 keys per request);
    /// returns the keys that are gone (deleted or already missing).
    pub async fn delete_many(&self, keys: Vec<StorageKey>, workers: usize) -> Vec<StorageKey> {
        if !self.bulk_delete {
            return futures::stream::iter(keys)
                .map(|k| async move { self.delete(&k).await.ok().map(|()| k) })
                .buffer_unordered(workers.max(1))
                .filter_map(|k| async move { k })
                .collect()
                .await;
        }
        let by_path: std::collections::HashMap<String, StorageKey> =
            keys.into_iter().map(|k| (k.path().to_string(), k)).collect();
        let paths: Vec<object_store::Result<Path>> =
            by_path.keys().map(|p| Ok(Path::from(p.as_str()))).collect();
        let results: Vec<object_store::Result<Path>> =
            self.store.delete_stream(futures::stream::iter(paths).boxed()).collect().await;
        results
            .into_iter()
            .filter_map(|r| match r {
                Ok(p) => by_path.get(p.as_ref()).cloned(),
                Err(object_store::Error::NotFound { path, .. }) => by_path.get(&path).cloned(),
                Err(e) => {
                    tracing::warn!(error = %e, "storage refused a delete");
                    None
                }
            })
            .collect()
    }

    /// Names of the objects below `area`, relative to it.
    pub async fn list(&self, area: &StorageKey) -> Result<Vec<String>, StorageError> {
        Ok(self.list_aged(area).await?.into_iter().map(|(name, _)| name).collect())
    }

    /// Names of the objects below `area`, relative to it, with their last-modified times (unix
    /// milliseconds).
    pub async fn list_aged(&self, area: &StorageKey) -> Result<Vec<(String, i64)>, StorageError> {
        Ok(self.list_objects(area).await?.into_iter().map(|o| (o.name, o.modified)).collect())
    }

    /// The objects below `area`, named relative to it.
    pub async fn list_objects(&self, area: &StorageKey) -> Result<Vec<ListedObject>, StorageError> {
        let prefix = area.path();
        let metas: Vec<object_store::ObjectMeta> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let name = m
                    .location
                    .prefix_match(&prefix)
                    .map(|parts| parts.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>().join("/"))?;
                Some(ListedObject { name, size: m.size, modified: m.last_modified.timestamp_millis() })
            })
            .collect())
    }

    /// The digests of every stored blob (objects under the blob area whose key is not a
    /// digest's are skipped).
    pub async fn list_blobs(&self) -> Result<Vec<Digest>, StorageError> {
        Ok(self
            .list(&StorageKey::BlobArea)
            .await?
            .iter()
            .filter_map(|name| StorageKey::blob_of_name(name))
            .collect())
    }

    /// Checks that the store answers (for health checks).
    pub async fn ping(&self) -> Result<(), StorageError> {
        match self.store.head(&StorageKey::Probe.path()).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A streaming write in progress: bounded parts in flight, aborted unless ended cleanly.
struct Writer {
    inner: WriteMultipart,
    written: u64,
}

impl Writer {
    async fn push(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        self.written += chunk.len() as u64;
        self.inner.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.inner.put(chunk);
        Ok(())
    }

    /// Completes the object when `result` is Ok, aborts it otherwise.
    async fn end(self, key: &StorageKey, result: Result<(), StorageError>) -> Result<u64, StorageError> {
        match result {
            Ok(()) => {
                self.inner.finish().await.map_err(|e| map_err(key, e))?;
                Ok(self.written)
            }
            Err(e) => {
                if let Err(abort) = self.inner.abort().await {
                    tracing::warn!(key = %key, error = %abort, "aborting a failed write");
                }
                Err(e)
            }
        }
    }
}

/// Streams `range` of a local file from one blocking reader thread through a small bounded
/// channel: one hand-off per chunk instead of one blocking-pool task per read, and at most
/// `READ_AHEAD` chunks in memory whatever the file size.
fn local_file_stream(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, StorageError>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, StorageError>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek};
        let mut file = file;
        if let Err(e) = file.seek(std::io::SeekFrom::Start(range.start)) {
            tx.blocking_send(Err(e.into())).ok();
            return;
        }
        let mut left = range.end - range.start;
        while left > 0 {
            let want = READ_CHUNK.min(left as usize);
            // read_to_end fills spare capacity without zeroing it first.
            let mut buf = Vec::with_capacity(want);
            match (&mut file).take(want as u64).read_to_end(&mut buf) {
                Ok(0) => {
                    let e =
                        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "blob shorter than recorded");
                    tx.blocking_send(Err(e.into())).ok();
                    return;
                }
                Ok(n) => {
                    left -= n as u64;
                    // The receiver is gone when the client hung up: stop reading.
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tx.blocking_send(Err(e.into())).ok();
                    return;
                }
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
}

#[cfg(test)]
mod tests {
    //! One suite every backend passes: the local filesystem always, and S3 when `WHARF_TEST_S3`
    //! names a bucket URL (with the `AWS_*` variables pointing at an S3 server).
    use super::*;
    use crate::oci::reference::Digest;

    /// The backends to test, each with a fresh root; the guard keeps a temp dir alive.
    fn backends() -> Vec<(Option<tempfile::TempDir>, BlobStore)> {
        let mut all = Vec::new();
        for fsync in [false, true] {
            let dir = tempfile::tempdir().expect("tempdir");
            let local = BlobStore::open(dir.path().to_str().expect("utf8"), fsync).expect("open local");
            all.push((Some(dir), local));
        }
        if let Some(bucket) = std::env::var("WHARF_TEST_S3").ok().filter(|b| !b.is_empty()) {
            let url = format!("{}/{}", bucket.trim_end_matches('/'), uuid::Uuid::new_v4().simple());
            all.push((None, BlobStore::open(&url, false).expect("open s3")));
        }
        all
    }

    fn chunks(data: &[u8], n: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> + use<> {
        let v: Vec<Result<Bytes, std::io::Error>> =
            data.chunks(n).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(v)
    }

    async fn read_all(s: &BlobStore, k: &StorageKey, r: Option<Range<u64>>) -> Vec<u8> {
        let read = s.read(k, r).await.expect("read");
        let parts: Vec<Bytes> = read.stream.try_collect().await.expect("stream");
        parts.concat()
    }

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64)).parse().expect("digest")
    }

    #[tokio::test]
    async fn write_read_range_concat_delete() {
        for (_guard, s) in backends() {
            // Larger than two S3 parts, so multipart uploads are exercised.
            let data: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
            let a = StorageKey::UploadPart { upload: "u1".into(), part: "0".into() };
            let mut seen = 0usize;
            let n = s.write_stream(&a, chunks(&data, 65_536), |c| seen += c.len()).await.expect("write");
            assert_eq!((n as usize, seen), (data.len(), data.len()));
            assert_eq!(read_all(&s, &a, None).await, data);
            assert_eq!(read_all(&s, &a, Some(10..20)).await, &data[10..20]);
            let b = StorageKey::UploadPart { upload: "u1".into(), part: "1".into() };
            s.put(&b, Bytes::from_static(b"tail")).await.expect("put");
            let blob = StorageKey::Blob(digest('a'));
            let total = s.concat(&[a.clone(), b.clone()], &blob).await.expect("concat");
            assert_eq!(total as usize, data.len() + 4);
            assert_eq!(s.size(&blob).await.expect("size"), total);
            assert_eq!(
                read_all(&s, &blob, Some(total - 6..total)).await,
                [data[data.len() - 2], data[data.len() - 1], b't', b'a', b'i', b'l']
            );
            let mut listed = s.list(&StorageKey::UploadArea).await.expect("list");
            listed.sort();
            assert_eq!(listed, vec!["u1.0", "u1.1"]);
            s.delete(&a).await.expect("delete part");
            assert!(matches!(s.size(&a).await, Err(StorageError::NotFound(_))));
            s.delete(&blob).await.expect("delete");
            s.delete(&blob).await.expect("delete twice is fine");
            assert!(matches!(s.read(&blob, None).await, Err(StorageError::NotFound(_))));
            s.ping().await.expect("ping");
        }
    }

    #[tokio::test]
    async fn rename_moves_and_replaces() {
        for (_guard, s) in backends() {
            let part = StorageKey::UploadPart { upload: "u3".into(), part: "0".into() };
            s.put(&part, Bytes::from_static(b"content")).await.expect("put");
            let blob = StorageKey::Blob(digest('b'));
            s.put(&blob, Bytes::from_static(b"old")).await.expect("put");
            s.rename(&part, &blob).await.expect("rename");
            assert_eq!(read_all(&s, &blob, None).await, b"content");
            assert!(matches!(s.size(&part).await, Err(StorageError::NotFound(_))));
            assert!(matches!(s.rename(&part, &blob).await, Err(StorageError::NotFound(_))));
        }
    }

    #[tokio::test]
    async fn rename_streams_objects_over_the_copy_limit() {
        for (_guard, mut s) in backends() {
            s.copy_limit = 1024;
            let part = StorageKey::UploadPart { upload: "u4".into(), part: "0".into() };
            let data: Vec<u8> = (0..9_000_000u32).map(|i| (i % 253) as u8).collect();
            s.write_stream(&part, chunks(&data, 1 << 20), |_| {}).await.expect("write");
            let blob = StorageKey::Blob(digest('c'));
            s.rename(&part, &blob).await.expect("rename");
            assert_eq!(read_all(&s, &blob, None).await, data);
            assert!(matches!(s.size(&part).await, Err(StorageError::NotFound(_))));
        }
    }

    #[tokio::test]
    async fn a_failed_body_leaves_nothing() {
        for (_guard, s) in backends() {
            let k = StorageKey::UploadPart { upload: "u2".into(), part: "0".into() };
            let body = futures::stream::iter(vec![
                Ok(Bytes::from(vec![1u8; 9_000_000])),
                Err(std::io::Error::other("client went away")),
            ]);
            let r = s.write_stream(&k, body, |_| {}).await;
            assert!(matches!(r, Err(StorageError::Body(_))));
            assert!(matches!(s.size(&k).await, Err(StorageError::NotFound(_))));
        }
    }

    #[tokio::test]
    async fn many_small_chunks_arrive_whole_and_in_order() {
        for (_guard, s) in backends() {
            // Thousands of chunks per part of the streaming write, and a size no part size divides.
            let data: Vec<u8> = (0..3_000_001u32).map(|i| (i.wrapping_mul(7) % 255) as u8).collect();
            let k = StorageKey::UploadPart { upload: "u5".into(), part: "0".into() };
            let n = s.write_stream(&k, chunks(&data, 1000), |_| {}).await.expect("write");
            assert_eq!(n as usize, data.len());
            assert_eq!(read_all(&s, &k, None).await, data);
        }
    }

    /// A request dropped mid-body (a client gone, a cancelled handler) leaves neither the object
    /// nor a staging file, and a write in progress is never listed.
    #[tokio::test]
    async fn a_dropped_write_leaves_nothing_and_is_never_listed() {
        for (guard, s) in backends() {
            let k = StorageKey::UploadPart { upload: "u6".into(), part: "0".into() };
            let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
            tx.unbounded_send(Ok(Bytes::from(vec![7u8; 9_000_000]))).expect("send");
            let mut write = Box::pin(s.write_stream(&k, rx, |_| {}));
            let waited = tokio::time::timeout(std::time::Duration::from_millis(300), &mut write).await;
            assert!(waited.is_err(), "the body never ends, so the write cannot");
            let nothing = || async {
                assert!(s.list(&StorageKey::UploadArea).await.expect("list").is_empty());
                assert!(matches!(s.size(&k).await, Err(StorageError::NotFound(_))));
            };
            nothing().await;
            drop(write);
            nothing().await;
            if let Some(dir) = guard {
                // The writing thread removes its file once it sees the write was dropped.
                let mut left: Vec<_> = walk(dir.path());
                for _ in 0..100 {
                    if left.iter().all(|p| !p.contains('#')) {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    left = walk(dir.path());
                }
                assert!(left.iter().all(|p| !p.contains('#')), "staging files left: {left:?}");
            }
        }
    }

    /// Chunks staged in place land in one object at the offsets given; a failed append gives
    /// its bytes back, and a crash's leftovers are overwritten by the next append; one writer
    /// at a time; a published object is a blob of
    /// exactly the length asked and never written again through the session.
    #[tokio::test]
    async fn staging_in_place_appends_locks_and_publishes() {
        for (_guard, s) in backends() {
            if !s.stages_in_place() {
                assert!(
                    s.stage(&StorageKey::UploadPart { upload: "s".into(), part: "data".into() })
                        .await
                        .is_err()
                );
                continue;
            }
            let key = StorageKey::UploadPart { upload: "s1".into(), part: "data".into() };
            let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 241) as u8).collect();
            let staged = s.stage(&key).await.expect("stage");
            assert!(matches!(s.stage(&key).await, Err(StorageError::Busy(_))), "one writer at a time");
            let n = s
                .append_staged(&staged, 0, chunks(&data[..3_000_000], 70_000), |_| {})
                .await
                .expect("append");
            assert_eq!(n, 3_000_000);
            drop(staged);

            // A body that fails half-way: its bytes stay past the offset, then are overwritten.
            let staged = s.stage(&key).await.expect("stage again");
            let failing = futures::stream::iter(vec![
                Ok(Bytes::from(vec![0xEEu8; 1_500_000])),
                Err(std::io::Error::other("client went away")),
            ]);
            let r = s.append_staged(&staged, 3_000_000, failing, |_| {}).await;
            assert!(matches!(r, Err(StorageError::Body(_))), "{r:?}");
            assert_eq!(s.size(&key).await.expect("size"), 3_000_000, "a failed append gives its bytes back");
            // What a crash mid-append leaves past the recorded size is dropped by the next one.
            std::fs::OpenOptions::new()
                .append(true)
                .open(s.local_dir().expect("local").path(&key))
                .and_then(|mut f| std::io::Write::write_all(&mut f, &[0xEE; 1000]))
                .expect("a tail");
            let mut seen = 0;
            let n = s
                .append_staged(&staged, 3_000_000, chunks(&data[3_000_000..], 65_536), |c| seen += c.len())
                .await
                .expect("append after failure");
            assert_eq!((n, seen), (2_000_000, 2_000_000));
            assert_eq!(read_all(&s, &key, None).await, data);
            // An offset past the stored bytes means they were lost: refused, not padded.
            let r = s.append_staged(&staged, 9_000_000, chunks(b"x", 1), |_| {}).await;
            assert!(r.is_err());
            drop(staged);

            // Published with a shorter length: the blob is that prefix.
            let blob = StorageKey::Blob(digest('e'));
            let staged = s.stage_existing(&key).await.expect("lock to publish");
            s.publish_staged(&staged, 4_000_000, &blob).await.expect("publish");
            drop(staged);
            assert_eq!(read_all(&s, &blob, None).await, &data[..4_000_000]);
            assert!(
                matches!(s.stage(&key).await, Err(StorageError::NotFound(_))),
                "published: no more appends"
            );
            // Once the staging name is gone, a new session's first append starts a new file.
            s.delete(&key).await.expect("delete staging");
            assert_eq!(read_all(&s, &blob, None).await, &data[..4_000_000]);
            let staged = s.stage(&key).await.expect("a new file");
            s.append_staged(&staged, 0, chunks(b"new", 3), |_| {}).await.expect("append");
            drop(staged);
            assert_eq!(read_all(&s, &blob, None).await, &data[..4_000_000], "the blob is untouched");
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
        out
    }

    #[test]
    fn a_full_disk_is_told_apart() {
        let full = StorageError::Io(std::io::Error::from_raw_os_error(28));
        assert!(full.is_full());
        assert!(!StorageError::Io(std::io::Error::other("flaky")).is_full());
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(matches!(BlobStore::open("gs://bucket", false), Err(StorageError::Config(_))));
        assert!(matches!(BlobStore::open("s3://", false), Err(StorageError::Config(_))));
    }
}
