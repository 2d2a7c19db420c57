//! Tag retention as a service: policies (one per project, Harbor's document), executions (dry
//! or real, manual or scheduled, one at a time per project across replicas), their
//! per-repository tasks and logs.
//!
//! A run takes one snapshot of the project's artifacts, evaluates the policy on it
//! ([`evaluate`]), and deletes what no rule retains by digest, parents before children. A
//! deletion is conditional on the artifact being unchanged since the snapshot (no re-push, no
//! new tag, no new index naming it), so a push racing the run always wins; the log reports such
//! artifacts as kept.

pub mod evaluate;
pub mod pattern;
pub mod policy;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use evaluate::{Outcome, Reason, Repository};
use policy::{PolicyDoc, PolicyError};

use frontend::types::{NewRetentionRule, RunStatus, Schedule, Trigger};

use crate::auth::{Action, Identity};
use crate::db::retention::{ExecutionRow, PolicyRow, TaskRow};
use crate::db::schedules::ScheduleRow;
use crate::db::{self, Db, DbError};
use crate::immutable::Protection;
use crate::jobs::cron::Cron;
use crate::jobs::lease::LeaseGuard;
use crate::jobs::run::{self, Run, RunLog, RunTable};
use crate::projects::{ProjectError, ProjectRef, Projects};
use crate::time::rfc3339_ms;
use crate::webhooks::events;
use frontend::types::WebhookEvent;

/// Schedules of retention policies are named `retention:<policy id>`.
pub const SCHEDULE_PREFIX: &str = "retention:";

/// Deletions per transaction.
const DELETE_BATCH: usize = 100;

/// A refused request.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The project failed to resolve or the caller may not manage its retention.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The policy document is invalid (400).
    #[error("{0}")]
    Invalid(String),
    /// Two rules are the same (409).
    #[error("{0}")]
    Conflict(String),
    /// No such policy, execution or task.
    #[error("{0} not found")]
    NotFound(String),
    /// An execution of the project's policy is in progress.
    #[error("a retention run of this project is already in progress")]
    Busy,
    /// The execution has ended.
    #[error("retention execution {0} is not running")]
    NotRunning(i64),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<PolicyError> for RetentionError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Invalid(m) => Self::Invalid(m),
            PolicyError::Conflict(..) => Self::Conflict(e.to_string()),
        }
    }
}

/// A policy with its id, project and plain-words rules.
#[derive(Debug, Clone)]
pub struct StoredPolicy {
    /// Harbor's document, with `id` and `scope` filled in.
    pub doc: PolicyDoc,
    /// The project.
    pub project_id: i64,
    /// Each rule in plain words (disabled ones included, marked).
    pub described: Vec<String>,
    /// Next scheduled run, unix ms.
    pub next_run_at: Option<i64>,
    /// The enabled rules, compiled.
    pub compiled: policy::Policy,
}

/// Retention policies and their executions.
#[derive(Clone)]
pub struct RetentionService {
    db: Db,
    projects: Projects,
    holder: Arc<str>,
    lease_ttl: Duration,
    /// The registry host `TAG_RETENTION` events name.
    host: Arc<str>,
    /// Compiled immutability rules, which deletes re-check.
    rules: crate::immutable::RulesCache,
}

/// Harbor answers every retention request of an anonymous caller with 401.
fn signed_in(who: &Identity) -> Result<(), RetentionError> {
    match who {
        Identity::Anonymous => Err(ProjectError::Unauthorized.into()),
        _ => Ok(()),
    }
}

fn lease_name(project_id: i64) -> String {
    format!("retention:{project_id}")
}

fn schedule_name(policy_id: i64) -> String {
    format!("{SCHEDULE_PREFIX}{policy_id}")
}

/// Gives a new proxy-cache project Harbor's default policy, in the transaction that creates
/// it: artifacts not pulled for 7 days are removed, checked daily. The admin may change it like
/// any policy.
pub(crate) async fn install_proxy_default(
    tx: &mut sqlx::AnyConnection,
    project_id: i64,
) -> Result<i64, DbError> {
    let rule = policy::RuleDoc::from_form(&NewRetentionRule {
        template: frontend::types::RetentionTemplate::NDaysSinceLastPull,
        count: 7,
        repo_excludes: false,
        repo_pattern: "**".into(),
        tag_excludes: false,
        tag_pattern: "**".into(),
        untagged: true,
        labels: String::new(),
    });
    let id = db::retention::insert_policy(&mut *tx, project_id, "{}").await?;
    let mut doc = PolicyDoc { rules: vec![rule], ..Default::default() };
    doc.trigger.settings.cron = Schedule::Daily.cron().to_owned();
    let doc = RetentionService::normalized(&doc, id, project_id);
    // A document of our own making always serializes.
    let json = serde_json::to_string(&doc).unwrap_or_default();
    db::retention::update_policy(&mut *tx, id, &json).await?;
    let cron = Schedule::Daily.cron();
    let next = cron.parse::<Cron>().ok().and_then(|c| c.next_after(db::now_ms()));
    db::schedules::put(&mut *tx, &schedule_name(id), &Schedule::Daily, "{}", next).await?;
    Ok(id)
}

impl RetentionService {
    /// The service over `db`; `holder` names this process among replicas, whose runs hold a
    /// per-project lease of `lease_ttl`.
    pub fn new(db: Db, projects: Projects, holder: &str, lease_ttl: Duration) -> Self {
        Self {
            db,
            projects,
            holder: holder.into(),
            lease_ttl,
            host: Arc::from(""),
            rules: Default::default(),
        }
    }

    /// Names `host` in the `TAG_RETENTION` events it reports.
    pub fn with_host(mut self, host: &str) -> Self {
        self.host = Arc::from(host);
        self
    }

    async fn policy_row(&self, id: i64) -> Result<PolicyRow, RetentionError> {
        db::retention::get_policy(self.db.reader(), id)
            .await?
            .ok_or_else(|| RetentionError::NotFound(format!("retention policy {id}")))
    }

    /// Policy `id` if `who` may manage retention in its project.
    async fn authorized(&self, who: &Identity, id: i64) -> Result<PolicyRow, RetentionError> {
        signed_in(who)?;
        let row = self.policy_row(id).await?;
        match self.projects.get(who, &ProjectRef::Id(row.project_id), Action::ManageRetention).await {
            // A policy of a project the caller cannot see does not exist for them.
            Err(ProjectError::NotFound(_)) => Err(RetentionError::NotFound(format!("retention policy {id}"))),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(row),
        }
    }

    fn normalized(doc: &PolicyDoc, id: i64, project_id: i64) -> PolicyDoc {
        let mut d = doc.clone();
        d.id = Some(id);
        d.algorithm = "or".into();
        d.scope.level = "project".into();
        d.scope.reference = project_id;
        d.trigger.kind = "Schedule".into();
        d.trigger.settings.cron = d.trigger.settings.cron.trim().to_owned();
        for (i, r) in d.rules.iter_mut().enumerate() {
            r.id = i as i64 + 1;
            for s in r.tag_selectors.iter_mut().chain(r.scope_selectors.values_mut().flatten()) {
                if s.kind.is_empty() {
                    s.kind = "doublestar".into();
                }
            }
        }
        d
    }

    async fn save_schedule(&self, policy_id: i64, doc: &PolicyDoc) -> Result<(), RetentionError> {
        let name = schedule_name(policy_id);
        match doc.cron() {
            None => db::schedules::delete(self.db.writer(), &name).await?,
            Some(expr) => {
                let cron: Cron = expr.parse().map_err(RetentionError::Invalid)?;
                let next = cron.next_after(db::now_ms());
                db::schedules::put(self.db.writer(), &name, &Schedule::Custom(expr.to_owned()), "{}", next)
                    .await?;
            }
        }
        Ok(())
    }

    /// Creates the policy of the project `doc.scope.ref`; returns its id.
    pub async fn create(&self, who: &Identity, doc: &PolicyDoc) -> Result<i64, RetentionError> {
        signed_in(who)?;
        doc.compile()?;
        if doc.scope.level != "project" {
            return Err(RetentionError::Invalid(format!(
                "scope level {:?} is not supported (use project)",
                doc.scope.level
            )));
        }
        let pid = doc.scope.reference;
        let project = match self.projects.get(who, &ProjectRef::Id(pid), Action::ManageRetention).await {
            Err(ProjectError::NotFound(_)) => {
                return Err(RetentionError::Invalid(format!("invalid project id {pid}")));
            }
            other => other?,
        };
        if let Some(old) = db::retention::policy_of_project(self.db.reader(), project.id).await? {
            return Err(RetentionError::Invalid(format!(
                "project {} already has retention policy {}",
                project.id, old.id
            )));
        }
        let mut tx = self.db.begin().await?;
        // The id is only known after the insert; the stored document gets it right after.
        let id = match db::retention::insert_policy(&mut *tx, project.id, "{}").await {
            Err(e) if e.is_unique_violation() => {
                return Err(RetentionError::Invalid(format!(
                    "project {} already has a retention policy",
                    project.id
                )));
            }
            other => other?,
        };
        let stored = Self::normalized(doc, id, project.id);
        let json = serde_json::to_string(&stored).map_err(|e| RetentionError::Invalid(e.to_string()))?;
        db::retention::update_policy(&mut *tx, id, &json).await?;
        tx.commit().await.map_err(DbError::from)?;
        self.save_schedule(id, &stored).await?;
        Ok(id)
    }

    fn stored(&self, row: &PolicyRow, next_run_at: Option<i64>) -> Result<StoredPolicy, RetentionError> {
        let doc: PolicyDoc = serde_json::from_str(&row.policy)
            .map_err(|e| RetentionError::Invalid(format!("stored policy {} is unreadable: {e}", row.id)))?;
        let doc = Self::normalized(&doc, row.id, row.project_id);
        let compiled = doc.compile()?;
        let mut enabled = compiled.rules.iter();
        let described = doc
            .rules
            .iter()
            .map(|r| {
                if r.disabled {
                    "(disabled)".to_owned()
                } else {
                    enabled.next().map(policy::Rule::describe).unwrap_or_default()
                }
            })
            .collect();
        Ok(StoredPolicy { doc, project_id: row.project_id, described, next_run_at, compiled })
    }

    async fn next_run(&self, policy_id: i64) -> Result<Option<i64>, RetentionError> {
        Ok(db::schedules::get(self.db.reader(), &schedule_name(policy_id)).await?.and_then(|s| s.next_run_at))
    }

    /// Policy `id`.
    pub async fn get(&self, who: &Identity, id: i64) -> Result<StoredPolicy, RetentionError> {
        let row = self.authorized(who, id).await?;
        self.stored(&row, self.next_run(id).await?)
    }

    /// The policy of project `p`, if it has one (the portal's Retention tab).
    pub async fn of_project(
        &self,
        who: &Identity,
        p: &ProjectRef,
    ) -> Result<Option<StoredPolicy>, RetentionError> {
        let project = self.projects.get(who, p, Action::ManageRetention).await?;
        match db::retention::policy_of_project(self.db.reader(), project.id).await? {
            None => Ok(None),
            Some(row) => Ok(Some(self.stored(&row, self.next_run(row.id).await?)?)),
        }
    }

    /// The project's policy and one page of its executions with their tasks (two queries for
    /// the history, whatever its length).
    pub async fn project_history(
        &self,
        who: &Identity,
        p: &ProjectRef,
        offset: i64,
        limit: i64,
    ) -> Result<(Option<StoredPolicy>, Vec<(ExecutionRow, Vec<TaskRow>)>, i64), RetentionError> {
        let Some(policy) = self.of_project(who, p).await? else {
            return Ok((None, Vec::new(), 0));
        };
        let id = policy.doc.id.unwrap_or_default();
        let execs = db::retention::list_executions(self.db.reader(), id, offset, limit).await?;
        let total = db::retention::count_executions(self.db.reader(), id).await?;
        let ids: Vec<i64> = execs.iter().map(|e| e.id).collect();
        let mut tasks = db::retention::tasks_of(self.db.reader(), &ids).await?;
        let history = execs
            .into_iter()
            .map(|e| {
                let (mine, rest): (Vec<TaskRow>, Vec<TaskRow>) =
                    tasks.drain(..).partition(|t| t.execution_id == e.id);
                tasks = rest;
                (e, mine)
            })
            .collect();
        Ok((Some(policy), history, total))
    }

    /// Changes the project's policy with `change`, creating it (with a manual trigger) when the
    /// project has none.
    pub async fn edit_project_policy(
        &self,
        who: &Identity,
        p: &ProjectRef,
        change: impl FnOnce(&mut PolicyDoc) -> Result<(), RetentionError>,
    ) -> Result<(), RetentionError> {
        let project = self.projects.get(who, p, Action::ManageRetention).await?;
        match db::retention::policy_of_project(self.db.reader(), project.id).await? {
            Some(row) => {
                let mut doc = self.stored(&row, None)?.doc;
                change(&mut doc)?;
                self.update(who, row.id, &doc).await
            }
            None => {
                let mut doc = PolicyDoc::default();
                doc.scope.level = "project".into();
                doc.scope.reference = project.id;
                change(&mut doc)?;
                self.create(who, &doc).await.map(drop)
            }
        }
    }

    /// Starts a run of the project's policy.
    /// Adds `rule` (creating the policy with the first one), or replaces rule `index` (from 0).
    pub async fn save_rule(
        &self,
        who: &Identity,
        p: &ProjectRef,
        index: Option<usize>,
        rule: &NewRetentionRule,
    ) -> Result<(), RetentionError> {
        let doc = policy::RuleDoc::from_form(rule);
        self.edit_project_policy(who, p, |d| match index {
            None => {
                d.rules.push(doc);
                Ok(())
            }
            Some(i) => {
                let slot =
                    d.rules.get_mut(i).ok_or_else(|| RetentionError::NotFound(format!("rule {}", i + 1)))?;
                *slot = doc;
                Ok(())
            }
        })
        .await
    }

    /// Removes rule `index` (from 0).
    pub async fn delete_rule(
        &self,
        who: &Identity,
        p: &ProjectRef,
        index: usize,
    ) -> Result<(), RetentionError> {
        self.edit_project_policy(who, p, |d| {
            if index >= d.rules.len() {
                return Err(RetentionError::NotFound(format!("rule {}", index + 1)));
            }
            d.rules.remove(index);
            Ok(())
        })
        .await
    }

    /// Sets when the project's policy runs; a policy needs a rule first.
    pub async fn set_schedule(
        &self,
        who: &Identity,
        p: &ProjectRef,
        schedule: &Schedule,
    ) -> Result<(), RetentionError> {
        let cron = schedule.cron().to_owned();
        self.edit_project_policy(who, p, |d| {
            if d.rules.is_empty() {
                return Err(RetentionError::Invalid("Add a rule before setting a schedule.".into()));
            }
            d.trigger.settings.cron = cron;
            Ok(())
        })
        .await
    }

    pub async fn run_project(
        &self,
        who: &Identity,
        p: &ProjectRef,
        dry_run: bool,
    ) -> Result<i64, RetentionError> {
        let project = self.projects.get(who, p, Action::ManageRetention).await?;
        let row = db::retention::policy_of_project(self.db.reader(), project.id).await?.ok_or_else(|| {
            RetentionError::NotFound(format!("retention policy of project {}", project.name))
        })?;
        self.start(row, Trigger::Manual, dry_run).await
    }

    /// Replaces policy `id` (its project stays).
    pub async fn update(&self, who: &Identity, id: i64, doc: &PolicyDoc) -> Result<(), RetentionError> {
        doc.compile()?;
        let row = self.authorized(who, id).await?;
        if doc.scope.reference != 0 && doc.scope.reference != row.project_id {
            return Err(RetentionError::Invalid(format!(
                "retention policy {id} belongs to project {}, not {}",
                row.project_id, doc.scope.reference
            )));
        }
        let stored = Self::normalized(doc, id, row.project_id);
        let json = serde_json::to_string(&stored).map_err(|e| RetentionError::Invalid(e.to_string()))?;
        db::retention::update_policy(self.db.writer(), id, &json).await?;
        self.save_schedule(id, &stored).await?;
        Ok(())
    }

    /// Deletes policy `id`, its schedule and its history.
    pub async fn delete(&self, who: &Identity, id: i64) -> Result<(), RetentionError> {
        self.authorized(who, id).await?;
        db::schedules::delete(self.db.writer(), &schedule_name(id)).await?;
        db::retention::delete_policy(self.db.writer(), id).await?;
        Ok(())
    }

    /// Starts an execution of policy `id` for `who`; returns its id at once.
    pub async fn run(&self, who: &Identity, id: i64, dry_run: bool) -> Result<i64, RetentionError> {
        let row = self.authorized(who, id).await?;
        self.start(row, Trigger::Manual, dry_run).await
    }

    /// Runs policy `id` to the end in the foreground (tests and benchmarks); returns the
    /// execution.
    pub async fn run_now(&self, id: i64, dry_run: bool) -> Result<ExecutionRow, RetentionError> {
        let row = self.policy_row(id).await?;
        let (run, log) = self.begin(&row, Trigger::Manual, dry_run).await?;
        let eid = run.id;
        self.execute(run, log, row).await;
        db::retention::get_execution(self.db.reader(), id, eid)
            .await?
            .ok_or_else(|| RetentionError::NotFound(format!("retention execution {eid}")))
    }

    async fn begin(
        &self,
        row: &PolicyRow,
        trigger: Trigger,
        dry_run: bool,
    ) -> Result<(Run, ExecutionLog), RetentionError> {
        let log = ExecutionLog { policy_id: row.id, trigger, dry_run };
        let lease = lease_name(row.project_id);
        let run = run::begin(&self.db, &log, &lease, &self.holder, self.lease_ttl)
            .await?
            .ok_or(RetentionError::Busy)?;
        Ok((run, log))
    }

    async fn start(&self, row: PolicyRow, trigger: Trigger, dry_run: bool) -> Result<i64, RetentionError> {
        let (run, log) = self.begin(&row, trigger, dry_run).await?;
        let eid = run.id;
        let this = self.clone();
        tokio::spawn(async move { this.execute(run, log, row).await });
        Ok(eid)
    }

    async fn execute(&self, run: Run, log: ExecutionLog, row: PolicyRow) {
        let (eid, dry_run) = (run.id, log.dry_run);
        let mut summary = events::RetentionResult::default();
        let outcome = self.work(eid, &row, dry_run, &run.lease, &mut summary).await;
        let status = run.end(&self.db, &log, outcome).await;
        tracing::info!(execution = eid, policy = row.id, %status, dry_run, "retention run ended");
        if !dry_run {
            summary.result = if status == RunStatus::Success { "SUCCESS" } else { "FAILURE" };
            if let Err(e) = self.report(&row, log.trigger, summary).await {
                tracing::warn!(error = %e, execution = eid, "recording a TAG_RETENTION event failed");
            }
        }
    }

    /// Reports a finished run to the project's webhooks (`TAG_RETENTION`).
    async fn report(
        &self,
        row: &PolicyRow,
        trigger: Trigger,
        mut summary: events::RetentionResult,
    ) -> Result<(), DbError> {
        let event = WebhookEvent::TagRetention.as_str();
        if !db::webhooks::subscribed(self.db.reader(), row.project_id, event).await? {
            return Ok(());
        }
        let project = db::projects::name_of(self.db.reader(), row.project_id).await?.unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(&row.policy).unwrap_or_default();
        summary.rules = doc["rules"].clone();
        let payload = events::retention(trigger.as_str(), &self.host, &project, row.id, summary);
        let mut tx = self.db.begin().await?;
        db::webhooks::record(&mut tx, self.db.backend(), row.project_id, event, &payload).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn work(
        &self,
        eid: i64,
        row: &PolicyRow,
        dry_run: bool,
        lease: &LeaseGuard,
        summary: &mut events::RetentionResult,
    ) -> Result<RunStatus, RetentionError> {
        let stored = self.stored(row, None)?;
        let policy = &stored.compiled;
        let since = db::now_ms();
        let repos = db::retention::load_project(self.db.reader(), self.db.backend(), row.project_id).await?;
        let protection = Protection::load(&self.db, row.project_id).await?;
        for (repo_id, full_name, mut repo) in repos {
            repo.name = full_name.split_once('/').map_or(full_name.as_str(), |(_, r)| r).to_owned();
            let path = repo.name.clone();
            let Some(outcome) = evaluate::evaluate_with(policy, &repo, since, &|tag, labels| {
                protection.protects(&path, tag, labels)
            }) else {
                continue;
            };
            // Checked before each repository with work (a write each), not for the ones no rule
            // names.
            if run::heartbeat(&self.db, RunTable::Retention, eid).await? {
                return Ok(RunStatus::Stopped);
            }
            if lease.lost() {
                return Ok(RunStatus::Error);
            }
            let tid = db::retention::insert_task(
                self.db.writer(),
                eid,
                &full_name,
                outcome.total as i64,
                outcome.retained as i64,
            )
            .await?;
            let (kept, status) = if dry_run {
                (HashSet::new(), RunStatus::Success)
            } else {
                match self.delete_unchanged(repo_id, row.project_id, &repo.name, &outcome.delete, since).await
                {
                    Ok(kept) => (kept, RunStatus::Success),
                    Err(e) => {
                        tracing::error!(execution = eid, repository = %full_name, error = %e, "retention deletes failed");
                        (outcome.delete.iter().copied().collect(), RunStatus::Error)
                    }
                }
            };
            let retained = outcome.retained
                + outcome
                    .verdicts
                    .iter()
                    .filter(|v| !v.retained && v.reason != Reason::Owned)
                    .filter(|v| kept.contains(&repo.manifests[v.index].id))
                    .count();
            summary.total += outcome.total;
            summary.retained += retained;
            if !dry_run {
                for &id in outcome.delete.iter().filter(|id| !kept.contains(id)) {
                    if let Some(m) = repo.manifests.iter().find(|m| m.id == id) {
                        match m.tags.first() {
                            Some(t) => summary.deleted.push(format!("{full_name}:{}", t.name)),
                            None => summary.deleted.push(format!("{full_name}@{}", m.digest)),
                        }
                    }
                }
            }
            let log = task_log(&full_name, &stored, &repo, &outcome, &kept, retained, dry_run, since);
            db::retention::finish_task(self.db.writer(), tid, status, retained as i64, &log).await?;
        }
        Ok(RunStatus::Success)
    }

    /// Deletes `ids` of repository `repo_id` unchanged since `since`, in batches; returns those
    /// kept because they changed.
    /// An artifact that gained an immutable tag, or whose tag a new rule protects, since the
    /// evaluation is kept too: the rules are read again in each batch's transaction.
    async fn delete_unchanged(
        &self,
        repo_id: i64,
        project_id: i64,
        path: &str,
        ids: &[i64],
        since: i64,
    ) -> Result<HashSet<i64>, DbError> {
        let mut kept = HashSet::new();
        for batch in ids.chunks(DELETE_BATCH) {
            let mut tx = self.db.begin().await?;
            let rules = self.rules.locked(&mut tx, self.db.backend(), project_id).await?.unwrap_or_default();
            let mut any = false;
            for &id in batch {
                if !rules.is_empty() {
                    let tags = db::tags::of_manifest(&mut *tx, id).await?;
                    let labels = if rules.uses_labels() && !tags.is_empty() {
                        db::labels::names_of(&mut *tx, id).await?
                    } else {
                        Vec::new()
                    };
                    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
                    if rules.first_protected(path, &tags, &labels).is_some() {
                        kept.insert(id);
                        continue;
                    }
                }
                if db::retention::delete_unchanged(&mut tx, self.db.backend(), repo_id, id, since).await? {
                    any = true;
                } else {
                    kept.insert(id);
                }
            }
            if any {
                db::repositories::touch(&mut *tx, repo_id).await?;
            }
            tx.commit().await?;
        }
        Ok(kept)
    }

    /// Executions of policy `id`, newest first, one page, and their total.
    pub async fn executions(
        &self,
        who: &Identity,
        id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ExecutionRow>, i64), RetentionError> {
        self.authorized(who, id).await?;
        let rows = db::retention::list_executions(self.db.reader(), id, offset, limit).await?;
        Ok((rows, db::retention::count_executions(self.db.reader(), id).await?))
    }

    async fn execution(&self, who: &Identity, id: i64, eid: i64) -> Result<ExecutionRow, RetentionError> {
        self.authorized(who, id).await?;
        db::retention::get_execution(self.db.reader(), id, eid)
            .await?
            .ok_or_else(|| RetentionError::NotFound(format!("retention execution {eid}")))
    }

    /// Tasks of execution `eid` of policy `id`, one page, and their total.
    pub async fn tasks(
        &self,
        who: &Identity,
        id: i64,
        eid: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<TaskRow>, i64), RetentionError> {
        self.execution(who, id, eid).await?;
        let rows = db::retention::list_tasks(self.db.reader(), eid, offset, limit).await?;
        Ok((rows, db::retention::count_tasks(self.db.reader(), eid).await?))
    }

    /// The log of task `tid` of execution `eid` of policy `id`.
    pub async fn task_log(
        &self,
        who: &Identity,
        id: i64,
        eid: i64,
        tid: i64,
    ) -> Result<String, RetentionError> {
        self.execution(who, id, eid).await?;
        db::retention::task_log(self.db.reader(), eid, tid)
            .await?
            .ok_or_else(|| RetentionError::NotFound(format!("retention task {tid}")))
    }

    /// Asks execution `eid` of policy `id` to stop before its next repository.
    pub async fn stop(&self, who: &Identity, id: i64, eid: i64) -> Result<(), RetentionError> {
        self.execution(who, id, eid).await?;
        if run::request_stop(&self.db, RunTable::Retention, eid).await? {
            Ok(())
        } else {
            Err(RetentionError::NotRunning(eid))
        }
    }
}

/// How retention records its executions (`retention_executions`): one policy's at a time.
struct ExecutionLog {
    policy_id: i64,
    trigger: Trigger,
    dry_run: bool,
}

#[async_trait::async_trait]
impl RunLog for ExecutionLog {
    async fn abandon(&self, db: &Db) -> Result<(), DbError> {
        db::retention::abandon_running(db.writer(), self.policy_id).await.map(drop)
    }

    async fn open(&self, db: &Db) -> Result<i64, DbError> {
        db::retention::insert_execution(db.writer(), self.policy_id, self.trigger, self.dry_run).await
    }

    async fn close(&self, db: &Db, id: i64, status: RunStatus) -> Result<(), DbError> {
        db::retention::finish_execution(db.writer(), id, status).await
    }
}

#[async_trait::async_trait]
impl crate::jobs::scheduler::Scheduled for RetentionService {
    fn owns(&self, name: &str) -> bool {
        name.starts_with(SCHEDULE_PREFIX)
    }

    /// Starts a run of the policy the schedule belongs to.
    async fn fire(&self, schedule: &ScheduleRow) {
        let Some(id) = schedule.name.strip_prefix(SCHEDULE_PREFIX).and_then(|s| s.parse::<i64>().ok()) else {
            return;
        };
        let row = match db::retention::get_policy(self.db.reader(), id).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                // The policy went with its project: drop its schedule.
                if let Err(e) = db::schedules::delete(self.db.writer(), &schedule.name).await {
                    tracing::warn!(error = %e, "could not remove the schedule of a deleted retention policy");
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read a scheduled retention policy");
                return;
            }
        };
        match self.start(row, Trigger::Schedule, false).await {
            Ok(eid) => tracing::info!(execution = eid, policy = id, "scheduled retention started"),
            Err(RetentionError::Busy) => {
                tracing::info!(policy = id, "scheduled retention skipped: a run is in progress")
            }
            Err(e) => tracing::error!(policy = id, error = %e, "scheduled retention could not start"),
        }
    }
}

/// Harbor-style task log: what the policy said, then one line per artifact.
#[allow(clippy::too_many_arguments)]
fn task_log(
    full_name: &str,
    stored: &StoredPolicy,
    repo: &Repository,
    outcome: &Outcome,
    kept: &HashSet<i64>,
    retained: usize,
    dry_run: bool,
    since: i64,
) -> String {
    use std::fmt::Write;
    let mut log = String::with_capacity(256 + outcome.verdicts.len() * 160);
    let _ = writeln!(
        log,
        "Retention of {full_name} at {}{}",
        rfc3339_ms(since),
        if dry_run { " (dry run: nothing was deleted)" } else { "" }
    );
    for (i, d) in stored.described.iter().enumerate() {
        let _ = writeln!(log, "Rule {}: {d}", i + 1);
    }
    let _ = writeln!(log, "{retained} of {} artifacts retained\n", outcome.total);
    let _ = writeln!(
        log,
        "{:<71}  {:<24}  {:<8}  {:<20}  {:<20}  {:<9}  Reason",
        "Digest", "Tags", "Kind", "Pushed", "Pulled", "Retention"
    );
    for v in &outcome.verdicts {
        let m = &repo.manifests[v.index];
        let tags = if m.tags.is_empty() {
            "<none>".to_owned()
        } else {
            m.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(",")
        };
        let changed = !v.retained && kept.contains(&m.id);
        let verdict = if v.retained || changed { "RETAIN" } else { "DEL" };
        let reason = match (v.reason, v.retained, changed) {
            (_, false, true) => "changed during the run (re-pushed or re-tagged)".to_owned(),
            (Reason::Rule(n), _, _) => format!("rule {n}"),
            (Reason::NoRule, _, _) => "no rule retains it".to_owned(),
            (Reason::Owned, true, _) => "part of / attached to a retained artifact".to_owned(),
            (Reason::Owned, false, _) => "part of / attached to a deleted artifact".to_owned(),
            (Reason::Immutable, _, _) => "immutable (a tag immutability rule protects it)".to_owned(),
        };
        let _ = writeln!(
            log,
            "{:<71}  {:<24}  {:<8}  {:<20}  {:<20}  {:<9}  {reason}",
            m.digest,
            tags,
            m.kind,
            rfc3339_ms(v.pushed_at),
            v.pulled_at.map_or_else(|| "-".to_owned(), rfc3339_ms),
            verdict,
        );
    }
    log
}
