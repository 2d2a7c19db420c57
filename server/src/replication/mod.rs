//! Replication, as Harbor does it: push-based policies copy local artifacts to a registry
//! endpoint, pull-based ones copy an endpoint's artifacts here. Filters pick repositories (by
//! name, doublestar), tags (matches or excludes) and the kind of artifact; the destination
//! namespace replaces leading path components (Harbor's flattening). Triggers: manual, a cron
//! schedule (one replica fires it), and, for push-based policies, every push and delete.
//!
//! An execution holds the policy's lease (one at a time per policy, across replicas) and
//! records a task per artifact with its bytes and log. Blobs the destination has are not sent
//! again (`HEAD` first, then a cross-repository mount from a repository this execution already
//! filled); an index is copied whole, children first; tags are set only once everything they
//! name is there. An execution whose process died is marked failed, with the reason, as soon
//! as a replica notices its lease lapsed (checked every few seconds), never left running.

pub mod filter;

use crate::webhooks::events;
use frontend::types::WebhookEvent;
use std::collections::HashMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use crate::auth::Identity;
use crate::db::replication::{ExecutionRow, PolicyFields, PolicyRow, TaskRow};
use crate::db::schedules::ScheduleRow;
use crate::db::{self, Db, DbError};
use crate::endpoints::Endpoints;
use crate::endpoints::client::{ClientError, RegistryClient};
use crate::jobs::cron::Cron;
use crate::jobs::lease::LeaseGuard;
use crate::jobs::run::{self, RunTable};
use crate::oci::manifest;
use crate::oci::reference::{Digest, Reference, Tag};
use crate::registry::{Registry, RegistryEvent, RepoCtx};
use crate::storage::{BlobStore, StorageKey};
use filter::{Filters, ReplicationFilter};
use frontend::types::{ReplicationTrigger, RunStatus, Schedule};

/// Schedules of replication policies are named `replication:<policy id>`; so are their leases.
pub const PREFIX: &str = "replication:";

/// How often a replica looks for executions whose process died.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// A refused or failed replication request.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// The caller must sign in.
    #[error("sign in first")]
    Unauthorized,
    /// Only system administrators manage replication.
    #[error("only system administrators manage replication")]
    Forbidden,
    /// No such policy, execution or task.
    #[error("{0} not found")]
    NotFound(String),
    /// The request breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken.
    #[error("a replication policy named {0:?} already exists")]
    Exists(String),
    /// An execution of the policy is going.
    #[error("an execution of policy {0} is already running")]
    Busy(i64),
    /// A database failure.
    #[error("database failure")]
    Db,
}

impl From<DbError> for ReplicationError {
    fn from(e: DbError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Db
    }
}

/// A policy as callers give and see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The source endpoint (pull-based); `None`: this registry.
    pub src_registry_id: Option<i64>,
    /// The destination endpoint (push-based); `None`: this registry.
    pub dest_registry_id: Option<i64>,
    /// Where copies go; empty keeps the source's namespace.
    pub dest_namespace: String,
    /// Leading path components the namespace replaces: -1 all but the last (flatten), 0 none.
    pub dest_namespace_replace_count: i64,
    /// When it runs.
    pub trigger: ReplicationTrigger,
    /// The cron of a scheduled policy (six fields, Harbor's).
    pub cron: String,
    /// What it selects.
    pub filters: Vec<ReplicationFilter>,
    /// Deletes are replicated too (event-based push policies).
    pub replicate_deletion: bool,
    /// Replace what the destination has under the same tag.
    pub override_existing: bool,
    /// Disabled policies do not run.
    pub enabled: bool,
    /// Bandwidth in KiB/s; -1 unlimited.
    pub speed_kb: i64,
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Id.
    pub id: i64,
    /// Its settings.
    pub spec: PolicySpec,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

impl TryFrom<PolicyRow> for Policy {
    type Error = DbError;

    fn try_from(r: PolicyRow) -> Result<Self, DbError> {
        let filters = serde_json::from_str(&r.filters).unwrap_or_default();
        Ok(Self {
            id: r.id,
            spec: PolicySpec {
                name: r.name,
                description: r.description,
                src_registry_id: r.src_registry_id,
                dest_registry_id: r.dest_registry_id,
                dest_namespace: r.dest_namespace,
                dest_namespace_replace_count: r.dest_namespace_replace_count,
                trigger: r.trigger,
                cron: r.cron,
                filters,
                replicate_deletion: r.replicate_deletion,
                override_existing: r.override_existing,
                enabled: r.enabled,
                speed_kb: r.speed_kb,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Harbor's rule for the destination repository: `namespace` replaces the first
/// `replace_count` path components of `repository` (all but the last when negative; none when
/// zero); an empty namespace keeps the name.
pub fn destination(repository: &str, namespace: &str, replace_count: i64) -> Result<String, String> {
    if namespace.is_empty() {
        return Ok(repository.to_owned());
    }
    let parts: Vec<&str> = repository.split('/').collect();
    let n = parts.len();
    match replace_count {
        c if c < 0 => Ok(format!("{namespace}/{}", parts[n - 1])),
        0 => Ok(format!("{namespace}/{repository}")),
        c if c as usize > n - 1 => Err(format!(
            "{repository} has only {} path components before its name, fewer than the flattening level {c}",
            n - 1
        )),
        c => Ok(format!("{namespace}/{}", parts[c as usize..].join("/"))),
    }
}

/// What one execution copies or deletes.
#[derive(Debug, Clone)]
enum Scope {
    /// Everything the filters select.
    All,
    /// One pushed artifact: `repository`, its digest and tags.
    Pushed(String, String, Vec<String>),
    /// One deleted artifact: `repository` and its digest.
    Deleted(String, String),
}

/// One copy or delete to do.
#[derive(Debug, Clone)]
struct Item {
    /// Source repository.
    repository: String,
    /// A tag, or a digest for untagged artifacts and deletions.
    reference: String,
    /// Destination repository.
    destination: String,
    /// `copy` or `deletion`.
    operation: &'static str,
}

/// Replication services.
#[derive(Clone)]
pub struct ReplicationService {
    db: Db,
    registry: Registry,
    endpoints: Endpoints,
    store: BlobStore,
    holder: String,
    lease_ttl: Duration,
    /// The registry host `REPLICATION` events name.
    host: String,
}

fn admin_only(who: &Identity) -> Result<(), ReplicationError> {
    match who {
        Identity::Anonymous => Err(ReplicationError::Unauthorized),
        w if w.is_sysadmin() => Ok(()),
        _ => Err(ReplicationError::Forbidden),
    }
}

fn schedule_name(policy_id: i64) -> String {
    format!("{PREFIX}{policy_id}")
}

impl ReplicationService {
    /// The service over `db`, copying through `registry` and `store` to and from `endpoints`;
    /// executions hold leases of `lease_ttl` as `holder`.
    pub fn new(
        db: Db,
        registry: Registry,
        endpoints: Endpoints,
        store: BlobStore,
        holder: &str,
        lease_ttl: Duration,
    ) -> Self {
        Self { db, registry, endpoints, store, holder: holder.into(), lease_ttl, host: String::new() }
    }

    /// Names `host` in the `REPLICATION` events it reports.
    pub fn with_host(mut self, host: &str) -> Self {
        self.host = host.to_owned();
        self
    }

    async fn check(&self, spec: &PolicySpec) -> Result<(), ReplicationError> {
        if spec.name.trim().is_empty() || spec.name.len() > 255 {
            return Err(ReplicationError::Invalid("the name must have 1 to 255 characters".into()));
        }
        let endpoint = match (spec.src_registry_id, spec.dest_registry_id) {
            (Some(_), Some(_)) => {
                return Err(ReplicationError::Invalid(
                    "a policy copies from a registry (src_registry) or to one (dest_registry), not both"
                        .into(),
                ));
            }
            (None, None) => {
                return Err(ReplicationError::Invalid(
                    "name the source registry (pull-based) or the destination registry (push-based)".into(),
                ));
            }
            (Some(id), None) | (None, Some(id)) => id,
        };
        if db::registries::get(self.db.reader(), endpoint).await?.is_none() {
            return Err(ReplicationError::Invalid(format!("registry {endpoint} does not exist")));
        }
        if spec.trigger == ReplicationTrigger::EventBased && spec.src_registry_id.is_some() {
            return Err(ReplicationError::Invalid(
                "event-based triggers are for push-based policies: a pull-based one runs manually or on a schedule"
                    .into(),
            ));
        }
        if spec.trigger == ReplicationTrigger::Scheduled {
            spec.cron.parse::<Cron>().map_err(ReplicationError::Invalid)?;
        }
        if spec.dest_namespace_replace_count < -1 {
            return Err(ReplicationError::Invalid("dest_namespace_replace_count is -1 or more".into()));
        }
        if !spec.dest_namespace.is_empty()
            && !spec.dest_namespace.split('/').all(crate::oci::reference::valid_component)
        {
            return Err(ReplicationError::Invalid(format!(
                "{:?} is not a valid namespace",
                spec.dest_namespace
            )));
        }
        Filters::compile(&spec.filters).map_err(ReplicationError::Invalid)?;
        Ok(())
    }

    async fn save_schedule(&self, id: i64, spec: &PolicySpec) -> Result<(), ReplicationError> {
        let name = schedule_name(id);
        if spec.trigger == ReplicationTrigger::Scheduled && spec.enabled {
            let cron: Cron = spec.cron.parse().map_err(ReplicationError::Invalid)?;
            let next = cron.next_after(db::now_ms());
            db::schedules::put(self.db.writer(), &name, &Schedule::Custom(spec.cron.clone()), "{}", next)
                .await?;
        } else {
            db::schedules::delete(self.db.writer(), &name).await?;
        }
        Ok(())
    }

    /// Creates a policy; returns its id.
    pub async fn create(&self, who: &Identity, spec: &PolicySpec) -> Result<i64, ReplicationError> {
        admin_only(who)?;
        self.check(spec).await?;
        let filters = serde_json::to_string(&spec.filters).unwrap_or_else(|_| "[]".into());
        let id = match db::replication::insert_policy(self.db.writer(), &fields_of(spec, &filters)).await {
            Err(e) if e.is_unique_violation() => return Err(ReplicationError::Exists(spec.name.clone())),
            other => other?,
        };
        self.save_schedule(id, spec).await?;
        Ok(id)
    }

    /// Replaces policy `id`.
    pub async fn update(&self, who: &Identity, id: i64, spec: &PolicySpec) -> Result<(), ReplicationError> {
        admin_only(who)?;
        self.check(spec).await?;
        let filters = serde_json::to_string(&spec.filters).unwrap_or_else(|_| "[]".into());
        match db::replication::update_policy(self.db.writer(), id, &fields_of(spec, &filters)).await {
            Err(e) if e.is_unique_violation() => return Err(ReplicationError::Exists(spec.name.clone())),
            Ok(false) => return Err(ReplicationError::NotFound(format!("replication policy {id}"))),
            other => {
                other?;
            }
        }
        self.save_schedule(id, spec).await
    }

    /// Policy `id`.
    pub async fn get(&self, who: &Identity, id: i64) -> Result<Policy, ReplicationError> {
        admin_only(who)?;
        self.policy(id).await
    }

    async fn policy(&self, id: i64) -> Result<Policy, ReplicationError> {
        let row = db::replication::get_policy(self.db.reader(), id)
            .await?
            .ok_or_else(|| ReplicationError::NotFound(format!("replication policy {id}")))?;
        Ok(row.try_into()?)
    }

    /// One page of the policies whose name contains `name`, and their total.
    pub async fn list(
        &self,
        who: &Identity,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Policy>, i64), ReplicationError> {
        admin_only(who)?;
        let rows = db::replication::list_policies(self.db.reader(), name, offset, limit).await?;
        let total = db::replication::count_policies(self.db.reader(), name).await?;
        let policies = rows.into_iter().map(Policy::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok((policies, total))
    }

    /// Deletes policy `id` with its history, unless an execution is going.
    pub async fn delete(&self, who: &Identity, id: i64) -> Result<(), ReplicationError> {
        admin_only(who)?;
        self.policy(id).await?;
        if db::leases::holder(self.db.reader(), &schedule_name(id)).await?.is_some() {
            return Err(ReplicationError::Busy(id));
        }
        db::schedules::delete(self.db.writer(), &schedule_name(id)).await?;
        db::replication::delete_policy(self.db.writer(), id).await?;
        Ok(())
    }

    /// Starts an execution of policy `id`; returns its id at once.
    pub async fn start(&self, who: &Identity, id: i64) -> Result<i64, ReplicationError> {
        admin_only(who)?;
        let policy = self.policy(id).await?;
        self.launch(policy, ReplicationTrigger::Manual, Scope::All).await
    }

    /// Asks execution `id` to stop.
    pub async fn stop(&self, who: &Identity, id: i64) -> Result<(), ReplicationError> {
        admin_only(who)?;
        self.execution_row(id).await?;
        if run::request_stop(&self.db, RunTable::Replication, id).await? {
            Ok(())
        } else {
            Err(ReplicationError::Invalid(format!("execution {id} is not running")))
        }
    }

    async fn execution_row(&self, id: i64) -> Result<ExecutionRow, ReplicationError> {
        db::replication::get_execution(self.db.reader(), id)
            .await?
            .ok_or_else(|| ReplicationError::NotFound(format!("replication execution {id}")))
    }

    /// Execution `id`.
    pub async fn execution(&self, who: &Identity, id: i64) -> Result<ExecutionRow, ReplicationError> {
        admin_only(who)?;
        self.execution_row(id).await
    }

    /// One page of executions (of `policy_id`, or all), newest first, and their total.
    pub async fn executions(
        &self,
        who: &Identity,
        policy_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ExecutionRow>, i64), ReplicationError> {
        admin_only(who)?;
        let rows = db::replication::list_executions(self.db.reader(), policy_id, offset, limit).await?;
        let total = db::replication::count_executions(self.db.reader(), policy_id).await?;
        Ok((rows, total))
    }

    /// One page of execution `id`'s tasks and their total.
    pub async fn tasks(
        &self,
        who: &Identity,
        id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<TaskRow>, i64), ReplicationError> {
        admin_only(who)?;
        self.execution_row(id).await?;
        let rows = db::replication::list_tasks(self.db.reader(), id, offset, limit).await?;
        let total = db::replication::count_tasks(self.db.reader(), id).await?;
        Ok((rows, total))
    }

    /// The log of task `task` of execution `id`.
    pub async fn task_log(&self, who: &Identity, id: i64, task: i64) -> Result<String, ReplicationError> {
        admin_only(who)?;
        db::replication::task_log(self.db.reader(), id, task)
            .await?
            .ok_or_else(|| ReplicationError::NotFound(format!("task {task} of execution {id}")))
    }

    /// Starts an execution of `policy` for `scope` in the background.
    async fn launch(
        &self,
        policy: Policy,
        trigger: ReplicationTrigger,
        scope: Scope,
    ) -> Result<i64, ReplicationError> {
        let (eid, lease) = self.begin(&policy, trigger).await?;
        let me = self.clone();
        tokio::spawn(async move { me.execute(eid, lease, policy, scope).await });
        Ok(eid)
    }

    /// Runs policy `id` to its end in the foreground (tests and benchmarks); returns the
    /// execution.
    pub async fn run_now(&self, id: i64) -> Result<ExecutionRow, ReplicationError> {
        let policy = self.policy(id).await?;
        let (eid, lease) = self.begin(&policy, ReplicationTrigger::Manual).await?;
        self.execute(eid, lease, policy, Scope::All).await;
        self.execution_row(eid).await
    }

    async fn begin(
        &self,
        policy: &Policy,
        trigger: ReplicationTrigger,
    ) -> Result<(i64, LeaseGuard), ReplicationError> {
        let lease = LeaseGuard::acquire(&self.db, &schedule_name(policy.id), &self.holder, self.lease_ttl)
            .await?
            .ok_or(ReplicationError::Busy(policy.id))?;
        db::replication::abandon_dead(self.db.writer()).await?;
        let eid = db::replication::insert_execution(self.db.writer(), policy.id, trigger).await?;
        Ok((eid, lease))
    }

    async fn execute(&self, eid: i64, lease: LeaseGuard, policy: Policy, scope: Scope) {
        let mut local = std::collections::BTreeSet::new();
        let (status, text) = match self.work(eid, &policy, &scope, &lease, &mut local).await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(execution = eid, policy = policy.id, error = %e, "replication failed");
                (RunStatus::Error, e)
            }
        };
        if let Err(e) = db::replication::finish_execution(self.db.writer(), eid, status, &text).await {
            tracing::error!(execution = eid, error = %e, "could not record the end of a replication");
        }
        lease.release().await;
        tracing::info!(execution = eid, policy = policy.id, %status, "replication ended");
        if let Err(e) = self.report(eid, &policy, &local).await {
            tracing::warn!(execution = eid, error = %e, "recording a REPLICATION event failed");
        }
    }

    /// Reports an ended execution to the webhooks of the local projects it read from (a
    /// push-based policy) or wrote to (a pull-based one), in Harbor's `REPLICATION` shape.
    async fn report(
        &self,
        eid: i64,
        policy: &Policy,
        local: &std::collections::BTreeSet<String>,
    ) -> Result<(), DbError> {
        let event = WebhookEvent::Replication.as_str();
        let Some(e) = db::replication::get_execution(self.db.reader(), eid).await? else { return Ok(()) };
        let spec = &policy.spec;
        let remote = match spec.src_registry_id.or(spec.dest_registry_id) {
            Some(id) => db::registries::get(self.db.reader(), id).await?,
            None => None,
        };
        let remote_json = |namespace: &str| {
            serde_json::json!({
                "registry_name": remote.as_ref().map(|r| r.name.as_str()).unwrap_or(""),
                "registry_type": remote.as_ref().map(|r| r.kind.as_str()).unwrap_or(""),
                "endpoint": remote.as_ref().map(|r| r.url.as_str()).unwrap_or(""),
                "namespace": namespace,
            })
        };
        for project in local {
            let Some(row) = db::projects::find(self.db.reader(), 0, None, project).await? else { continue };
            if !db::webhooks::subscribed(self.db.reader(), row.id, event).await? {
                continue;
            }
            let here = serde_json::json!({"registry_type": "harbor", "endpoint": format!("http://{}", self.host), "namespace": project});
            let (src, dest) = if spec.dest_registry_id.is_some() {
                (here, remote_json(&spec.dest_namespace))
            } else {
                (remote_json(""), here)
            };
            let job_status = match e.status {
                RunStatus::Success => "Success",
                RunStatus::Stopped => "Stopped",
                _ => "Failed",
            };
            let payload = events::replication(
                &e.trigger.as_str().to_uppercase(),
                serde_json::json!({
                    "harbor_hostname": self.host,
                    "job_status": job_status,
                    "artifact_type": "image",
                    "override_mode": spec.override_existing,
                    "trigger_type": e.trigger.as_str().to_uppercase(),
                    "policy_creator": "",
                    "execution_timestamp": e.created_at / 1000,
                    "src_resource": src,
                    "dest_resource": dest,
                    "successful_artifact": [{"type": "image", "status": job_status,
                        "name_tag": format!("{project} [{} item(s) in total]", e.succeed)}],
                }),
            );
            let mut tx = self.db.begin().await?;
            db::webhooks::record(&mut tx, self.db.backend(), row.id, event, &payload).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The execution's work: list what the policy selects, then one task per item.
    async fn work(
        &self,
        eid: i64,
        policy: &Policy,
        scope: &Scope,
        lease: &LeaseGuard,
        local: &mut std::collections::BTreeSet<String>,
    ) -> Result<(RunStatus, String), String> {
        let spec = &policy.spec;
        let filters = Filters::compile(&spec.filters)?;
        let (remote, push) = match (spec.src_registry_id, spec.dest_registry_id) {
            (Some(id), None) => (id, false),
            (None, Some(id)) => (id, true),
            _ => return Err("the policy names no registry".into()),
        };
        let client = self.endpoints.client(remote).await.map_err(|e| e.to_string())?;
        let items = match push {
            true => self.local_items(&filters, spec, scope).await?,
            false => self.remote_items(&client, &filters, spec).await?,
        };
        for item in &items {
            let here = if push { &item.repository } else { &item.destination };
            if let Some((project, _)) = here.split_once('/') {
                local.insert(project.to_owned());
            }
        }
        let mut failed = 0;
        // Blobs this execution put into a destination repository: later repositories mount them.
        let mut placed: HashMap<String, String> = HashMap::new();
        for item in &items {
            if run::heartbeat(&self.db, RunTable::Replication, eid).await.map_err(|e| e.to_string())? {
                return Ok((RunStatus::Stopped, "stopped on request".into()));
            }
            if lease.lost() {
                return Err("the execution lost its lease (the database was unreachable)".into());
            }
            let resource = if item.reference.contains(':') { "artifact" } else { "image" };
            let sep = |r: &str| if r.starts_with("sha256:") { '@' } else { ':' };
            let source = format!("{}{}{}", item.repository, sep(&item.reference), item.reference);
            let dest = format!("{}{}{}", item.destination, sep(&item.reference), item.reference);
            let tid =
                db::replication::insert_task(self.db.writer(), eid, resource, &source, &dest, item.operation)
                    .await
                    .map_err(|e| e.to_string())?;
            let mut log = Log::default();
            let outcome = match (item.operation, push) {
                ("deletion", _) => self.delete_remote(&client, item, &mut log).await,
                (_, true) => self.push_item(&client, item, spec, &mut placed, &mut log).await,
                (_, false) => self.pull_item(&client, item, spec, &mut log).await,
            };
            let status = match outcome {
                Ok(()) => RunStatus::Success,
                Err(e) => {
                    failed += 1;
                    log.line(format!("failed: {e}"));
                    RunStatus::Error
                }
            };
            db::replication::finish_task(self.db.writer(), tid, status, log.bytes as i64, &log.text)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(match failed {
            0 => (RunStatus::Success, format!("{} artifact(s) replicated", items.len())),
            n => (RunStatus::Error, format!("{n} of {} task(s) failed", items.len())),
        })
    }

    /// The local artifacts a push-based policy selects.
    async fn local_items(
        &self,
        filters: &Filters,
        spec: &PolicySpec,
        scope: &Scope,
    ) -> Result<Vec<Item>, String> {
        let e = |e: DbError| e.to_string();
        let dest = |repo: &str| destination(repo, &spec.dest_namespace, spec.dest_namespace_replace_count);
        let mut items = Vec::new();
        match scope {
            Scope::Deleted(repo, digest) => {
                if filters.repository(repo) {
                    items.push(Item {
                        repository: repo.clone(),
                        reference: digest.clone(),
                        destination: dest(repo)?,
                        operation: "deletion",
                    });
                }
            }
            Scope::Pushed(repo, digest, tags) => {
                if filters.repository(repo) {
                    let kind_ok = self.kind_selected(filters, repo, digest).await.map_err(e)?
                        && self.labels_selected(filters, repo, digest).await.map_err(e)?;
                    for t in tags.iter().filter(|t| filters.tag(t)) {
                        if kind_ok {
                            items.push(Item {
                                repository: repo.clone(),
                                reference: t.clone(),
                                destination: dest(repo)?,
                                operation: "copy",
                            });
                        }
                    }
                }
            }
            Scope::All => {
                let mut last: Option<String> = None;
                loop {
                    let page = db::repositories::catalog(self.db.reader(), None, last.as_deref(), 500)
                        .await
                        .map_err(e)?;
                    let Some(end) = page.last().cloned() else { break };
                    for repo in page.iter().filter(|r| filters.repository(r)) {
                        let Some(row) = db::repositories::by_name(self.db.reader(), repo).await.map_err(e)?
                        else {
                            continue;
                        };
                        let tags =
                            db::tags::list(self.db.reader(), row.id, None, i64::MAX).await.map_err(e)?;
                        for t in tags.into_iter().filter(|t| filters.tag(t)) {
                            let Some(m) =
                                db::manifests::by_tag(self.db.reader(), row.id, &t).await.map_err(e)?
                            else {
                                continue;
                            };
                            if !self.kind_selected(filters, repo, &m.digest).await.map_err(e)?
                                || !self.labels_selected(filters, repo, &m.digest).await.map_err(e)?
                            {
                                continue;
                            }
                            items.push(Item {
                                repository: repo.clone(),
                                reference: t,
                                destination: dest(repo)?,
                                operation: "copy",
                            });
                        }
                    }
                    last = Some(end);
                }
            }
        }
        Ok(items)
    }

    async fn labels_selected(&self, filters: &Filters, repo: &str, digest: &str) -> Result<bool, DbError> {
        if !filters.filters_labels() {
            return Ok(true);
        }
        let Some(row) = db::repositories::by_name(self.db.reader(), repo).await? else { return Ok(false) };
        let Some(m) = db::manifests::by_digest(self.db.reader(), row.id, digest).await? else {
            return Ok(false);
        };
        let names = db::labels::names_of(self.db.reader(), m.id).await?;
        Ok(filters.labels(&names.iter().map(String::as_str).collect::<Vec<_>>()))
    }

    async fn kind_selected(&self, filters: &Filters, repo: &str, digest: &str) -> Result<bool, DbError> {
        if !filters.filters_kind() {
            return Ok(true);
        }
        let Some(row) = db::repositories::by_name(self.db.reader(), repo).await? else { return Ok(false) };
        let Some(m) = db::manifests::by_digest(self.db.reader(), row.id, digest).await? else {
            return Ok(false);
        };
        let parsed = manifest::parse(&m.content, Some(&m.media_type)).ok();
        let kind = frontend::types::ArtifactKind::classify(
            &m.media_type,
            parsed.as_ref().and_then(|p| p.artifact_type.as_deref()),
            parsed.as_ref().and_then(|p| p.config_media_type()),
        );
        Ok(filters.kind(&kind))
    }

    /// The remote artifacts a pull-based policy selects.
    async fn remote_items(
        &self,
        client: &RegistryClient,
        filters: &Filters,
        spec: &PolicySpec,
    ) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        for repo in client.catalog().await.map_err(|e| e.to_string())? {
            if !filters.repository(&repo) {
                continue;
            }
            let destination = destination(&repo, &spec.dest_namespace, spec.dest_namespace_replace_count)?;
            if !destination.contains('/') {
                return Err(format!(
                    "{repo} would land in {destination:?}, which names no project: set a destination namespace"
                ));
            }
            // A remote artifact's labels are not known: they count as none.
            if !filters.labels(&[]) {
                continue;
            }
            for t in client.tags(&repo).await.map_err(|e| e.to_string())? {
                if filters.tag(&t) {
                    items.push(Item {
                        repository: repo.clone(),
                        reference: t,
                        destination: destination.clone(),
                        operation: "copy",
                    });
                }
            }
        }
        Ok(items)
    }

    /// Copies local `item` to the destination: blobs (skipping those it has, mounting those
    /// this execution placed elsewhere), children, then the manifest under its tag.
    async fn push_item(
        &self,
        client: &RegistryClient,
        item: &Item,
        spec: &PolicySpec,
        placed: &mut HashMap<String, String>,
        log: &mut Log,
    ) -> Result<(), String> {
        let e = |e: DbError| e.to_string();
        let repo = db::repositories::by_name(self.db.reader(), &item.repository)
            .await
            .map_err(e)?
            .ok_or_else(|| format!("{} is gone", item.repository))?;
        let top = db::manifests::by_tag(self.db.reader(), repo.id, &item.reference)
            .await
            .map_err(e)?
            .ok_or_else(|| format!("{}:{} is gone", item.repository, item.reference))?;
        match client.head_manifest(&item.destination, &item.reference).await.map_err(|e| e.to_string())? {
            Some(h) if h.digest.as_deref() == Some(top.digest.as_str()) => {
                log.line(format!(
                    "{}:{} is already at the destination ({})",
                    item.destination, item.reference, top.digest
                ));
                return Ok(());
            }
            Some(_) if !spec.override_existing => {
                log.line(format!(
                    "{}:{} exists at the destination and override is off: skipped",
                    item.destination, item.reference
                ));
                return Ok(());
            }
            _ => {}
        }
        if let Some((project, _)) = item.destination.split_once('/') {
            client.ensure_project(project).await.map_err(|e| e.to_string())?;
        }
        let parsed = manifest::parse(&top.content, Some(&top.media_type)).map_err(|e| e.to_string())?;
        for child in parsed.children() {
            let m = db::manifests::by_digest(self.db.reader(), repo.id, child.digest.as_str())
                .await
                .map_err(e)?
                .ok_or_else(|| format!("child {} of the index is not here", child.digest))?;
            self.push_manifest_with_blobs(
                client,
                &item.destination,
                &m,
                child.digest.as_str(),
                spec,
                placed,
                log,
            )
            .await?;
        }
        self.push_manifest_with_blobs(client, &item.destination, &top, &item.reference, spec, placed, log)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn push_manifest_with_blobs(
        &self,
        client: &RegistryClient,
        dest: &str,
        m: &db::manifests::ManifestRow,
        reference: &str,
        spec: &PolicySpec,
        placed: &mut HashMap<String, String>,
        log: &mut Log,
    ) -> Result<(), String> {
        let parsed = manifest::parse(&m.content, Some(&m.media_type)).map_err(|e| e.to_string())?;
        for blob in parsed.required_blobs() {
            let d = &blob.digest;
            if client.has_blob(dest, d).await.map_err(|e| e.to_string())? {
                log.line(format!("blob {d}: already there"));
                continue;
            }
            let from = placed.get(d.as_str()).cloned();
            let store = self.store.clone();
            let key = StorageKey::Blob(d.clone());
            let read = store.read(&key, None).await.map_err(|e| format!("blob {d}: {e}"))?;
            let speed = spec.speed_kb;
            let body = move || throttled(read.stream.map_err(std::io::Error::other), speed);
            let sent = client
                .push_blob(dest, d, blob.size as u64, from.as_deref(), body)
                .await
                .map_err(|e| e.to_string())?;
            if sent {
                log.bytes += blob.size as u64;
                log.line(format!("blob {d}: sent {} bytes", blob.size));
            } else {
                log.line(format!("blob {d}: mounted from {}", from.unwrap_or_default()));
            }
            placed.insert(d.to_string(), dest.to_owned());
        }
        client
            .put_manifest(dest, reference, &m.media_type, bytes::Bytes::from(m.content.clone()))
            .await
            .map_err(|e| e.to_string())?;
        log.line(format!("manifest {} put as {dest}:{reference}", m.digest));
        Ok(())
    }

    /// Deletes the artifact `item` names at the destination.
    async fn delete_remote(&self, client: &RegistryClient, item: &Item, log: &mut Log) -> Result<(), String> {
        match client.delete_manifest(&item.destination, &item.reference).await.map_err(|e| e.to_string())? {
            true => log.line(format!("deleted {}@{}", item.destination, item.reference)),
            false => log.line(format!("{}@{} was not at the destination", item.destination, item.reference)),
        }
        Ok(())
    }

    /// Copies remote `item` here: into the project its destination names (created when
    /// missing), blobs verified as they are stored, children, then the tag.
    async fn pull_item(
        &self,
        client: &RegistryClient,
        item: &Item,
        spec: &PolicySpec,
        log: &mut Log,
    ) -> Result<(), String> {
        let e = |e: DbError| e.to_string();
        let (project, _) = item.destination.split_once('/').ok_or("no project in the destination")?;
        db::projects::insert_if_missing(self.db.writer(), project, false, None).await.map_err(e)?;
        let access = db::projects::access(self.db.reader(), project, "", 0)
            .await
            .map_err(e)?
            .ok_or_else(|| format!("project {project} is missing"))?;
        if access.registry_id.is_some() {
            return Err(format!("project {project} is a proxy cache: replicate into another project"));
        }
        let repo_id = db::repositories::ensure(self.db.writer(), access.project_id, &item.destination)
            .await
            .map_err(e)?;
        let repo =
            RepoCtx { repository_id: repo_id, project_id: access.project_id, proxy: None, group: false };
        let head =
            client.head_manifest(&item.repository, &item.reference).await.map_err(|e| e.to_string())?;
        let local = db::manifests::by_tag(self.db.reader(), repo_id, &item.reference).await.map_err(e)?;
        if let (Some(h), Some(l)) = (&head, &local) {
            if h.digest.as_deref() == Some(l.digest.as_str()) {
                log.line(format!("{}:{} is already here ({})", item.destination, item.reference, l.digest));
                return Ok(());
            }
            if !spec.override_existing {
                log.line(format!(
                    "{}:{} exists here and override is off: skipped",
                    item.destination, item.reference
                ));
                return Ok(());
            }
        }
        let top = client
            .get_manifest(&item.repository, &item.reference)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{}:{} is gone from the source", item.repository, item.reference))?;
        let parsed = manifest::parse(&top.content, Some(&top.media_type)).map_err(|e| e.to_string())?;
        for child in parsed.children() {
            let m = client
                .get_manifest(&item.repository, child.digest.as_str())
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("child {} is missing at the source", child.digest))?;
            self.store_with_blobs(
                client,
                &item.repository,
                repo,
                &m,
                Reference::Digest(child.digest.clone()),
                spec,
                log,
            )
            .await?;
        }
        let tag: Tag =
            item.reference.parse().map_err(|e: crate::oci::reference::ParseError| e.to_string())?;
        self.store_with_blobs(client, &item.repository, repo, &top, Reference::Tag(tag), spec, log).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_with_blobs(
        &self,
        client: &RegistryClient,
        source: &str,
        repo: RepoCtx,
        m: &crate::endpoints::client::FetchedManifest,
        reference: Reference,
        spec: &PolicySpec,
        log: &mut Log,
    ) -> Result<(), String> {
        let parsed = manifest::parse(&m.content, Some(&m.media_type)).map_err(|e| e.to_string())?;
        for blob in parsed.required_blobs() {
            let d: &Digest = &blob.digest;
            if self.registry.adopt_blob(repo, d).await.map_err(|e| e.to_string())? {
                log.line(format!("blob {d}: already here"));
                continue;
            }
            let fetched = client
                .get_blob(source, d)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("blob {d} is missing at the source"))?;
            let body = throttled(
                fetched.body.map_err(|e: ClientError| std::io::Error::other(e.to_string())),
                spec.speed_kb,
            );
            self.registry
                .upload_monolithic(repo, d, fetched.size, body)
                .await
                .map_err(|e| format!("blob {d}: {e}"))?;
            log.bytes += blob.size as u64;
            log.line(format!("blob {d}: received {} bytes", blob.size));
        }
        self.registry
            .put_manifest(repo, &reference, &[], Some(&m.media_type), &m.content, Some("replication"))
            .await
            .map_err(|e| e.to_string())?;
        log.line(format!("manifest stored as {}", reference));
        Ok(())
    }

    /// Starts the event-based executions a push or delete calls for.
    async fn on_event(&self, event: RegistryEvent) -> Result<(), ReplicationError> {
        let policies = db::replication::event_policies(self.db.reader()).await?;
        if policies.is_empty() {
            return Ok(());
        }
        let scope = match event {
            RegistryEvent::Pushed { repository_id, digest, tags } => {
                if tags.is_empty() {
                    return Ok(());
                }
                let Some(name) = db::repositories::name_of(self.db.reader(), repository_id).await? else {
                    return Ok(());
                };
                Scope::Pushed(name, digest, tags)
            }
            RegistryEvent::Deleted { repository, digest } => Scope::Deleted(repository, digest),
        };
        for row in policies {
            let policy: Policy = row.try_into()?;
            if matches!(scope, Scope::Deleted(..)) && !policy.spec.replicate_deletion {
                continue;
            }
            let Ok(filters) = Filters::compile(&policy.spec.filters) else { continue };
            let selected = match &scope {
                Scope::Pushed(repo, _, tags) => {
                    filters.repository(repo) && tags.iter().any(|t| filters.tag(t))
                }
                Scope::Deleted(repo, _) => filters.repository(repo),
                Scope::All => true,
            };
            if !selected {
                continue;
            }
            // A policy busy with another execution gets this one when it is done.
            let me = self.clone();
            let scope = scope.clone();
            tokio::spawn(async move {
                for _ in 0..600 {
                    match me.launch(policy.clone(), ReplicationTrigger::EventBased, scope.clone()).await {
                        Err(ReplicationError::Busy(_)) => {
                            tokio::time::sleep(Duration::from_millis(500)).await
                        }
                        Err(e) => {
                            tracing::warn!(policy = policy.id, error = %e, "event-based replication failed to start");
                            return;
                        }
                        Ok(_) => return,
                    }
                }
            });
        }
        Ok(())
    }

    /// Listens for pushes and deletes, and ends executions whose process died, until the task
    /// is dropped.
    pub fn spawn_watch(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let mut events = self.registry.subscribe();
        tokio::spawn(async move {
            let mut sweep = tokio::time::interval(SWEEP_EVERY);
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(event) => {
                            if let Err(e) = me.on_event(event).await {
                                tracing::warn!(error = %e, "event-based replication failed");
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "event-based replication missed pushes: run the policies by hand");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    },
                    _ = sweep.tick() => {
                        match db::replication::abandon_dead(me.db.writer()).await {
                            Ok(0) => {}
                            Ok(n) => tracing::warn!(executions = n, "replication executions whose process died were marked failed"),
                            Err(e) => tracing::warn!(error = %e, "checking for dead replication executions failed"),
                        }
                    }
                }
            }
        })
    }
}

fn fields_of<'a>(spec: &'a PolicySpec, filters: &'a str) -> PolicyFields<'a> {
    PolicyFields {
        name: spec.name.trim(),
        description: &spec.description,
        src_registry_id: spec.src_registry_id,
        dest_registry_id: spec.dest_registry_id,
        dest_namespace: &spec.dest_namespace,
        dest_namespace_replace_count: spec.dest_namespace_replace_count,
        trigger: spec.trigger,
        cron: &spec.cron,
        filters,
        replicate_deletion: spec.replicate_deletion,
        override_existing: spec.override_existing,
        enabled: spec.enabled,
        speed_kb: spec.speed_kb,
    }
}

/// A task's log, and the bytes it moved.
#[derive(Default)]
struct Log {
    text: String,
    bytes: u64,
}

impl Log {
    fn line(&mut self, line: String) {
        let now = crate::time::rfc3339_ms(db::now_ms());
        self.text.push_str(&format!("{now} {line}\n"));
    }
}

/// `stream` at most `speed_kb` KiB/s (unlimited when not positive).
pub fn throttled<S>(
    stream: S,
    speed_kb: i64,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static
where
    S: futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
{
    let start = tokio::time::Instant::now();
    stream.scan(0u64, move |sent, chunk| {
        let wait = match &chunk {
            Ok(c) if speed_kb > 0 => {
                *sent += c.len() as u64;
                let due = Duration::from_secs_f64(*sent as f64 / (speed_kb as f64 * 1024.0));
                due.checked_sub(start.elapsed())
            }
            _ => None,
        };
        async move {
            if let Some(w) = wait {
                tokio::time::sleep(w).await;
            }
            Some(chunk)
        }
    })
}

#[async_trait::async_trait]
impl crate::jobs::scheduler::Scheduled for ReplicationService {
    fn owns(&self, name: &str) -> bool {
        name.starts_with(PREFIX)
    }

    async fn fire(&self, schedule: &ScheduleRow) {
        let Some(id) = schedule.name.strip_prefix(PREFIX).and_then(|s| s.parse::<i64>().ok()) else { return };
        let policy = match self.policy(id).await {
            Ok(p) if p.spec.enabled => p,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(policy = id, error = %e, "a scheduled replication policy cannot be read");
                return;
            }
        };
        match self.launch(policy, ReplicationTrigger::Scheduled, Scope::All).await {
            Ok(eid) => tracing::info!(execution = eid, policy = id, "scheduled replication started"),
            Err(e) => tracing::warn!(policy = id, error = %e, "scheduled replication did not start"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn namespaces_replace_as_harbor_does() {
        assert_eq!(destination("library/app", "", 1).as_deref(), Ok("library/app"));
        assert_eq!(destination("a/b/c/app", "ns", -1).as_deref(), Ok("ns/app"));
        assert_eq!(destination("a/b/app", "ns", 0).as_deref(), Ok("ns/a/b/app"));
        assert_eq!(destination("a/b/app", "ns", 1).as_deref(), Ok("ns/b/app"));
        assert_eq!(destination("a/b/app", "ns", 2).as_deref(), Ok("ns/app"));
        assert!(destination("a/app", "ns", 2).is_err());
    }
}
