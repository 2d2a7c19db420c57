//! SQL for `oidc_users`: accounts tied to an OpenID Provider's users.

use sqlx::{Any, Executor, Row};

use super::{DbResult, now_ms};

/// An account's tie to its provider user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcUserRow {
    /// The account.
    pub user_id: i64,
    /// `<issuer>|<sub>`.
    pub subject: String,
    /// The CLI secret, sealed with the server's key.
    pub secret: String,
    /// The provider's refresh token, sealed; empty when it gave none or the session ended.
    pub refresh_token: String,
    /// Unix seconds when the provider's tokens expire.
    pub token_expires: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

const COLUMNS: &str =
    "o.user_id, o.subject, o.secret, o.refresh_token, o.token_expires, o.created_at, o.updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<OidcUserRow> {
    Ok(OidcUserRow {
        user_id: r.try_get(0)?,
        subject: r.try_get(1)?,
        secret: r.try_get(2)?,
        refresh_token: r.try_get(3)?,
        token_expires: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

/// The id of the account tied to provider user `subject` (`<issuer>|<sub>`).
pub async fn user_of<'e>(e: impl Executor<'e, Database = Any>, subject: &str) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT user_id FROM oidc_users WHERE subject = $1")
        .bind(subject)
        .fetch_optional(e)
        .await?)
}

/// The provider tie of account `user_id`, if it has one.
pub async fn of_user<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
) -> DbResult<Option<OidcUserRow>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM oidc_users o WHERE o.user_id = $1"))
        .bind(user_id)
        .fetch_optional(e)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The provider tie of the account named `username`, if it has one.
pub async fn of_username<'e>(
    e: impl Executor<'e, Database = Any>,
    username: &str,
) -> DbResult<Option<OidcUserRow>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM oidc_users o JOIN users u ON u.id = o.user_id WHERE u.username = $1"
    ))
    .bind(username)
    .fetch_optional(e)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Ties account `user_id` to `subject` with CLI secret `secret` (sealed; an existing tie keeps
/// its own), or records the tokens of a new sign-in: the sealed `refresh_token` and their expiry.
pub async fn link<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    subject: &str,
    secret: &str,
    refresh_token: &str,
    token_expires: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO oidc_users (user_id, subject, secret, refresh_token, token_expires, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (user_id) DO UPDATE SET \
         refresh_token = excluded.refresh_token, token_expires = excluded.token_expires, \
         secret = CASE WHEN oidc_users.secret = '' THEN excluded.secret ELSE oidc_users.secret END, \
         updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(subject)
    .bind(secret)
    .bind(refresh_token)
    .bind(token_expires)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}

/// Replaces account `user_id`'s CLI secret (sealed); false when it has no provider tie.
pub async fn set_secret<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    secret: &str,
) -> DbResult<bool> {
    Ok(sqlx::query("UPDATE oidc_users SET secret = $2, updated_at = $3 WHERE user_id = $1")
        .bind(user_id)
        .bind(secret)
        .bind(now_ms())
        .execute(e)
        .await?
        .rows_affected()
        > 0)
}

/// Claims the refresh of account `user_id`'s tokens, which expired at `expired`: their expiry
/// moves to `until` unless another replica claimed them first (then false). The claim makes one
/// replica ask the provider while the others trust the session a little longer, so a refresh
/// token the provider rotates is never redeemed twice.
pub async fn claim_refresh<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    expired: i64,
    until: i64,
) -> DbResult<bool> {
    Ok(sqlx::query("UPDATE oidc_users SET token_expires = $3 WHERE user_id = $1 AND token_expires = $2")
        .bind(user_id)
        .bind(expired)
        .bind(until)
        .execute(e)
        .await?
        .rows_affected()
        > 0)
}

/// Records the outcome of a refresh: the new sealed refresh token (empty when the session is
/// gone) and when the new tokens expire.
pub async fn set_tokens<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    refresh_token: &str,
    token_expires: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE oidc_users SET refresh_token = $2, token_expires = $3, updated_at = $4 WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(refresh_token)
    .bind(token_expires)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}
