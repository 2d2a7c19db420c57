//! SQL for the `users` table.

use sqlx::{Any, Executor, Row};

use super::{DbResult, now_ms};

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// System administrator.
    pub sysadmin: bool,
    /// Disabled users cannot sign in.
    pub disabled: bool,
}

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<UserRow> {
    Ok(UserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        sysadmin: r.try_get::<i64, _>("sysadmin")? != 0,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
    })
}

/// Finds a user by name.
pub async fn by_username<'e>(
    e: impl Executor<'e, Database = Any>,
    username: &str,
) -> DbResult<Option<UserRow>> {
    let row =
        sqlx::query("SELECT id, username, password_hash, sysadmin, disabled FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(e)
            .await?;
    row.as_ref().map(from_row).transpose()
}

/// Creates a user, returning its id.
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    username: &str,
    password_hash: &str,
    sysadmin: bool,
) -> DbResult<i64> {
    let now = now_ms();
    let id = sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, sysadmin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(i64::from(sysadmin))
    .bind(now)
    .fetch_one(e)
    .await?;
    Ok(id)
}

/// Replaces a user's password hash; returns false when no such user exists.
pub async fn set_password<'e>(
    e: impl Executor<'e, Database = Any>,
    username: &str,
    password_hash: &str,
) -> DbResult<bool> {
    let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3")
        .bind(password_hash)
        .bind(now_ms())
        .bind(username)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Finds a user by id.
pub async fn by_id<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<UserRow>> {
    let row = sqlx::query("SELECT id, username, password_hash, sysadmin, disabled FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(e)
        .await?;
    row.as_ref().map(from_row).transpose()
}
