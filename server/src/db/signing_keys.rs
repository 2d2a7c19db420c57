//! SQL for `signing_keys`.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};

/// Stores `secret` under `id` unless a key of that id exists, then returns the stored secret, so
/// replicas starting together all end up with the same key.
pub async fn get_or_insert(e: &sqlx::AnyPool, id: &str, secret: &[u8]) -> DbResult<Vec<u8>> {
    sqlx::query(
        "INSERT INTO signing_keys (id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(secret)
    .bind(now_ms())
    .execute(e)
    .await?;
    get(e, id).await
}

async fn get<'e>(e: impl Executor<'e, Database = Any>, id: &str) -> DbResult<Vec<u8>> {
    Ok(sqlx::query_scalar("SELECT secret FROM signing_keys WHERE id = $1").bind(id).fetch_one(e).await?)
}
