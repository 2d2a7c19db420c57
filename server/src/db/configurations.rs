//! The `configurations` table: one row per item an administrator set, its value as JSON.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};

/// Every stored item: name and JSON value.
pub async fn all<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<Vec<(String, String)>> {
    Ok(sqlx::query_as("SELECT name, value FROM configurations ORDER BY name").fetch_all(e).await?)
}

/// Stores `items` (name, JSON value), replacing what was there.
pub async fn put(tx: &mut sqlx::AnyConnection, items: &[(&str, String)]) -> DbResult<()> {
    let now = now_ms();
    for (name, value) in items {
        sqlx::query(
            "INSERT INTO configurations (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(*name)
        .bind(value.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
