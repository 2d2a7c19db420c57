//! SQL for the `projects` table.

use sqlx::{Any, Executor, Row};

use super::{DbResult, now_ms};

/// What the registry needs to know about a project and, optionally, one of its repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectAccess {
    /// Project id.
    pub project_id: i64,
    /// Anyone may pull from a public project.
    pub public: bool,
    /// The repository's id, when it exists.
    pub repository_id: Option<i64>,
}

/// Looks up a project by name and, in the same query, a repository in it.
pub async fn access<'e>(
    e: impl Executor<'e, Database = Any>,
    project: &str,
    repository: &str,
) -> DbResult<Option<ProjectAccess>> {
    let row = sqlx::query(
        "SELECT p.id AS pid, p.public AS public, r.id AS rid FROM projects p \
         LEFT JOIN repositories r ON r.project_id = p.id AND r.name = $2 WHERE p.name = $1",
    )
    .bind(project)
    .bind(repository)
    .fetch_optional(e)
    .await?;
    row.map(|r| {
        Ok(ProjectAccess {
            project_id: r.try_get("pid")?,
            public: r.try_get::<i64, _>("public")? != 0,
            repository_id: r.try_get("rid")?,
        })
    })
    .transpose()
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
