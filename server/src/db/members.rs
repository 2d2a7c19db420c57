//! SQL for `project_members`.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};
use frontend::types::Role;

/// A member as listed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    /// Membership id (Harbor's member `id`).
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// The user.
    pub user_id: i64,
    /// The user's name.
    pub username: String,
    /// The role.
    #[sqlx(rename = "role_id", try_from = "i64")]
    pub role: Role,
}

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<MemberRow> {
    Ok(<MemberRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
}

const SELECT: &str = "SELECT pm.id AS id, pm.project_id AS project_id, pm.user_id AS user_id, \
     u.username AS username, pm.role_id AS role_id FROM project_members pm JOIN users u ON u.id = pm.user_id";

/// Makes `user_id` a member of `project_id` with `role`; returns the membership id.
pub async fn add<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    user_id: i64,
    role: Role,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO project_members (project_id, user_id, role_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(role.id())
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Members of a project whose name contains `name` (all when empty), by name, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    name: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<MemberRow>> {
    let sql = format!(
        "{SELECT} WHERE pm.project_id = $1 AND u.username LIKE $2 ESCAPE '\\' ORDER BY u.username LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(&sql)
        .bind(project_id)
        .bind(format!("%{}%", super::like_escape(name)))
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?;
    rows.iter().map(from_row).collect()
}

/// How many members [`list`] would return without paging.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, name: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM project_members pm JOIN users u ON u.id = pm.user_id \
         WHERE pm.project_id = $1 AND u.username LIKE $2 ESCAPE '\\'",
    )
    .bind(project_id)
    .bind(format!("%{}%", super::like_escape(name)))
    .fetch_one(e)
    .await?)
}

/// One membership of a project.
pub async fn get<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    id: i64,
) -> DbResult<Option<MemberRow>> {
    let sql = format!("{SELECT} WHERE pm.project_id = $1 AND pm.id = $2");
    let row = sqlx::query(&sql).bind(project_id).bind(id).fetch_optional(e).await?;
    row.as_ref().map(from_row).transpose()
}

/// Changes a member's role; returns whether the membership exists.
pub async fn set_role<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    id: i64,
    role: Role,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE project_members SET role_id = $1, updated_at = $2 WHERE project_id = $3 AND id = $4",
    )
    .bind(role.id())
    .bind(now_ms())
    .bind(project_id)
    .bind(id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a membership; returns whether it existed.
pub async fn remove<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, id: i64) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many members project `project_id` has in each role: (role id, count).
pub async fn role_counts<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
) -> DbResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as("SELECT role_id, COUNT(*) FROM project_members WHERE project_id = $1 GROUP BY role_id")
        .bind(project_id)
        .fetch_all(e)
        .await?)
}
