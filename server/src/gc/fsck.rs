//! `wharf fsck`: checks blob storage against the database and, when asked, repairs what is
//! provably safe to repair.
//!
//! What is checked: every blob row has its bytes, of the recorded size and hashing to its
//! digest; every stored blob object has a row; every manifest's content hashes to its digest;
//! no manifest references a blob being purged; every recorded upload part has its object and
//! every upload part object is recorded; every project's quota usage is what its artifacts hold.
//!
//! What `--repair` does, and why each is safe on a live registry:
//! - Objects without rows, older than the grace window, are deleted through the collector's
//!   purge protocol (a `purging` row claims the key first, so a push of the same digest waits).
//!   Younger ones may be a push between writing its bytes and recording them: left alone.
//! - Rows whose bytes are missing or wrong are removed only when no manifest references them,
//!   by the sweep's own mark/claim/purge (a manifest push racing it keeps the blob or is
//!   refused). Otherwise the next push of that digest would be told the blob exists and skip
//!   uploading it. Referenced ones are reported with the manifests that need pushing again.
//! - A project whose quota usage differs from its artifacts (the database triggers keep them
//!   equal; a restore from an older backup or a hand edit may not) is recounted under its quota
//!   lock, which every push into the project also takes.
//! - Upload sessions with a missing part are ended (the client gets "upload unknown" and
//!   starts again); part objects no session records, older than the upload age, are deleted.
//!
//! Nothing referenced is ever deleted, and manifests are never changed.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::collector::{Collector, GcError};
use crate::db::{self, blobs::BlobStatus, now_ms};
use crate::oci::digester::{Hasher, digest_of};
use crate::oci::reference::Digest;
use crate::storage::{BlobStore, StorageError, StorageKey};

/// Rows read per database round trip.
const PAGE: i64 = 500;

/// What to check and do.
#[derive(Debug, Clone, Copy)]
pub struct FsckParams {
    /// Repair what is provably safe to repair.
    pub repair: bool,
    /// Read and hash every blob (otherwise only presence and size are checked).
    pub verify_content: bool,
    /// Parallel reads and deletes.
    pub workers: usize,
}

/// The kind of an inconsistency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A blob row whose object is missing.
    MissingBlob,
    /// A blob object whose size or content does not match its row and digest.
    CorruptBlob,
    /// A blob object with no row.
    OrphanBlob,
    /// A manifest whose stored content does not hash to its digest.
    CorruptManifest,
    /// A manifest referencing a blob that is being purged.
    PurgingReference,
    /// A recorded upload part whose object is missing.
    MissingUploadPart,
    /// An upload part object no session records.
    OrphanUploadPart,
    /// An object under Wharf's areas whose name Wharf would not write.
    UnknownObject,
    /// A project whose stored quota usage differs from what its artifacts hold.
    QuotaDrift,
}

/// What became, or can become, of a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fix {
    /// `--repair` fixed it.
    Repaired,
    /// `--repair` would fix it.
    Repairable,
    /// No safe automatic repair; the text says what to do.
    NeedsAttention(String),
}

/// One inconsistency.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Its kind.
    pub kind: ProblemKind,
    /// The digest or object key concerned.
    pub subject: String,
    /// What exactly is wrong.
    pub detail: String,
    /// Manifests (`repository@digest`) that reference the subject.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<String>,
    /// What became of it.
    pub fix: Fix,
}

/// The outcome of a check.
#[derive(Debug, Default, Serialize)]
pub struct FsckReport {
    /// Blob rows checked.
    pub blobs: u64,
    /// Bytes read and hashed.
    pub bytes_verified: u64,
    /// Blob objects found in storage.
    pub objects: u64,
    /// Manifests checked.
    pub manifests: u64,
    /// Upload part objects found in storage.
    pub upload_parts: u64,
    /// Blob rows a sweep is still deleting (the next collection finishes them).
    pub purging: u64,
    /// Objects without rows younger than the grace window: possibly a push in flight.
    pub recent_unrecorded: u64,
    /// Project quotas checked.
    pub quotas: u64,
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

impl FsckReport {
    /// Whether nothing is left wrong (nothing found, or everything found repaired).
    pub fn clean(&self) -> bool {
        self.problems.iter().all(|p| p.fix == Fix::Repaired)
    }
}

/// A failed check (as opposed to problems found).
#[derive(Debug, thiserror::Error)]
pub enum FsckError {
    /// The collector or database failed.
    #[error(transparent)]
    Gc(#[from] GcError),
    /// Listing or reading storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<db::DbError> for FsckError {
    fn from(e: db::DbError) -> Self {
        Self::Gc(e.into())
    }
}

/// Runs the check over the collector's database and store. With `params.repair` the caller
/// holds the collection lease.
pub async fn check(collector: &Collector, params: FsckParams) -> Result<FsckReport, FsckError> {
    let mut report = FsckReport::default();
    let workers = params.workers.max(1);
    check_blobs(collector, params, workers, &mut report).await?;
    check_manifests(collector, &mut report).await?;
    check_uploads(collector, params.repair, &mut report).await?;
    check_quotas(collector, params.repair, &mut report).await?;
    Ok(report)
}

/// Compares every project's stored usage with its artifacts, each under its quota lock (no
/// push can move either side meanwhile); `--repair` recounts in that same transaction.
async fn check_quotas(c: &Collector, repair: bool, report: &mut FsckReport) -> Result<(), FsckError> {
    for (id, name) in db::quotas::projects(c.db.reader()).await? {
        report.quotas += 1;
        let mut tx = c.db.begin().await?;
        db::quotas::lock(&mut tx, c.db.backend(), id).await?;
        let Some(drift) = db::quotas::drift_of(&mut tx, id, &name).await? else { continue };
        let mut fix = Fix::Repairable;
        if repair {
            db::quotas::recount(&mut tx, id).await?;
            tx.commit().await.map_err(db::DbError::from)?;
            fix = Fix::Repaired;
        }
        report.problems.push(Problem {
            kind: ProblemKind::QuotaDrift,
            subject: format!("project {}", drift.name),
            detail: format!(
                "stored usage {} bytes, its artifacts hold {} bytes; {} digests counted wrongly",
                drift.stored, drift.actual, drift.wrong_refs
            ),
            referenced_by: Vec::new(),
            fix,
        });
    }
    Ok(())
}

/// The outcome of checking one blob row against its object.
enum RowCheck {
    Fine,
    Missing,
    Corrupt(String),
}

async fn check_blobs(
    c: &Collector,
    params: FsckParams,
    workers: usize,
    report: &mut FsckReport,
) -> Result<(), FsckError> {
    // Listed before the rows are read: a blob pushed in between has a row and an object
    // (written before its row), so it cannot look missing; one collected in between is
    // re-checked below before anything is reported.
    let mut objects: HashMap<String, (u64, i64)> = HashMap::new();
    for o in c.store.list_objects(&StorageKey::BlobArea).await? {
        match StorageKey::blob_of_name(&o.name) {
            Some(d) => {
                objects.insert(d.to_string(), (o.size, o.modified));
            }
            None => report.problems.push(Problem {
                kind: ProblemKind::UnknownObject,
                subject: format!("{}/{}", StorageKey::BlobArea, o.name),
                detail: "not a blob key Wharf writes".into(),
                referenced_by: Vec::new(),
                fix: Fix::NeedsAttention("not Wharf's: left alone; move it out of the blob area".into()),
            }),
        }
    }
    report.objects = objects.len() as u64;
    let mut broken: Vec<(String, RowCheck)> = Vec::new();
    let mut after = String::new();
    loop {
        let rows = db::blobs::page(c.db.reader(), &after, PAGE).await?;
        let Some((last, _, _)) = rows.last() else { break };
        after = last.clone();
        let mut to_read = Vec::new();
        for (digest, size, status) in rows {
            let object = objects.remove(&digest);
            if status == BlobStatus::Purging {
                report.purging += 1;
                continue;
            }
            report.blobs += 1;
            match object {
                None => broken.push((digest, RowCheck::Missing)),
                Some((stored, _)) if stored as i64 != size => broken.push((
                    digest,
                    RowCheck::Corrupt(format!("object holds {stored} bytes, the row records {size}")),
                )),
                Some(_) if params.verify_content => to_read.push(digest),
                Some(_) => {}
            }
        }
        let hashed: Vec<(String, u64, RowCheck)> = futures::stream::iter(to_read)
            .map(|d| async move {
                let (bytes, check) = verify(&c.store, &d).await;
                (d, bytes, check)
            })
            .buffer_unordered(workers)
            .collect()
            .await;
        for (digest, bytes, check) in hashed {
            report.bytes_verified += bytes;
            if !matches!(check, RowCheck::Fine) {
                broken.push((digest, check));
            }
        }
    }
    let mut discard = Vec::new();
    for (digest, check) in broken {
        // Re-read both sides: a sweep may have deleted the blob since it was listed.
        let still = matches!(db::blobs::status(c.db.reader(), &digest).await?, Some(s) if s.usable());
        let (kind, detail) = match check {
            // A row Wharf could not have written has no object to look for.
            RowCheck::Missing => match digest.parse::<Digest>().map(StorageKey::Blob) {
                Err(_) => (ProblemKind::CorruptBlob, "the row's digest is malformed".to_owned()),
                Ok(key) => match c.store.size(&key).await {
                    Err(StorageError::NotFound(_)) => {
                        (ProblemKind::MissingBlob, format!("no object at {key} for this blob row"))
                    }
                    Ok(_) => continue,
                    Err(e) => return Err(e.into()),
                },
            },
            RowCheck::Corrupt(detail) => (ProblemKind::CorruptBlob, detail),
            RowCheck::Fine => continue,
        };
        if !still {
            continue;
        }
        let referenced_by = db::manifests::referencing_blob(c.db.reader(), &digest).await?;
        let fix = if referenced_by.is_empty() {
            discard.push(digest.clone());
            Fix::Repairable
        } else {
            Fix::NeedsAttention(
                "referenced: delete these artifacts, run fsck --repair, then push them again".into(),
            )
        };
        report.problems.push(Problem { kind, subject: digest, detail, referenced_by, fix });
    }
    let cutoff = now_ms() - c.grace.as_millis() as i64;
    let mut orphans = Vec::new();
    for (digest, (size, modified)) in objects {
        if modified >= cutoff {
            report.recent_unrecorded += 1;
            continue;
        }
        if db::blobs::status(c.db.reader(), &digest).await?.is_some() {
            continue;
        }
        orphans.push((digest.clone(), size as i64));
        report.problems.push(Problem {
            kind: ProblemKind::OrphanBlob,
            subject: digest,
            detail: format!("{size} bytes stored with no blob row"),
            referenced_by: Vec::new(),
            fix: Fix::Repairable,
        });
    }
    if params.repair {
        let mut fixed: HashSet<String> = HashSet::new();
        let purged = c.discard_unreferenced(&discard, workers).await?;
        let failed: HashSet<&String> = purged.failed.iter().collect();
        fixed.extend(discard.iter().filter(|d| !failed.contains(d)).cloned());
        let purged = c.discard_orphans(&orphans, workers).await?;
        let failed: HashSet<&String> = purged.failed.iter().collect();
        fixed.extend(orphans.iter().map(|(d, _)| d).filter(|d| !failed.contains(d)).cloned());
        for p in &mut report.problems {
            if p.fix == Fix::Repairable && fixed.contains(&p.subject) {
                // A row a manifest started referencing meanwhile is kept by the claim.
                if p.kind == ProblemKind::OrphanBlob
                    || db::blobs::status(c.db.reader(), &p.subject).await?.is_none()
                {
                    p.fix = Fix::Repaired;
                }
            }
        }
    }
    Ok(())
}

/// Hashes the object of `digest`; returns the bytes read and the verdict.
async fn verify(store: &BlobStore, digest: &str) -> (u64, RowCheck) {
    let Ok(parsed) = digest.parse::<Digest>() else {
        return (0, RowCheck::Corrupt("the row's digest is malformed".into()));
    };
    let read = match store.read(&StorageKey::Blob(parsed.clone()), None).await {
        Ok(r) => r,
        Err(StorageError::NotFound(_)) => return (0, RowCheck::Missing),
        Err(e) => return (0, RowCheck::Corrupt(format!("unreadable: {e}"))),
    };
    let mut hasher = Hasher::new(parsed.algorithm());
    let mut bytes = 0u64;
    let mut stream = read.stream;
    loop {
        match stream.try_next().await {
            Ok(Some(chunk)) => {
                bytes += chunk.len() as u64;
                hasher.update(&chunk);
            }
            Ok(None) => break,
            Err(e) => return (bytes, RowCheck::Corrupt(format!("unreadable: {e}"))),
        }
    }
    let actual = hasher.finish();
    if actual == parsed {
        (bytes, RowCheck::Fine)
    } else {
        (bytes, RowCheck::Corrupt(format!("content hashes to {actual}")))
    }
}

async fn check_manifests(c: &Collector, report: &mut FsckReport) -> Result<(), FsckError> {
    let mut after = 0;
    loop {
        let rows = db::manifests::content_page(c.db.reader(), after, PAGE).await?;
        let Some((last, ..)) = rows.last() else { break };
        after = *last;
        for (_, repository, digest, content) in rows {
            report.manifests += 1;
            let ok = digest.parse::<Digest>().is_ok_and(|d| digest_of(d.algorithm(), &content) == d);
            if !ok {
                report.problems.push(Problem {
                    kind: ProblemKind::CorruptManifest,
                    subject: format!("{repository}@{digest}"),
                    detail: "the stored manifest does not hash to its digest".into(),
                    referenced_by: Vec::new(),
                    fix: Fix::NeedsAttention("delete the artifact and push it again".into()),
                });
            }
        }
    }
    for (manifest, blob) in db::manifests::referencing_purging(c.db.reader()).await? {
        report.problems.push(Problem {
            kind: ProblemKind::PurgingReference,
            subject: blob,
            detail: "a manifest references a blob garbage collection is deleting".into(),
            referenced_by: vec![manifest],
            fix: Fix::NeedsAttention("push the artifact again after the next collection".into()),
        });
    }
    Ok(())
}

async fn check_uploads(c: &Collector, repair: bool, report: &mut FsckReport) -> Result<(), FsckError> {
    let objects = c.store.list_objects(&StorageKey::UploadArea).await?;
    report.upload_parts = objects.len() as u64;
    let stored: HashSet<&str> = objects.iter().map(|o| o.name.as_str()).collect();
    let recorded = db::uploads::all_parts(c.db.reader()).await?;
    let recorded_names: HashSet<String> = recorded.iter().map(|(u, p)| format!("{u}.{p}")).collect();
    let mut broken_sessions: Vec<String> = Vec::new();
    for (upload, part) in &recorded {
        let name = format!("{upload}.{part}");
        if stored.contains(name.as_str()) || broken_sessions.contains(upload) {
            continue;
        }
        // The session may have completed (its parts deleted) since it was read.
        let parts = db::uploads::parts(c.db.reader(), upload).await?;
        if !parts.iter().any(|p| &p.name == part) {
            continue;
        }
        let key = StorageKey::UploadPart { upload: upload.clone(), part: part.clone() };
        if !matches!(c.store.size(&key).await, Err(StorageError::NotFound(_))) {
            continue;
        }
        let mut fix = Fix::Repairable;
        if repair {
            db::uploads::delete(c.db.writer(), upload).await?;
            for p in parts {
                c.store.delete(&StorageKey::UploadPart { upload: upload.clone(), part: p.name }).await?;
            }
            fix = Fix::Repaired;
        }
        broken_sessions.push(upload.clone());
        report.problems.push(Problem {
            kind: ProblemKind::MissingUploadPart,
            subject: format!("upload {upload}"),
            detail: format!("no object at {key}; the session cannot complete"),
            referenced_by: Vec::new(),
            fix,
        });
    }
    let cutoff = now_ms() - c.upload_age.as_millis() as i64;
    for o in &objects {
        let ended = o.name.split_once('.').is_some_and(|(u, _)| broken_sessions.iter().any(|s| s == u));
        if recorded_names.contains(&o.name) || ended {
            continue;
        }
        let Some((upload, part)) = o.name.split_once('.') else {
            report.problems.push(Problem {
                kind: ProblemKind::UnknownObject,
                subject: format!("{}/{}", StorageKey::UploadArea, o.name),
                detail: "not an upload part key Wharf writes".into(),
                referenced_by: Vec::new(),
                fix: Fix::NeedsAttention("not Wharf's: left alone; move it out of the upload area".into()),
            });
            continue;
        };
        if o.modified >= cutoff {
            report.recent_unrecorded += 1;
            continue;
        }
        let key = StorageKey::UploadPart { upload: upload.to_owned(), part: part.to_owned() };
        let mut fix = Fix::Repairable;
        if repair {
            c.store.delete(&key).await?;
            fix = Fix::Repaired;
        }
        report.problems.push(Problem {
            kind: ProblemKind::OrphanUploadPart,
            subject: key.to_string(),
            detail: format!("{} bytes no upload session records", o.size),
            referenced_by: Vec::new(),
            fix,
        });
    }
    Ok(())
}
