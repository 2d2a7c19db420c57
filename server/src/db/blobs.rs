//! SQL for `blobs` and `repository_blobs` (which repository may serve which blob), including the
//! life-cycle states the garbage collector moves blobs through (see `gc::collector`).

use sqlx::{Any, Executor, Row};

use super::{Backend, DbResult, now_ms, placeholders};

/// Where a blob row is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobStatus {
    /// Serving; its bytes are in storage.
    Live,
    /// Marked by a sweep as unreferenced; bytes still in storage, any use revives it.
    Deleting,
    /// Claimed by a sweep: its bytes are being deleted, then the row.
    Purging,
}

impl BlobStatus {
    fn parse(s: &str) -> Self {
        match s {
            "deleting" => Self::Deleting,
            "purging" => Self::Purging,
            _ => Self::Live,
        }
    }

    /// Whether the bytes are guaranteed present (and stay so while the row is locked).
    pub fn usable(self) -> bool {
        self != Self::Purging
    }
}

impl sqlx::Type<Any> for BlobStatus {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <&str as sqlx::Type<Any>>::type_info()
    }
}

/// Read as stored, without copying the word.
impl<'r> sqlx::Decode<'r, Any> for BlobStatus {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <&str as sqlx::Decode<'r, Any>>::decode(value).map(Self::parse)
    }
}

/// A blob as a repository sees it.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct LinkedBlob {
    /// Size in bytes.
    pub size: i64,
    /// Life-cycle state.
    pub status: BlobStatus,
    /// Last use by a push, unix milliseconds.
    pub touched_at: i64,
}

/// `digest` as linked to repository `repo_id`, if it is.
pub async fn linked<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    digest: &str,
) -> DbResult<Option<LinkedBlob>> {
    Ok(sqlx::query_as(
        "SELECT b.size, b.status, b.touched_at FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
         WHERE rb.repository_id = $1 AND rb.digest = $2",
    )
    .bind(repo_id)
    .bind(digest)
    .fetch_optional(e)
    .await?)
}

/// The state of a stored blob, if a row exists.
pub async fn status<'e>(e: impl Executor<'e, Database = Any>, digest: &str) -> DbResult<Option<BlobStatus>> {
    let s: Option<String> = sqlx::query_scalar("SELECT status FROM blobs WHERE digest = $1")
        .bind(digest)
        .fetch_optional(e)
        .await?;
    Ok(s.as_deref().map(BlobStatus::parse))
}

/// Claims a stored blob for a push: revives a `deleting` blob and restarts its grace window.
/// False when there is no usable row (missing or `purging`). Inside a transaction the row stays
/// locked until commit, so a sweep cannot claim it in between.
pub async fn claim<'e>(e: impl Executor<'e, Database = Any>, digest: &str) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE blobs SET status = 'live', touched_at = $2 WHERE digest = $1 AND status IN ('live', 'deleting')",
    )
    .bind(digest)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Records a blob whose bytes were just written; false when a row already exists (in any state).
pub async fn insert<'e>(e: impl Executor<'e, Database = Any>, digest: &str, size: i64) -> DbResult<bool> {
    insert_as(e, digest, size, "live").await
}

async fn insert_as<'e>(
    e: impl Executor<'e, Database = Any>,
    digest: &str,
    size: i64,
    status: &str,
) -> DbResult<bool> {
    let now = now_ms();
    let done = sqlx::query(
        "INSERT INTO blobs (digest, size, created_at, touched_at, status) VALUES ($1, $2, $3, $3, $4) \
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(digest)
    .bind(size)
    .bind(now)
    .bind(status)
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
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

/// Of `digests`, those linked to the repository whose bytes are present, with their sizes. On
/// PostgreSQL the blob rows are share-locked until the caller's transaction ends, so a sweep
/// waits for the manifest referencing them to commit (and then sees the reference).
pub async fn linked_among(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    repo_id: i64,
    digests: &[&str],
) -> DbResult<Vec<(String, i64)>> {
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    // Rows are locked in digest order, the order every sweep locks them in: two transactions
    // taking the same rows in different orders deadlock on PostgreSQL.
    let lock = if backend == Backend::Postgres { " ORDER BY b.digest FOR SHARE OF b" } else { "" };
    let sql = format!(
        "SELECT b.digest, b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
         WHERE rb.repository_id = $1 AND b.status IN ('live', 'deleting') AND rb.digest IN ({}){lock}",
        placeholders(2, digests.len())
    );
    let mut q = sqlx::query(&sql).bind(repo_id);
    for d in digests {
        q = q.bind(*d);
    }
    let rows = q.fetch_all(&mut *tx).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Up to `limit` digests after `after` (in digest order) that no manifest references and no push
/// touched since `cutoff`: the sweep's candidates.
pub async fn unreferenced<'e>(
    e: impl Executor<'e, Database = Any>,
    cutoff: i64,
    after: &str,
    limit: i64,
) -> DbResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT b.digest, b.size FROM blobs b WHERE b.digest > $1 AND b.status IN ('live', 'deleting') \
         AND b.touched_at < $2 \
         AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest) \
         ORDER BY b.digest LIMIT $3",
    )
    .bind(after)
    .bind(cutoff)
    .bind(limit)
    .fetch_all(e)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Count and total size of the blobs a sweep with `cutoff` would delete now.
pub async fn unreferenced_total<'e>(
    e: impl Executor<'e, Database = Any>,
    cutoff: i64,
) -> DbResult<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COUNT(*), CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b WHERE b.status IN ('live', 'deleting') \
         AND b.touched_at < $1 AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest)",
    )
    .bind(cutoff)
    .fetch_one(e)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    digests: &'q [String],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for d in digests {
        q = q.bind(d.as_str());
    }
    q
}

/// Sweep phase 1: marks those of `digests` that are still unreferenced and untouched since
/// `cutoff` as `deleting`. Returns how many were marked.
pub async fn mark<'e>(
    e: impl Executor<'e, Database = Any>,
    backend: Backend,
    digests: &[String],
    cutoff: i64,
) -> DbResult<u64> {
    if digests.is_empty() {
        return Ok(0);
    }
    let (with, among) = locked_in_order(backend, 2, digests.len());
    let sql = format!(
        "{with} UPDATE blobs SET status = 'deleting' WHERE status IN ('live', 'deleting') AND touched_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = blobs.digest) AND {among}"
    );
    Ok(bind_all(sqlx::query(&sql).bind(cutoff), digests).execute(e).await?.rows_affected())
}

/// The `WITH` prefix and the digest filter of an `UPDATE` of the blob rows `$first…`. On
/// PostgreSQL the prefix locks them in digest order and the filter reads the locked rows, so the
/// `UPDATE` only touches rows it already holds: a plain multi-row `UPDATE` locks in scan order,
/// and a push holding some of the same rows `FOR SHARE` (in digest order) would deadlock with it.
fn locked_in_order(backend: Backend, first: usize, n: usize) -> (String, String) {
    let list = placeholders(first, n);
    match backend {
        Backend::Postgres => (
            format!(
                "WITH locked AS (SELECT digest FROM blobs WHERE digest IN ({list}) ORDER BY digest FOR NO KEY UPDATE)"
            ),
            "digest IN (SELECT digest FROM locked)".to_owned(),
        ),
        Backend::Sqlite => (String::new(), format!("digest IN ({list})")),
    }
}

/// Sweep phase 2, inside a transaction: claims the still-`deleting`, still-unreferenced blobs of
/// `digests` as `purging` and returns them with their sizes.
///
/// On PostgreSQL the rows are first locked `FOR UPDATE`: that waits for every manifest push
/// holding them `FOR SHARE` to commit, and the claiming `UPDATE` that follows is a new statement
/// whose snapshot sees those commits. (A single `UPDATE … WHERE NOT EXISTS` would not: after
/// waiting on a lock it rechecks only the row itself, not the subquery.)
pub async fn claim_for_purge(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    digests: &[String],
    cutoff: i64,
) -> DbResult<Vec<(String, i64)>> {
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    if backend == Backend::Postgres {
        let sql = format!(
            "SELECT digest FROM blobs WHERE status = 'deleting' AND digest IN ({}) ORDER BY digest FOR UPDATE",
            placeholders(1, digests.len())
        );
        bind_all(sqlx::query(&sql), digests).fetch_all(&mut *tx).await?;
    }
    let sql = format!(
        "UPDATE blobs SET status = 'purging' WHERE status = 'deleting' AND touched_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = blobs.digest) \
         AND digest IN ({}) RETURNING digest, size",
        placeholders(2, digests.len())
    );
    let rows = bind_all(sqlx::query(&sql).bind(cutoff), digests).fetch_all(&mut *tx).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Up to `limit` blobs left `purging` (by this run or by a run that crashed).
pub async fn purging<'e>(e: impl Executor<'e, Database = Any>, limit: i64) -> DbResult<Vec<(String, i64)>> {
    let rows =
        sqlx::query("SELECT digest, size FROM blobs WHERE status = 'purging' ORDER BY digest LIMIT $1")
            .bind(limit)
            .fetch_all(e)
            .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Sweep phase 3, after the bytes are gone: deletes the `purging` rows of `digests` and their
/// repository links.
pub async fn remove_purged(tx: &mut sqlx::AnyConnection, digests: &[String]) -> DbResult<u64> {
    if digests.is_empty() {
        return Ok(0);
    }
    let list = placeholders(1, digests.len());
    let sql = format!(
        "DELETE FROM repository_blobs WHERE digest IN ({list}) \
         AND digest IN (SELECT digest FROM blobs WHERE status = 'purging')"
    );
    bind_all(sqlx::query(&sql), digests).execute(&mut *tx).await?;
    let sql = format!("DELETE FROM blobs WHERE status = 'purging' AND digest IN ({list})");
    Ok(bind_all(sqlx::query(&sql), digests).execute(&mut *tx).await?.rows_affected())
}

/// Returns blobs a sweep marked but did not purge (a manifest referenced them meanwhile) to
/// `live`.
pub async fn settle<'e>(
    e: impl Executor<'e, Database = Any>,
    backend: Backend,
    digests: &[String],
) -> DbResult<()> {
    if digests.is_empty() {
        return Ok(());
    }
    let (with, among) = locked_in_order(backend, 1, digests.len());
    let sql = format!("{with} UPDATE blobs SET status = 'live' WHERE status = 'deleting' AND {among}");
    bind_all(sqlx::query(&sql), digests).execute(e).await?;
    Ok(())
}

/// Returns `deleting` blobs that a manifest references (left by a crashed sweep) to `live`.
pub async fn settle_referenced<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<()> {
    sqlx::query(
        "UPDATE blobs SET status = 'live' WHERE status = 'deleting' \
         AND EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = blobs.digest)",
    )
    .execute(e)
    .await?;
    Ok(())
}

/// Up to `limit` blob rows after `after` in digest order, with size and state (for `fsck`).
pub async fn page<'e>(
    e: impl Executor<'e, Database = Any>,
    after: &str,
    limit: i64,
) -> DbResult<Vec<(String, i64, BlobStatus)>> {
    let rows =
        sqlx::query("SELECT digest, size, status FROM blobs WHERE digest > $1 ORDER BY digest LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(e)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, BlobStatus::parse(r.try_get::<&str, _>(2)?))))
        .collect()
}

/// Records bytes found under `digest` with no row as `purging`, so the sweep's purge deletes
/// them under the same protocol as any other (a push of the digest waits meanwhile); false when
/// a row exists.
pub async fn insert_purging<'e>(
    e: impl Executor<'e, Database = Any>,
    digest: &str,
    size: i64,
) -> DbResult<bool> {
    insert_as(e, digest, size, "purging").await
}
