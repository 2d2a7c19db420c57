//! SQL for `ui_sessions`: the web portal's browser sessions.

use sqlx::{Any, Executor, Row};

use super::{DbResult, now_ms};

/// The user behind a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// User id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// System administrator.
    pub sysadmin: bool,
}

/// Stores a session until `expires_at` (unix ms).
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    id_hash: &str,
    user_id: i64,
    expires_at: i64,
) -> DbResult<()> {
    sqlx::query("INSERT INTO ui_sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id_hash)
        .bind(user_id)
        .bind(now_ms())
        .bind(expires_at)
        .execute(e)
        .await?;
    Ok(())
}

/// The enabled user of an unexpired session, and when the session expires (unix ms).
pub async fn user<'e>(
    e: impl Executor<'e, Database = Any>,
    id_hash: &str,
) -> DbResult<Option<(SessionUser, i64)>> {
    let row = sqlx::query(
        "SELECT u.id, u.username, u.sysadmin, s.expires_at FROM ui_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
    )
    .bind(id_hash)
    .bind(now_ms())
    .fetch_optional(e)
    .await?;
    row.map(|r| {
        let user = SessionUser {
            id: r.try_get(0)?,
            username: r.try_get(1)?,
            sysadmin: r.try_get::<i64, _>(2)? != 0,
        };
        Ok((user, r.try_get(3)?))
    })
    .transpose()
}

/// Stores or updates a session.
pub async fn upsert<'e>(
    e: impl Executor<'e, Database = Any>,
    id_hash: &str,
    user_id: i64,
    expires_at: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO ui_sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(now_ms())
    .bind(expires_at)
    .execute(e)
    .await?;
    Ok(())
}

/// Ends a session.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, id_hash: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1").bind(id_hash).execute(e).await?;
    Ok(())
}

/// Drops expired sessions; returns how many.
pub async fn purge_expired<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<u64> {
    Ok(sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
        .bind(now_ms())
        .execute(e)
        .await?
        .rows_affected())
}
