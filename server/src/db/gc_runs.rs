//! SQL for `gc_runs`: the history, progress and log of garbage collections.

use sqlx::{Any, Executor};

use frontend::types::{RunStatus, Trigger};

use super::{DbResult, now_ms};

/// A garbage collection run.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GcRunRow {
    /// Run id.
    pub id: i64,
    /// What started it.
    #[sqlx(try_from = "String")]
    pub trigger_kind: Trigger,
    /// Only counted, nothing deleted.
    #[sqlx(try_from = "crate::db::Flag")]
    pub dry_run: bool,
    /// Untagged manifests were deleted first.
    #[sqlx(try_from = "crate::db::Flag")]
    pub delete_untagged: bool,
    /// Parallel deleters.
    pub workers: i64,
    /// Where it stands.
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    /// Someone asked it to stop.
    #[sqlx(try_from = "crate::db::Flag")]
    pub stop_requested: bool,
    /// Blobs deleted (or, dry, that would be).
    pub blobs_deleted: i64,
    /// Manifests deleted (or, dry, that would be).
    pub manifests_deleted: i64,
    /// Abandoned upload sessions purged.
    pub uploads_purged: i64,
    /// Bytes freed (or, dry, that would be).
    pub bytes_freed: i64,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Start of work, unix milliseconds.
    pub started_at: Option<i64>,
    /// End of work, unix milliseconds.
    pub ended_at: Option<i64>,
    /// Last progress, unix milliseconds.
    pub updated_at: i64,
}

/// Counters a run reports as it goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcProgress {
    /// Blobs deleted.
    pub blobs_deleted: i64,
    /// Manifests deleted.
    pub manifests_deleted: i64,
    /// Upload sessions purged.
    pub uploads_purged: i64,
    /// Bytes freed.
    pub bytes_freed: i64,
}

const COLUMNS: &str = "id, trigger_kind, dry_run, delete_untagged, workers, status, stop_requested, \
    blobs_deleted, manifests_deleted, uploads_purged, bytes_freed, created_at, started_at, ended_at, updated_at";

/// Records a new run as `Pending`; returns its id.
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    trigger_kind: Trigger,
    dry_run: bool,
    delete_untagged: bool,
    workers: i64,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO gc_runs (trigger_kind, dry_run, delete_untagged, workers, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'Pending', $5, $5) RETURNING id",
    )
    .bind(trigger_kind.as_str())
    .bind(i64::from(dry_run))
    .bind(i64::from(delete_untagged))
    .bind(workers)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Run `id`.
pub async fn get<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<GcRunRow>> {
    let sql = format!("SELECT {COLUMNS} FROM gc_runs WHERE id = $1");
    Ok(sqlx::query_as(&sql).bind(id).fetch_optional(e).await?)
}

/// Runs, newest first.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<GcRunRow>> {
    let sql = format!("SELECT {COLUMNS} FROM gc_runs ORDER BY id DESC LIMIT $1 OFFSET $2");
    Ok(sqlx::query_as(&sql).bind(limit).bind(offset).fetch_all(e).await?)
}

/// Number of runs.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM gc_runs").fetch_one(e).await?)
}

/// The log of run `id`.
pub async fn log<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT log FROM gc_runs WHERE id = $1").bind(id).fetch_optional(e).await?)
}

/// Marks run `id` as started.
pub async fn start<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<()> {
    let now = now_ms();
    sqlx::query("UPDATE gc_runs SET status = 'Running', started_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// Saves progress and appends `log` lines; returns whether a stop was requested.
pub async fn progress<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    p: &GcProgress,
    log: &str,
) -> DbResult<bool> {
    let stop: Option<i64> = sqlx::query_scalar(
        "UPDATE gc_runs SET blobs_deleted = $1, manifests_deleted = $2, uploads_purged = $3, bytes_freed = $4, \
         log = log || $5, updated_at = $6 WHERE id = $7 RETURNING stop_requested",
    )
    .bind(p.blobs_deleted)
    .bind(p.manifests_deleted)
    .bind(p.uploads_purged)
    .bind(p.bytes_freed)
    .bind(log)
    .bind(now_ms())
    .bind(id)
    .fetch_optional(e)
    .await?;
    Ok(stop.unwrap_or(0) != 0)
}

/// Ends run `id` with `status`.
pub async fn finish<'e>(e: impl Executor<'e, Database = Any>, id: i64, status: RunStatus) -> DbResult<()> {
    let now = now_ms();
    sqlx::query("UPDATE gc_runs SET status = $1, ended_at = $2, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(now)
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// Marks runs left `Pending` or `Running` with no progress since `before` (their process died)
/// as `Error`, so the history does not show them running forever.
pub async fn abandon_stale<'e>(e: impl Executor<'e, Database = Any>, before: i64) -> DbResult<u64> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE gc_runs SET status = 'Error', ended_at = $1, updated_at = $1, \
         log = log || 'run abandoned: its process stopped reporting progress\n' \
         WHERE status IN ('Pending', 'Running') AND updated_at < $2",
    )
    .bind(now)
    .bind(before)
    .execute(e)
    .await?;
    Ok(done.rows_affected())
}
