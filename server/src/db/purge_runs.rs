//! SQL for `purge_runs` (audit log retention) and the purge of `audit_logs` itself.

use sqlx::{Any, Executor};

use frontend::types::{RunStatus, Trigger};

use super::{DbResult, now_ms, placeholders};

/// A purge run.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PurgeRunRow {
    /// Run id.
    pub id: i64,
    /// What started it.
    #[sqlx(try_from = "String")]
    pub trigger_kind: Trigger,
    /// Its parameters (Harbor's JSON).
    pub parameters: String,
    /// Where it stands.
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    /// Entries deleted (or, dry, that would be).
    pub deleted: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// End, unix ms.
    pub ended_at: Option<i64>,
    /// Last change, unix ms.
    pub updated_at: i64,
}

const SELECT: &str =
    "SELECT id, trigger_kind, parameters, status, deleted, created_at, ended_at, updated_at FROM purge_runs";

/// Records a new running purge; returns its id.
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    trigger: Trigger,
    parameters: &str,
) -> DbResult<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO purge_runs (trigger_kind, parameters, status, created_at, updated_at) \
         VALUES ($1, $2, 'Running', $3, $3) RETURNING id",
    )
    .bind(trigger.as_str())
    .bind(parameters)
    .bind(now)
    .fetch_one(e)
    .await?)
}

/// Run `id`.
pub async fn get<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<PurgeRunRow>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(e).await?)
}

/// Runs, newest first, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<PurgeRunRow>> {
    Ok(sqlx::query_as(&format!("{SELECT} ORDER BY id DESC LIMIT $1 OFFSET $2"))
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?)
}

/// How many runs there are.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM purge_runs").fetch_one(e).await?)
}

/// The log of run `id`.
pub async fn log<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT log FROM purge_runs WHERE id = $1").bind(id).fetch_optional(e).await?)
}

/// Adds `deleted` entries and `line` to run `id`'s record.
pub async fn progress<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    deleted: i64,
    line: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE purge_runs SET deleted = deleted + $2, log = log || $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(deleted)
    .bind(line)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}

/// Ends run `id` with `status`.
pub async fn finish<'e>(e: impl Executor<'e, Database = Any>, id: i64, status: RunStatus) -> DbResult<()> {
    let now = now_ms();
    sqlx::query("UPDATE purge_runs SET status = $2, ended_at = $3, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(now)
        .execute(e)
        .await?;
    Ok(())
}

/// Ends the runs a dead process left going.
pub async fn abandon<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<u64> {
    let now = now_ms();
    Ok(sqlx::query("UPDATE purge_runs SET status = 'Error', ended_at = $1, updated_at = $1 WHERE status IN ('Pending', 'Running')")
        .bind(now)
        .execute(e)
        .await?
        .rows_affected())
}

fn operation_filter(first: usize, operations: &[String]) -> String {
    if operations.is_empty() {
        String::new()
    } else {
        format!(" AND operation IN ({})", placeholders(first, operations.len()))
    }
}

/// Deletes up to `limit` audit entries older than `before` (unix ms) of `operations` (all when
/// empty), oldest first; returns how many went.
pub async fn purge_batch<'e>(
    e: impl Executor<'e, Database = Any>,
    before: i64,
    operations: &[String],
    limit: i64,
) -> DbResult<u64> {
    let sql = format!(
        "DELETE FROM audit_logs WHERE id IN (SELECT id FROM audit_logs WHERE op_time < $1{} ORDER BY op_time, id LIMIT $2)",
        operation_filter(3, operations)
    );
    let mut q = sqlx::query(&sql).bind(before).bind(limit);
    for op in operations {
        q = q.bind(op.as_str());
    }
    Ok(q.execute(e).await?.rows_affected())
}

/// How many audit entries a purge with these settings would delete.
pub async fn purgeable<'e>(
    e: impl Executor<'e, Database = Any>,
    before: i64,
    operations: &[String],
) -> DbResult<i64> {
    let sql =
        format!("SELECT COUNT(*) FROM audit_logs WHERE op_time < $1{}", operation_filter(2, operations));
    let mut q = sqlx::query_scalar(&sql).bind(before);
    for op in operations {
        q = q.bind(op.as_str());
    }
    Ok(q.fetch_one(e).await?)
}
