//! Blob upload sessions: start, append (streamed or chunked), status, complete, cancel, mount.
//!
//! The session and its parts live in the database and the blob store, so any replica can serve
//! the next request. Each part is hashed while it is written; the running SHA-256 state is kept
//! in memory as a shortcut, and rebuilt from the stored parts when this process does not have it
//! (another replica took the previous chunk, or a restart).
//!
//! Commit order: verify the digest, write the bytes under the digest's key, then insert the blob
//! row and the repository link and drop the session in one transaction (`commit_blob`). A crash
//! at any step leaves at worst unreferenced bytes, never a row pointing at missing bytes.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};

use super::error::RegistryError;
use super::{Registry, RepoCtx};
use crate::db::{self, uploads::PartRow};
use crate::oci::digester::Hasher;
use crate::oci::reference::{Algorithm, Digest};
use crate::storage::{StorageError, StorageKey};

/// An upload session counts against its owner's limit while it was used this recently.
const ACTIVE_UPLOAD_MS: i64 = 60 * 60 * 1000;

/// Longest a commit waits for a sweep that is deleting the same digest.
pub(super) const PURGE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How often a waiting commit looks again.
pub(super) const PURGE_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Most running hashes kept; past that the cache starts over (states are rebuilt on demand).
const HASH_CACHE_MAX: usize = 4096;

/// Running SHA-256 states of open sessions, keyed by session id, with the size they cover.
#[derive(Default)]
pub struct HashCache(Mutex<HashMap<String, (i64, Hasher)>>);

impl HashCache {
    fn take(&self, id: &str, size: i64) -> Option<Hasher> {
        let mut map = self.0.lock().ok()?;
        match map.remove(id) {
            Some((s, h)) if s == size => Some(h),
            _ => None,
        }
    }

    fn put(&self, id: &str, size: i64, hasher: Hasher) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= HASH_CACHE_MAX {
                map.clear();
            }
            map.insert(id.to_owned(), (size, hasher));
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(id);
        }
    }
}

/// Where a chunk claims to go, from `Content-Range` and `Content-Length`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkClaim {
    /// The offset the chunk starts at, when stated.
    pub start: Option<u64>,
    /// The chunk's length, when stated.
    pub len: Option<u64>,
}

/// The part name every chunk of a session staged in place records: they all live in one object.
const STAGED: &str = "data";

fn part_key(upload: &str, part: &str) -> StorageKey {
    StorageKey::UploadPart { upload: upload.to_owned(), part: part.to_owned() }
}

impl Registry {
    /// Opens an upload session; returns its id.
    pub async fn start_upload(&self, repo: RepoCtx, owner: &str) -> Result<String, RegistryError> {
        let id = uuid::Uuid::new_v4().to_string();
        // A session counts while it moves; an abandoned one stops counting after the window.
        let active_since = db::now_ms() - ACTIVE_UPLOAD_MS;
        if db::uploads::insert_limited(
            self.db.writer(),
            &id,
            repo.repository_id,
            owner,
            active_since,
            self.max_uploads,
        )
        .await?
        {
            Ok(id)
        } else {
            Err(RegistryError::TooManyUploads(self.max_uploads))
        }
    }

    async fn session(&self, repo: RepoCtx, id: &str) -> Result<db::uploads::UploadRow, RegistryError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(RegistryError::BlobUploadUnknown);
        }
        db::uploads::get(self.db.writer(), id, repo.repository_id)
            .await?
            .ok_or(RegistryError::BlobUploadUnknown)
    }

    /// Bytes received so far by session `id`.
    pub async fn upload_status(&self, repo: RepoCtx, id: &str) -> Result<u64, RegistryError> {
        Ok(self.session(repo, id).await?.size as u64)
    }

    /// Rebuilds a running hash by reading the session's stored parts.
    async fn rehash(&self, id: &str, algorithm: Algorithm) -> Result<Hasher, RegistryError> {
        let mut hasher = Hasher::new(algorithm);
        let parts = db::uploads::parts(self.db.writer(), id).await?;
        let reads: Vec<(StorageKey, Option<std::ops::Range<u64>>)> = if self.store.stages_in_place() {
            // Past the recorded size may lie what a failed append left.
            let size: i64 = parts.iter().map(|p| p.size).sum();
            if size == 0 { Vec::new() } else { vec![(part_key(id, STAGED), Some(0..size as u64))] }
        } else {
            parts.iter().map(|p| (part_key(id, &p.name), None)).collect()
        };
        for (key, range) in reads {
            let mut read = self.store.read(&key, range).await?;
            while let Some(chunk) = read.stream.try_next().await? {
                hasher.update(&chunk);
            }
        }
        Ok(hasher)
    }

    /// `append_upload` on a store that stages in place: the chunk goes at the end of the
    /// session's one staging object, written under its lock, with the session's size read
    /// again under that lock (it is where the bytes go).
    async fn append_in_place<S, E>(
        &self,
        repo: RepoCtx,
        id: &str,
        claim: ChunkClaim,
        body: S,
    ) -> Result<u64, RegistryError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let key = part_key(id, STAGED);
        let staged = match self.store.stage(&key).await {
            Ok(s) => s,
            Err(StorageError::Busy(_)) => {
                return Err(RegistryError::RangeInvalid(
                    "another chunk of this upload is being written".into(),
                ));
            }
            Err(StorageError::NotFound(_)) => return Err(RegistryError::BlobUploadUnknown),
            Err(e) => return Err(e.into()),
        };
        let row = self.session(repo, id).await?;
        if let Some(start) = claim.start
            && start != row.size as u64
        {
            return Err(RegistryError::RangeInvalid(format!(
                "chunk starts at {start}, the upload has {} bytes",
                row.size
            )));
        }
        let mut hasher = match self.hashes.take(id, row.size) {
            Some(h) => h,
            None => self.rehash(id, Algorithm::Sha256).await?,
        };
        let written =
            match self.store.append_staged(&staged, row.size as u64, body, |c| hasher.update(c)).await {
                Ok(n) => n,
                Err(StorageError::Body(e)) => {
                    return Err(RegistryError::BlobUploadInvalid(format!("the request body failed: {e}")));
                }
                Err(e) => return Err(e.into()),
            };
        // A refused chunk stays past the recorded size, where the next append overwrites it.
        if let Some(len) = claim.len
            && len != written
        {
            return Err(RegistryError::SizeInvalid(format!(
                "received {written} bytes, the request announced {len}"
            )));
        }
        if written == 0 {
            self.hashes.put(id, row.size, hasher);
            return Ok(row.size as u64);
        }
        let new_part = PartRow { seq: row.parts, name: STAGED.to_owned(), size: written as i64 };
        let mut tx = self.db.begin().await?;
        if !db::uploads::append_part(&mut tx, id, row.size, &new_part).await? {
            return Err(RegistryError::RangeInvalid("another chunk was appended first".into()));
        }
        tx.commit().await.map_err(crate::db::DbError::from)?;
        drop(staged);
        let size = row.size + written as i64;
        self.hashes.put(id, size, hasher);
        Ok(size as u64)
    }

    /// Appends `body` to session `id`; returns the session's new size.
    pub async fn append_upload<S, E>(
        &self,
        repo: RepoCtx,
        id: &str,
        claim: ChunkClaim,
        body: S,
    ) -> Result<u64, RegistryError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let row = self.session(repo, id).await?;
        if let Some(start) = claim.start
            && start != row.size as u64
        {
            return Err(RegistryError::RangeInvalid(format!(
                "chunk starts at {start}, the upload has {} bytes",
                row.size
            )));
        }
        if claim.len == Some(0) {
            return Ok(row.size as u64);
        }
        if self.store.stages_in_place() {
            return self.append_in_place(repo, id, claim, body).await;
        }
        let mut hasher = match self.hashes.take(id, row.size) {
            Some(h) => h,
            None => self.rehash(id, Algorithm::Sha256).await?,
        };
        let part = format!("{:010}-{}", row.parts, uuid::Uuid::new_v4().simple());
        let key = part_key(id, &part);
        let written = match self.store.write_stream(&key, body, |c| hasher.update(c)).await {
            Ok(n) => n,
            Err(StorageError::Body(e)) => {
                return Err(RegistryError::BlobUploadInvalid(format!("the request body failed: {e}")));
            }
            Err(e) => return Err(e.into()),
        };
        let reject = |e: RegistryError| async {
            self.store.delete(&key).await.ok();
            Err(e)
        };
        if let Some(len) = claim.len
            && len != written
        {
            return reject(RegistryError::SizeInvalid(format!(
                "received {written} bytes, the request announced {len}"
            )))
            .await;
        }
        if written == 0 {
            self.store.delete(&key).await.ok();
            self.hashes.put(id, row.size, hasher);
            return Ok(row.size as u64);
        }
        let new_part = PartRow { seq: row.parts, name: part, size: written as i64 };
        let mut tx = self.db.begin().await?;
        let appended = match db::uploads::append_part(&mut tx, id, row.size, &new_part).await {
            Ok(ok) => ok,
            Err(e) if e.is_unique_violation() => false,
            Err(e) => return Err(e.into()),
        };
        if !appended {
            drop(tx);
            return reject(RegistryError::RangeInvalid("another chunk was appended first".into())).await;
        }
        tx.commit().await.map_err(crate::db::DbError::from)?;
        let size = row.size + written as i64;
        self.hashes.put(id, size, hasher);
        Ok(size as u64)
    }

    /// Completes session `id` as blob `digest`, after appending `body` if it has bytes.
    pub async fn complete_upload<S, E>(
        &self,
        repo: RepoCtx,
        id: &str,
        digest: &Digest,
        claim: ChunkClaim,
        body: S,
    ) -> Result<(), RegistryError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let size = self.append_upload(repo, id, claim, body).await? as i64;
        let hasher = match digest.algorithm() {
            Algorithm::Sha256 => match self.hashes.take(id, size) {
                Some(h) => h,
                None => self.rehash(id, Algorithm::Sha256).await?,
            },
            other => self.rehash(id, other).await?,
        };
        let actual = hasher.finish();
        if &actual != digest {
            self.cancel_upload(repo, id).await?;
            return Err(RegistryError::DigestInvalid(format!("expected {digest}, content is {actual}")));
        }
        if let Err(e) = self.quota_room(repo, digest, size).await {
            self.cancel_upload(repo, id).await?;
            return Err(e);
        }
        let parts = db::uploads::parts(self.db.writer(), id).await?;
        self.commit_blob(repo, id, digest, size, &parts).await?;
        self.hashes.forget(id);
        self.delete_parts(id, &parts).await;
        Ok(())
    }

    /// Refuses a blob that could not fit in the project's quota, before its bytes are stored.
    /// The exact check is the manifest push's (uploads are not counted until an artifact holds
    /// them); this one spares the client uploading the rest of an image that cannot fit.
    async fn quota_room(&self, repo: RepoCtx, digest: &Digest, size: i64) -> Result<(), RegistryError> {
        let (used, hard) = db::quotas::usage(self.db.reader(), repo.project_id).await?;
        if hard < 0
            || used + size <= hard
            || db::quotas::counts(self.db.reader(), repo.project_id, digest.as_str()).await?
        {
            return Ok(());
        }
        Err(RegistryError::QuotaExceeded(crate::projects::quotas::overflow(size, used, hard)))
    }

    /// Makes the verified session `id` blob `digest` of the repository, in the order the
    /// garbage collector relies on (see `gc::collector`): a usable row is claimed and linked; a
    /// missing one gets its bytes written first, then the row; while a sweep is purging the
    /// digest, the commit waits for it to finish, since the sweep may delete bytes under that
    /// key. The parts are copied, not moved, so they can be written again after such a wait.
    async fn commit_blob(
        &self,
        repo: RepoCtx,
        id: &str,
        digest: &Digest,
        size: i64,
        parts: &[PartRow],
    ) -> Result<(), RegistryError> {
        let deadline = tokio::time::Instant::now() + PURGE_WAIT;
        let mut written = false;
        loop {
            let mut tx = self.db.begin().await?;
            let usable = db::blobs::claim(&mut *tx, digest.as_str()).await?
                || (written && db::blobs::insert(&mut *tx, digest.as_str(), size).await?);
            if usable {
                db::blobs::link(&mut *tx, repo.repository_id, digest.as_str()).await?;
                db::uploads::delete(&mut *tx, id).await?;
                tx.commit().await.map_err(db::DbError::from)?;
                return Ok(());
            }
            let status = db::blobs::status(&mut *tx, digest.as_str()).await?;
            // Never hold the write lock across storage I/O or a wait.
            tx.rollback().await.map_err(db::DbError::from)?;
            match status {
                None => {
                    self.write_blob(repo, id, digest, size, parts).await?;
                    written = true;
                }
                // Another push stored it since the claim above: claim it on the next round.
                Some(s) if s.usable() => {}
                Some(_) => {
                    // Purging: whatever was written under the key may be deleted by the sweep.
                    written = false;
                    if tokio::time::Instant::now() >= deadline {
                        return Err(RegistryError::Unavailable(format!(
                            "garbage collection is deleting {digest}"
                        )));
                    }
                    tokio::time::sleep(PURGE_POLL).await;
                }
            }
        }
    }

    /// Writes the verified parts of session `id` (`size` bytes) under the digest's key.
    async fn write_blob(
        &self,
        repo: RepoCtx,
        id: &str,
        digest: &Digest,
        size: i64,
        parts: &[PartRow],
    ) -> Result<(), RegistryError> {
        let blob = StorageKey::Blob(digest.clone());
        if self.store.stages_in_place() && !parts.is_empty() {
            let staged = self.store.stage_existing(&part_key(id, STAGED)).await?;
            // Under the lock, the session must still hold what was verified: a chunk appended
            // since (a client racing its own upload) would not be part of the blob.
            if self.session(repo, id).await?.size != size {
                return Err(RegistryError::RangeInvalid(
                    "a chunk was appended while the upload completed".into(),
                ));
            }
            self.store.publish_staged(&staged, size as u64, &blob).await?;
            return Ok(());
        }
        match parts {
            [] => self.store.put(&blob, Bytes::new()).await?,
            [one] => self.store.copy(&part_key(id, &one.name), &blob).await?,
            many => {
                let keys: Vec<StorageKey> = many.iter().map(|p| part_key(id, &p.name)).collect();
                self.store.concat(&keys, &blob).await?;
            }
        }
        Ok(())
    }

    /// Deletes part objects; a failure only leaves garbage for the collector, so it is logged.
    async fn delete_parts(&self, id: &str, parts: &[PartRow]) {
        let mut parts = parts.to_vec();
        if self.store.stages_in_place() {
            // One object, which exists before any chunk is recorded (a first chunk that failed).
            parts = vec![PartRow { seq: 0, name: STAGED.to_owned(), size: 0 }];
        }
        for p in &parts {
            if let Err(e) = self.store.delete(&part_key(id, &p.name)).await {
                tracing::warn!(upload = id, part = %p.name, error = %e, "leaving an upload part behind");
            }
        }
    }

    /// Uploads a whole blob in one request (`POST ?digest=`).
    pub async fn upload_monolithic<S, E>(
        &self,
        repo: RepoCtx,
        digest: &Digest,
        len: Option<u64>,
        body: S,
    ) -> Result<(), RegistryError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        // A session that lives for this one request: not counted against the caller's limit.
        let id = uuid::Uuid::new_v4().to_string();
        db::uploads::insert(self.db.writer(), &id, repo.repository_id).await?;
        let claim = ChunkClaim { start: None, len };
        let result = self.complete_upload(repo, &id, digest, claim, body).await;
        if result.is_err() {
            self.cancel_upload(repo, &id).await.ok();
        }
        result
    }

    /// Cancels session `id` and drops its data (idempotent on the data).
    pub async fn cancel_upload(&self, repo: RepoCtx, id: &str) -> Result<(), RegistryError> {
        let row = self.session(repo, id).await?;
        self.hashes.forget(&row.id);
        let parts = db::uploads::parts(self.db.writer(), &row.id).await?;
        db::uploads::delete(self.db.writer(), &row.id).await?;
        self.delete_parts(&row.id, &parts).await;
        Ok(())
    }

    /// Links blob `digest` from repository `from` into `to` without moving bytes. Returns false
    /// when `from` does not have it (the caller then starts a normal upload).
    pub async fn mount_blob(
        &self,
        to: RepoCtx,
        from: RepoCtx,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        if db::blobs::linked(self.db.reader(), from.repository_id, digest.as_str()).await?.is_none() {
            return Ok(false);
        }
        // Claim and link together, so a sweep cannot purge the blob in between.
        let mut tx = self.db.begin().await?;
        if !db::blobs::claim(&mut *tx, digest.as_str()).await? {
            return Ok(false);
        }
        db::blobs::link(&mut *tx, to.repository_id, digest.as_str()).await?;
        tx.commit().await.map_err(db::DbError::from)?;
        Ok(true)
    }
}
