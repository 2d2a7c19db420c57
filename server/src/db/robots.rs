//! SQL for `robots`.

use sqlx::{Any, AnyPool, Executor, Row};

use super::{DbResult, now_ms};
use frontend::types::RobotPermissions;

/// A stored robot account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotRow {
    /// Id.
    pub id: i64,
    /// Full name: `robot$<project>+<name>`, or `robot$<name>` for a system robot.
    pub name: String,
    /// Its project; `None` for a system robot.
    pub project_id: Option<i64>,
    /// Free text.
    pub description: String,
    /// argon2id hash of the secret.
    pub secret_hash: String,
    /// What a project robot may do in its project.
    pub grants: RobotPermissions,
    /// What a system robot may do, per project.
    pub permissions: Vec<SystemGrant>,
    /// Disabled robots are refused.
    pub disabled: bool,
    /// Expiry, unix ms; -1 never.
    pub expires_at: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// A system robot's grants in one project, or in every project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemGrant {
    /// The project; `None` for every project.
    pub project_id: Option<i64>,
    /// The project's name (`None` for every project).
    pub project: Option<String>,
    /// What the robot may do there.
    pub grants: RobotPermissions,
}

impl RobotRow {
    /// Whether the robot may sign in now.
    pub fn usable(&self) -> bool {
        !self.disabled && (self.expires_at < 0 || self.expires_at > now_ms())
    }
}

const COLUMNS: &str = "id, name, project_id, description, secret_hash, can_pull, can_push, can_delete, disabled, expires_at, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<RobotRow> {
    let flag = |c: &str| -> DbResult<bool> { Ok(r.try_get::<i64, _>(c)? != 0) };
    Ok(RobotRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        project_id: r.try_get("project_id")?,
        description: r.try_get("description")?,
        secret_hash: r.try_get("secret_hash")?,
        grants: RobotPermissions {
            pull: flag("can_pull")?,
            push: flag("can_push")?,
            delete: flag("can_delete")?,
        },
        permissions: Vec::new(),
        disabled: flag("disabled")?,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Creates a robot; returns its id (a taken name is a unique violation).
pub async fn insert<'e>(e: impl Executor<'e, Database = Any>, r: &RobotRow) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO robots (name, project_id, description, secret_hash, can_pull, can_push, can_delete, disabled, \
         expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(&r.name)
    .bind(r.project_id)
    .bind(&r.description)
    .bind(&r.secret_hash)
    .bind(i64::from(r.grants.pull))
    .bind(i64::from(r.grants.push))
    .bind(i64::from(r.grants.delete))
    .bind(i64::from(r.disabled))
    .bind(r.expires_at)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// A robot by full name.
pub async fn by_name(pool: &AnyPool, name: &str) -> DbResult<Option<RobotRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM robots WHERE name = $1"))
        .bind(name)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(r) => Ok(Some(with_permissions(pool, from_row(&r)?).await?)),
        None => Ok(None),
    }
}

/// A robot by id.
pub async fn by_id(pool: &AnyPool, id: i64) -> DbResult<Option<RobotRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM robots WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(r) => Ok(Some(with_permissions(pool, from_row(&r)?).await?)),
        None => Ok(None),
    }
}

/// `r` with its per-project permissions read, when it is a system robot.
async fn with_permissions(pool: &AnyPool, mut r: RobotRow) -> DbResult<RobotRow> {
    if r.project_id.is_none() {
        r.permissions = permissions(pool, r.id).await?;
    }
    Ok(r)
}

/// A system robot's grants, per project (every project first).
pub async fn permissions<'e>(
    e: impl Executor<'e, Database = Any>,
    robot_id: i64,
) -> DbResult<Vec<SystemGrant>> {
    let rows = sqlx::query(
        "SELECT g.project_id, p.name, g.can_pull, g.can_push, g.can_delete FROM robot_permissions g \
         LEFT JOIN projects p ON p.id = g.project_id WHERE g.robot_id = $1 ORDER BY p.name",
    )
    .bind(robot_id)
    .fetch_all(e)
    .await?;
    rows.iter()
        .map(|r| {
            let flag = |c: &str| -> DbResult<bool> { Ok(r.try_get::<i64, _>(c)? != 0) };
            Ok(SystemGrant {
                project_id: r.try_get("project_id")?,
                project: r.try_get("name")?,
                grants: RobotPermissions {
                    pull: flag("can_pull")?,
                    push: flag("can_push")?,
                    delete: flag("can_delete")?,
                },
            })
        })
        .collect()
}

/// Replaces a system robot's grants.
pub async fn set_permissions(db: &super::Db, robot_id: i64, grants: &[SystemGrant]) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM robot_permissions WHERE robot_id = $1").bind(robot_id).execute(&mut *tx).await?;
    for g in grants {
        sqlx::query(
            "INSERT INTO robot_permissions (robot_id, project_id, can_pull, can_push, can_delete) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(robot_id)
        .bind(g.project_id)
        .bind(i64::from(g.grants.pull))
        .bind(i64::from(g.grants.push))
        .bind(i64::from(g.grants.delete))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The robots of a project, by name.
pub async fn list<'e>(e: impl Executor<'e, Database = Any>, project_id: i64) -> DbResult<Vec<RobotRow>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM robots WHERE project_id = $1 ORDER BY name"))
        .bind(project_id)
        .fetch_all(e)
        .await?;
    rows.iter().map(from_row).collect()
}

/// One page of every robot with its project's name (empty for system robots), by id, and how
/// many there are in all.
pub async fn list_all(db: &super::Db, offset: i64, limit: i64) -> DbResult<(Vec<(RobotRow, String)>, i64)> {
    let columns: String = COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(&format!(
        "SELECT {columns}, COALESCE(p.name, '') AS project_name FROM robots r \
         LEFT JOIN projects p ON p.id = r.project_id ORDER BY r.id LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(db.reader())
    .await?;
    let mut page = Vec::with_capacity(rows.len());
    for r in &rows {
        let robot = with_permissions(db.reader(), from_row(r)?).await?;
        page.push((robot, r.try_get("project_name")?));
    }
    let total = sqlx::query_scalar("SELECT COUNT(*) FROM robots").fetch_one(db.reader()).await?;
    Ok((page, total))
}

/// Replaces a robot's description, grants and disabled flag.
pub async fn update<'e>(e: impl Executor<'e, Database = Any>, r: &RobotRow) -> DbResult<()> {
    sqlx::query(
        "UPDATE robots SET description = $1, can_pull = $2, can_push = $3, can_delete = $4, disabled = $5, \
         updated_at = $6 WHERE id = $7",
    )
    .bind(&r.description)
    .bind(i64::from(r.grants.pull))
    .bind(i64::from(r.grants.push))
    .bind(i64::from(r.grants.delete))
    .bind(i64::from(r.disabled))
    .bind(now_ms())
    .bind(r.id)
    .execute(e)
    .await?;
    Ok(())
}

/// Replaces a robot's secret hash.
pub async fn set_secret<'e>(e: impl Executor<'e, Database = Any>, id: i64, hash: &str) -> DbResult<()> {
    sqlx::query("UPDATE robots SET secret_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// Deletes a robot.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM robots WHERE id = $1").bind(id).execute(e).await?;
    Ok(())
}
