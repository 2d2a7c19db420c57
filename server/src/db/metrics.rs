//! SQL for the `/metrics` gauges: what the whole cluster stores and has run, read at scrape time.

use sqlx::{Any, AnyPool, Row};

use super::DbResult;

/// Counts and sums for the metrics page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Bytes of all blobs.
    pub storage_bytes: i64,
    /// Blobs.
    pub blobs: i64,
    /// Manifests.
    pub manifests: i64,
    /// Repositories.
    pub repositories: i64,
    /// Projects.
    pub projects: i64,
    /// Upload sessions in progress.
    pub uploads: i64,
    /// Garbage collection runs: (status, count, total milliseconds of the ended ones).
    pub gc_runs: Vec<(String, i64, i64)>,
    /// Retention executions: (status, count, total milliseconds of the ended ones).
    pub retention_runs: Vec<(String, i64, i64)>,
}

/// Reads the snapshot (a handful of aggregate queries).
pub async fn snapshot(pool: &AnyPool) -> DbResult<Snapshot> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE((SELECT SUM(size) FROM blobs), 0) AS BIGINT), (SELECT COUNT(*) FROM blobs), \
         (SELECT COUNT(*) FROM manifests), (SELECT COUNT(*) FROM repositories), (SELECT COUNT(*) FROM projects), \
         (SELECT COUNT(*) FROM uploads)",
    )
    .fetch_one(pool)
    .await?;
    let runs = |table: &str, start: &str| {
        format!(
            "SELECT status, COUNT(*), CAST(COALESCE(SUM(ended_at - {start}), 0) AS BIGINT) FROM {table} \
             GROUP BY status ORDER BY status"
        )
    };
    let by_status = |rows: Vec<sqlx::any::AnyRow>| -> DbResult<Vec<(String, i64, i64)>> {
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
    };
    let gc = sqlx::query::<Any>(&runs("gc_runs", "COALESCE(started_at, created_at)")).fetch_all(pool).await?;
    let retention = sqlx::query::<Any>(&runs("retention_executions", "created_at")).fetch_all(pool).await?;
    Ok(Snapshot {
        storage_bytes: row.try_get(0)?,
        blobs: row.try_get(1)?,
        manifests: row.try_get(2)?,
        repositories: row.try_get(3)?,
        projects: row.try_get(4)?,
        uploads: row.try_get(5)?,
        gc_runs: by_status(gc)?,
        retention_runs: by_status(retention)?,
    })
}
