//! `wharf migrate`: moves a whole Wharf, metadata and blobs, to another database and blob store,
//! for example from the embedded SQLite + local disk to PostgreSQL + S3.
//!
//! Blobs are copied first, each streamed through a hasher and checked against its digest before
//! it counts, and skipped when the target already has it at the right size (so an interrupted
//! run resumes). Rows follow in one transaction on the target. The target never holds a row
//! whose bytes are missing, and the source is only read. Stop the server first: pushes made
//! during a migration are not carried over. Upload sessions in progress are not carried over.

use futures::TryStreamExt;

use crate::db::{self, Db};
use crate::oci::digester::Hasher;
use crate::oci::reference::Digest;
use crate::storage::{BlobStore, StorageError, StorageKey};

/// A migration failure.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The target already holds data; migrating into it could mix two registries.
    #[error("the target database is not empty: migrate into a fresh database")]
    TargetNotEmpty,
    /// A source blob does not match its digest (or size): the source is damaged.
    #[error("blob {digest} in the source is damaged: {detail}")]
    Damaged {
        /// The blob's digest.
        digest: String,
        /// What did not match.
        detail: String,
    },
    /// A database failure.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// A storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Blobs copied.
    pub blobs_copied: u64,
    /// Blobs the target already had.
    pub blobs_present: u64,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Rows copied per table.
    pub rows: Vec<(&'static str, u64)>,
}

/// Copies everything from (`from_db`, `from_store`) to (`to_db`, `to_store`), calling
/// `progress` with a line per step.
pub async fn run(
    from_db: &Db,
    from_store: &BlobStore,
    to_db: &Db,
    to_store: &BlobStore,
    progress: impl Fn(String),
) -> Result<Report, MigrateError> {
    if !db::transfer::is_empty(to_db).await? {
        return Err(MigrateError::TargetNotEmpty);
    }
    let blobs = db::transfer::blob_list(from_db).await?;
    let mut report = Report::default();
    for (i, (digest, size)) in blobs.iter().enumerate() {
        let damaged = |detail: String| MigrateError::Damaged { digest: digest.clone(), detail };
        let parsed: Digest = digest.parse().map_err(|e| damaged(format!("{e}")))?;
        let key = StorageKey::Blob(parsed.clone());
        if matches!(to_store.size(&key).await, Ok(s) if s == *size as u64) {
            report.blobs_present += 1;
            continue;
        }
        let read = from_store.read(&key, None).await?;
        let mut hasher = Hasher::new(parsed.algorithm());
        let written =
            to_store.write_stream(&key, read.stream.map_err(|e| e.to_string()), |c| hasher.update(c)).await?;
        let actual = hasher.finish();
        if actual != parsed || written != *size as u64 {
            to_store.delete(&key).await.ok();
            return Err(damaged(format!("read {written} bytes hashing to {actual}, expected {size} bytes")));
        }
        report.blobs_copied += 1;
        report.bytes_copied += written;
        progress(format!("blob {}/{}: {digest} ({written} bytes)", i + 1, blobs.len()));
    }
    report.rows = db::transfer::copy_rows(from_db, to_db).await?;
    for (table, n) in &report.rows {
        progress(format!("table {table}: {n} rows"));
    }
    Ok(report)
}
