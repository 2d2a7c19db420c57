//! SQL for the `users` table.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};

/// A stored user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Full name.
    pub realname: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// System administrator.
    #[sqlx(try_from = "crate::db::Flag")]
    pub sysadmin: bool,
    /// Disabled users cannot sign in.
    #[sqlx(try_from = "crate::db::Flag")]
    pub disabled: bool,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
    /// Raised when the credentials change or the account is disabled; refresh tokens name it.
    pub token_generation: i64,
}

const COLUMNS: &str = "id, username, email, realname, password_hash, sysadmin, disabled, created_at, updated_at, token_generation";

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<UserRow> {
    Ok(<UserRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
}

/// Finds a user by name.
pub async fn by_username<'e>(
    e: impl Executor<'e, Database = Any>,
    username: &str,
) -> DbResult<Option<UserRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE username = $1"))
        .bind(username)
        .fetch_optional(e)
        .await?;
    row.as_ref().map(from_row).transpose()
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
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1")).bind(id).fetch_optional(e).await?;
    row.as_ref().map(from_row).transpose()
}

/// A new user's fields.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Login name.
    pub username: &'a str,
    /// E-mail address.
    pub email: &'a str,
    /// Full name.
    pub realname: &'a str,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// System administrator.
    pub sysadmin: bool,
}

/// Creates a user with all fields; returns its id (a taken name is a unique violation).
pub async fn create<'e>(e: impl Executor<'e, Database = Any>, u: &NewUser<'_>) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO users (username, email, realname, password_hash, sysadmin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(u.username)
    .bind(u.email)
    .bind(u.realname)
    .bind(u.password_hash)
    .bind(i64::from(u.sysadmin))
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Users whose name contains `name` (all when empty), by name, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<UserRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE username LIKE $1 ESCAPE '\\' ORDER BY username LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(&sql)
        .bind(format!("%{}%", super::like_escape(name)))
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?;
    rows.iter().map(from_row).collect()
}

/// How many users [`list`] would return without paging.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>, name: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username LIKE $1 ESCAPE '\\'")
        .bind(format!("%{}%", super::like_escape(name)))
        .fetch_one(e)
        .await?)
}

/// Sets one flag column (`sysadmin` or `disabled`) of user `id`; returns whether the user exists.
async fn set_flag<'e>(
    e: impl Executor<'e, Database = Any>,
    column: &str,
    id: i64,
    on: bool,
) -> DbResult<bool> {
    let sql = format!("UPDATE users SET {column} = $1, updated_at = $2 WHERE id = $3");
    let done = sqlx::query(&sql).bind(i64::from(on)).bind(now_ms()).bind(id).execute(e).await?;
    Ok(done.rows_affected() == 1)
}

/// Makes user `id` a system administrator or not.
pub async fn set_sysadmin<'e>(e: impl Executor<'e, Database = Any>, id: i64, on: bool) -> DbResult<bool> {
    set_flag(e, "sysadmin", id, on).await
}

/// Disables or enables user `id`.
pub async fn set_disabled<'e>(e: impl Executor<'e, Database = Any>, id: i64, on: bool) -> DbResult<bool> {
    set_flag(e, "disabled", id, on).await
}

/// Replaces user `id`'s e-mail and full name.
pub async fn set_profile<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    email: &str,
    realname: &str,
) -> DbResult<bool> {
    let done = sqlx::query("UPDATE users SET email = $1, realname = $2, updated_at = $3 WHERE id = $4")
        .bind(email)
        .bind(realname)
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces user `id`'s password hash.
pub async fn set_password_hash<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    hash: &str,
) -> DbResult<bool> {
    let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends everything user `id` is signed in with: deletes their portal sessions and raises their
/// token generation, so refresh tokens issued before are refused.
pub async fn revoke_sign_ins(db: &super::Db, id: i64) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET token_generation = token_generation + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM ui_sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether any user other than the local `admin` exists.
pub async fn others_than_admin<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username <> 'admin'").fetch_one(e).await?;
    Ok(n > 0)
}

/// The password hash of accounts made by a directory sign-in: no password checks against it
/// (it is not a PHC string), so only the directory can sign them in.
pub const DIRECTORY_ACCOUNT: &str = "!directory";

/// Creates or refreshes the account of a user the directory signed in: their e-mail address and
/// name follow the directory's; `sysadmin` grants administration (an administrator's own grant
/// is kept when it is false). Returns the row.
pub async fn onboard<'e>(
    e: impl Executor<'e, Database = Any>,
    username: &str,
    email: &str,
    realname: &str,
    sysadmin: bool,
) -> DbResult<UserRow> {
    let row = sqlx::query(&format!(
        "INSERT INTO users (username, email, realname, password_hash, sysadmin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (username) DO UPDATE SET email = excluded.email, \
         realname = excluded.realname, sysadmin = CASE WHEN excluded.sysadmin = 1 THEN 1 ELSE users.sysadmin END, \
         updated_at = excluded.updated_at RETURNING {COLUMNS}"
    ))
    .bind(username)
    .bind(email)
    .bind(realname)
    .bind(DIRECTORY_ACCOUNT)
    .bind(i64::from(sysadmin))
    .bind(now_ms())
    .fetch_one(e)
    .await?;
    from_row(&row)
}
