//! SQL every job's run table shares (`gc_runs`, `retention_executions`): asking a run to stop,
//! and a run's heartbeat, which answers whether someone asked.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};

/// A table of job runs; each has `status`, `stop_requested` and `updated_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunTable {
    /// Garbage collection runs.
    Gc,
    /// Retention executions.
    Retention,
    /// Replication executions.
    Replication,
    /// Audit log purges.
    Purge,
}

impl RunTable {
    fn name(self) -> &'static str {
        match self {
            Self::Gc => "gc_runs",
            Self::Retention => "retention_executions",
            Self::Replication => "replication_executions",
            Self::Purge => "purge_runs",
        }
    }
}

/// Asks run `id` to stop at its next check; false when it is not going (any more).
pub async fn request_stop<'e>(
    e: impl Executor<'e, Database = Any>,
    table: RunTable,
    id: i64,
) -> DbResult<bool> {
    let sql = format!(
        "UPDATE {} SET stop_requested = 1, updated_at = $1 WHERE id = $2 AND status IN ('Pending', 'Running')",
        table.name()
    );
    let done = sqlx::query(&sql).bind(now_ms()).bind(id).execute(e).await?;
    Ok(done.rows_affected() > 0)
}

/// Records that run `id` is alive; answers whether it was asked to stop.
pub async fn heartbeat<'e>(e: impl Executor<'e, Database = Any>, table: RunTable, id: i64) -> DbResult<bool> {
    let sql = format!("UPDATE {} SET updated_at = $1 WHERE id = $2 RETURNING stop_requested", table.name());
    let stop: Option<i64> = sqlx::query_scalar(&sql).bind(now_ms()).bind(id).fetch_optional(e).await?;
    Ok(stop.unwrap_or(0) != 0)
}
