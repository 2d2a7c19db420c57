//! SQL for `leases`: named locks with an expiry, so a job runs on one replica at a time and a
//! crashed holder's claim lapses.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};

/// Takes or renews lease `name` for `holder` until `ttl_ms` from now. True when `holder` holds
/// it afterwards: it was free, expired, or already `holder`'s.
pub async fn acquire<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> DbResult<bool> {
    let now = now_ms();
    let done = sqlx::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
    )
    .bind(name)
    .bind(holder)
    .bind(now + ttl_ms)
    .bind(now)
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Gives lease `name` up if `holder` has it.
pub async fn release<'e>(e: impl Executor<'e, Database = Any>, name: &str, holder: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(e)
        .await?;
    Ok(())
}

/// The current holder of lease `name`, if it has not expired.
pub async fn holder<'e>(e: impl Executor<'e, Database = Any>, name: &str) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT holder FROM leases WHERE name = $1 AND expires_at >= $2")
        .bind(name)
        .bind(now_ms())
        .fetch_optional(e)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_until_release_or_expiry() {
        let (_dir, db) = crate::db::testing::sqlite().await;
        let w = db.writer();
        assert!(acquire(w, "gc", "a", 60_000).await.expect("a"));
        assert!(!acquire(w, "gc", "b", 60_000).await.expect("b refused"));
        assert!(acquire(w, "gc", "a", 60_000).await.expect("a renews"));
        assert_eq!(holder(w, "gc").await.expect("holder").as_deref(), Some("a"));
        release(w, "gc", "b").await.expect("not b's");
        assert!(!acquire(w, "gc", "b", 60_000).await.expect("still a's"));
        release(w, "gc", "a").await.expect("release");
        assert!(acquire(w, "gc", "b", -1).await.expect("b takes it"));
        // b's lease has already expired: a takes it over as from a crashed holder.
        assert!(acquire(w, "gc", "a", 60_000).await.expect("expired"));
    }
}
