//! The audit log and pull statistics, written in batches off the request path.
//!
//! Handlers hand events to a bounded channel (never waiting on it); one task writes whatever
//! has gathered in one transaction, at least every [`FLUSH_EVERY`]. A manifest pull therefore
//! costs no database write of its own, and a burst of pulls of one artifact becomes one update.
//! If the channel is full (the database is far behind) events are dropped with a warning rather
//! than slowing down pulls. Identical pulls within one batch are logged once; the pull
//! statistics count every one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::db::audit::AuditRow;
use crate::db::{self, Db, now_ms};

/// Longest an event waits before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Events buffered at most.
const CAPACITY: usize = 16_384;
/// Events written per transaction at most.
const BATCH: usize = 1_000;

/// Something worth recording.
#[derive(Debug)]
pub enum Event {
    /// An audit entry.
    Audit(AuditRow),
    /// Write everything gathered so far, then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
    /// A manifest was pulled (by `tag` when set).
    Pull {
        /// The repository.
        repository_id: i64,
        /// The manifest.
        manifest_id: i64,
        /// The tag it was pulled by, if any.
        tag: Option<String>,
    },
}

/// An audit entry about `resource` by `username` from `ip`.
pub fn entry(
    project_id: Option<i64>,
    username: &str,
    operation: &str,
    resource: String,
    resource_type: &str,
    ip: IpAddr,
) -> Event {
    Event::Audit(AuditRow {
        id: 0,
        project_id,
        username: username.to_owned(),
        operation: operation.to_owned(),
        resource,
        resource_type: resource_type.to_owned(),
        client_ip: ip.to_string(),
        op_time: now_ms(),
    })
}

/// The recording end; cheap to clone.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<Event>,
}

impl Auditor {
    /// Starts the writer over `db`; it runs until the last [`Auditor`] is dropped.
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(write_loop(db, rx));
        Self { tx }
    }

    /// Records `event` without waiting.
    pub fn record(&self, event: Event) {
        if let Err(e) = self.tx.try_send(event) {
            tracing::warn!(error = %e, "audit log behind: dropping an event");
        }
    }

    /// Waits until everything recorded so far is written (at shutdown, and in tests).
    pub async fn flush(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Event::Flush(ack)).await.is_ok() {
            done.await.ok();
        }
    }
}

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Event>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        // Wait for the first event, then gather what else arrives within FLUSH_EVERY.
        let Some(first) = rx.recv().await else { return };
        let mut acks = Vec::new();
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        let mut next = Some(first);
        while let Some(event) = next.take() {
            match event {
                Event::Flush(ack) => {
                    acks.push(ack);
                    break;
                }
                other => batch.push(other),
            }
            if batch.len() >= BATCH {
                break;
            }
            next = tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten();
        }
        if !batch.is_empty()
            && let Err(e) = write(&db, &batch).await
        {
            tracing::error!(error = %e, events = batch.len(), "writing the audit log");
        }
        batch.clear();
        for ack in acks {
            ack.send(()).ok();
        }
    }
}

async fn write(db: &Db, events: &[Event]) -> Result<(), db::DbError> {
    let mut audits: Vec<AuditRow> = Vec::new();
    let mut seen_pulls = std::collections::HashSet::new();
    let mut pulls: HashMap<(i64, i64, Option<&str>), i64> = HashMap::new();
    for e in events {
        match e {
            // Identical pulls in one batch (same user, artifact and address) are one entry: a
            // busy artifact would otherwise cost a row per pull. Counts stay exact in `pulls`.
            Event::Audit(row)
                if row.operation == "pull"
                    && !seen_pulls.insert((row.project_id, &row.username, &row.resource, &row.client_ip)) => {
            }
            Event::Audit(row) => audits.push(row.clone()),
            Event::Pull { repository_id, manifest_id, tag } => {
                *pulls.entry((*repository_id, *manifest_id, tag.as_deref())).or_default() += 1;
            }
            Event::Flush(_) => {}
        }
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    db::audit::insert_all(&mut tx, &audits).await?;
    for ((repo, manifest, tag), n) in pulls {
        db::audit::record_pulls(&mut tx, repo, manifest, tag, n, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
