//! SQL for `uploads` and `upload_parts`: upload sessions live in the database, so any replica
//! can continue a session another one started.

use sqlx::{Any, Executor, Row};

use super::{DbResult, now_ms};

/// An upload session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// Session id (a UUID).
    pub id: String,
    /// Repository the blob is uploaded to.
    pub repository_id: i64,
    /// Bytes received so far.
    pub size: i64,
    /// Parts appended so far.
    pub parts: i64,
}

/// One appended part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    /// Position, from 0.
    pub seq: i64,
    /// The part object's unique name.
    pub name: String,
    /// Bytes in the part.
    pub size: i64,
}

/// Opens a session.
pub async fn insert<'e>(e: impl Executor<'e, Database = Any>, id: &str, repo_id: i64) -> DbResult<()> {
    sqlx::query("INSERT INTO uploads (id, repository_id, created_at, updated_at) VALUES ($1, $2, $3, $3)")
        .bind(id)
        .bind(repo_id)
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(())
}

/// Starts session `id` for `owner` unless `owner` already has `max` sessions active since
/// `active_since` (unix ms); returns whether it started. One statement, so on SQLite (one
/// writer) the limit is exact; on PostgreSQL concurrent starts may pass it by a few.
pub async fn insert_limited<'e>(
    e: impl Executor<'e, Database = Any>,
    id: &str,
    repo_id: i64,
    owner: &str,
    active_since: i64,
    max: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO uploads (id, repository_id, owner, created_at, updated_at) SELECT $1, $2, $3, $4, $4 \
         WHERE (SELECT COUNT(*) FROM uploads WHERE owner = $3 AND updated_at >= $5) < $6",
    )
    .bind(id)
    .bind(repo_id)
    .bind(owner)
    .bind(now_ms())
    .bind(active_since)
    .bind(max)
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The session `id` of repository `repo_id`.
pub async fn get<'e>(
    e: impl Executor<'e, Database = Any>,
    id: &str,
    repo_id: i64,
) -> DbResult<Option<UploadRow>> {
    let row = sqlx::query(
        "SELECT id, repository_id, size, parts FROM uploads WHERE id = $1 AND repository_id = $2",
    )
    .bind(id)
    .bind(repo_id)
    .fetch_optional(e)
    .await?;
    row.map(|r| {
        Ok(UploadRow {
            id: r.try_get("id")?,
            repository_id: r.try_get("repository_id")?,
            size: r.try_get("size")?,
            parts: r.try_get("parts")?,
        })
    })
    .transpose()
}

/// Records part `seq` and advances the session, only if the session is still at `expected_size`.
/// Returns false when another request got there first (the caller answers 416).
pub async fn append_part(
    tx: &mut sqlx::AnyConnection,
    id: &str,
    expected_size: i64,
    part: &PartRow,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE uploads SET size = size + $1, parts = parts + 1, updated_at = $2 \
         WHERE id = $3 AND size = $4 AND parts = $5",
    )
    .bind(part.size)
    .bind(now_ms())
    .bind(id)
    .bind(expected_size)
    .bind(part.seq)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO upload_parts (upload_id, seq, name, size) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(part.seq)
        .bind(&part.name)
        .bind(part.size)
        .execute(&mut *tx)
        .await?;
    Ok(true)
}

/// The parts of a session in order.
pub async fn parts<'e>(e: impl Executor<'e, Database = Any>, id: &str) -> DbResult<Vec<PartRow>> {
    let rows = sqlx::query("SELECT seq, name, size FROM upload_parts WHERE upload_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(e)
        .await?;
    rows.iter()
        .map(|r| Ok(PartRow { seq: r.try_get(0)?, name: r.try_get(1)?, size: r.try_get(2)? }))
        .collect()
}

/// Ends a session; returns whether it existed.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, id: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id).execute(e).await?;
    Ok(done.rows_affected() > 0)
}

/// Up to `limit` sessions with no activity since `cutoff` (abandoned).
pub async fn stale<'e>(
    e: impl Executor<'e, Database = Any>,
    cutoff: i64,
    limit: i64,
) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM uploads WHERE updated_at < $1 ORDER BY updated_at LIMIT $2")
        .bind(cutoff)
        .bind(limit)
        .fetch_all(e)
        .await?)
}

/// Number of sessions idle since `cutoff`.
pub async fn count_stale<'e>(e: impl Executor<'e, Database = Any>, cutoff: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE updated_at < $1")
        .bind(cutoff)
        .fetch_one(e)
        .await?)
}

/// Ends session `id` if it is still idle since `cutoff` (a client that resumed it keeps it).
pub async fn delete_stale<'e>(e: impl Executor<'e, Database = Any>, id: &str, cutoff: i64) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM uploads WHERE id = $1 AND updated_at < $2")
        .bind(id)
        .bind(cutoff)
        .execute(e)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether session `id` exists.
pub async fn exists<'e>(e: impl Executor<'e, Database = Any>, id: &str) -> DbResult<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE id = $1").bind(id).fetch_one(e).await?;
    Ok(n > 0)
}

/// Every recorded part as `(session id, part name)` (for `fsck`; sessions are short-lived).
pub async fn all_parts<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT upload_id, name FROM upload_parts").fetch_all(e).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
