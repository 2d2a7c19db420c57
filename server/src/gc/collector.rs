//! The sweep: deletes unreferenced blobs (and optionally untagged manifests) while the registry
//! serves.
//!
//! # Why a push never loses a blob
//!
//! A blob row moves `live` → `deleting` → `purging` → gone, and only a sweep moves it forward:
//!
//! 1. **Mark.** Unreferenced blobs untouched since the cutoff become `deleting`. Their bytes are
//!    still there, so anything that uses one (a HEAD, a mount, an upload of the same digest)
//!    revives it to `live` and restarts its grace window with [`db::blobs::claim`].
//! 2. **Claim.** In one transaction the sweep moves those still `deleting` *and still
//!    unreferenced* to `purging`. Manifest pushes read the blobs they reference with status
//!    `live` or `deleting` and, on PostgreSQL, `FOR SHARE`; the claim first locks the rows
//!    `FOR UPDATE`, so it waits for such a push to commit and then sees its reference (see
//!    [`db::blobs::claim_for_purge`]). On SQLite every write runs on one connection, one at a
//!    time. Either the push commits first and the blob is kept, or the claim commits first and
//!    the push no longer sees the blob and answers `MANIFEST_BLOB_UNKNOWN` (the client uploads
//!    it again): a committed manifest never references a `purging` blob.
//! 3. **Purge.** Bytes are deleted, then the rows. Nothing writes a `purging` blob's key: an
//!    upload of the same digest waits until the row is gone before it writes the bytes and
//!    inserts a new `live` row (`Registry::complete_upload`). So the invariant holds: *a `live`
//!    or `deleting` row always has its bytes.*
//!
//! A crash leaves rows `deleting` (the next sweep handles them like any candidate, or returns
//! referenced ones to `live`) or `purging` (the next sweep finishes deleting their bytes and
//! rows first). Runs are kept to one at a time by a lease (`gc` service).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::db::gc_runs::GcProgress;
use crate::db::{self, Db, DbError, now_ms};
use crate::jobs::lease::LeaseGuard;
use crate::oci::reference::Digest;
use crate::storage::{BlobStore, StorageKey};
use crate::time::rfc3339_ms;

/// Rows handled per database round trip.
const BATCH: usize = 1000;

/// What a run is asked to do (Harbor's `parameters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcParams {
    /// First delete untagged manifests (not children of a tagged index, not artifacts whose
    /// subject is present, not pushed within the grace window).
    #[serde(default)]
    pub delete_untagged: bool,
    /// Count what would go, delete nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Parallel storage deletes; the configured default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
}

/// A failed run.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Another replica took the lease (this one stalled past its lifetime).
    #[error("lost the garbage collection lease to another replica")]
    LeaseLost,
}

impl From<sqlx::Error> for GcError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was done.
    Finished,
    /// A stop was requested and honoured after the batch in progress.
    Stopped,
}

/// Records a run's progress and log in its `gc_runs` row (and echoes the log to `echo`).
pub struct Reporter {
    db: Db,
    run_id: i64,
    progress: GcProgress,
    pending: String,
    echo: Option<fn(&str)>,
}

impl Reporter {
    /// A reporter for run `run_id`; `echo` also receives every log line.
    pub fn new(db: Db, run_id: i64, echo: Option<fn(&str)>) -> Self {
        Self { db, run_id, progress: GcProgress::default(), pending: String::new(), echo }
    }

    /// Adds a log line.
    pub fn log(&mut self, line: impl AsRef<str>) {
        let line = format!("{} {}\n", rfc3339_ms(now_ms()), line.as_ref());
        if let Some(echo) = self.echo {
            echo(line.trim_end());
        }
        self.pending.push_str(&line);
    }

    /// The counters so far.
    pub fn progress(&self) -> GcProgress {
        self.progress
    }

    /// Saves counters and log; returns whether a stop was requested.
    pub async fn flush(&mut self) -> Result<bool, DbError> {
        let log = std::mem::take(&mut self.pending);
        db::gc_runs::progress(self.db.writer(), self.run_id, &self.progress, &log).await
    }
}

/// What a purge removed.
#[derive(Debug, Default)]
pub struct Purged {
    /// Blob rows deleted (their bytes went first).
    pub blobs: u64,
    /// Their total recorded size.
    pub bytes: i64,
    /// Digests whose bytes storage refused to delete; they stay `purging`.
    pub failed: Vec<String>,
}

/// The garbage collector over one database and blob store.
#[derive(Clone)]
pub struct Collector {
    pub(super) db: Db,
    pub(super) store: BlobStore,
    pub(super) grace: Duration,
    pub(super) upload_age: Duration,
}

impl Collector {
    /// A collector sparing blobs used within `grace` and uploads active within `upload_age`.
    pub fn new(db: Db, store: BlobStore, grace: Duration, upload_age: Duration) -> Self {
        Self { db, store, grace, upload_age }
    }

    /// Runs one collection with `workers` parallel deletes, reporting to `rep`. The caller holds
    /// `lease`; the run checks it between batches.
    pub async fn run(
        &self,
        params: GcParams,
        workers: usize,
        lease: &LeaseGuard,
        rep: &mut Reporter,
    ) -> Result<Outcome, GcError> {
        let started = now_ms();
        let cutoff = started - self.grace.as_millis() as i64;
        rep.log(format!(
            "garbage collection started: dry_run={} delete_untagged={} workers={workers} grace={}s",
            params.dry_run,
            params.delete_untagged,
            self.grace.as_secs()
        ));
        if params.dry_run {
            self.dry_run(params, cutoff, rep).await?;
            rep.flush().await?;
            return Ok(Outcome::Finished);
        }
        let recovered = self.recover(workers, rep).await?;
        if recovered > 0 {
            rep.log(format!("finished {recovered} blob deletions an earlier run left unfinished"));
        }
        if params.delete_untagged && self.delete_untagged(cutoff, lease, rep).await? == Outcome::Stopped {
            return Ok(Outcome::Stopped);
        }
        if self.sweep(cutoff, workers, lease, rep).await? == Outcome::Stopped {
            return Ok(Outcome::Stopped);
        }
        self.purge_uploads(rep).await?;
        let p = rep.progress();
        rep.log(format!(
            "done in {} ms: {} manifests, {} blobs ({} bytes) and {} upload sessions deleted",
            now_ms() - started,
            p.manifests_deleted,
            p.blobs_deleted,
            p.bytes_freed,
            p.uploads_purged
        ));
        rep.flush().await?;
        Ok(Outcome::Finished)
    }

    async fn dry_run(&self, params: GcParams, cutoff: i64, rep: &mut Reporter) -> Result<(), GcError> {
        // Deleting inside a transaction that is rolled back counts exactly what a real run
        // would, indexes and children included, without a second implementation.
        let mut tx = self.db.begin().await?;
        let mut manifests = 0;
        if params.delete_untagged {
            loop {
                let mut pass = 0;
                let mut after = 0;
                while let Some((last, n)) = self.untagged_batch(&mut tx, cutoff, after).await? {
                    after = last;
                    pass += n;
                }
                manifests += pass;
                if pass == 0 {
                    break;
                }
            }
        }
        let (blobs, bytes) = db::blobs::unreferenced_total(&mut *tx, cutoff).await?;
        tx.rollback().await?;
        let uploads = db::uploads::count_stale(self.db.reader(), self.upload_cutoff()).await?;
        rep.progress = GcProgress {
            blobs_deleted: blobs,
            manifests_deleted: manifests as i64,
            uploads_purged: uploads,
            bytes_freed: bytes,
        };
        rep.log(format!(
            "dry run: would delete {manifests} manifests, {blobs} blobs ({bytes} bytes) and {uploads} upload sessions"
        ));
        Ok(())
    }

    fn upload_cutoff(&self) -> i64 {
        now_ms() - self.upload_age.as_millis() as i64
    }

    /// Finishes what a crashed run left: `purging` blobs are deleted, referenced `deleting`
    /// blobs go back to `live`.
    async fn recover(&self, workers: usize, rep: &mut Reporter) -> Result<u64, GcError> {
        db::blobs::settle_referenced(self.db.writer()).await?;
        let mut total = 0;
        loop {
            let left = db::blobs::purging(self.db.reader(), BATCH as i64).await?;
            if left.is_empty() {
                return Ok(total);
            }
            let done = self.purge(&left, workers, rep).await?;
            if done == 0 {
                // Storage refuses every delete: leave them for the next run rather than spin.
                return Ok(total);
            }
            total += done;
        }
    }

    async fn untagged_batch(
        &self,
        conn: &mut sqlx::AnyConnection,
        cutoff: i64,
        after: i64,
    ) -> Result<Option<(i64, u64)>, GcError> {
        let ids = db::manifests::untagged(&mut *conn, cutoff, after, BATCH as i64).await?;
        let Some(&last) = ids.last() else { return Ok(None) };
        let n = db::manifests::delete_untagged(conn, self.db.backend(), &ids, cutoff).await?;
        Ok(Some((last, n)))
    }

    /// Deletes untagged manifests, pass after pass: removing an index or a subject can make its
    /// children or referrers removable.
    async fn delete_untagged(
        &self,
        cutoff: i64,
        lease: &LeaseGuard,
        rep: &mut Reporter,
    ) -> Result<Outcome, GcError> {
        loop {
            let mut pass = 0;
            let mut after = 0;
            loop {
                let mut tx = self.db.begin().await?;
                let batch = self.untagged_batch(&mut tx, cutoff, after).await?;
                tx.commit().await?;
                let Some((last, n)) = batch else { break };
                after = last;
                pass += n;
                rep.progress.manifests_deleted += n as i64;
                if rep.flush().await? {
                    rep.log("stop requested: stopped after deleting untagged manifests");
                    return Ok(Outcome::Stopped);
                }
                if lease.lost() {
                    return Err(GcError::LeaseLost);
                }
            }
            if pass == 0 {
                return Ok(Outcome::Finished);
            }
            rep.log(format!("deleted {pass} untagged manifests"));
        }
    }

    /// Marks, claims and purges unreferenced blobs in digest order, a batch at a time.
    async fn sweep(
        &self,
        cutoff: i64,
        workers: usize,
        lease: &LeaseGuard,
        rep: &mut Reporter,
    ) -> Result<Outcome, GcError> {
        let mut after = String::new();
        loop {
            let candidates = db::blobs::unreferenced(self.db.reader(), cutoff, &after, BATCH as i64).await?;
            let Some((last, _)) = candidates.last() else { return Ok(Outcome::Finished) };
            after = last.clone();
            let digests: Vec<String> = candidates.into_iter().map(|(d, _)| d).collect();
            db::blobs::mark(self.db.writer(), self.db.backend(), &digests, cutoff).await?;
            let mut tx = self.db.begin().await?;
            let claimed = db::blobs::claim_for_purge(&mut tx, self.db.backend(), &digests, cutoff).await?;
            tx.commit().await?;
            let kept: Vec<String> =
                digests.into_iter().filter(|d| !claimed.iter().any(|(c, _)| c == d)).collect();
            db::blobs::settle(self.db.writer(), self.db.backend(), &kept).await?;
            let done = self.purge(&claimed, workers, rep).await?;
            rep.log(format!("deleted {done} blobs up to {after}"));
            if rep.flush().await? {
                rep.log("stop requested: stopped between batches");
                return Ok(Outcome::Stopped);
            }
            if lease.lost() {
                return Err(GcError::LeaseLost);
            }
        }
    }

    /// Deletes the bytes of `purging` blobs with `workers` requests in flight, then their rows.
    /// A blob whose bytes could not be deleted stays `purging` for the next run.
    async fn purge(
        &self,
        blobs: &[(String, i64)],
        workers: usize,
        rep: &mut Reporter,
    ) -> Result<u64, GcError> {
        let purged = self.purge_claimed(blobs, workers).await?;
        for digest in &purged.failed {
            rep.log(format!("could not delete {digest}; the next run retries"));
        }
        rep.progress.blobs_deleted += purged.blobs as i64;
        rep.progress.bytes_freed += purged.bytes;
        Ok(purged.blobs)
    }

    /// Deletes the bytes, then the rows, of blobs already `purging`.
    async fn purge_claimed(&self, blobs: &[(String, i64)], workers: usize) -> Result<Purged, GcError> {
        // A digest Wharf could not have stored has no bytes: nothing to delete.
        let keys: Vec<StorageKey> =
            blobs.iter().filter_map(|(d, _)| d.parse::<Digest>().ok().map(StorageKey::Blob)).collect();
        let deleted: std::collections::HashSet<String> = self
            .store
            .delete_many(keys, workers)
            .await
            .into_iter()
            .filter_map(|k| match k {
                StorageKey::Blob(d) => Some(d.to_string()),
                _ => None,
            })
            .collect();
        let mut gone = Vec::with_capacity(blobs.len());
        let mut purged = Purged::default();
        for (digest, size) in blobs {
            if deleted.contains(digest) || digest.parse::<Digest>().is_err() {
                gone.push(digest.clone());
                purged.bytes += size;
            } else {
                purged.failed.push(digest.clone());
            }
        }
        let mut tx = self.db.begin().await?;
        purged.blobs = db::blobs::remove_purged(&mut tx, &gone).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Deletes the rows (and any bytes) of those of `digests` no manifest references, now,
    /// whatever their grace: for rows `fsck` found broken (bytes missing or not matching the
    /// digest). Runs the sweep's mark, claim and purge, so a manifest push racing it either
    /// keeps the blob or is refused. The caller holds the collection lease.
    pub async fn discard_unreferenced(&self, digests: &[String], workers: usize) -> Result<Purged, GcError> {
        let everything = i64::MAX;
        db::blobs::mark(self.db.writer(), self.db.backend(), digests, everything).await?;
        let mut tx = self.db.begin().await?;
        let claimed = db::blobs::claim_for_purge(&mut tx, self.db.backend(), digests, everything).await?;
        tx.commit().await?;
        let kept: Vec<String> =
            digests.iter().filter(|d| !claimed.iter().any(|(c, _)| c == *d)).cloned().collect();
        db::blobs::settle(self.db.writer(), self.db.backend(), &kept).await?;
        self.purge_claimed(&claimed, workers).await
    }

    /// Deletes bytes stored under `digest` that have no row (a push that crashed between
    /// writing the bytes and recording them). A `purging` row claims the key first, so a push of
    /// the same digest waits instead of losing its bytes; nothing happens if a row appeared.
    pub async fn discard_orphans(
        &self,
        orphans: &[(String, i64)],
        workers: usize,
    ) -> Result<Purged, GcError> {
        let mut claimed = Vec::with_capacity(orphans.len());
        for (digest, size) in orphans {
            if db::blobs::insert_purging(self.db.writer(), digest, *size).await? {
                claimed.push((digest.clone(), *size));
            }
        }
        self.purge_claimed(&claimed, workers).await
    }

    /// Purges upload sessions idle past the upload age with their parts, and part objects no
    /// session owns (left by a crash between writing a part and recording it).
    async fn purge_uploads(&self, rep: &mut Reporter) -> Result<(), GcError> {
        let cutoff = self.upload_cutoff();
        let mut purged = 0;
        loop {
            let stale = db::uploads::stale(self.db.reader(), cutoff, BATCH as i64).await?;
            for id in &stale {
                let parts = db::uploads::parts(self.db.reader(), id).await?;
                if db::uploads::delete_stale(self.db.writer(), id, cutoff).await? {
                    purged += 1;
                    for p in parts {
                        let key = StorageKey::UploadPart { upload: id.clone(), part: p.name };
                        if let Err(e) = self.store.delete(&key).await {
                            rep.log(format!("could not delete upload part {key}: {e}"));
                        }
                    }
                }
            }
            if stale.len() < BATCH {
                break;
            }
        }
        let mut orphans = 0;
        match self.store.list_aged(&StorageKey::UploadArea).await {
            Ok(objects) => {
                for (name, modified) in objects {
                    let Some((upload, part)) = name.split_once('.') else { continue };
                    if modified < cutoff && !db::uploads::exists(self.db.reader(), upload).await? {
                        let key = StorageKey::UploadPart { upload: upload.to_owned(), part: part.to_owned() };
                        if self.store.delete(&key).await.is_ok() {
                            orphans += 1;
                        }
                    }
                }
            }
            Err(e) => rep.log(format!("could not list upload data: {e}")),
        }
        rep.progress.uploads_purged += purged;
        if purged + orphans > 0 {
            rep.log(format!("purged {purged} abandoned upload sessions and {orphans} orphaned parts"));
        }
        Ok(())
    }
}
