//! Garbage collection as a service: runs (manual, scheduled, from the command line), one at a
//! time across replicas, with their history and schedule.

pub mod collector;
pub mod fsck;

use std::sync::Arc;

use collector::{Collector, GcParams, Outcome, Reporter};

use crate::db::{self, Db, DbError, gc_runs::GcRunRow, schedules::ScheduleRow};
use crate::jobs::cron::Cron;
use crate::jobs::lease::LeaseGuard;
use crate::jobs::run::{self, Run, RunLog, RunTable};

/// The lease every run holds.
pub const LEASE: &str = "gc";
/// The schedule's name in `schedules`.
pub const SCHEDULE: &str = "gc";

pub use frontend::types::Trigger;
use frontend::types::{RunStatus, Schedule};

/// A refused request.
#[derive(Debug, thiserror::Error)]
pub enum GcServiceError {
    /// A run is in progress (here or on another replica).
    #[error("a garbage collection is already running")]
    Busy,
    /// The schedule is invalid.
    #[error("{0}")]
    BadSchedule(String),
    /// No such run.
    #[error("garbage collection run {0} not found")]
    NotFound(i64),
    /// The run has already ended.
    #[error("garbage collection run {0} is not running")]
    NotRunning(i64),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A consistency check failed to run.
    #[error(transparent)]
    Fsck(#[from] fsck::FsckError),
}

/// Garbage collection runs, history and schedule.
#[derive(Clone)]
pub struct GcService {
    db: Db,
    collector: Collector,
    holder: Arc<str>,
    default_workers: usize,
    lease_ttl: std::time::Duration,
}

impl GcService {
    /// (total, free) bytes of the blob store's volume, where that can be known.
    pub fn volume(&self) -> Option<(u64, u64)> {
        self.collector.store.volume()
    }

    /// The service for `collector`; `holder` names this process among replicas, whose runs
    /// hold a lease of `lease_ttl`.
    pub fn new(
        db: Db,
        collector: Collector,
        holder: &str,
        default_workers: usize,
        lease_ttl: std::time::Duration,
    ) -> Self {
        Self { db, collector, holder: holder.into(), default_workers, lease_ttl }
    }

    /// Takes the lease and records a run; the caller then [`Self::execute`]s it.
    async fn begin(&self, trigger: Trigger, params: GcParams) -> Result<(Run, GcRunLog), GcServiceError> {
        let log = GcRunLog { trigger, params, workers: self.workers(params) };
        let run = run::begin(&self.db, &log, LEASE, &self.holder, self.lease_ttl)
            .await?
            .ok_or(GcServiceError::Busy)?;
        Ok((run, log))
    }

    fn workers(&self, params: GcParams) -> usize {
        params.workers.unwrap_or(self.default_workers).clamp(1, 64)
    }

    /// Runs `run` to the end and releases the lease; returns the final status.
    async fn execute(&self, run: Run, log: GcRunLog, echo: Option<fn(&str)>) -> RunStatus {
        let (id, params) = (run.id, log.params);
        let mut rep = Reporter::new(self.db.clone(), id, echo);
        rep.log(format!("run {id} on {}", self.holder));
        let outcome = match db::gc_runs::start(self.db.writer(), id).await {
            Err(e) => Err(format!("could not start: {e}")),
            Ok(()) => match self.collector.run(params, log.workers, &run.lease, &mut rep).await {
                Ok(Outcome::Finished) => Ok(RunStatus::Success),
                Ok(Outcome::Stopped) => Ok(RunStatus::Stopped),
                Err(e) => {
                    rep.log(format!("failed: {e}"));
                    if let Err(e) = rep.flush().await {
                        tracing::error!(run = id, error = %e, "could not save the garbage collection log");
                    }
                    Err(e.to_string())
                }
            },
        };
        let status = run.end(&self.db, &log, outcome).await;
        let p = rep.progress();
        tracing::info!(
            run = id,
            %status,
            blobs = p.blobs_deleted,
            manifests = p.manifests_deleted,
            bytes = p.bytes_freed,
            "garbage collection ended"
        );
        status
    }

    /// Starts a run in the background; returns its id at once.
    pub async fn start(&self, trigger: Trigger, params: GcParams) -> Result<i64, GcServiceError> {
        let (run, log) = self.begin(trigger, params).await?;
        let id = run.id;
        let this = self.clone();
        tokio::spawn(async move { this.execute(run, log, None).await });
        Ok(id)
    }

    /// Runs to the end in the foreground (the `wharf gc` command); returns the run.
    pub async fn run_now(
        &self,
        trigger: Trigger,
        params: GcParams,
        echo: Option<fn(&str)>,
    ) -> Result<GcRunRow, GcServiceError> {
        let (run, log) = self.begin(trigger, params).await?;
        let id = run.id;
        self.execute(run, log, echo).await;
        self.get(id).await
    }

    /// Checks storage against the database (`wharf fsck`). Repairing holds the collection
    /// lease, so it never overlaps a collection on any replica.
    pub async fn fsck(&self, mut params: fsck::FsckParams) -> Result<fsck::FsckReport, GcServiceError> {
        params.workers = params.workers.clamp(1, 64);
        if !params.repair {
            return fsck::check(&self.collector, params).await.map_err(GcServiceError::from);
        }
        let lease = LeaseGuard::acquire(&self.db, LEASE, &self.holder, self.lease_ttl)
            .await?
            .ok_or(GcServiceError::Busy)?;
        let report = fsck::check(&self.collector, params).await;
        lease.release().await;
        report.map_err(GcServiceError::from)
    }

    /// The default number of parallel storage requests.
    pub fn default_workers(&self) -> usize {
        self.default_workers
    }

    /// Run `id`.
    pub async fn get(&self, id: i64) -> Result<GcRunRow, GcServiceError> {
        db::gc_runs::get(self.db.reader(), id).await?.ok_or(GcServiceError::NotFound(id))
    }

    /// Runs, newest first, and their total number.
    pub async fn history(&self, offset: i64, limit: i64) -> Result<(Vec<GcRunRow>, i64), GcServiceError> {
        let rows = db::gc_runs::list(self.db.reader(), limit, offset).await?;
        Ok((rows, db::gc_runs::count(self.db.reader()).await?))
    }

    /// The log of run `id`.
    pub async fn log(&self, id: i64) -> Result<String, GcServiceError> {
        db::gc_runs::log(self.db.reader(), id).await?.ok_or(GcServiceError::NotFound(id))
    }

    /// Asks run `id` to stop after its current batch.
    pub async fn stop(&self, id: i64) -> Result<(), GcServiceError> {
        self.get(id).await?;
        if run::request_stop(&self.db, RunTable::Gc, id).await? {
            Ok(())
        } else {
            Err(GcServiceError::NotRunning(id))
        }
    }

    /// The schedule, if one is set.
    pub async fn schedule(&self) -> Result<Option<ScheduleRow>, GcServiceError> {
        Ok(db::schedules::get(self.db.reader(), SCHEDULE).await?)
    }

    /// Sets the schedule (`Schedule::None` removes it).
    pub async fn set_schedule(&self, schedule: &Schedule, params: GcParams) -> Result<(), GcServiceError> {
        if *schedule == Schedule::None {
            db::schedules::delete(self.db.writer(), SCHEDULE).await?;
            return Ok(());
        }
        let parsed: Cron = schedule.cron().parse().map_err(GcServiceError::BadSchedule)?;
        let next = parsed.next_after(db::now_ms());
        let params = serde_json::to_string(&params).unwrap_or_else(|_| "{}".into());
        db::schedules::put(self.db.writer(), SCHEDULE, schedule, &params, next).await?;
        Ok(())
    }
}

/// How garbage collection records its runs (`gc_runs`).
struct GcRunLog {
    trigger: Trigger,
    params: GcParams,
    workers: usize,
}

#[async_trait::async_trait]
impl RunLog for GcRunLog {
    async fn abandon(&self, db: &Db) -> Result<(), DbError> {
        db::gc_runs::abandon_stale(db.writer(), db::now_ms() + 1).await.map(drop)
    }

    async fn open(&self, db: &Db) -> Result<i64, DbError> {
        let p = self.params;
        db::gc_runs::insert(db.writer(), self.trigger, p.dry_run, p.delete_untagged, self.workers as i64)
            .await
    }

    async fn close(&self, db: &Db, id: i64, status: RunStatus) -> Result<(), DbError> {
        db::gc_runs::finish(db.writer(), id, status).await
    }
}

#[async_trait::async_trait]
impl crate::jobs::scheduler::Scheduled for GcService {
    fn owns(&self, name: &str) -> bool {
        name == SCHEDULE
    }

    /// Starts a run unless one is going on.
    async fn fire(&self, schedule: &ScheduleRow) {
        let params: GcParams = serde_json::from_str(&schedule.parameters).unwrap_or_default();
        match self.start(Trigger::Schedule, params).await {
            Ok(id) => tracing::info!(run = id, "scheduled garbage collection started"),
            Err(GcServiceError::Busy) => {
                tracing::info!("scheduled garbage collection skipped: another run is in progress")
            }
            Err(e) => tracing::error!(error = %e, "scheduled garbage collection could not start"),
        }
    }
}
