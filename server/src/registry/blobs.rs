//! Reading and unlinking blobs of a repository.

use std::ops::Range;

use super::error::RegistryError;
use super::reference::Digest;
use super::{Registry, RepoCtx};
use crate::db;
use crate::storage::{ObjectRead, StorageKey};

impl Registry {
    /// The size of blob `digest` if the repository may serve it.
    pub async fn stat_blob(&self, repo: RepoCtx, digest: &Digest) -> Result<u64, RegistryError> {
        db::blobs::linked_size(self.db.reader(), repo.repository_id, digest.as_str())
            .await?
            .map(|s| s as u64)
            .ok_or(RegistryError::BlobUnknown)
    }

    /// Opens blob `digest` (or `range` of it) for streaming.
    pub async fn read_blob(
        &self,
        repo: RepoCtx,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ObjectRead, RegistryError> {
        self.stat_blob(repo, digest).await?;
        Ok(self.store.read(&StorageKey::Blob(digest.clone()), range).await?)
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
