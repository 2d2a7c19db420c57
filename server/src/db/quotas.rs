//! SQL for `project_quotas` and `project_blobs`. The counting itself happens in the triggers of
//! migration 0015 (every write to `manifests` and `manifest_blobs` moves it, in that write's
//! transaction); this module reads and limits it, and rebuilds it for `fsck --repair`.

use sqlx::{Any, Executor, Row};

use super::{Backend, DbResult, now_ms};

/// A project's quota.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QuotaRow {
    /// The project (also the quota's id).
    pub project_id: i64,
    /// The project's name.
    pub project_name: String,
    /// The project owner's login name, if the owner still exists.
    pub owner_name: Option<String>,
    /// Storage limit in bytes; -1: none.
    pub hard: i64,
    /// Bytes the project's artifacts hold.
    pub used: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change of the limit or the usage, unix ms.
    pub updated_at: i64,
}

const SELECT: &str = "SELECT q.project_id AS project_id, p.name AS project_name, u.username AS owner_name, \
     q.hard AS hard, q.used AS used, q.created_at AS created_at, q.updated_at AS updated_at \
     FROM project_quotas q JOIN projects p ON p.id = q.project_id LEFT JOIN users u ON u.id = p.owner_id";

/// The quota of project `project_id`.
pub async fn get<'e>(e: impl Executor<'e, Database = Any>, project_id: i64) -> DbResult<Option<QuotaRow>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE q.project_id = $1"))
        .bind(project_id)
        .fetch_optional(e)
        .await?)
}

/// Quotas in project-name order (optionally of one project), one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: Option<i64>,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<QuotaRow>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE ($1 < 0 OR q.project_id = $1) ORDER BY p.name LIMIT $2 OFFSET $3"
    ))
    .bind(project_id.unwrap_or(-1))
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?)
}

/// How many quotas [`list`] pages through.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>, project_id: Option<i64>) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM project_quotas WHERE ($1 < 0 OR project_id = $1)")
        .bind(project_id.unwrap_or(-1))
        .fetch_one(e)
        .await?)
}

/// Usage of each of `ids`: (project, used, hard). One query for a page of projects.
pub async fn usage_of<'e>(
    e: impl Executor<'e, Database = Any>,
    ids: &[i64],
) -> DbResult<Vec<(i64, i64, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT project_id, used, hard FROM project_quotas WHERE project_id IN ({})",
        super::placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(e).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// The usage of every project together (the statistics' storage consumption).
pub async fn total_used<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT CAST(COALESCE(SUM(used), 0) AS BIGINT) FROM project_quotas")
        .fetch_one(e)
        .await?)
}

/// Sets project `project_id`'s limit (-1: none); returns whether the project exists.
pub async fn set_hard<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    hard: i64,
) -> DbResult<bool> {
    let done = sqlx::query("UPDATE project_quotas SET hard = $2, updated_at = $3 WHERE project_id = $1")
        .bind(project_id)
        .bind(hard)
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A project's quota and governance as a write into it starts, read in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLock {
    /// Bytes used before the write.
    pub used: i64,
    /// The limit; -1: none.
    pub hard: i64,
    /// Whether the project has an enabled webhook policy (so a push into a project without
    /// webhooks pays nothing for them).
    pub webhooks: bool,
    /// The version of the project's immutability rules (see [`super::immutable::begin_change`]).
    pub rules_version: i64,
    /// Whether any immutability rule is enabled.
    pub rules: bool,
    /// Whether the project is public (what events say of its repositories).
    pub public: bool,
}

/// The quota of project `project_id`, read at the start of a write that may add to it or
/// delete from it. On PostgreSQL the quota row is locked until the transaction ends: writes in
/// one project queue here, so the usage read after them is exact, a limit cannot be overshot by
/// racing pushes, and a change of immutability rules (which updates the row) is ordered with
/// them.
pub async fn lock(tx: &mut sqlx::AnyConnection, backend: Backend, project_id: i64) -> DbResult<QuotaLock> {
    let lock = if backend == Backend::Postgres { " FOR UPDATE OF q" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT q.used, q.hard, CASE WHEN EXISTS (SELECT 1 FROM webhook_policies w \
         WHERE w.project_id = q.project_id AND w.enabled = 1) THEN 1 ELSE 0 END, q.rules_version, \
         CASE WHEN EXISTS (SELECT 1 FROM immutable_rules r WHERE r.project_id = q.project_id \
         AND r.disabled = 0) THEN 1 ELSE 0 END, p.public \
         FROM project_quotas q JOIN projects p ON p.id = q.project_id WHERE q.project_id = $1{lock}"
    ))
    .bind(project_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match row {
        Some(r) => QuotaLock {
            used: r.try_get(0)?,
            hard: r.try_get(1)?,
            webhooks: r.try_get::<i64, _>(2)? == 1,
            rules_version: r.try_get(3)?,
            rules: r.try_get::<i64, _>(4)? == 1,
            public: r.try_get::<i64, _>(5)? != 0,
        },
        None => {
            QuotaLock { used: 0, hard: -1, webhooks: false, rules_version: 0, rules: false, public: false }
        }
    })
}

/// (used, hard) of project `project_id`, outside any write (an upload's early check).
pub async fn usage<'e>(e: impl Executor<'e, Database = Any>, project_id: i64) -> DbResult<(i64, i64)> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT used, hard FROM project_quotas WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(e)
            .await?;
    Ok(row.unwrap_or((0, -1)))
}

/// The usage of project `project_id` as its triggers left it, inside the writing transaction.
pub async fn used_in(tx: &mut sqlx::AnyConnection, project_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT used FROM project_quotas WHERE project_id = $1")
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0))
}

/// Whether project `project_id` counts `digest` already (a blob one of its artifacts holds).
pub async fn counts<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    digest: &str,
) -> DbResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT refs FROM project_blobs WHERE project_id = $1 AND digest = $2")
            .bind(project_id)
            .bind(digest)
            .fetch_optional(e)
            .await?;
    Ok(found.is_some())
}

/// What the triggers should have counted, derived from the artifacts themselves: (digest,
/// size, references) of project `project_id`.
const ACTUAL: &str = "SELECT digest, MAX(size) AS size, COUNT(*) AS refs FROM ( \
     SELECT m.digest AS digest, m.size AS size FROM manifests m JOIN repositories r ON r.id = m.repository_id \
         WHERE r.project_id = $1 \
     UNION ALL \
     SELECT mb.digest, b.size FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id \
         JOIN repositories r ON r.id = m.repository_id JOIN blobs b ON b.digest = mb.digest \
         WHERE r.project_id = $1) AS refs GROUP BY digest";

/// A project whose stored usage differs from its artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The project.
    pub project_id: i64,
    /// Its name.
    pub name: String,
    /// The stored usage.
    pub stored: i64,
    /// The usage its artifacts add up to.
    pub actual: i64,
    /// Digests whose stored reference count is wrong or missing.
    pub wrong_refs: i64,
}

/// Every project: (id, name).
pub async fn projects<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<Vec<(i64, String)>> {
    Ok(sqlx::query_as("SELECT id, name FROM projects ORDER BY id").fetch_all(e).await?)
}

/// How project `project_id`'s stored usage and reference counts compare with its artifacts
/// (`None`: they agree). Run it after [`lock`] for an answer no write can move under it.
pub async fn drift_of(tx: &mut sqlx::AnyConnection, project_id: i64, name: &str) -> DbResult<Option<Drift>> {
    let stored: i64 = sqlx::query_scalar("SELECT used FROM project_quotas WHERE project_id = $1")
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(-1);
    let actual: i64 =
        sqlx::query_scalar(&format!("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM ({ACTUAL}) a"))
            .bind(project_id)
            .fetch_one(&mut *tx)
            .await?;
    let wrong_refs: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM ({ACTUAL}) a FULL OUTER JOIN \
         (SELECT digest, refs FROM project_blobs WHERE project_id = $1) s ON s.digest = a.digest \
         WHERE a.refs IS NULL OR s.refs IS NULL OR a.refs <> s.refs"
    ))
    .bind(project_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok((stored != actual || wrong_refs > 0).then(|| Drift {
        project_id,
        name: name.to_owned(),
        stored,
        actual,
        wrong_refs,
    }))
}

/// Rebuilds project `project_id`'s reference counts and usage from its artifacts; returns the
/// usage before and after. Runs in the caller's transaction, after [`lock`].
pub async fn recount(tx: &mut sqlx::AnyConnection, project_id: i64) -> DbResult<(i64, i64)> {
    let before = used_in(tx, project_id).await?;
    sqlx::query("DELETE FROM project_blobs WHERE project_id = $1").bind(project_id).execute(&mut *tx).await?;
    sqlx::query(&format!(
        "INSERT INTO project_blobs (project_id, digest, size, refs) SELECT $1, digest, size, refs FROM ({ACTUAL}) a"
    ))
    .bind(project_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO project_quotas (project_id, hard, used, created_at, updated_at) VALUES ($1, -1, 0, $2, $2) \
         ON CONFLICT (project_id) DO NOTHING",
    )
    .bind(project_id)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    let after: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM project_blobs WHERE project_id = $1",
    )
    .bind(project_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE project_quotas SET used = $2, updated_at = $3 WHERE project_id = $1")
        .bind(project_id)
        .bind(after)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    Ok((before, after))
}
