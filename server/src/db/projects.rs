//! SQL for the `projects` table.

use sqlx::{Any, Executor, Row};

use super::{DbResult, now_ms};
use crate::auth::Role;

/// What a permission check needs to know about a project and, optionally, one of its
/// repositories, for one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectAccess {
    /// Project id.
    pub project_id: i64,
    /// Anyone may pull from a public project.
    pub public: bool,
    /// The repository's id, when it exists.
    pub repository_id: Option<i64>,
    /// The caller's role in the project, when they are a member.
    pub role: Option<Role>,
}

/// Reads a [`ProjectAccess`] from a row with `pid`, `public`, `rid` and `role_id` columns.
pub(crate) fn access_from(r: &sqlx::any::AnyRow) -> DbResult<ProjectAccess> {
    Ok(ProjectAccess {
        project_id: r.try_get("pid")?,
        public: r.try_get::<i64, _>("public")? != 0,
        repository_id: r.try_get("rid")?,
        role: r.try_get::<Option<i64>, _>("role_id")?.and_then(Role::from_id),
    })
}

/// Looks up a project by name and, in the same query, a repository in it and the role of user
/// `user_id` (0: anonymous) there.
pub async fn access<'e>(
    e: impl Executor<'e, Database = Any>,
    project: &str,
    repository: &str,
    user_id: i64,
) -> DbResult<Option<ProjectAccess>> {
    let row = sqlx::query(
        "SELECT p.id AS pid, p.public AS public, r.id AS rid, pm.role_id AS role_id FROM projects p \
         LEFT JOIN repositories r ON r.project_id = p.id AND r.name = $2 \
         LEFT JOIN project_members pm ON pm.project_id = p.id AND pm.user_id = $3 WHERE p.name = $1",
    )
    .bind(project)
    .bind(repository)
    .bind(user_id)
    .fetch_optional(e)
    .await?;
    row.as_ref().map(access_from).transpose()
}

/// Creates a project unless one of that name exists; returns whether it was created.
pub async fn insert_if_missing<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    public: bool,
    owner_id: Option<i64>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO projects (name, public, owner_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(i64::from(public))
    .bind(owner_id)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ids of the projects anyone may read (public ones).
pub async fn public_ids<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM projects WHERE public <> 0").fetch_all(e).await?)
}
