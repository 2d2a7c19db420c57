//! SQL for retention: `retention_policies`, `retention_executions`, `retention_tasks`, and
//! the read of a project's artifacts the evaluator needs (five queries per project, however
//! many repositories and artifacts it has).

use std::collections::HashMap;

use sqlx::{Any, Executor, Row};

use super::{Backend, DbResult, now_ms};
use frontend::types::{ArtifactKind, RunStatus, Trigger};

/// A tag of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Name.
    pub name: String,
    /// Push time, unix ms.
    pub pushed_at: i64,
    /// Last pull, unix ms.
    pub pulled_at: Option<i64>,
}

/// A manifest of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Row id.
    pub id: i64,
    /// Digest.
    pub digest: String,
    /// What it is, for the log.
    pub kind: ArtifactKind,
    /// Push time, unix ms.
    pub pushed_at: i64,
    /// Last pull, unix ms.
    pub pulled_at: Option<i64>,
    /// The digest its `subject` names.
    pub subject: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// The names of its labels.
    pub labels: Vec<String>,
}

/// A repository with what retention weighs: its manifests, their tags and index children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repository {
    /// The path inside the project (what repository selectors match).
    pub name: String,
    /// Every manifest.
    pub manifests: Vec<Manifest>,
    /// (index id, child id) pairs.
    pub children: Vec<(i64, i64)>,
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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
    Ok(sqlx::query_as(
        "SELECT id, project_id, policy, created_at, updated_at FROM retention_policies WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(e)
    .await?)
}

/// The policy of project `project_id`.
pub async fn policy_of_project<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
) -> DbResult<Option<PolicyRow>> {
    Ok(sqlx::query_as(
        "SELECT id, project_id, policy, created_at, updated_at FROM retention_policies WHERE project_id = $1",
    )
    .bind(project_id)
    .fetch_optional(e)
    .await?)
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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExecutionRow {
    /// Id.
    pub id: i64,
    /// Its policy.
    pub policy_id: i64,
    /// What started it.
    #[sqlx(try_from = "String")]
    pub trigger_kind: Trigger,
    /// Nothing deleted.
    #[sqlx(try_from = "crate::db::Flag")]
    pub dry_run: bool,
    /// Where it stands.
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    /// Start, unix ms.
    pub created_at: i64,
    /// End, unix ms.
    pub ended_at: Option<i64>,
}

const EXECUTION_COLUMNS: &str = "id, policy_id, trigger_kind, dry_run, status, created_at, ended_at";

/// Records a running execution of policy `policy_id`; returns its id.
pub async fn insert_execution<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: i64,
    trigger_kind: Trigger,
    dry_run: bool,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO retention_executions (policy_id, trigger_kind, dry_run, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Running', $4, $4) RETURNING id",
    )
    .bind(policy_id)
    .bind(trigger_kind.as_str())
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
    Ok(sqlx::query_as(&sql).bind(id).bind(policy_id).fetch_optional(e).await?)
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
    Ok(sqlx::query_as(&sql).bind(policy_id).bind(limit).bind(offset).fetch_all(e).await?)
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
    status: RunStatus,
) -> DbResult<()> {
    sqlx::query("UPDATE retention_executions SET status = $1, ended_at = $2, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TaskRow {
    /// Id.
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
    /// Full repository name.
    pub repository: String,
    /// Where it stands.
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
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
    status: RunStatus,
    retained: i64,
    log: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE retention_tasks SET status = $1, retained = $2, log = $3, ended_at = $4 WHERE id = $5",
    )
    .bind(status.as_str())
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
    Ok(sqlx::query_as(&sql).bind(execution_id).bind(limit).bind(offset).fetch_all(e).await?)
}

/// The tasks of the given executions, in one query (no query per execution).
pub async fn tasks_of<'e>(
    e: impl Executor<'e, Database = Any>,
    execution_ids: &[i64],
) -> DbResult<Vec<TaskRow>> {
    if execution_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM retention_tasks WHERE execution_id IN ({}) ORDER BY execution_id, id",
        super::placeholders(1, execution_ids.len())
    );
    let mut q = sqlx::query_as(&sql);
    for id in execution_ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(e).await?)
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

/// `json_array_agg(expr…)` per engine: one JSON array of arrays per group.
fn json_rows(backend: Backend, columns: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_group_array(json_array({columns}))"),
        Backend::Postgres => format!("CAST(json_agg(json_build_array({columns})) AS TEXT)"),
    }
}

fn rows_of<T: serde::de::DeserializeOwned>(json: &str) -> DbResult<Vec<T>> {
    serde_json::from_str(json).map_err(|e| sqlx::Error::Decode(Box::new(e)).into())
}

/// Every repository of project `project_id` with its manifests, tags and index children, with
/// the repository's id and full name.
///
/// Rows come back aggregated, one JSON array per repository: decoding a row through sqlx's
/// `Any` driver costs microseconds per row and column, so 100,000 artifacts read row by row
/// took over a second; aggregated they take a few dozen milliseconds (see
/// `wharf-retention-bench`).
pub async fn load_project(
    pool: &sqlx::AnyPool,
    backend: Backend,
    project_id: i64,
) -> DbResult<Vec<(i64, String, Repository)>> {
    type ManifestCols =
        (i64, String, String, Option<String>, Option<String>, Option<String>, i64, Option<i64>);
    type TagCols = (i64, String, i64, Option<i64>);
    let manifests_sql = format!(
        "SELECT m.repository_id, {} FROM manifests m JOIN repositories r ON r.id = m.repository_id \
         WHERE r.project_id = $1 GROUP BY m.repository_id",
        json_rows(
            backend,
            "m.id, m.digest, m.media_type, m.artifact_type, m.config_media_type, m.subject_digest, m.pushed_at, \
             m.pulled_at"
        )
    );
    let tags_sql = format!(
        "SELECT t.repository_id, {} FROM tags t JOIN repositories r ON r.id = t.repository_id \
         WHERE r.project_id = $1 GROUP BY t.repository_id",
        json_rows(backend, "t.manifest_id, t.name, t.pushed_at, t.pulled_at")
    );
    let children_sql = format!(
        "SELECT m.repository_id, {} FROM manifest_children c JOIN manifests m ON m.id = c.parent_id \
         JOIN repositories r ON r.id = m.repository_id WHERE r.project_id = $1 GROUP BY m.repository_id",
        json_rows(backend, "c.parent_id, c.child_id")
    );
    let repos = sqlx::query("SELECT id, name FROM repositories WHERE project_id = $1 ORDER BY name")
        .bind(project_id)
        .fetch_all(pool)
        .await?;
    let mut out: Vec<(i64, String, Repository)> = Vec::with_capacity(repos.len());
    let mut slot: HashMap<i64, usize> = HashMap::with_capacity(repos.len());
    for r in &repos {
        let id: i64 = r.try_get(0)?;
        slot.insert(id, out.len());
        out.push((id, r.try_get(1)?, Repository::default()));
    }
    let mut where_is: HashMap<i64, (usize, usize)> = HashMap::new();
    for row in sqlx::query(&manifests_sql).bind(project_id).fetch_all(pool).await? {
        let Some(&s) = slot.get(&row.try_get::<i64, _>(0)?) else { continue };
        let list = &mut out[s].2.manifests;
        for (id, digest, media_type, artifact_type, config, subject, pushed_at, pulled_at) in
            rows_of::<ManifestCols>(row.try_get(1)?)?
        {
            where_is.insert(id, (s, list.len()));
            let kind = ArtifactKind::classify(&media_type, artifact_type.as_deref(), config.as_deref());
            list.push(Manifest {
                id,
                digest,
                kind,
                subject,
                pushed_at,
                pulled_at,
                tags: Vec::new(),
                labels: Vec::new(),
            });
        }
    }
    for row in sqlx::query(&tags_sql).bind(project_id).fetch_all(pool).await? {
        for (mid, name, pushed_at, pulled_at) in rows_of::<TagCols>(row.try_get(1)?)? {
            if let Some(&(s, i)) = where_is.get(&mid) {
                out[s].2.manifests[i].tags.push(Tag { name, pushed_at, pulled_at });
            }
        }
    }
    // Labelled artifacts are few; one flat query, no aggregation needed.
    let labels = sqlx::query_as::<_, (i64, String)>(
        "SELECT a.manifest_id, l.name FROM artifact_labels a JOIN labels l ON l.id = a.label_id \
         JOIN manifests m ON m.id = a.manifest_id JOIN repositories r ON r.id = m.repository_id \
         WHERE r.project_id = $1",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await?;
    for (mid, name) in labels {
        if let Some(&(s, i)) = where_is.get(&mid) {
            out[s].2.manifests[i].labels.push(name);
        }
    }
    for row in sqlx::query(&children_sql).bind(project_id).fetch_all(pool).await? {
        let Some(&s) = slot.get(&row.try_get::<i64, _>(0)?) else { continue };
        out[s].2.children.extend(rows_of::<(i64, i64)>(row.try_get(1)?)?);
    }
    Ok(out)
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
