//! What garbage collection and `fsck` ask of the manifests: which are present, which are
//! removable untagged ones, and which reference a blob.

use sqlx::{Any, Executor, Row};

use crate::db::{Backend, DbResult, placeholders};

/// Of `digests`, the manifests present in the repository: (digest, id, size). On PostgreSQL the
/// rows are share-locked until the caller's transaction ends, so the collector's removal of
/// untagged manifests waits for an index naming them to commit (and then keeps them).
pub async fn present_among(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    repo_id: i64,
    digests: &[&str],
) -> DbResult<Vec<(String, i64, i64)>> {
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    let lock = if backend == Backend::Postgres { " FOR SHARE" } else { "" };
    let sql = format!(
        "SELECT digest, id, total_size FROM manifests WHERE repository_id = $1 AND digest IN ({}){lock}",
        placeholders(2, digests.len())
    );
    let mut q = sqlx::query(&sql).bind(repo_id);
    for d in digests {
        q = q.bind(*d);
    }
    let rows = q.fetch_all(&mut *tx).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// What makes a manifest removable by `delete_untagged`: pushed before the cutoff (`$1`), no
/// tag, no index naming it, and no subject left in its repository.
const UNTAGGED: &str = "m.pushed_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id) \
     AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.child_id = m.id) \
     AND (m.subject_digest IS NULL OR NOT EXISTS \
          (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest))";

/// Up to `limit` removable untagged manifests with ids above `after`, in id order.
pub async fn untagged<'e>(
    e: impl Executor<'e, Database = Any>,
    cutoff: i64,
    after: i64,
    limit: i64,
) -> DbResult<Vec<i64>> {
    let sql = format!("SELECT m.id FROM manifests m WHERE {UNTAGGED} AND m.id > $2 ORDER BY m.id LIMIT $3");
    Ok(sqlx::query_scalar(&sql).bind(cutoff).bind(after).bind(limit).fetch_all(e).await?)
}

/// Deletes those of `ids` that are still removable; returns how many went.
///
/// On PostgreSQL the rows are locked `FOR UPDATE` first, which waits for a concurrent tag, index
/// or re-push holding them to commit; the `DELETE` that follows is a new statement whose
/// snapshot sees those commits and keeps the manifest.
pub async fn delete_untagged(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    ids: &[i64],
    cutoff: i64,
) -> DbResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = placeholders(2, ids.len());
    if backend == Backend::Postgres {
        let sql = format!(
            "SELECT id FROM manifests WHERE pushed_at < $1 AND id IN ({list}) ORDER BY id FOR UPDATE"
        );
        let mut q = sqlx::query(&sql).bind(cutoff);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *tx).await?;
    }
    let sql = format!(
        "DELETE FROM manifests WHERE id IN (SELECT m.id FROM manifests m WHERE {UNTAGGED} AND m.id IN ({list}))"
    );
    let mut q = sqlx::query(&sql).bind(cutoff);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.execute(&mut *tx).await?.rows_affected())
}

/// The manifests (`repository@digest`) that reference blob `digest`.
pub async fn referencing_blob<'e>(
    e: impl Executor<'e, Database = Any>,
    digest: &str,
) -> DbResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT r.name, m.digest FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id \
         JOIN repositories r ON r.id = m.repository_id WHERE mb.digest = $1 ORDER BY r.name, m.digest",
    )
    .bind(digest)
    .fetch_all(e)
    .await?;
    rows.iter().map(|r| Ok(format!("{}@{}", r.try_get::<&str, _>(0)?, r.try_get::<&str, _>(1)?))).collect()
}

/// Up to `limit` manifests after id `after`: id, `repository@digest` and content (for `fsck`).
pub async fn content_page<'e>(
    e: impl Executor<'e, Database = Any>,
    after: i64,
    limit: i64,
) -> DbResult<Vec<(i64, String, String, Vec<u8>)>> {
    let rows = sqlx::query(
        "SELECT m.id, r.name, m.digest, m.content FROM manifests m JOIN repositories r ON r.id = m.repository_id \
         WHERE m.id > $1 ORDER BY m.id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(e)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
}

/// Pairs of (`repository@manifest digest`, blob digest) where a manifest references a blob a
/// sweep is deleting: the collector's protocol forbids this, so `fsck` reports any.
pub async fn referencing_purging<'e>(
    e: impl Executor<'e, Database = Any>,
) -> DbResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT r.name, m.digest, b.digest FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.digest \
         JOIN manifests m ON m.id = mb.manifest_id JOIN repositories r ON r.id = m.repository_id \
         WHERE b.status = 'purging' ORDER BY r.name, m.digest",
    )
    .fetch_all(e)
    .await?;
    rows.iter()
        .map(|r| Ok((format!("{}@{}", r.try_get::<&str, _>(0)?, r.try_get::<&str, _>(1)?), r.try_get(2)?)))
        .collect()
}
