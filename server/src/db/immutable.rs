//! SQL for `immutable_rules` (tag immutability) and the tag writes that honour them.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};

/// A stored rule: its selectors are Harbor's JSON, checked before they are written.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RuleRow {
    /// Id.
    pub id: i64,
    /// The project it belongs to.
    pub project_id: i64,
    /// Harbor's priority (kept, not used: any enabled rule protects).
    pub priority: i64,
    /// Whether it is switched off.
    #[sqlx(try_from = "crate::db::Flag")]
    pub disabled: bool,
    /// `{"tag_selectors": […], "scope_selectors": {…}}`.
    pub selectors: String,
}

/// The rules of project `project_id`, in creation order.
pub async fn list<'e>(e: impl Executor<'e, Database = Any>, project_id: i64) -> DbResult<Vec<RuleRow>> {
    Ok(sqlx::query_as(
        "SELECT id, project_id, priority, disabled, selectors FROM immutable_rules \
         WHERE project_id = $1 ORDER BY id",
    )
    .bind(project_id)
    .fetch_all(e)
    .await?)
}

/// The selectors of project `project_id`'s enabled rules, read inside a push's or a delete's
/// transaction after [`super::quotas::lock`] (which also says whether there are any, and their
/// version).
pub async fn enabled_in(tx: &mut sqlx::AnyConnection, project_id: i64) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT selectors FROM immutable_rules WHERE project_id = $1 AND disabled = 0 ORDER BY id",
    )
    .bind(project_id)
    .fetch_all(&mut *tx)
    .await?)
}

/// Starts a change of project `project_id`'s rules: bumps their version on the row every push
/// locks (`project_quotas`), which holds that row until the change commits. A push committing
/// meanwhile waits for it and then reads the new rules; one that locked first commits under the
/// old ones before the change can.
pub async fn begin_change(tx: &mut sqlx::AnyConnection, project_id: i64) -> DbResult<()> {
    sqlx::query("UPDATE project_quotas SET rules_version = rules_version + 1 WHERE project_id = $1")
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// How many rules project `project_id` has.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>, project_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM immutable_rules WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(e)
        .await?)
}

/// Stores a rule; returns its id.
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    priority: i64,
    disabled: bool,
    selectors: &str,
) -> DbResult<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO immutable_rules (project_id, priority, disabled, selectors, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(project_id)
    .bind(priority)
    .bind(i64::from(disabled))
    .bind(selectors)
    .bind(now)
    .fetch_one(e)
    .await?)
}

/// Changes rule `id` of project `project_id`; returns whether it exists.
pub async fn update<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    id: i64,
    priority: i64,
    disabled: bool,
    selectors: &str,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE immutable_rules SET priority = $3, disabled = $4, selectors = $5, updated_at = $6 \
         WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(id)
    .bind(priority)
    .bind(i64::from(disabled))
    .bind(selectors)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes rule `id` of project `project_id`; returns whether it existed.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, id: i64) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM immutable_rules WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(e)
        .await?;
    Ok(done.rows_affected() > 0)
}
