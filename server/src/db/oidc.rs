//! SQL for `oidc_users`: accounts tied to an OpenID Provider's users.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};

/// The id of the account tied to provider user `subject` (`<issuer>|<sub>`).
pub async fn user_of<'e>(e: impl Executor<'e, Database = Any>, subject: &str) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT user_id FROM oidc_users WHERE subject = $1")
        .bind(subject)
        .fetch_optional(e)
        .await?)
}

/// Ties account `user_id` to `subject`, or records its new refresh token (sealed).
pub async fn link<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    subject: &str,
    refresh_token: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO oidc_users (user_id, subject, refresh_token, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (user_id) DO UPDATE SET refresh_token = excluded.refresh_token, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(subject)
    .bind(refresh_token)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}
