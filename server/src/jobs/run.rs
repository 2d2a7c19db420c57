//! What every background job's run goes through, in one place: take the job's lease (one run
//! at a time across replicas), close the runs a dead process left open, record the new run,
//! and at the end record its status and give the lease back. Garbage collection and retention
//! keep their runs in tables of their own and say how through [`RunLog`].

use frontend::types::RunStatus;

use super::lease::LeaseGuard;
pub use crate::db::runs::RunTable;
use crate::db::{Db, DbResult};

/// How a kind of job records its runs.
#[async_trait::async_trait]
pub trait RunLog: Send + Sync {
    /// Ends the runs still marked going. Called holding the job's lease, so none of them is:
    /// their process died.
    async fn abandon(&self, db: &Db) -> DbResult<()>;
    /// Records a new run; returns its id.
    async fn open(&self, db: &Db) -> DbResult<i64>;
    /// Records that run `id` ended with `status`.
    async fn close(&self, db: &Db, id: i64, status: RunStatus) -> DbResult<()>;
}

/// A run in progress: its id, and the lease that keeps every other run of the job away.
pub struct Run {
    /// The run's id in its job's table.
    pub id: i64,
    /// The job's lease, renewed while the run goes on.
    pub lease: LeaseGuard,
}

/// Starts a run of the job whose lease is `lease` (held by `holder` for `ttl` at a time):
/// `None` when another run holds the lease, here or on another replica.
pub async fn begin(
    db: &Db,
    log: &dyn RunLog,
    lease: &str,
    holder: &str,
    ttl: std::time::Duration,
) -> DbResult<Option<Run>> {
    let Some(lease) = LeaseGuard::acquire(db, lease, holder, ttl).await? else {
        return Ok(None);
    };
    log.abandon(db).await?;
    let id = log.open(db).await?;
    Ok(Some(Run { id, lease }))
}

/// Asks run `id` of `table` to stop at its next check; false when it is not going.
pub async fn request_stop(db: &Db, table: RunTable, id: i64) -> DbResult<bool> {
    crate::db::runs::request_stop(db.writer(), table, id).await
}

/// Records that run `id` of `table` is alive; answers whether it was asked to stop.
pub async fn heartbeat(db: &Db, table: RunTable, id: i64) -> DbResult<bool> {
    crate::db::runs::heartbeat(db.writer(), table, id).await
}

impl Run {
    /// Ends the run with `status` (what the work answered; an error is logged and ends it as
    /// `Error`) and gives the lease back.
    pub async fn end<E: std::fmt::Display>(
        self,
        db: &Db,
        log: &dyn RunLog,
        outcome: Result<RunStatus, E>,
    ) -> RunStatus {
        let status = outcome.unwrap_or_else(|e| {
            tracing::error!(run = self.id, error = %e, "background run failed");
            RunStatus::Error
        });
        if let Err(e) = log.close(db, self.id, status).await {
            tracing::error!(run = self.id, error = %e, "could not record the end of a background run");
        }
        self.lease.release().await;
        status
    }
}
