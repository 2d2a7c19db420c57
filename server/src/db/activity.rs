//! What happened per day, for the portal's summary charts: audit entries of one operation, and
//! the size of the stored artifacts by the day they were pushed.

use sqlx::{Any, Executor};

use super::DbResult;

/// Milliseconds in a (UTC) day.
pub const DAY_MS: i64 = 86_400_000;

/// Audit entries of `operation` per UTC day (days since the epoch) from `since_ms` on, in
/// project `project` or in all projects.
pub async fn daily_operations<'e>(
    e: impl Executor<'e, Database = Any>,
    project: Option<i64>,
    operation: &str,
    since_ms: i64,
) -> DbResult<Vec<(i64, i64)>> {
    // Two statements rather than `($3 IS NULL OR project_id = $3)`, so each can use its index.
    let scope = if project.is_some() { "project_id = $3 AND" } else { "$3 = $3 AND" };
    let sql = format!(
        "SELECT CAST(op_time / {DAY_MS} AS BIGINT) AS day, CAST(COUNT(*) AS BIGINT) FROM audit_logs \
         WHERE {scope} operation = $1 AND op_time >= $2 GROUP BY CAST(op_time / {DAY_MS} AS BIGINT) ORDER BY day"
    );
    Ok(sqlx::query_as(&sql).bind(operation).bind(since_ms).bind(project.unwrap_or(0)).fetch_all(e).await?)
}

/// The size of the artifacts stored now, those pushed before `since_ms` together, then per UTC
/// day from `since_ms` on; in project `project` or in all projects.
pub async fn daily_stored<'e, E>(
    e: E,
    project: Option<i64>,
    since_ms: i64,
) -> DbResult<(i64, Vec<(i64, i64)>)>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let scope = if project.is_some() { "r.project_id = $2" } else { "$2 = $2" };
    let from = "FROM manifests m JOIN repositories r ON r.id = m.repository_id";
    let before: i64 = sqlx::query_scalar(&format!(
        "SELECT CAST(COALESCE(SUM(m.total_size), 0) AS BIGINT) {from} WHERE {scope} AND m.pushed_at < $1"
    ))
    .bind(since_ms)
    .bind(project.unwrap_or(0))
    .fetch_one(e)
    .await?;
    let days = sqlx::query_as(&format!(
        "SELECT CAST(m.pushed_at / {DAY_MS} AS BIGINT) AS day, CAST(SUM(m.total_size) AS BIGINT) {from} \
         WHERE {scope} AND m.pushed_at >= $1 GROUP BY CAST(m.pushed_at / {DAY_MS} AS BIGINT) ORDER BY day"
    ))
    .bind(since_ms)
    .bind(project.unwrap_or(0))
    .fetch_all(e)
    .await?;
    Ok((before, days))
}

/// Artifacts in project `project`, or in all projects.
pub async fn artifact_count<'e>(e: impl Executor<'e, Database = Any>, project: Option<i64>) -> DbResult<i64> {
    let sql = match project {
        Some(_) => {
            "SELECT CAST(COUNT(*) AS BIGINT) FROM manifests m JOIN repositories r ON r.id = m.repository_id \
                    WHERE r.project_id = $1"
        }
        None => "SELECT CAST(COUNT(*) AS BIGINT) FROM manifests WHERE $1 = $1",
    };
    Ok(sqlx::query_scalar(sql).bind(project.unwrap_or(0)).fetch_one(e).await?)
}

/// Projects and repositories in the registry.
pub async fn totals<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM projects), (SELECT CAST(COUNT(*) AS BIGINT) FROM repositories)",
    )
    .fetch_one(e)
    .await?)
}
