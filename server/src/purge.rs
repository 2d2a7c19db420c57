//! Audit log retention, Harbor's `/system/purgeaudit`: a job that deletes audit entries older
//! than a number of hours (of some operations, or all), run now or on a schedule, on one replica
//! at a time (the job's lease), with a history and a log, so the audit table cannot grow without
//! bound. Entries go in batches, each its own short transaction, so pushes and pulls that write
//! the log meanwhile never wait long.

use std::sync::Arc;
use std::time::Duration;

use frontend::types::{RunStatus, Schedule, Trigger};
use serde::{Deserialize, Serialize};

use crate::db::purge_runs::PurgeRunRow;
use crate::db::schedules::ScheduleRow;
use crate::db::{self, Db, DbError};
use crate::jobs::cron::Cron;
use crate::jobs::run::{self, Run, RunLog, RunTable};

/// The lease and schedule name.
const JOB: &str = "purgeaudit";
/// Entries deleted per transaction.
const BATCH: i64 = 5_000;
/// An hour, in milliseconds.
const HOUR_MS: i64 = 60 * 60 * 1000;

/// What a purge does (Harbor's parameters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeParams {
    /// Keep entries younger than this many hours.
    #[serde(default = "week")]
    pub audit_retention_hour: i64,
    /// Operations to purge, comma-separated (`create,delete,pull`); empty: all.
    #[serde(default)]
    pub include_operations: String,
    /// Count only.
    #[serde(default)]
    pub dry_run: bool,
}

fn week() -> i64 {
    24 * 7
}

impl Default for PurgeParams {
    fn default() -> Self {
        Self { audit_retention_hour: week(), include_operations: String::new(), dry_run: false }
    }
}

impl PurgeParams {
    fn operations(&self) -> Vec<String> {
        self.include_operations
            .split(',')
            .map(|o| o.trim().to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect()
    }

    fn checked(self) -> Result<Self, PurgeError> {
        if !(1..=24 * 365 * 100).contains(&self.audit_retention_hour) {
            return Err(PurgeError::Invalid(format!(
                "audit_retention_hour {}: keep between 1 and {} hours of the log",
                self.audit_retention_hour,
                24 * 365 * 100
            )));
        }
        const KNOWN: [&str; 5] = ["create", "delete", "push", "pull", "login"];
        if let Some(bad) = self.operations().iter().find(|o| !KNOWN.contains(&o.as_str())) {
            return Err(PurgeError::Invalid(format!("operation {bad:?} is not one of {}", KNOWN.join(", "))));
        }
        Ok(self)
    }
}

/// Why a purge call failed.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// A purge is running (here or on another replica).
    #[error("an audit log purge is already running")]
    Busy,
    /// The parameters or schedule are wrong.
    #[error("{0}")]
    Invalid(String),
    /// No such run.
    #[error("audit log purge {0} not found")]
    NotFound(i64),
    /// The run has ended.
    #[error("audit log purge {0} is not running")]
    NotRunning(i64),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The purge job.
#[derive(Clone)]
pub struct PurgeService {
    db: Db,
    holder: Arc<str>,
    lease_ttl: Duration,
}

struct PurgeLog {
    trigger: Trigger,
    params: PurgeParams,
}

#[async_trait::async_trait]
impl RunLog for PurgeLog {
    async fn abandon(&self, db: &Db) -> Result<(), DbError> {
        db::purge_runs::abandon(db.writer()).await.map(drop)
    }

    async fn open(&self, db: &Db) -> Result<i64, DbError> {
        let params = serde_json::to_string(&self.params).unwrap_or_else(|_| "{}".into());
        db::purge_runs::insert(db.writer(), self.trigger, &params).await
    }

    async fn close(&self, db: &Db, id: i64, status: RunStatus) -> Result<(), DbError> {
        db::purge_runs::finish(db.writer(), id, status).await
    }
}

impl PurgeService {
    /// The job over `db`; runs hold a lease of `lease_ttl` as `holder`.
    pub fn new(db: Db, holder: &str, lease_ttl: Duration) -> Self {
        Self { db, holder: holder.into(), lease_ttl }
    }

    async fn begin(&self, trigger: Trigger, params: PurgeParams) -> Result<(Run, PurgeLog), PurgeError> {
        let log = PurgeLog { trigger, params: params.checked()? };
        let run =
            run::begin(&self.db, &log, JOB, &self.holder, self.lease_ttl).await?.ok_or(PurgeError::Busy)?;
        Ok((run, log))
    }

    async fn execute(&self, run: Run, log: PurgeLog) -> RunStatus {
        let id = run.id;
        let outcome = self.work(id, &log.params).await;
        let status = run.end(&self.db, &log, outcome).await;
        tracing::info!(run = id, %status, "audit log purge ended");
        status
    }

    async fn work(&self, id: i64, params: &PurgeParams) -> Result<RunStatus, DbError> {
        let before = db::now_ms() - params.audit_retention_hour * HOUR_MS;
        let operations = params.operations();
        let what = if operations.is_empty() { "all operations".to_owned() } else { operations.join(", ") };
        let line = |text: String| format!("{} {text}\n", crate::time::rfc3339_ms(db::now_ms()));
        let head = format!(
            "purging entries older than {} ({} hours) of {what}{}",
            crate::time::rfc3339_ms(before),
            params.audit_retention_hour,
            if params.dry_run { " (dry run: nothing is deleted)" } else { "" }
        );
        db::purge_runs::progress(self.db.writer(), id, 0, &line(head)).await?;
        if params.dry_run {
            let n = db::purge_runs::purgeable(self.db.reader(), before, &operations).await?;
            db::purge_runs::progress(self.db.writer(), id, n, &line(format!("{n} entries would be deleted")))
                .await?;
            return Ok(RunStatus::Success);
        }
        let mut total = 0;
        loop {
            if run::heartbeat(&self.db, RunTable::Purge, id).await? {
                db::purge_runs::progress(
                    self.db.writer(),
                    id,
                    0,
                    &line(format!("stopped after {total} entries")),
                )
                .await?;
                return Ok(RunStatus::Stopped);
            }
            let n = db::purge_runs::purge_batch(self.db.writer(), before, &operations, BATCH).await? as i64;
            total += n;
            db::purge_runs::progress(self.db.writer(), id, n, "").await?;
            if n < BATCH {
                break;
            }
        }
        db::purge_runs::progress(self.db.writer(), id, 0, &line(format!("{total} entries deleted"))).await?;
        Ok(RunStatus::Success)
    }

    /// Starts a purge in the background; returns its id at once.
    pub async fn start(&self, trigger: Trigger, params: PurgeParams) -> Result<i64, PurgeError> {
        let (run, log) = self.begin(trigger, params).await?;
        let id = run.id;
        let this = self.clone();
        tokio::spawn(async move { this.execute(run, log).await });
        Ok(id)
    }

    /// Runs a purge to its end; returns the run.
    pub async fn run_now(&self, trigger: Trigger, params: PurgeParams) -> Result<PurgeRunRow, PurgeError> {
        let (run, log) = self.begin(trigger, params).await?;
        let id = run.id;
        self.execute(run, log).await;
        self.get(id).await
    }

    /// Run `id`.
    pub async fn get(&self, id: i64) -> Result<PurgeRunRow, PurgeError> {
        db::purge_runs::get(self.db.reader(), id).await?.ok_or(PurgeError::NotFound(id))
    }

    /// Runs, newest first, one page, and their total.
    pub async fn history(&self, offset: i64, limit: i64) -> Result<(Vec<PurgeRunRow>, i64), PurgeError> {
        let rows = db::purge_runs::list(self.db.reader(), limit, offset).await?;
        Ok((rows, db::purge_runs::count(self.db.reader()).await?))
    }

    /// The log of run `id`.
    pub async fn log(&self, id: i64) -> Result<String, PurgeError> {
        db::purge_runs::log(self.db.reader(), id).await?.ok_or(PurgeError::NotFound(id))
    }

    /// Asks run `id` to stop after its current batch.
    pub async fn stop(&self, id: i64) -> Result<(), PurgeError> {
        self.get(id).await?;
        if run::request_stop(&self.db, RunTable::Purge, id).await? {
            Ok(())
        } else {
            Err(PurgeError::NotRunning(id))
        }
    }

    /// The schedule, if one is set.
    pub async fn schedule(&self) -> Result<Option<ScheduleRow>, PurgeError> {
        Ok(db::schedules::get(self.db.reader(), JOB).await?)
    }

    /// Sets the schedule (`Schedule::None` removes it) and the parameters its runs use.
    pub async fn set_schedule(&self, schedule: &Schedule, params: PurgeParams) -> Result<(), PurgeError> {
        let params = params.checked()?;
        if *schedule == Schedule::None {
            db::schedules::delete(self.db.writer(), JOB).await?;
            return Ok(());
        }
        let parsed: Cron = schedule.cron().parse().map_err(PurgeError::Invalid)?;
        let next = parsed.next_after(db::now_ms());
        let params = serde_json::to_string(&params).unwrap_or_else(|_| "{}".into());
        db::schedules::put(self.db.writer(), JOB, schedule, &params, next).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::jobs::scheduler::Scheduled for PurgeService {
    fn owns(&self, name: &str) -> bool {
        name == JOB
    }

    async fn fire(&self, schedule: &ScheduleRow) {
        let params: PurgeParams = serde_json::from_str(&schedule.parameters).unwrap_or_default();
        match self.start(Trigger::Schedule, params).await {
            Ok(id) => tracing::info!(run = id, "scheduled audit log purge started"),
            Err(PurgeError::Busy) => tracing::info!("scheduled audit log purge skipped: one is running"),
            Err(e) => tracing::warn!(error = %e, "scheduled audit log purge failed to start"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_harbors_and_checked() {
        let p: PurgeParams = serde_json::from_str(
            r#"{"audit_retention_hour":48,"include_operations":"create,Pull","dry_run":true}"#,
        )
        .expect("json");
        assert_eq!(p.operations(), vec!["create".to_owned(), "pull".to_owned()]);
        assert!(p.clone().checked().is_ok());
        assert!(PurgeParams { audit_retention_hour: 0, ..p.clone() }.checked().is_err());
        assert!(PurgeParams { include_operations: "explode".into(), ..p }.checked().is_err());
        assert_eq!(PurgeParams::default().audit_retention_hour, 168);
    }
}
