//! Webhooks: Harbor's per-project notification policies and the durable delivery of their
//! events. Events are recorded by the writes they report ([`events`]); a worker on every
//! replica claims due deliveries (a lease per task, so one replica sends each), posts them, and
//! retries failures with exponential backoff (1 s doubling to at most five minutes) until they
//! succeed or the retention window (`WHARF_WEBHOOK_RETENTION`, a day by default) has passed
//! since the event. A replica killed mid-delivery leaves its claim to lapse and another (or the
//! same one, restarted) sends again: delivery is at least once, and every attempt is logged.

pub mod events;

use std::sync::Arc;
use std::time::Duration;

use frontend::types::{NotifyType, PayloadFormat, WebhookEvent};
use serde::{Deserialize, Serialize};

use crate::auth::{Action, Identity};
use crate::db::webhooks::{Attempt, DueTask, ExecutionRow, PolicyFields, PolicyRow, TaskRow};
use crate::db::{self, Db, DbError};
use crate::endpoints::seal::SealKey;
use crate::projects::{ProjectError, ProjectRef, Projects};

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Longest an attempt may take (less when the job lease is short: see [`Webhooks::new`]).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Tasks one worker sends at once.
const BATCH: i64 = 64;
/// How often an idle worker looks for work.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// After a round that did not fill a batch, how long events may gather before the next: every
/// round costs two write transactions, which pushes wait for on SQLite's single writer, so a
/// steady stream of pushes is sent in a few large rounds a second rather than one per push.
const GATHER: Duration = Duration::from_millis(100);

/// A target as stored: the auth header sealed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct StoredTarget {
    #[serde(rename = "type")]
    kind: NotifyType,
    address: String,
    #[serde(default)]
    auth_header: String,
    #[serde(default)]
    skip_cert_verify: bool,
    #[serde(default)]
    payload_format: PayloadFormat,
}

/// A target as given by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// HTTP or Slack.
    pub kind: NotifyType,
    /// Where to post.
    pub address: String,
    /// The `Authorization` header to send; `None` on an update keeps the stored one.
    pub auth_header: Option<String>,
    /// Skip TLS certificate verification.
    pub skip_cert_verify: bool,
    /// The JSON shape (HTTP targets).
    pub payload_format: PayloadFormat,
}

/// A target as answered: whether it has an auth header, never the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// HTTP or Slack.
    pub kind: NotifyType,
    /// Where it posts.
    pub address: String,
    /// Whether an auth header is stored.
    pub has_auth_header: bool,
    /// Skip TLS certificate verification.
    pub skip_cert_verify: bool,
    /// The JSON shape.
    pub payload_format: PayloadFormat,
}

impl From<&StoredTarget> for Target {
    fn from(t: &StoredTarget) -> Self {
        Self {
            kind: t.kind,
            address: t.address.clone(),
            has_auth_header: !t.auth_header.is_empty(),
            skip_cert_verify: t.skip_cert_verify,
            payload_format: t.payload_format,
        }
    }
}

/// What a create or an update asks for.
#[derive(Debug, Clone)]
pub struct WebhookSpec {
    /// Unique in the project.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether it sends.
    pub enabled: bool,
    /// The events it reports.
    pub events: Vec<WebhookEvent>,
    /// Where it sends them.
    pub targets: Vec<TargetSpec>,
}

/// A policy as answered.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Id.
    pub id: i64,
    /// Its project.
    pub project_id: i64,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether it sends.
    pub enabled: bool,
    /// The events it reports.
    pub events: Vec<WebhookEvent>,
    /// Where it sends them.
    pub targets: Vec<Target>,
    /// Who created it.
    pub creator: String,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

fn events_of(stored: &str) -> Vec<WebhookEvent> {
    stored.split(',').filter_map(WebhookEvent::parse).collect()
}

fn targets_of(stored: &str) -> Vec<StoredTarget> {
    serde_json::from_str(stored).unwrap_or_default()
}

impl From<PolicyRow> for Policy {
    fn from(r: PolicyRow) -> Self {
        Self {
            events: events_of(&r.event_types),
            targets: targets_of(&r.targets).iter().map(Target::from).collect(),
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            creator: r.creator,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Why a webhook call failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The project, or the caller's access to it.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The request breaks the rules (400).
    #[error("{0}")]
    Invalid(String),
    /// The name is taken in the project (409).
    #[error("{0}")]
    Conflict(String),
    /// No such policy, execution or task (404).
    #[error("{0} not found")]
    NotFound(String),
    /// A database failure.
    #[error("database failure")]
    Db,
}

impl From<DbError> for WebhookError {
    fn from(e: DbError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Db
    }
}

fn invalid(m: impl Into<String>) -> WebhookError {
    WebhookError::Invalid(m.into())
}

/// The webhook service: policies, their history, and the delivery worker.
#[derive(Clone)]
pub struct Webhooks {
    db: Db,
    projects: Projects,
    key: Arc<SealKey>,
    holder: String,
    retention: Duration,
    lease: Duration,
    http: crate::lazy_client::LazyClient,
    insecure: crate::lazy_client::LazyClient,
}

impl Webhooks {
    /// The service over `db`, sealing auth headers with `key`; deliveries are claimed as
    /// `holder` for `lease` (the job lease: a replica that stops mid-delivery holds a task that
    /// long) and retried for `retention` after their event. An attempt may take half the lease,
    /// at most [`REQUEST_TIMEOUT`], so a claim never lapses while its attempt is still running.
    pub fn new(
        db: Db,
        projects: Projects,
        key: Arc<SealKey>,
        holder: &str,
        lease: Duration,
        retention: Duration,
    ) -> Self {
        let timeout = REQUEST_TIMEOUT.min(lease / 2);
        let client = |insecure: bool| {
            crate::lazy_client::LazyClient::new(move || {
                reqwest::Client::builder()
                    .timeout(timeout)
                    .danger_accept_invalid_certs(insecure)
                    // A receiver redirecting elsewhere is not followed with the payload.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap_or_default()
            })
        };
        Self {
            db,
            projects,
            key,
            holder: holder.to_owned(),
            retention,
            lease,
            http: client(false),
            insecure: client(true),
        }
    }

    fn stored_targets(&self, given: &[TargetSpec], current: &[StoredTarget]) -> Result<String, WebhookError> {
        if given.is_empty() {
            return Err(invalid("a policy needs a target"));
        }
        let mut out = Vec::with_capacity(given.len());
        for (i, t) in given.iter().enumerate() {
            let url = reqwest::Url::parse(t.address.trim())
                .map_err(|e| invalid(format!("target address {:?}: {e}", t.address)))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(format!("target address {:?}: use http:// or https://", t.address)));
            }
            let auth_header = match &t.auth_header {
                Some(h) if h.is_empty() => String::new(),
                Some(h) => {
                    if h.contains(['\r', '\n']) {
                        return Err(invalid("the auth header must be one line"));
                    }
                    self.key.seal(h)
                }
                // Unchanged on an update: the same target's stored header.
                None => current
                    .iter()
                    .find(|c| c.address == t.address.trim())
                    .or_else(|| current.get(i))
                    .map(|c| c.auth_header.clone())
                    .unwrap_or_default(),
            };
            out.push(StoredTarget {
                kind: t.kind,
                address: t.address.trim().to_owned(),
                auth_header,
                skip_cert_verify: t.skip_cert_verify,
                payload_format: t.payload_format,
            });
        }
        Ok(serde_json::to_string(&out).expect("targets serialize"))
    }

    fn checked(spec: &WebhookSpec) -> Result<String, WebhookError> {
        let name = spec.name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(invalid("a policy needs a name of 1 to 255 characters"));
        }
        if spec.events.is_empty() {
            return Err(invalid("a policy needs at least one event type"));
        }
        let mut words: Vec<&str> = spec.events.iter().map(|e| e.as_str()).collect();
        words.dedup();
        Ok(format!(",{},", words.join(",")))
    }

    /// Policies of project `r` whose name contains `name`, one page, and their total:
    /// maintainers and project administrators.
    pub async fn list(
        &self,
        who: &Identity,
        r: &ProjectRef,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Policy>, i64), WebhookError> {
        let p = self.projects.get(who, r, Action::ReadWebhooks).await?;
        let rows = db::webhooks::list(self.db.reader(), p.id, name, offset, limit).await?;
        let total = db::webhooks::count(self.db.reader(), p.id, name).await?;
        Ok((rows.into_iter().map(Policy::from).collect(), total))
    }

    /// Policy `id` of project `r`.
    pub async fn get(&self, who: &Identity, r: &ProjectRef, id: i64) -> Result<Policy, WebhookError> {
        let p = self.projects.get(who, r, Action::ReadWebhooks).await?;
        let row = db::webhooks::get(self.db.reader(), p.id, id)
            .await?
            .ok_or_else(|| WebhookError::NotFound(format!("webhook policy {id}")))?;
        Ok(row.into())
    }

    /// Creates a policy in project `r` (project administrators); returns its id.
    pub async fn create(
        &self,
        who: &Identity,
        r: &ProjectRef,
        spec: &WebhookSpec,
    ) -> Result<i64, WebhookError> {
        let p = self.projects.get(who, r, Action::ManageWebhooks).await?;
        let events = Self::checked(spec)?;
        let targets = self.stored_targets(&spec.targets, &[])?;
        let fields = PolicyFields {
            name: spec.name.trim(),
            description: &spec.description,
            enabled: spec.enabled,
            event_types: &events,
            targets: &targets,
        };
        match db::webhooks::insert(self.db.writer(), p.id, &fields, who.name()).await {
            Ok(id) => Ok(id),
            Err(e) if e.is_unique_violation() => Err(WebhookError::Conflict(format!(
                "project {} has a webhook policy named {}",
                p.name, spec.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces policy `id` of project `r`; a target given without an auth header keeps the
    /// stored one.
    pub async fn update(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
        spec: &WebhookSpec,
    ) -> Result<(), WebhookError> {
        let p = self.projects.get(who, r, Action::ManageWebhooks).await?;
        let current = db::webhooks::get(self.db.reader(), p.id, id)
            .await?
            .ok_or_else(|| WebhookError::NotFound(format!("webhook policy {id}")))?;
        let events = Self::checked(spec)?;
        let targets = self.stored_targets(&spec.targets, &targets_of(&current.targets))?;
        let fields = PolicyFields {
            name: spec.name.trim(),
            description: &spec.description,
            enabled: spec.enabled,
            event_types: &events,
            targets: &targets,
        };
        match db::webhooks::update(self.db.writer(), p.id, id, &fields).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(WebhookError::NotFound(format!("webhook policy {id}"))),
            Err(e) if e.is_unique_violation() => Err(WebhookError::Conflict(format!(
                "project {} has a webhook policy named {}",
                p.name, spec.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Switches policy `id` of project `r` on or off.
    pub async fn set_enabled(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
        on: bool,
    ) -> Result<(), WebhookError> {
        let p = self.projects.get(who, r, Action::ManageWebhooks).await?;
        let row = db::webhooks::get(self.db.reader(), p.id, id)
            .await?
            .ok_or_else(|| WebhookError::NotFound(format!("webhook policy {id}")))?;
        let fields = PolicyFields {
            name: &row.name,
            description: &row.description,
            enabled: on,
            event_types: &row.event_types,
            targets: &row.targets,
        };
        db::webhooks::update(self.db.writer(), p.id, id, &fields).await?;
        Ok(())
    }

    /// Deletes policy `id` of project `r` with its history.
    pub async fn delete(&self, who: &Identity, r: &ProjectRef, id: i64) -> Result<(), WebhookError> {
        let p = self.projects.get(who, r, Action::ManageWebhooks).await?;
        if db::webhooks::delete(self.db.writer(), p.id, id).await? {
            Ok(())
        } else {
            Err(WebhookError::NotFound(format!("webhook policy {id}")))
        }
    }

    /// Project `r`'s policies (the first hundred), its latest `limit` deliveries, and whether
    /// `who` may change the policies: the portal's tab.
    pub async fn overview(
        &self,
        who: &Identity,
        r: &ProjectRef,
        limit: i64,
    ) -> Result<(Vec<Policy>, Vec<db::webhooks::RecentRow>, bool), WebhookError> {
        let p = self.projects.get(who, r, Action::ReadWebhooks).await?;
        let rows = db::webhooks::list(self.db.reader(), p.id, "", 0, 100).await?;
        let recent = db::webhooks::recent(self.db.reader(), p.id, limit).await?;
        let manage = crate::auth::allowed(who, p.id, p.public, p.role, Action::ManageWebhooks);
        Ok((rows.into_iter().map(Policy::from).collect(), recent, manage))
    }

    /// Executions (one per event) of policy `id` of project `r`, newest first, one page.
    pub async fn executions(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ExecutionRow>, i64), WebhookError> {
        let policy = self.get(who, r, id).await?;
        let rows = db::webhooks::executions(self.db.reader(), policy.id, offset, limit).await?;
        let total = db::webhooks::count_executions(self.db.reader(), policy.id).await?;
        Ok((rows, total))
    }

    async fn execution(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
        eid: i64,
    ) -> Result<ExecutionRow, WebhookError> {
        let policy = self.get(who, r, id).await?;
        db::webhooks::execution(self.db.reader(), policy.id, eid)
            .await?
            .ok_or_else(|| WebhookError::NotFound(format!("execution {eid}")))
    }

    /// The tasks (one per target) of execution `eid` of policy `id`, with their targets.
    pub async fn tasks(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
        eid: i64,
    ) -> Result<Vec<(TaskRow, Target)>, WebhookError> {
        let e = self.execution(who, r, id, eid).await?;
        let rows = db::webhooks::tasks(self.db.reader(), e.policy_id, e.id).await?;
        Ok(rows
            .into_iter()
            .map(|t| {
                let target = serde_json::from_str::<StoredTarget>(&t.target).map(|s| Target::from(&s));
                let target = target.unwrap_or(Target {
                    kind: NotifyType::Http,
                    address: String::new(),
                    has_auth_header: false,
                    skip_cert_verify: false,
                    payload_format: PayloadFormat::Default,
                });
                (t, target)
            })
            .collect())
    }

    /// The attempt log of task `tid`.
    pub async fn task_log(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
        eid: i64,
        tid: i64,
    ) -> Result<String, WebhookError> {
        let e = self.execution(who, r, id, eid).await?;
        db::webhooks::task_log(self.db.reader(), e.id, tid)
            .await?
            .ok_or_else(|| WebhookError::NotFound(format!("task {tid}")))
    }

    /// Sends what is due until the returned task is aborted: claims a batch, posts it, records
    /// the attempts; when nothing was due it waits [`IDLE_POLL`] before looking again.
    ///
    /// The posts run on a thread of their own at a lower scheduling priority (nice 10): a
    /// delivery is an HTTP exchange, as dear in system calls and wake-ups as the push that made
    /// it, and on a busy server it waits for idle CPU instead of taking it from registry
    /// traffic; the backlog stays in the database and drains when the load eases. The database
    /// work stays on the server's runtime (its connections belong to it).
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let server = tokio::runtime::Handle::current();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let started = std::thread::Builder::new().name("wharf-webhooks".into()).spawn(move || {
            if let Err(e) = rustix::process::setpriority_process(None, 10) {
                tracing::debug!(error = %e, "webhook deliveries keep the normal priority");
            }
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "the webhook delivery thread cannot start");
                    return;
                }
            };
            runtime.block_on(async move {
                tokio::select! {
                    _ = stopped => {}
                    _ = me.deliver_forever(&server) => {}
                }
            });
        });
        if let Err(e) = started {
            tracing::error!(error = %e, "the webhook delivery thread cannot start");
        }
        // Dropping `stop` (when this task is aborted) ends the thread's loop.
        tokio::spawn(async move {
            let _stop = stop;
            std::future::pending::<()>().await
        })
    }

    async fn deliver_forever(&self, server: &tokio::runtime::Handle) {
        let mut last_prune = tokio::time::Instant::now();
        loop {
            match self.deliver_due(server).await {
                Ok(0) => tokio::time::sleep(IDLE_POLL).await,
                Ok(n) if (n as i64) < BATCH => tokio::time::sleep(GATHER).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery round failed");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
            if last_prune.elapsed() > Duration::from_secs(3600) {
                last_prune = tokio::time::Instant::now();
                let before = db::now_ms() - 7 * self::day_ms();
                let db = self.db.clone();
                let pruned =
                    server.spawn(async move { db::webhooks::prune(db.writer(), before).await }).await;
                if let Ok(Err(e)) = pruned {
                    tracing::warn!(error = %e, "pruning webhook history failed");
                }
            }
        }
    }

    /// One round: claims what is due (on the server's runtime) and sends it (on this thread);
    /// returns how many were sent.
    async fn deliver_due(&self, server: &tokio::runtime::Handle) -> Result<usize, String> {
        let (db, holder) = (self.db.clone(), self.holder.clone());
        let lease_until = db::now_ms() + self.lease.as_millis() as i64;
        let due = server
            .spawn(async move {
                if !db::webhooks::any_due(db.reader()).await? {
                    return Ok(Vec::new());
                }
                let mut tx = db.begin().await?;
                let due = db::webhooks::claim_due(&mut tx, db.backend(), &holder, lease_until, BATCH).await?;
                tx.commit().await?;
                Ok::<_, DbError>(due)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let n = due.len();
        if n == 0 {
            return Ok(0);
        }
        // Sent together; their outcomes recorded in one transaction, so a busy receiver costs
        // the database one write per batch, not one per delivery (pushes share that writer).
        let sends = due.into_iter().map(|task| async move {
            let (outcome, message, line) = self.attempt(&task).await;
            db::webhooks::Finished { id: task.id, outcome, message, line }
        });
        let outcomes = futures::future::join_all(sends).await;
        let (db, holder) = (self.db.clone(), self.holder.clone());
        server
            .spawn(async move {
                let mut tx = db.begin().await?;
                db::webhooks::finish_attempts(&mut tx, &holder, &outcomes).await?;
                tx.commit().await?;
                Ok::<_, DbError>(())
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(n)
    }

    /// Posts `task` once; returns what follows, the status message and the log line.
    async fn attempt(&self, task: &DueTask) -> (Attempt, String, String) {
        let started = std::time::Instant::now();
        let result = self.post(task).await;
        let took = started.elapsed().as_millis();
        let now = db::now_ms();
        let attempt = task.run_count + 1;
        let (ok, message) = match result {
            Ok(code) if (200..300).contains(&code) => (true, format!("delivered: HTTP {code}")),
            Ok(code) => (false, format!("the receiver answered HTTP {code}")),
            Err(e) => (false, e),
        };
        let line = format!("{} attempt {attempt}: {message} ({took} ms)\n", crate::time::rfc3339_ms(now));
        if ok {
            return (Attempt::Delivered, message, line);
        }
        let backoff = Duration::from_secs(1u64 << (attempt - 1).clamp(0, 16)).min(MAX_BACKOFF);
        let next = now + backoff.as_millis() as i64;
        if next > task.created_at + self.retention.as_millis() as i64 {
            let message = format!("{message}; gave up: the event is older than the retention window");
            let line = format!("{} attempt {attempt}: {message} ({took} ms)\n", crate::time::rfc3339_ms(now));
            (Attempt::GaveUp, message, line)
        } else {
            tracing::debug!(task = task.id, attempt, %message, "webhook delivery failed; retrying");
            (Attempt::Retry { next }, message, line)
        }
    }

    async fn post(&self, task: &DueTask) -> Result<u16, String> {
        let target: StoredTarget = serde_json::from_str(&task.target)
            .map_err(|e| format!("the stored target is unreadable: {e}"))?;
        let delivery = format!("wharf-{}", task.id);
        let stored = || -> Result<serde_json::Value, String> {
            serde_json::from_str(&task.payload).map_err(|e| format!("the stored event is unreadable: {e}"))
        };
        // The Default payload is sent as it was stored (Wharf wrote it as JSON); the other
        // formats are built from it.
        let body = match (target.kind, target.payload_format) {
            (NotifyType::Slack, _) => events::slack_message(&stored()?).to_string(),
            (NotifyType::Http, PayloadFormat::CloudEvents) => {
                events::cloud_event(&stored()?, &delivery, task.project_id, task.policy_id).to_string()
            }
            (NotifyType::Http, PayloadFormat::Default) => task.payload.clone(),
        };
        let content_type = match (target.kind, target.payload_format) {
            (NotifyType::Http, PayloadFormat::CloudEvents) => "application/cloudevents+json",
            _ => "application/json",
        };
        let client = if target.skip_cert_verify { self.insecure.get() } else { self.http.get() };
        let mut req = client
            .post(&target.address)
            .header("content-type", content_type)
            .header("x-wharf-delivery", &delivery)
            .header("x-wharf-event", task.event_type.as_str())
            .body(body);
        if !target.auth_header.is_empty() {
            let header = self
                .key
                .open(&target.auth_header)
                .map_err(|e| format!("the auth header cannot be unsealed: {e}"))?;
            req = req.header("authorization", header);
        }
        match req.send().await {
            Ok(mut res) => {
                let code = res.status().as_u16();
                // A connection goes back to the pool only once its answer has been read to the
                // end: a receiver answering more than arrives with the status line (a page of
                // text, say) would otherwise cost a new connection, and TLS handshake, per
                // delivery (the test saw 3 connections for 3 deliveries). Read at most 64 KiB;
                // a longer answer costs only its connection.
                let mut read = 0;
                while let Ok(Some(chunk)) = res.chunk().await {
                    read += chunk.len();
                    if read > 64 << 10 {
                        break;
                    }
                }
                Ok(code)
            }
            // reqwest's message names the URL, never the headers.
            Err(e) => Err(format!("sending failed: {e}")),
        }
    }
}

fn day_ms() -> i64 {
    24 * 60 * 60 * 1000
}
