//! SQL for the `repositories` table.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms, placeholders};

/// Returns the id of repository `name` in `project_id`, creating it when missing.
pub async fn ensure<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, name: &str) -> DbResult<i64> {
    // The no-op update makes RETURNING yield the existing row on both engines.
    let id = sqlx::query_scalar(
        "INSERT INTO repositories (project_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
    )
    .bind(project_id)
    .bind(name)
    .bind(now_ms())
    .fetch_one(e)
    .await?;
    Ok(id)
}

/// Marks a repository as changed now.
pub async fn touch<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<()> {
    sqlx::query("UPDATE repositories SET updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// Names of repositories that hold at least one manifest, after `last`, in order, at most `n`.
/// `project_ids` limits the listing (`None`: all projects).
pub async fn catalog<'e>(
    e: impl Executor<'e, Database = Any>,
    project_ids: Option<&[i64]>,
    last: Option<&str>,
    n: i64,
) -> DbResult<Vec<String>> {
    let mut sql = String::from(
        "SELECT r.name FROM repositories r WHERE EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id) \
         AND r.name > $1",
    );
    if let Some(ids) = project_ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND r.project_id IN ({})", placeholders(3, ids.len())));
    }
    sql.push_str(" ORDER BY r.name LIMIT $2");
    let mut q = sqlx::query_scalar(&sql).bind(last.unwrap_or("")).bind(n);
    for id in project_ids.unwrap_or_default() {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(e).await?)
}
