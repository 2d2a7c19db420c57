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
use crate::identity::Identity;

/// Longest an event waits before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Events buffered at most.
const CAPACITY: usize = 16_384;
/// Events written per transaction at most: all that can be buffered, so a pull storm is
/// written once per [`FLUSH_EVERY`] (identical pulls fold into one row and one count). Each
/// write keeps the manifest pulls' cache out of use while it runs and starts it afresh (see
/// `registry::pull_cache`): at 1,000 a storm of 30,000 pulls/s had it busy a fifth of the time.
const BATCH: usize = CAPACITY;

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
        /// Who pulled it (for `PULL_ARTIFACT` webhook events).
        operator: String,
    },
}

/// Who acts and from where. Mutating domain methods take one and record their own audit
/// event, so no edge can forget to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor<'a> {
    /// Who.
    pub identity: &'a Identity,
    /// From where (the client address the request layer resolved).
    pub ip: IpAddr,
}

impl<'a> Actor<'a> {
    /// `identity` acting from `ip`.
    pub fn new(identity: &'a Identity, ip: IpAddr) -> Self {
        Self { identity, ip }
    }
}

/// What happened, in Harbor's audit log words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Something was created (a project, a tag, a copied artifact).
    Create,
    /// Something was deleted.
    Delete,
    /// A manifest was pushed.
    Push,
    /// A manifest was pulled.
    Pull,
    /// Someone signed in.
    Login,
}

impl Operation {
    /// Harbor's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Delete => "delete",
            Self::Push => "push",
            Self::Pull => "pull",
            Self::Login => "login",
        }
    }
}

/// What it happened to, in Harbor's resource type words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// A project.
    Project,
    /// A repository.
    Repository,
    /// An artifact.
    Artifact,
    /// A tag.
    Tag,
    /// A user account (logins).
    User,
}

impl ResourceType {
    /// Harbor's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Repository => "repository",
            Self::Artifact => "artifact",
            Self::Tag => "tag",
            Self::User => "user",
        }
    }
}

/// The audit entry of `actor` doing `operation` to `resource` (of `kind`) in project `project_id`.
fn entry(
    project_id: Option<i64>,
    actor: Actor<'_>,
    operation: Operation,
    kind: ResourceType,
    resource: String,
) -> Event {
    Event::Audit(AuditRow {
        id: 0,
        project_id,
        username: actor.identity.name().to_owned(),
        operation: operation.as_str().to_owned(),
        resource,
        resource_type: kind.as_str().to_owned(),
        client_ip: actor.ip.to_string(),
        op_time: now_ms(),
    })
}

/// The recording end, and the reading end of the whole log; cheap to clone.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<Event>,
    db: Db,
}

/// What the writer needs besides the database: the registry host events name.
#[derive(Clone)]
struct Writer {
    db: Db,
    host: std::sync::Arc<str>,
}

impl Auditor {
    /// Starts the writer over `db`; it runs until the last [`Auditor`] is dropped.
    pub fn start(db: Db) -> Self {
        Self::start_for(db, "")
    }

    /// As [`Self::start`]; pull events name `host` in their resource URLs.
    pub fn start_for(db: Db, host: &str) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(write_loop(Writer { db: db.clone(), host: std::sync::Arc::from(host) }, rx));
        Self { tx, db }
    }

    /// Records that `actor` did `operation` to `resource` (of `kind`) in project `project_id`.
    pub fn log(
        &self,
        actor: Actor<'_>,
        project_id: Option<i64>,
        operation: Operation,
        kind: ResourceType,
        resource: String,
    ) {
        self.record(entry(project_id, actor, operation, kind, resource));
    }

    /// Records a sign-in of `actor` (users through the portal or `docker login`).
    pub fn login(&self, actor: Actor<'_>) {
        let name = actor.identity.name().to_owned();
        self.log(actor, None, Operation::Login, ResourceType::User, name);
    }

    /// Counts a pull of manifest `manifest_id` (by `tag` when set) by `operator` in the pull
    /// statistics; the batch that writes it reports it to the project's webhooks.
    pub fn count_pull(&self, repository_id: i64, manifest_id: i64, tag: Option<String>, operator: &str) {
        self.record(Event::Pull { repository_id, manifest_id, tag, operator: operator.to_owned() });
    }

    /// The whole audit log (newest first, filtered by operation and username when not empty),
    /// one page, and its total: system administrators only. A project's own log is read
    /// through the projects service.
    pub async fn system_log(
        &self,
        who: &Identity,
        operation: &str,
        username: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Option<(Vec<AuditRow>, i64)>, db::DbError> {
        if !matches!(who, Identity::User { sysadmin: true, .. }) {
            return Ok(None);
        }
        let rows = db::audit::list(self.db.reader(), None, operation, username, offset, limit).await?;
        let total = db::audit::count(self.db.reader(), None, operation, username).await?;
        Ok(Some((rows, total)))
    }

    /// Records `event` without waiting.
    fn record(&self, event: Event) {
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

async fn write_loop(w: Writer, mut rx: mpsc::Receiver<Event>) {
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
        if !batch.is_empty() {
            // A batch that lost a race (a deadlock with a push on PostgreSQL) is written again.
            let mut tries = 0;
            while let Err(e) = write(&w, &batch).await {
                tries += 1;
                if !e.is_transient() || tries == 3 {
                    tracing::error!(error = %e, events = batch.len(), "writing the audit log");
                    break;
                }
            }
        }
        batch.clear();
        for ack in acks {
            ack.send(()).ok();
        }
    }
}

async fn write(w: &Writer, events: &[Event]) -> Result<(), db::DbError> {
    let db = &w.db;
    let mut audits: Vec<AuditRow> = Vec::new();
    let mut seen_pulls = std::collections::HashSet::new();
    // Ordered: replicas flushing at once then lock rows in the same order.
    let mut pulls: std::collections::BTreeMap<(i64, i64, Option<&str>), i64> = Default::default();
    // One PULL_ARTIFACT event per artifact, tag and puller per batch: a pull storm makes a
    // handful of events, not one per pull.
    let mut pulled: std::collections::BTreeSet<(i64, i64, Option<&str>, &str)> = Default::default();
    for e in events {
        match e {
            // Identical pulls in one batch (same user, artifact and address) are one entry: a
            // busy artifact would otherwise cost a row per pull. Counts stay exact in `pulls`.
            Event::Audit(row)
                if row.operation == "pull"
                    && !seen_pulls.insert((row.project_id, &row.username, &row.resource, &row.client_ip)) => {
            }
            Event::Audit(row) => audits.push(row.clone()),
            Event::Pull { repository_id, manifest_id, tag, operator } => {
                *pulls.entry((*repository_id, *manifest_id, tag.as_deref())).or_default() += 1;
                pulled.insert((*repository_id, *manifest_id, tag.as_deref(), operator.as_str()));
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
    report_pulls(w, &mut tx, &pulled).await?;
    tx.commit().await?;
    Ok(())
}

/// Records `PULL_ARTIFACT` events for the pulls of a batch whose projects subscribe to them,
/// in the batch's transaction. One read per pulled repository decides.
async fn report_pulls(
    w: &Writer,
    tx: &mut sqlx::AnyConnection,
    pulled: &std::collections::BTreeSet<(i64, i64, Option<&str>, &str)>,
) -> Result<(), db::DbError> {
    use crate::webhooks::events::{self, RepoInfo};
    use frontend::types::WebhookEvent;
    let event = WebhookEvent::PullArtifact.as_str();
    let mut repos: HashMap<i64, Option<(i64, RepoInfo)>> = HashMap::new();
    for &(repo, manifest, tag, operator) in pulled {
        if let std::collections::hash_map::Entry::Vacant(slot) = repos.entry(repo) {
            let target = db::webhooks::pull_target(&mut *tx, repo, event).await?;
            slot.insert(target.map(|(project, full_name, created_at, public)| {
                (project, RepoInfo { full_name, created_at, public })
            }));
        }
        let Some(Some((project, info))) = repos.get(&repo) else { continue };
        let Some(digest) = db::manifests::digest_of(&mut *tx, manifest).await? else { continue };
        let tags: Vec<String> = tag.map(str::to_owned).into_iter().collect();
        let payload = events::artifact(WebhookEvent::PullArtifact, operator, &w.host, info, &digest, &tags);
        db::webhooks::record(tx, w.db.backend(), *project, event, &payload).await?;
    }
    Ok(())
}
