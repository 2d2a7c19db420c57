//! SQL for the `tags` table.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};

/// Points `name` at manifest `manifest_id`, creating or moving the tag.
pub async fn upsert<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    name: &str,
    manifest_id: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, pushed_at = excluded.pushed_at",
    )
    .bind(repo_id)
    .bind(name)
    .bind(manifest_id)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}

/// Tag names of the repository after `last`, in order, at most `n`.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    last: Option<&str>,
    n: i64,
) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3",
    )
    .bind(repo_id)
    .bind(last.unwrap_or(""))
    .bind(n)
    .fetch_all(e)
    .await?)
}

/// Deletes a tag; returns whether it existed.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, repo_id: i64, name: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND name = $2")
        .bind(repo_id)
        .bind(name)
        .execute(e)
        .await?;
    Ok(done.rows_affected() > 0)
}
