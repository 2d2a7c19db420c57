//! Reading and unlinking blobs of a repository.

use std::ops::Range;

use super::error::RegistryError;
use super::{Registry, RepoCtx};
use crate::db::{self, blobs::BlobStatus, now_ms};
use crate::oci::reference::Digest;
use crate::storage::{ObjectRead, StorageKey};

impl Registry {
    /// The size of blob `digest` if the repository may serve it. A blob a sweep has marked is
    /// revived (it is in use); one being purged is unknown.
    pub async fn stat_blob(&self, repo: RepoCtx, digest: &Digest) -> Result<u64, RegistryError> {
        self.use_blob(repo, digest, false).await
    }

    /// As [`Self::stat_blob`], for a HEAD: a pushing client checks a layer before it decides
    /// not to upload it, so the blob's grace window restarts (at most every quarter window or
    /// minute; a write per HEAD would put the database on the push hot path) and a sweep spares
    /// it until the manifest arrives.
    pub async fn check_blob(&self, repo: RepoCtx, digest: &Digest) -> Result<u64, RegistryError> {
        self.use_blob(repo, digest, true).await
    }

    async fn use_blob(&self, repo: RepoCtx, digest: &Digest, touch: bool) -> Result<u64, RegistryError> {
        let blob = db::blobs::linked(self.db.reader(), repo.repository_id, digest.as_str())
            .await?
            .ok_or(RegistryError::BlobUnknown)?;
        let stale = touch && blob.touched_at < now_ms() - self.touch_every_ms;
        match blob.status {
            BlobStatus::Purging => return Err(RegistryError::BlobUnknown),
            BlobStatus::Deleting => {}
            BlobStatus::Live if !stale => return Ok(blob.size as u64),
            BlobStatus::Live => {}
        }
        if db::blobs::claim(self.db.writer(), digest.as_str()).await? {
            Ok(blob.size as u64)
        } else {
            Err(RegistryError::BlobUnknown)
        }
    }

    /// Whether blob `digest` is usable from `repo`: linked, or in the store for another
    /// repository (then linked here, without moving bytes).
    pub(crate) async fn adopt_blob(&self, repo: RepoCtx, digest: &Digest) -> Result<bool, RegistryError> {
        if let Some(b) = db::blobs::linked(self.db.reader(), repo.repository_id, digest.as_str()).await?
            && b.status.usable()
        {
            return Ok(true);
        }
        let mut tx = self.db.begin().await?;
        if !db::blobs::claim(&mut *tx, digest.as_str()).await? {
            return Ok(false);
        }
        db::blobs::link(&mut *tx, repo.repository_id, digest.as_str()).await?;
        tx.commit().await.map_err(db::DbError::from)?;
        Ok(true)
    }

    /// Opens blob `digest` (or `range` of it) for streaming, once [`Self::stat_blob`] has
    /// said the repository may serve it (one query per pull, not two).
    pub async fn read_blob(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ObjectRead, RegistryError> {
        Ok(self.store.read(&StorageKey::Blob(digest.clone()), range).await?)
    }

    /// The whole of blob `digest` when it is at most `limit` bytes (configs the portal shows);
    /// `None` when it is larger or missing.
    pub async fn small_blob(&self, digest: &Digest, limit: usize) -> Result<Option<Vec<u8>>, RegistryError> {
        let read = match self.store.read(&StorageKey::Blob(digest.clone()), None).await {
            Ok(r) => r,
            Err(crate::storage::StorageError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if read.size > limit as u64 {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(read.size as usize);
        let mut stream = read.stream;
        while let Some(chunk) = futures::TryStreamExt::try_next(&mut stream).await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(bytes))
    }

    /// Removes blob `digest` from the repository. The bytes stay until garbage collection finds
    /// no repository or manifest using them. A blob a manifest of the repository still uses is
    /// refused, so deleting a blob never breaks an image.
    pub async fn delete_blob(&self, repo: RepoCtx, digest: &Digest) -> Result<(), RegistryError> {
        if db::manifests::uses_blob(self.db.reader(), repo.repository_id, digest.as_str()).await? {
            return Err(RegistryError::Conflict(format!(
                "{digest} is referenced by a manifest of this repository; delete the manifest first"
            )));
        }
        if db::blobs::unlink(self.db.writer(), repo.repository_id, digest.as_str()).await? {
            Ok(())
        } else {
            Err(RegistryError::BlobUnknown)
        }
    }
}
