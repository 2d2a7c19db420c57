//! SQL for replication: `replication_policies`, `replication_executions`, `replication_tasks`.

use sqlx::{Any, Executor};

use super::{DbResult, like_escape, now_ms};
use frontend::types::{ReplicationTrigger, RunStatus};

/// A stored replication policy (filters as Harbor's JSON list).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyRow {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The source endpoint of a pull-based policy.
    pub src_registry_id: Option<i64>,
    /// The destination endpoint of a push-based policy.
    pub dest_registry_id: Option<i64>,
    /// Where copies go (empty: the source's namespace).
    pub dest_namespace: String,
    /// How many leading path components the namespace replaces (-1: all but the last).
    pub dest_namespace_replace_count: i64,
    /// When it runs.
    #[sqlx(rename = "trigger_kind", try_from = "String")]
    pub trigger: ReplicationTrigger,
    /// The schedule of a scheduled policy.
    pub cron: String,
    /// Harbor's filter list, as JSON.
    pub filters: String,
    /// Deletes are replicated too (event-based).
    #[sqlx(try_from = "crate::db::Flag")]
    pub replicate_deletion: bool,
    /// Replace what the destination has under the same tag.
    #[sqlx(rename = "override_existing", try_from = "crate::db::Flag")]
    pub override_existing: bool,
    /// Disabled policies do not run.
    #[sqlx(try_from = "crate::db::Flag")]
    pub enabled: bool,
    /// Bandwidth, KiB/s; -1 unlimited.
    pub speed_kb: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// The fields a create or an update writes.
#[derive(Debug, Clone)]
pub struct PolicyFields<'a> {
    /// Unique name.
    pub name: &'a str,
    /// Free text.
    pub description: &'a str,
    /// Source endpoint (pull-based).
    pub src_registry_id: Option<i64>,
    /// Destination endpoint (push-based).
    pub dest_registry_id: Option<i64>,
    /// Destination namespace.
    pub dest_namespace: &'a str,
    /// Flattening.
    pub dest_namespace_replace_count: i64,
    /// Trigger.
    pub trigger: ReplicationTrigger,
    /// Cron of a scheduled policy.
    pub cron: &'a str,
    /// Filters, JSON.
    pub filters: &'a str,
    /// Replicate deletions.
    pub replicate_deletion: bool,
    /// Override.
    pub override_existing: bool,
    /// Enabled.
    pub enabled: bool,
    /// Bandwidth.
    pub speed_kb: i64,
}

const POLICY_COLUMNS: &str = "id, name, description, src_registry_id, dest_registry_id, dest_namespace, \
     dest_namespace_replace_count, trigger_kind, cron, filters, replicate_deletion, override_existing, enabled, \
     speed_kb, created_at, updated_at";

/// Inserts a policy; returns its id.
pub async fn insert_policy<'e>(e: impl Executor<'e, Database = Any>, f: &PolicyFields<'_>) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO replication_policies (name, description, src_registry_id, dest_registry_id, dest_namespace, \
         dest_namespace_replace_count, trigger_kind, cron, filters, replicate_deletion, override_existing, \
         enabled, speed_kb, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(f.name)
    .bind(f.description)
    .bind(f.src_registry_id)
    .bind(f.dest_registry_id)
    .bind(f.dest_namespace)
    .bind(f.dest_namespace_replace_count)
    .bind(f.trigger.as_str())
    .bind(f.cron)
    .bind(f.filters)
    .bind(i64::from(f.replicate_deletion))
    .bind(i64::from(f.override_existing))
    .bind(i64::from(f.enabled))
    .bind(f.speed_kb)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Replaces a policy's fields; false when there is none.
pub async fn update_policy<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    f: &PolicyFields<'_>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE replication_policies SET name = $2, description = $3, src_registry_id = $4, \
         dest_registry_id = $5, dest_namespace = $6, dest_namespace_replace_count = $7, trigger_kind = $8, \
         cron = $9, filters = $10, replicate_deletion = $11, override_existing = $12, enabled = $13, \
         speed_kb = $14, updated_at = $15 WHERE id = $1",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.description)
    .bind(f.src_registry_id)
    .bind(f.dest_registry_id)
    .bind(f.dest_namespace)
    .bind(f.dest_namespace_replace_count)
    .bind(f.trigger.as_str())
    .bind(f.cron)
    .bind(f.filters)
    .bind(i64::from(f.replicate_deletion))
    .bind(i64::from(f.override_existing))
    .bind(i64::from(f.enabled))
    .bind(f.speed_kb)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One policy.
pub async fn get_policy<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<PolicyRow>> {
    Ok(sqlx::query_as(&format!("SELECT {POLICY_COLUMNS} FROM replication_policies WHERE id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?)
}

fn pattern(name: &str) -> String {
    if name.is_empty() { String::new() } else { format!("%{}%", like_escape(name)) }
}

/// Policies whose name contains `name`, by id, one page.
pub async fn list_policies<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<PolicyRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {POLICY_COLUMNS} FROM replication_policies WHERE ($1 = '' OR name LIKE $1 ESCAPE '\\') \
         ORDER BY id LIMIT $2 OFFSET $3"
    ))
    .bind(pattern(name))
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?)
}

/// How many policies [`list_policies`] pages through.
pub async fn count_policies<'e>(e: impl Executor<'e, Database = Any>, name: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM replication_policies WHERE ($1 = '' OR name LIKE $1 ESCAPE '\\')",
    )
    .bind(pattern(name))
    .fetch_one(e)
    .await?)
}

/// The enabled event-based push policies (to match a push or delete against).
pub async fn event_policies<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<Vec<PolicyRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {POLICY_COLUMNS} FROM replication_policies \
         WHERE enabled <> 0 AND trigger_kind = 'event_based' AND dest_registry_id IS NOT NULL ORDER BY id"
    ))
    .fetch_all(e)
    .await?)
}

/// The names of the policies that use endpoint `registry_id`.
pub async fn policies_using<'e>(
    e: impl Executor<'e, Database = Any>,
    registry_id: i64,
) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM replication_policies WHERE src_registry_id = $1 OR dest_registry_id = $1 ORDER BY name",
    )
    .bind(registry_id)
    .fetch_all(e)
    .await?)
}

/// Deletes a policy with its history; false when there is none.
pub async fn delete_policy<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM replication_policies WHERE id = $1").bind(id).execute(e).await?;
    Ok(done.rows_affected() == 1)
}

/// An execution with its task counts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExecutionRow {
    /// Id.
    pub id: i64,
    /// Its policy.
    pub policy_id: i64,
    /// What started it.
    #[sqlx(rename = "trigger_kind", try_from = "String")]
    pub trigger: ReplicationTrigger,
    /// Where it is.
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    /// Why it ended as it did.
    pub status_text: String,
    /// Start, unix ms.
    pub created_at: i64,
    /// End, unix ms.
    pub ended_at: Option<i64>,
    /// Tasks in all.
    pub total: i64,
    /// Tasks failed.
    pub failed: i64,
    /// Tasks done.
    pub succeed: i64,
    /// Tasks going.
    pub in_progress: i64,
    /// Tasks stopped.
    pub stopped: i64,
}

const EXECUTION_SELECT: &str = "SELECT e.id AS id, e.policy_id AS policy_id, e.trigger_kind AS trigger_kind, \
     e.status AS status, e.status_text AS status_text, e.created_at AS created_at, e.ended_at AS ended_at, \
     (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id) AS total, \
     (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Error') AS failed, \
     (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Success') AS succeed, \
     (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Running') AS in_progress, \
     (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Stopped') AS stopped \
     FROM replication_executions e";

/// Records a new running execution of `policy_id`; returns its id.
pub async fn insert_execution<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: i64,
    trigger: ReplicationTrigger,
) -> DbResult<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO replication_executions (policy_id, trigger_kind, status, created_at, updated_at) \
         VALUES ($1, $2, 'Running', $3, $3) RETURNING id",
    )
    .bind(policy_id)
    .bind(trigger.as_str())
    .bind(now)
    .fetch_one(e)
    .await?)
}

/// Records that execution `id` ended with `status` (and why).
pub async fn finish_execution<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    status: RunStatus,
    text: &str,
) -> DbResult<()> {
    let now = now_ms();
    sqlx::query(
        "UPDATE replication_executions SET status = $2, status_text = $3, ended_at = $4, updated_at = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(text)
    .bind(now)
    .execute(e)
    .await?;
    Ok(())
}

/// Ends the executions still marked going whose policy's lease nobody holds: their process
/// died. Their running tasks end too. Returns how many executions were ended.
pub async fn abandon_dead<'e>(e: impl Executor<'e, Database = Any> + Copy) -> DbResult<u64> {
    let now = now_ms();
    sqlx::query(
        "UPDATE replication_tasks SET status = 'Error', ended_at = $1, \
         log = log || 'interrupted: the Wharf process running this task stopped' \
         WHERE status = 'Running' AND execution_id IN (SELECT e.id FROM replication_executions e \
         WHERE e.status IN ('Pending', 'Running') AND NOT EXISTS (SELECT 1 FROM leases l \
         WHERE l.name = 'replication:' || e.policy_id AND l.expires_at >= $1))",
    )
    .bind(now)
    .execute(e)
    .await?;
    let done = sqlx::query(
        "UPDATE replication_executions SET status = 'Error', \
         status_text = 'interrupted: the Wharf process running it stopped; start it again', \
         ended_at = $1, updated_at = $1 WHERE status IN ('Pending', 'Running') AND NOT EXISTS \
         (SELECT 1 FROM leases l WHERE l.name = 'replication:' || replication_executions.policy_id \
         AND l.expires_at >= $1)",
    )
    .bind(now)
    .execute(e)
    .await?;
    Ok(done.rows_affected())
}

/// One execution.
pub async fn get_execution<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
) -> DbResult<Option<ExecutionRow>> {
    Ok(sqlx::query_as(&format!("{EXECUTION_SELECT} WHERE e.id = $1")).bind(id).fetch_optional(e).await?)
}

/// Executions of `policy_id` (all policies when `None`), newest first, one page.
pub async fn list_executions<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: Option<i64>,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<ExecutionRow>> {
    Ok(sqlx::query_as(&format!(
        "{EXECUTION_SELECT} WHERE ($1 < 0 OR e.policy_id = $1) ORDER BY e.id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(policy_id.unwrap_or(-1))
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?)
}

/// How many executions [`list_executions`] pages through.
pub async fn count_executions<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: Option<i64>,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM replication_executions WHERE ($1 < 0 OR policy_id = $1)")
        .bind(policy_id.unwrap_or(-1))
        .fetch_one(e)
        .await?)
}

/// A task: one artifact copied or deleted.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TaskRow {
    /// Id.
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
    /// `image` or `artifact`.
    pub resource_type: String,
    /// `repo:tag` or `repo@digest` at the source.
    pub source_resource: String,
    /// Where it went.
    pub destination_resource: String,
    /// `copy` or `deletion`.
    pub operation: String,
    /// Where it is.
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    /// Bytes sent.
    pub bytes: i64,
    /// Start, unix ms.
    pub started_at: i64,
    /// End, unix ms.
    pub ended_at: Option<i64>,
}

const TASK_COLUMNS: &str = "id, execution_id, resource_type, source_resource, destination_resource, operation, \
     status, bytes, started_at, ended_at";

/// Records a running task; returns its id.
pub async fn insert_task<'e>(
    e: impl Executor<'e, Database = Any>,
    execution_id: i64,
    resource_type: &str,
    source: &str,
    destination: &str,
    operation: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO replication_tasks (execution_id, resource_type, source_resource, destination_resource, \
         operation, status, started_at) VALUES ($1, $2, $3, $4, $5, 'Running', $6) RETURNING id",
    )
    .bind(execution_id)
    .bind(resource_type)
    .bind(source)
    .bind(destination)
    .bind(operation)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Records that task `id` ended with `status`, `bytes` sent and its `log`.
pub async fn finish_task<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    status: RunStatus,
    bytes: i64,
    log: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE replication_tasks SET status = $2, bytes = $3, log = $4, ended_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(bytes)
    .bind(log)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}

/// Tasks of execution `id`, in order, one page.
pub async fn list_tasks<'e>(
    e: impl Executor<'e, Database = Any>,
    execution_id: i64,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<TaskRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {TASK_COLUMNS} FROM replication_tasks WHERE execution_id = $1 ORDER BY id LIMIT $2 OFFSET $3"
    ))
    .bind(execution_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?)
}

/// How many tasks execution `id` has.
pub async fn count_tasks<'e>(e: impl Executor<'e, Database = Any>, execution_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM replication_tasks WHERE execution_id = $1")
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
    Ok(sqlx::query_scalar("SELECT log FROM replication_tasks WHERE id = $1 AND execution_id = $2")
        .bind(id)
        .bind(execution_id)
        .fetch_optional(e)
        .await?)
}
