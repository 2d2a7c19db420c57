//! SQL for the `projects` table.

use std::sync::LazyLock;

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};
use frontend::types::Role;

/// What a permission check needs to know about a project and, optionally, one of its
/// repositories, for one caller.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectAccess {
    /// Project id.
    #[sqlx(rename = "pid")]
    pub project_id: i64,
    /// Anyone may pull from a public project.
    #[sqlx(try_from = "crate::db::Flag")]
    pub public: bool,
    /// The repository's id, when it exists.
    #[sqlx(rename = "rid")]
    pub repository_id: Option<i64>,
    /// The caller's role in the project, when they are a member.
    #[sqlx(rename = "role_id", try_from = "crate::db::RoleId")]
    pub role: Option<Role>,
    /// The upstream endpoint, when the project is a proxy cache.
    pub registry_id: Option<i64>,
    /// The project is a group of other projects.
    #[sqlx(try_from = "crate::db::Flag")]
    pub is_group: bool,
}

/// Reads a [`ProjectAccess`] from a row with `pid`, `public`, `rid`, `role_id` and
/// `registry_id` columns.
pub(crate) fn access_from(r: &sqlx::any::AnyRow) -> DbResult<ProjectAccess> {
    Ok(<ProjectAccess as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
}

/// Looks up a project by name and, in the same query, a repository in it and the role of user
/// `user_id` (0: anonymous) there.
pub async fn access<'e>(
    e: impl Executor<'e, Database = Any>,
    project: &str,
    repository: &str,
    user_id: i64,
) -> DbResult<Option<ProjectAccess>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT p.id AS pid, p.public AS public, r.id AS rid, {} AS role_id, \
             p.registry_id AS registry_id, p.is_group AS is_group FROM projects p \
             LEFT JOIN repositories r ON r.project_id = p.id AND r.name = $2 WHERE p.name = $1",
            super::members::role_of("p.id", "$3")
        )
    });
    let row = sqlx::query(&SQL).bind(project).bind(repository).bind(user_id).fetch_optional(e).await?;
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

/// Ids of the projects user `user_id` (0: anonymous) may read: public ones and those they are a
/// member of.
pub async fn readable_ids<'e>(e: impl Executor<'e, Database = Any>, user_id: i64) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT p.id FROM projects p WHERE p.public <> 0 OR {}",
        super::members::is_member("p.id", "$1")
    ))
    .bind(user_id)
    .fetch_all(e)
    .await?)
}

/// A project as the API shows it, with the caller's role.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectRow {
    /// Project id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Public projects can be pulled by anyone.
    #[sqlx(try_from = "crate::db::Flag")]
    pub public: bool,
    /// The creating user, if known.
    pub owner_id: Option<i64>,
    /// The creating user's name, if known.
    pub owner_name: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
    /// Repositories in the project.
    pub repo_count: i64,
    /// The caller's role, when a member.
    #[sqlx(rename = "role_id", try_from = "crate::db::RoleId")]
    pub role: Option<Role>,
    /// The project's retention policy, if it has one.
    pub retention_id: Option<i64>,
    /// The upstream endpoint, when the project is a proxy cache.
    pub registry_id: Option<i64>,
    /// The proxy's upstream bandwidth in KiB/s; -1 unlimited.
    pub proxy_speed_kb: i64,
    /// The upstream endpoint's name.
    pub registry_name: Option<String>,
    /// The project is a group of other projects.
    #[sqlx(try_from = "crate::db::Flag")]
    pub is_group: bool,
}

/// Which projects a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// Show private projects the caller is not a member of (system administrators).
    pub all: bool,
    /// Only names containing this.
    pub name_contains: String,
    /// Only this exact name.
    pub name_exact: String,
    /// Only public (`Some(true)`) or private (`Some(false)`) projects.
    pub public: Option<bool>,
}

/// Projects with their caller's role ($1 the user); [`PROJECT_WHERE`] filters them.
static PROJECT_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT p.id AS id, p.name AS name, p.public AS public, p.owner_id AS owner_id, \
         u.username AS owner_name, p.created_at AS created_at, p.updated_at AS updated_at, \
         (SELECT COUNT(*) FROM repositories r WHERE r.project_id = p.id) AS repo_count, {} AS role_id, \
         (SELECT rp.id FROM retention_policies rp WHERE rp.project_id = p.id) AS retention_id, \
         p.registry_id AS registry_id, p.proxy_speed_kb AS proxy_speed_kb, \
         (SELECT rg.name FROM registries rg WHERE rg.id = p.registry_id) AS registry_name, p.is_group AS is_group \
         FROM projects p LEFT JOIN users u ON u.id = p.owner_id",
        super::members::role_of("p.id", "$1")
    )
});

/// The filter of [`list`] and [`count`]; parameters $1..$5.
static PROJECT_WHERE: LazyLock<String> = LazyLock::new(|| {
    format!(
        " WHERE ($2 <> 0 OR p.public <> 0 OR {}) \
         AND ($3 = '' OR p.name LIKE $3 ESCAPE '\\') AND ($4 = '' OR p.name = $4) AND ($5 < 0 OR p.public = $5)",
        super::members::is_member("p.id", "$1")
    )
});

fn project_from(r: &sqlx::any::AnyRow) -> DbResult<ProjectRow> {
    Ok(<ProjectRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
}

fn filter_args(f: &ProjectFilter) -> (i64, String, String, i64) {
    let contains = if f.name_contains.is_empty() {
        String::new()
    } else {
        format!("%{}%", super::like_escape(&f.name_contains))
    };
    (i64::from(f.all), contains, f.name_exact.clone(), f.public.map_or(-1, i64::from))
}

/// Projects visible to user `user_id` (0: anonymous) under `f`, by name, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    f: &ProjectFilter,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<ProjectRow>> {
    let (all, contains, exact, public) = filter_args(f);
    let sql = format!("{}{} ORDER BY p.name LIMIT $6 OFFSET $7", *PROJECT_SELECT, *PROJECT_WHERE);
    let rows = sqlx::query(&sql)
        .bind(user_id)
        .bind(all)
        .bind(contains)
        .bind(exact)
        .bind(public)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?;
    rows.iter().map(project_from).collect()
}

/// How many projects [`list`] would show without paging.
pub async fn count<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    f: &ProjectFilter,
) -> DbResult<i64> {
    let (all, contains, exact, public) = filter_args(f);
    let sql = format!("SELECT COUNT(*) FROM projects p{}", *PROJECT_WHERE);
    Ok(sqlx::query_scalar(&sql)
        .bind(user_id)
        .bind(all)
        .bind(contains)
        .bind(exact)
        .bind(public)
        .fetch_one(e)
        .await?)
}

/// One project by id or name, with the role of user `user_id` in it.
pub async fn find<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    id: Option<i64>,
    name: &str,
) -> DbResult<Option<ProjectRow>> {
    let row = match id {
        Some(id) => {
            sqlx::query(&format!("{} WHERE p.id = $2", *PROJECT_SELECT))
                .bind(user_id)
                .bind(id)
                .fetch_optional(e)
                .await?
        }
        None => {
            sqlx::query(&format!("{} WHERE p.name = $2", *PROJECT_SELECT))
                .bind(user_id)
                .bind(name)
                .fetch_optional(e)
                .await?
        }
    };
    row.as_ref().map(project_from).transpose()
}

/// Creates a project; returns its id (a taken name is a unique violation).
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    public: bool,
    owner_id: Option<i64>,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO projects (name, public, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(name)
    .bind(i64::from(public))
    .bind(owner_id)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Makes project `id` a proxy cache of endpoint `registry_id` with the upstream bandwidth
/// `speed_kb` (KiB/s, -1 unlimited).
pub async fn set_proxy<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    registry_id: Option<i64>,
    speed_kb: i64,
) -> DbResult<()> {
    sqlx::query("UPDATE projects SET registry_id = $2, proxy_speed_kb = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(registry_id)
        .bind(speed_kb)
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(())
}

/// A member of a group project: its name and, when it is a proxy cache, its endpoint.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupMember {
    /// The member project's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its upstream endpoint, when it is a proxy cache.
    pub registry_id: Option<i64>,
}

/// The members of group project `id`, in the order pulls search them.
pub async fn group_members<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Vec<GroupMember>> {
    Ok(sqlx::query_as(
        "SELECT p.id AS id, p.name AS name, p.registry_id AS registry_id FROM project_group_members g \
         JOIN projects p ON p.id = g.member_id WHERE g.group_id = $1 ORDER BY g.position",
    )
    .bind(id)
    .fetch_all(e)
    .await?)
}

/// Makes project `id` a group of `members` (project ids, in search order).
pub async fn set_group(tx: &mut sqlx::AnyConnection, id: i64, members: &[i64]) -> DbResult<()> {
    sqlx::query("UPDATE projects SET is_group = 1 WHERE id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM project_group_members WHERE group_id = $1").bind(id).execute(&mut *tx).await?;
    for (i, m) in members.iter().enumerate() {
        sqlx::query("INSERT INTO project_group_members (group_id, member_id, position) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(*m)
            .bind(i as i64)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The upstream bandwidth of proxy project `id`, KiB/s; -1 unlimited.
pub async fn proxy_speed<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT proxy_speed_kb FROM projects WHERE id = $1")
        .bind(id)
        .fetch_optional(e)
        .await?
        .unwrap_or(-1))
}

/// Makes a project public or private.
pub async fn set_public<'e>(e: impl Executor<'e, Database = Any>, id: i64, public: bool) -> DbResult<()> {
    sqlx::query("UPDATE projects SET public = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(public))
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// Project and repository counts for `GET /statistics`: (public projects, private projects,
/// public repositories, private repositories), over every project when `all`, else over the
/// public ones and those user `user_id` is a member of.
pub async fn statistics<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    all: bool,
) -> DbResult<(i64, i64, i64, i64)> {
    Ok(sqlx::query_as(&format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN v.public = 1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN v.public = 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN v.public = 1 THEN v.repos ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN v.public = 0 THEN v.repos ELSE 0 END), 0) AS BIGINT) FROM \
         (SELECT p.public AS public, (SELECT COUNT(*) FROM repositories r WHERE r.project_id = p.id) AS repos \
          FROM projects p WHERE $2 = 1 OR p.public = 1 OR {}) v",
        super::members::is_member("p.id", "$1")
    ))
    .bind(user_id)
    .bind(i64::from(all))
    .fetch_one(e)
    .await?)
}

/// The name of project `id`.
pub async fn name_of<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM projects WHERE id = $1").bind(id).fetch_optional(e).await?)
}

/// Deletes a project that has no repositories; returns whether it was deleted.
pub async fn delete_if_empty<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "DELETE FROM projects WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM repositories r WHERE r.project_id = $1)",
    )
    .bind(id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}
