//! SQL for `blobs` and `repository_blobs` (which repository may serve which blob).

use sqlx::{Any, Executor, Row};

use super::{DbResult, now_ms, placeholders};

/// Size of `digest` if it is linked to repository `repo_id`.
pub async fn linked_size<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    digest: &str,
) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
         WHERE rb.repository_id = $1 AND rb.digest = $2",
    )
    .bind(repo_id)
    .bind(digest)
    .fetch_optional(e)
    .await?)
}

/// Size of `digest` if the blob is stored at all.
pub async fn size<'e>(e: impl Executor<'e, Database = Any>, digest: &str) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT size FROM blobs WHERE digest = $1").bind(digest).fetch_optional(e).await?)
}

/// Records a stored blob; a second insert of the same digest is a no-op.
pub async fn insert<'e>(e: impl Executor<'e, Database = Any>, digest: &str, size: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING",
    )
    .bind(digest)
    .bind(size)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}

/// Links a stored blob to a repository (idempotent).
pub async fn link<'e>(e: impl Executor<'e, Database = Any>, repo_id: i64, digest: &str) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (repository_id, digest) DO NOTHING",
    )
    .bind(repo_id)
    .bind(digest)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}

/// Removes a blob from a repository; returns whether it was linked.
pub async fn unlink<'e>(e: impl Executor<'e, Database = Any>, repo_id: i64, digest: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2")
        .bind(repo_id)
        .bind(digest)
        .execute(e)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Of `digests`, those linked to the repository, with their sizes.
pub async fn linked_among<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    digests: &[&str],
) -> DbResult<Vec<(String, i64)>> {
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT b.digest, b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
         WHERE rb.repository_id = $1 AND rb.digest IN ({})",
        placeholders(2, digests.len())
    );
    let mut q = sqlx::query(&sql).bind(repo_id);
    for d in digests {
        q = q.bind(*d);
    }
    let rows = q.fetch_all(e).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
