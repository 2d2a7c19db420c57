//! SQL for retention: `retention_policies`, `retention_executions`, `retention_tasks`, and
//! the read of a project's artifacts the evaluator needs (three queries per project, however
//! many repositories and artifacts it has).

use std::collections::HashMap;

use sqlx::{Any, Executor, Row};

use super::{Backend, DbResult, now_ms};
use crate::retention::evaluate::{Manifest, Repository, Tag};

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    /// Policy id.
    pub id: i64,
    /// The project it belongs to.
    pub project_id: i64,
    /// Harbor's JSON document.
    pub policy: String,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

fn policy_from(r: &sqlx::any::AnyRow) -> DbResult<PolicyRow> {
    Ok(PolicyRow {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        policy: r.try_get(2)?,
        created_at: r.try_get(3)?,
        updated_at: r.try_get(4)?,
    })
}

/// Stores project `project_id`'s policy; fails with a unique violation if it has one.
pub async fn insert_policy<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    policy: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO retention_policies (project_id, policy, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         RETURNING id",
    )
    .bind(project_id)
    .bind(policy)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Policy `id`.
pub async fn get_policy<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<PolicyRow>> {
    sqlx::query("SELECT id, project_id, policy, created_at, updated_at FROM retention_policies WHERE id = $1")
        .bind(id)
        .fetch_optional(e)
        .await?
        .as_ref()
        .map(policy_from)
        .transpose()
}

/// The policy of project `project_id`.
pub async fn policy_of_project<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
) -> DbResult<Option<PolicyRow>> {
    sqlx::query(
        "SELECT id, project_id, policy, created_at, updated_at FROM retention_policies WHERE project_id = $1",
    )
    .bind(project_id)
    .fetch_optional(e)
    .await?
    .as_ref()
    .map(policy_from)
    .transpose()
}

/// Replaces policy `id`'s document.
pub async fn update_policy<'e>(e: impl Executor<'e, Database = Any>, id: i64, policy: &str) -> DbResult<()> {
    sqlx::query("UPDATE retention_policies SET policy = $1, updated_at = $2 WHERE id = $3")
        .bind(policy)
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// Deletes policy `id` with its history; returns whether it existed.
pub async fn delete_policy<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<bool> {
    Ok(sqlx::query("DELETE FROM retention_policies WHERE id = $1").bind(id).execute(e).await?.rows_affected()
        > 0)
}

/// An execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRow {
    /// Id.
    pub id: i64,
    /// Its policy.
    pub policy_id: i64,
    /// `MANUAL` or `SCHEDULE`.
    pub trigger_kind: String,
    /// Nothing deleted.
    pub dry_run: bool,
    /// `Running`, `Success`, `Error` or `Stopped`.
    pub status: String,
    /// Start, unix ms.
    pub created_at: i64,
    /// End, unix ms.
    pub ended_at: Option<i64>,
}

const EXECUTION_COLUMNS: &str = "id, policy_id, trigger_kind, dry_run, status, created_at, ended_at";

fn execution_from(r: &sqlx::any::AnyRow) -> DbResult<ExecutionRow> {
    Ok(ExecutionRow {
        id: r.try_get(0)?,
        policy_id: r.try_get(1)?,
        trigger_kind: r.try_get(2)?,
        dry_run: r.try_get::<i64, _>(3)? != 0,
        status: r.try_get(4)?,
        created_at: r.try_get(5)?,
        ended_at: r.try_get(6)?,
    })
}

/// Records a running execution of policy `policy_id`; returns its id.
pub async fn insert_execution<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: i64,
    trigger_kind: &str,
    dry_run: bool,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO retention_executions (policy_id, trigger_kind, dry_run, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Running', $4, $4) RETURNING id",
    )
    .bind(policy_id)
    .bind(trigger_kind)
    .bind(i64::from(dry_run))
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Execution `id` of policy `policy_id`.
pub async fn get_execution<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: i64,
    id: i64,
) -> DbResult<Option<ExecutionRow>> {
    let sql =
        format!("SELECT {EXECUTION_COLUMNS} FROM retention_executions WHERE id = $1 AND policy_id = $2");
    sqlx::query(&sql)
        .bind(id)
        .bind(policy_id)
        .fetch_optional(e)
        .await?
        .as_ref()
        .map(execution_from)
        .transpose()
}

/// Executions of policy `policy_id`, newest first, one page.
pub async fn list_executions<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: i64,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<ExecutionRow>> {
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM retention_executions WHERE policy_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
    );
    sqlx::query(&sql)
        .bind(policy_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?
        .iter()
        .map(execution_from)
        .collect()
}

/// Number of executions of policy `policy_id`.
pub async fn count_executions<'e>(e: impl Executor<'e, Database = Any>, policy_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM retention_executions WHERE policy_id = $1")
        .bind(policy_id)
        .fetch_one(e)
        .await?)
}

/// Ends execution `id` with `status`.
pub async fn finish_execution<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    status: &str,
) -> DbResult<()> {
    sqlx::query("UPDATE retention_executions SET status = $1, ended_at = $2, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// Asks execution `id` to stop; false when it is not running.
pub async fn request_stop<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE retention_executions SET stop_requested = 1, updated_at = $1 WHERE id = $2 AND status = 'Running'",
    )
    .bind(now_ms())
    .bind(id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Records progress of execution `id`; returns whether a stop was requested.
pub async fn heartbeat<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<bool> {
    let stop: Option<i64> = sqlx::query_scalar(
        "UPDATE retention_executions SET updated_at = $1 WHERE id = $2 RETURNING stop_requested",
    )
    .bind(now_ms())
    .bind(id)
    .fetch_optional(e)
    .await?;
    Ok(stop.unwrap_or(0) != 0)
}

/// Marks executions of policy `policy_id` still `Running` (their process died: the caller holds
/// the project's lease) as `Error`.
pub async fn abandon_running<'e>(e: impl Executor<'e, Database = Any>, policy_id: i64) -> DbResult<u64> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE retention_executions SET status = 'Error', ended_at = $1, updated_at = $1 \
         WHERE policy_id = $2 AND status = 'Running'",
    )
    .bind(now)
    .bind(policy_id)
    .execute(e)
    .await?;
    Ok(done.rows_affected())
}

/// A task: one repository of an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// Id.
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
    /// Full repository name.
    pub repository: String,
    /// `Running`, `Success`, `Error` or `Stopped`.
    pub status: String,
    /// Candidates.
    pub total: i64,
    /// Candidates retained.
    pub retained: i64,
    /// Start, unix ms.
    pub started_at: i64,
    /// End, unix ms.
    pub ended_at: Option<i64>,
}

const TASK_COLUMNS: &str = "id, execution_id, repository, status, total, retained, started_at, ended_at";

fn task_from(r: &sqlx::any::AnyRow) -> DbResult<TaskRow> {
    Ok(TaskRow {
        id: r.try_get(0)?,
        execution_id: r.try_get(1)?,
        repository: r.try_get(2)?,
        status: r.try_get(3)?,
        total: r.try_get(4)?,
        retained: r.try_get(5)?,
        started_at: r.try_get(6)?,
        ended_at: r.try_get(7)?,
    })
}

/// Records a running task for `repository`; returns its id.
pub async fn insert_task<'e>(
    e: impl Executor<'e, Database = Any>,
    execution_id: i64,
    repository: &str,
    total: i64,
    retained: i64,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO retention_tasks (execution_id, repository, status, total, retained, started_at) \
         VALUES ($1, $2, 'Running', $3, $4, $5) RETURNING id",
    )
    .bind(execution_id)
    .bind(repository)
    .bind(total)
    .bind(retained)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Ends task `id` with `status`, its final retained count and its log.
pub async fn finish_task<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    status: &str,
    retained: i64,
    log: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE retention_tasks SET status = $1, retained = $2, log = $3, ended_at = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(retained)
    .bind(log)
    .bind(now_ms())
    .bind(id)
    .execute(e)
    .await?;
    Ok(())
}

/// Tasks of execution `execution_id`, in order, one page.
pub async fn list_tasks<'e>(
    e: impl Executor<'e, Database = Any>,
    execution_id: i64,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<TaskRow>> {
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM retention_tasks WHERE execution_id = $1 ORDER BY id LIMIT $2 OFFSET $3"
    );
    sqlx::query(&sql)
        .bind(execution_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?
        .iter()
        .map(task_from)
        .collect()
}

/// Number of tasks of execution `execution_id`.
pub async fn count_tasks<'e>(e: impl Executor<'e, Database = Any>, execution_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM retention_tasks WHERE execution_id = $1")
        .bind(execution_id)
        .fetch_one(e)
        .await?)
}

/// The log of task `id` of execution `execution_id`.
pub async fn task_log<'e>(
    e: impl Executor<'e, Database = Any>,
    execution_id: i64,
    id: i64,
) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT log FROM retention_tasks WHERE id = $1 AND execution_id = $2")
        .bind(id)
        .bind(execution_id)
        .fetch_optional(e)
        .await?)
}

/// Every repository of project `project_id` with its manifests, tags and index children, keyed by
/// repository id. `kind` is derived from the media and artifact types.
pub async fn load_project<'e, E>(e: E, project_id: i64) -> DbResult<Vec<(i64, String, Repository)>>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let repos = sqlx::query("SELECT id, name FROM repositories WHERE project_id = $1 ORDER BY name")
        .bind(project_id)
        .fetch_all(e)
        .await?;
    let mut out: Vec<(i64, String, Repository)> = Vec::with_capacity(repos.len());
    let mut slot: HashMap<i64, usize> = HashMap::with_capacity(repos.len());
    for r in &repos {
        let id: i64 = r.try_get(0)?;
        slot.insert(id, out.len());
        out.push((id, r.try_get(1)?, Repository::default()));
    }
    let manifests = sqlx::query(
        "SELECT m.id, m.repository_id, m.digest, m.media_type, m.artifact_type, m.config_media_type, \
         m.subject_digest, m.pushed_at, m.pulled_at FROM manifests m JOIN repositories r ON r.id = m.repository_id \
         WHERE r.project_id = $1",
    )
    .bind(project_id)
    .fetch_all(e)
    .await?;
    let mut where_is: HashMap<i64, (usize, usize)> = HashMap::with_capacity(manifests.len());
    for m in &manifests {
        let repo_id: i64 = m.try_get(1)?;
        let Some(&s) = slot.get(&repo_id) else { continue };
        let id: i64 = m.try_get(0)?;
        let media_type: String = m.try_get(3)?;
        let artifact_type: Option<String> = m.try_get(4)?;
        let config_type: Option<String> = m.try_get(5)?;
        let list = &mut out[s].2.manifests;
        where_is.insert(id, (s, list.len()));
        list.push(Manifest {
            id,
            digest: m.try_get(2)?,
            kind: kind_of(&media_type, artifact_type.as_deref(), config_type.as_deref()),
            pushed_at: m.try_get(7)?,
            pulled_at: m.try_get(8)?,
            subject: m.try_get(6)?,
            tags: Vec::new(),
        });
    }
    drop(manifests);
    let tags = sqlx::query(
        "SELECT t.manifest_id, t.name, t.pushed_at, t.pulled_at FROM tags t JOIN repositories r ON r.id = t.repository_id \
         WHERE r.project_id = $1",
    )
    .bind(project_id)
    .fetch_all(e)
    .await?;
    for t in &tags {
        let mid: i64 = t.try_get(0)?;
        if let Some(&(s, i)) = where_is.get(&mid) {
            out[s].2.manifests[i].tags.push(Tag {
                name: t.try_get(1)?,
                pushed_at: t.try_get(2)?,
                pulled_at: t.try_get(3)?,
            });
        }
    }
    let children = sqlx::query(
        "SELECT c.parent_id, c.child_id FROM manifest_children c JOIN manifests m ON m.id = c.parent_id \
         JOIN repositories r ON r.id = m.repository_id WHERE r.project_id = $1",
    )
    .bind(project_id)
    .fetch_all(e)
    .await?;
    for c in &children {
        let parent: i64 = c.try_get(0)?;
        if let Some(&(s, _)) = where_is.get(&parent) {
            out[s].2.children.push((parent, c.try_get(1)?));
        }
    }
    Ok(out)
}

/// `image`, `index`, or the artifact type of anything else.
pub fn kind_of(media_type: &str, artifact_type: Option<&str>, config_type: Option<&str>) -> String {
    const IMAGE_CONFIGS: [&str; 2] =
        ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];
    if media_type.contains("index") || media_type.contains("manifest.list") {
        return "index".into();
    }
    match (artifact_type, config_type) {
        (Some(a), _) => a.to_owned(),
        (None, Some(c)) if !IMAGE_CONFIGS.contains(&c) => c.to_owned(),
        _ => "image".into(),
    }
}

/// Deletes manifest `id` of repository `repo_id` if it has not changed since `since` (not
/// re-pushed, no tag pushed or moved onto it, no index naming it); returns whether it went. A
/// push racing the run thus wins over the run's stale verdict.
pub async fn delete_unchanged(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    repo_id: i64,
    id: i64,
    since: i64,
) -> DbResult<bool> {
    if backend == Backend::Postgres {
        // Wait for a concurrent tag or index push that holds the row, then decide on what it
        // committed.
        sqlx::query("SELECT id FROM manifests WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    }
    let done = sqlx::query(
        "DELETE FROM manifests WHERE id = $1 AND repository_id = $2 AND pushed_at < $3 \
         AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = $1 AND t.pushed_at >= $3) \
         AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.child_id = $1)",
    )
    .bind(id)
    .bind(repo_id)
    .bind(since)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() > 0)
}
