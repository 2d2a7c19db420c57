//! SQL for `registries` (registry endpoints).

use sqlx::{Any, Executor};

use super::{DbResult, like_escape, now_ms};
use frontend::types::{EndpointHealth, RegistryKind};

/// A stored registry endpoint. `access_secret` is sealed: only `endpoints::seal` opens it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RegistryRow {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Base URL, without a trailing slash.
    pub url: String,
    /// What it is.
    #[sqlx(try_from = "String")]
    pub kind: RegistryKind,
    /// Free text.
    pub description: String,
    /// Skip TLS certificate verification.
    #[sqlx(try_from = "crate::db::Flag")]
    pub insecure: bool,
    /// User name (empty: anonymous).
    pub access_key: String,
    /// The sealed secret (empty: none).
    pub access_secret: String,
    /// What the last check found.
    #[sqlx(try_from = "String")]
    pub status: EndpointHealth,
    /// When it was last checked, unix ms.
    pub checked_at: Option<i64>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// The fields a create or an update writes.
#[derive(Debug, Clone)]
pub struct RegistryFields<'a> {
    /// Unique name.
    pub name: &'a str,
    /// Base URL.
    pub url: &'a str,
    /// What it is.
    pub kind: RegistryKind,
    /// Free text.
    pub description: &'a str,
    /// Skip TLS verification.
    pub insecure: bool,
    /// User name.
    pub access_key: &'a str,
    /// The sealed secret.
    pub access_secret: &'a str,
}

const COLUMNS: &str = "id, name, url, kind, description, insecure, access_key, access_secret, status, \
     checked_at, created_at, updated_at";

/// Inserts an endpoint; returns its id.
pub async fn insert<'e>(e: impl Executor<'e, Database = Any>, f: &RegistryFields<'_>) -> DbResult<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO registries (name, url, kind, description, insecure, access_key, access_secret, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(f.name)
    .bind(f.url)
    .bind(f.kind.as_str())
    .bind(f.description)
    .bind(i64::from(f.insecure))
    .bind(f.access_key)
    .bind(f.access_secret)
    .bind(now)
    .fetch_one(e)
    .await?)
}

/// Replaces an endpoint's fields; false when there is no such endpoint.
pub async fn update<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    f: &RegistryFields<'_>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE registries SET name = $2, url = $3, kind = $4, description = $5, insecure = $6, \
         access_key = $7, access_secret = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.url)
    .bind(f.kind.as_str())
    .bind(f.description)
    .bind(i64::from(f.insecure))
    .bind(f.access_key)
    .bind(f.access_secret)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One endpoint.
pub async fn get<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<RegistryRow>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM registries WHERE id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?)
}

/// The endpoints whose name contains `name` (all when empty), by id, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<RegistryRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM registries WHERE ($1 = '' OR name LIKE $1 ESCAPE '\\') \
         ORDER BY id LIMIT $2 OFFSET $3"
    ))
    .bind(pattern(name))
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?)
}

/// How many endpoints [`list`] pages through.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>, name: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM registries WHERE ($1 = '' OR name LIKE $1 ESCAPE '\\')")
        .bind(pattern(name))
        .fetch_one(e)
        .await?)
}

fn pattern(name: &str) -> String {
    if name.is_empty() { String::new() } else { format!("%{}%", like_escape(name)) }
}

/// Every endpoint's id (for the background health check).
pub async fn ids<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM registries ORDER BY id").fetch_all(e).await?)
}

/// Records what a check of endpoint `id` found.
pub async fn set_status<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    status: EndpointHealth,
) -> DbResult<()> {
    sqlx::query("UPDATE registries SET status = $2, checked_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(())
}

/// The names of the projects that proxy endpoint `id`.
pub async fn proxy_projects<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM projects WHERE registry_id = $1 ORDER BY name")
        .bind(id)
        .fetch_all(e)
        .await?)
}

/// Deletes endpoint `id`; false when there is none.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM registries WHERE id = $1").bind(id).execute(e).await?;
    Ok(done.rows_affected() == 1)
}
