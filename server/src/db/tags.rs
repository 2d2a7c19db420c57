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

/// Creates tag `name` on manifest `manifest_id` unless the repository has it already; returns
/// the manifest an existing tag names. Two pushes racing to create the same tag cannot both win:
/// the second finds the first's row (PostgreSQL's insert waits for the first to commit).
pub async fn create_or_get(
    tx: &mut sqlx::AnyConnection,
    repo_id: i64,
    name: &str,
    manifest_id: i64,
) -> DbResult<Option<i64>> {
    let done = sqlx::query(
        "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (repository_id, name) DO NOTHING",
    )
    .bind(repo_id)
    .bind(name)
    .bind(manifest_id)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(None);
    }
    target(&mut *tx, repo_id, name).await
}

/// The manifest id tag `name` of the repository names.
pub async fn target<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    name: &str,
) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT manifest_id FROM tags WHERE repository_id = $1 AND name = $2")
        .bind(repo_id)
        .bind(name)
        .fetch_optional(e)
        .await?)
}

/// The tags of manifest `manifest_id`.
pub async fn of_manifest<'e>(
    e: impl Executor<'e, Database = Any>,
    manifest_id: i64,
) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM tags WHERE manifest_id = $1 ORDER BY name")
        .bind(manifest_id)
        .fetch_all(e)
        .await?)
}

/// Every tag name of the repository.
pub async fn all_of<'e>(e: impl Executor<'e, Database = Any>, repo_id: i64) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM tags WHERE repository_id = $1 ORDER BY name")
        .bind(repo_id)
        .fetch_all(e)
        .await?)
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
