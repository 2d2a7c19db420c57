//! SQL for webhook policies and their deliveries (`webhook_tasks`: one row per event and target;
//! an execution is the tasks sharing `execution_id`).

use sqlx::{Any, Executor};

use super::{Backend, DbResult, like_escape, now_ms};

/// A stored policy. `targets` is JSON whose auth headers are sealed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyRow {
    /// Id.
    pub id: i64,
    /// Its project.
    pub project_id: i64,
    /// Unique in the project.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether it sends.
    #[sqlx(try_from = "crate::db::Flag")]
    pub enabled: bool,
    /// `,PUSH_ARTIFACT,PULL_ARTIFACT,` (commas at both ends).
    pub event_types: String,
    /// JSON array of targets.
    pub targets: String,
    /// Who created it.
    pub creator: String,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// What a create or an update writes.
#[derive(Debug, Clone)]
pub struct PolicyFields<'a> {
    /// Name.
    pub name: &'a str,
    /// Free text.
    pub description: &'a str,
    /// Whether it sends.
    pub enabled: bool,
    /// `,A,B,`.
    pub event_types: &'a str,
    /// JSON array of targets, auth headers sealed.
    pub targets: &'a str,
}

const POLICY: &str = "SELECT id, project_id, name, description, enabled, event_types, targets, creator, \
     created_at, updated_at FROM webhook_policies";

/// Policies of project `project_id` whose name contains `name`, by id, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    name: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<PolicyRow>> {
    Ok(sqlx::query_as(&format!(
        "{POLICY} WHERE project_id = $1 AND name LIKE $2 ESCAPE '\\' ORDER BY id LIMIT $3 OFFSET $4"
    ))
    .bind(project_id)
    .bind(format!("%{}%", like_escape(name)))
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?)
}

/// How many policies [`list`] pages through.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, name: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_policies WHERE project_id = $1 AND name LIKE $2 ESCAPE '\\'",
    )
    .bind(project_id)
    .bind(format!("%{}%", like_escape(name)))
    .fetch_one(e)
    .await?)
}

/// Policy `id` of project `project_id`.
pub async fn get<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    id: i64,
) -> DbResult<Option<PolicyRow>> {
    Ok(sqlx::query_as(&format!("{POLICY} WHERE project_id = $1 AND id = $2"))
        .bind(project_id)
        .bind(id)
        .fetch_optional(e)
        .await?)
}

/// Stores a policy; returns its id.
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    f: &PolicyFields<'_>,
    creator: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_policies (project_id, name, description, enabled, event_types, targets, creator, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(project_id)
    .bind(f.name)
    .bind(f.description)
    .bind(i64::from(f.enabled))
    .bind(f.event_types)
    .bind(f.targets)
    .bind(creator)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Changes policy `id`; returns whether it exists.
pub async fn update<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    id: i64,
    f: &PolicyFields<'_>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE webhook_policies SET name = $3, description = $4, enabled = $5, event_types = $6, targets = $7, \
         updated_at = $8 WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(id)
    .bind(f.name)
    .bind(f.description)
    .bind(i64::from(f.enabled))
    .bind(f.event_types)
    .bind(f.targets)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes policy `id` with its deliveries; returns whether it existed.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, id: i64) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM webhook_policies WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(e)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether project `project_id` has an enabled policy for `event` (checked before building a
/// payload, so projects without webhooks pay one indexed read).
pub async fn subscribed<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    event: &str,
) -> DbResult<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM webhook_policies WHERE project_id = $1 AND enabled = 1 AND event_types LIKE $2 LIMIT 1",
    )
    .bind(project_id)
    .bind(format!("%,{event},%"))
    .fetch_optional(e)
    .await?;
    Ok(found.is_some())
}

/// Repository `repo_id`'s project, name, creation time and visibility, when the project has an
/// enabled policy for `event`.
pub async fn pull_target(
    tx: &mut sqlx::AnyConnection,
    repo_id: i64,
    event: &str,
) -> DbResult<Option<(i64, String, i64, bool)>> {
    let row: Option<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT r.project_id, r.name, r.created_at, p.public FROM repositories r JOIN projects p ON p.id = r.project_id \
         WHERE r.id = $1 AND EXISTS (SELECT 1 FROM webhook_policies w WHERE w.project_id = r.project_id \
         AND w.enabled = 1 AND w.event_types LIKE $2)",
    )
    .bind(repo_id)
    .bind(format!("%,{event},%"))
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|(p, n, c, public)| (p, n, c, public != 0)))
}

/// Records event `event` of project `project_id` (its Default payload `payload`) in transaction
/// `tx`: an execution for each enabled policy of the project subscribed to it and a task due now
/// for each of the policy's targets (expanded by the database's JSON functions), in one round
/// trip however many policies and targets. The event exists exactly when the change does; a
/// project without a subscribed policy gets no rows.
pub async fn record(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    project_id: i64,
    event: &str,
    payload: &str,
) -> DbResult<()> {
    write_event(tx, backend, None, project_id, event, payload).await
}

/// Records event `event` as [`record`] does and marks repository `repo_id` changed, in the same
/// round trip: a push's last write. On SQLite every statement is a hop to the writer thread that
/// all pushes share, so the event costs a push no extra hop.
pub async fn record_and_touch(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    repo_id: i64,
    project_id: i64,
    event: &str,
    payload: &str,
) -> DbResult<()> {
    write_event(tx, backend, Some(repo_id), project_id, event, payload).await
}

async fn write_event(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    touch: Option<i64>,
    project_id: i64,
    event: &str,
    payload: &str,
) -> DbResult<()> {
    // One row per target of each subscribed policy; a policy's rows share the execution id, its
    // first row's id. SQLite: ids follow the highest id (the write lock is held, so no one else
    // takes them; no AUTOINCREMENT, whose sequence row was one more page written per push, see
    // migration 0029); PostgreSQL: ids come from the sequence, so replicas never collide.
    const TARGETS: &str = "FROM webhook_policies p CROSS JOIN {targets} \
         WHERE p.project_id = $1 AND p.enabled = 1 AND p.event_types LIKE '%,' || $2 || ',%'";
    const COLUMNS: &str = "INSERT INTO webhook_tasks (id, execution_id, policy_id, event_type, payload, target, \
         status, next_attempt_at, created_at, updated_at)";
    let sql = match backend {
        // sqlx runs each statement of the string in turn, binding `$n` by number.
        Backend::Sqlite => format!(
            "{}{COLUMNS} WITH b(b) AS MATERIALIZED \
             (SELECT COALESCE(MAX(id), 0) FROM webhook_tasks), \
             r AS (SELECT p.id AS policy_id, j.value AS target, row_number() OVER (ORDER BY p.id, j.key) AS n {}) \
             SELECT b + n, b + MIN(n) OVER (PARTITION BY policy_id), policy_id, $2, $3, target, 'Pending', $4, $4, $4 \
             FROM r, b",
            if touch.is_some() { "UPDATE repositories SET updated_at = $4 WHERE id = $5; " } else { "" },
            TARGETS.replace("{targets}", "json_each(p.targets) j")
        ),
        // One statement.
        Backend::Postgres => format!(
            "WITH r AS (SELECT p.id AS policy_id, j.value::text AS target, \
             nextval(pg_get_serial_sequence('webhook_tasks', 'id')) AS id {}){} \
             {COLUMNS} SELECT id, MIN(id) OVER (PARTITION BY policy_id), policy_id, $2, $3, target, 'Pending', \
             $4, $4, $4 FROM r",
            TARGETS.replace("{targets}", "LATERAL jsonb_array_elements(p.targets::jsonb) j"),
            if touch.is_some() {
                ", touched AS (UPDATE repositories SET updated_at = $4 WHERE id = $5 RETURNING id)"
            } else {
                ""
            }
        ),
    };
    let mut q = sqlx::query(&sql).bind(project_id).bind(event).bind(payload).bind(now_ms());
    if let Some(repo_id) = touch {
        q = q.bind(repo_id);
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// A task a worker has claimed, with what it sends.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueTask {
    /// Task id.
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
    /// Its policy.
    pub policy_id: i64,
    /// The policy's project.
    pub project_id: i64,
    /// The target (JSON, auth header sealed).
    pub target: String,
    /// The event type.
    pub event_type: String,
    /// The Default payload.
    pub payload: String,
    /// Attempts so far (this one not counted).
    pub run_count: i64,
    /// When the event happened, unix ms.
    pub created_at: i64,
}

/// A task due at `$1`: pending and due, or running on a lease that lapsed (its replica stopped).
const DUE: &str =
    "((status = 'Pending' AND next_attempt_at <= $1) OR (status = 'Running' AND lease_until < $1))";

/// Whether any task is due now (pending and due, or running on a lapsed lease): one read, so an
/// idle sender does not take the write lock (SQLite) or open a transaction to find nothing.
pub async fn any_due<'e>(e: impl Executor<'e, Database = Any>) -> DbResult<bool> {
    let due: Option<i64> = sqlx::query_scalar(&format!("SELECT 1 FROM webhook_tasks WHERE {DUE} LIMIT 1"))
        .bind(now_ms())
        .fetch_optional(e)
        .await?;
    Ok(due.is_some())
}

/// Claims up to `limit` tasks that are due, or whose claim by a stopped replica lapsed, for
/// `holder` until `lease_until`. PostgreSQL replicas skip each other's claimed rows.
pub async fn claim_due(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    holder: &str,
    lease_until: i64,
    limit: i64,
) -> DbResult<Vec<DueTask>> {
    let now = now_ms();
    let skip = if backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let ids: Vec<i64> =
        sqlx::query_scalar(&format!("SELECT id FROM webhook_tasks WHERE {DUE} ORDER BY id LIMIT $2{skip}"))
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = super::placeholders(4, ids.len());
    let update = format!(
        "UPDATE webhook_tasks SET status = 'Running', lease_holder = $1, lease_until = $2, \
         started_at = COALESCE(started_at, $3), updated_at = $3 WHERE id IN ({list})"
    );
    let mut q = sqlx::query(&update).bind(holder).bind(lease_until).bind(now);
    for id in &ids {
        q = q.bind(*id);
    }
    q.execute(&mut *tx).await?;
    let select = format!(
        "SELECT t.id AS id, t.execution_id AS execution_id, t.policy_id AS policy_id, p.project_id AS project_id, \
         t.target AS target, t.event_type AS event_type, t.payload AS payload, t.run_count AS run_count, \
         t.created_at AS created_at FROM webhook_tasks t JOIN webhook_policies p ON p.id = t.policy_id \
         WHERE t.id IN ({}) ORDER BY t.id",
        super::placeholders(1, ids.len())
    );
    let mut q = sqlx::query_as(&select);
    for id in &ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(&mut *tx).await?)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// Delivered.
    Delivered,
    /// Failed; tried again at `next` (unix ms).
    Retry {
        /// When.
        next: i64,
    },
    /// Failed for good (the retention window is over).
    GaveUp,
}

/// One attempt's record: the task, how it ended, its status message and log line.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The task.
    pub id: i64,
    /// How the attempt ended.
    pub outcome: Attempt,
    /// The status message.
    pub message: String,
    /// The log line.
    pub line: String,
}

/// Records a round of attempts (tasks claimed by `holder`) and what follows each: one statement
/// however many tasks the round sent, since pushes wait for this writer. A holder whose claim on a task lapsed (another replica took it) writes
/// nothing for that task.
pub async fn finish_attempts(tx: &mut sqlx::AnyConnection, holder: &str, done: &[Finished]) -> DbResult<()> {
    if done.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    // VALUES rows name their columns column1… on both databases.
    let rows: Vec<String> = (0..done.len())
        .map(|i| {
            let b = 3 + i * 6;
            format!("(${}, ${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4, b + 5)
        })
        .collect();
    let sql = format!(
        "UPDATE webhook_tasks SET status = v.column2, next_attempt_at = v.column3, ended_at = v.column4, \
         run_count = run_count + 1, status_message = v.column5, log = log || v.column6, lease_holder = NULL, \
         lease_until = NULL, updated_at = $2 FROM (VALUES {}) AS v \
         WHERE webhook_tasks.id = v.column1 AND webhook_tasks.lease_holder = $1",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(holder).bind(now);
    for f in done {
        let (status, next, ended) = match f.outcome {
            Attempt::Delivered => ("Success", now, Some(now)),
            Attempt::Retry { next } => ("Pending", next, None),
            Attempt::GaveUp => ("Error", now, Some(now)),
        };
        q = q.bind(f.id).bind(status).bind(next).bind(ended).bind(f.message.as_str()).bind(f.line.as_str());
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// An execution with its tasks' counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExecutionRow {
    /// Id.
    pub id: i64,
    /// Its policy.
    pub policy_id: i64,
    /// The event type.
    pub event_type: String,
    /// `Running`, `Success` or `Error`.
    pub status: String,
    /// When the event happened, unix ms.
    pub created_at: i64,
    /// When its last task ended.
    pub ended_at: Option<i64>,
    /// Tasks.
    pub total: i64,
    /// Delivered.
    pub succeeded: i64,
    /// Given up.
    pub failed: i64,
    /// Waiting for (another) attempt.
    pub pending: i64,
    /// Being sent.
    pub running: i64,
}

/// An execution's status, from its tasks (grouped by `execution_id`): `Running` while one is
/// pending or being sent, then `Error` if one was given up, else `Success`. Derived when read,
/// so finishing a delivery writes only its task.
macro_rules! execution_status {
    () => {
        "CASE WHEN SUM(CASE WHEN t.status IN ('Pending', 'Running') THEN 1 ELSE 0 END) > 0 THEN 'Running' \
         WHEN SUM(CASE WHEN t.status = 'Error' THEN 1 ELSE 0 END) > 0 THEN 'Error' ELSE 'Success' END"
    };
}

/// Executions as groups of tasks; the caller adds `WHERE`, then [`EXECUTION_GROUP`].
const EXECUTION: &str = concat!(
    "SELECT t.execution_id AS id, t.policy_id AS policy_id, MIN(t.event_type) AS event_type, ",
    execution_status!(),
    " AS status, MIN(t.created_at) AS created_at, \
     CASE WHEN SUM(CASE WHEN t.status IN ('Pending', 'Running') THEN 1 ELSE 0 END) > 0 THEN NULL \
     ELSE MAX(t.ended_at) END AS ended_at, COUNT(*) AS total, \
     SUM(CASE WHEN t.status = 'Success' THEN 1 ELSE 0 END) AS succeeded, \
     SUM(CASE WHEN t.status = 'Error' THEN 1 ELSE 0 END) AS failed, \
     SUM(CASE WHEN t.status = 'Pending' THEN 1 ELSE 0 END) AS pending, \
     SUM(CASE WHEN t.status = 'Running' THEN 1 ELSE 0 END) AS running \
     FROM webhook_tasks t"
);
const EXECUTION_GROUP: &str = " GROUP BY t.policy_id, t.execution_id";

/// Executions of policy `policy_id`, newest first, one page.
pub async fn executions<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: i64,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<ExecutionRow>> {
    Ok(sqlx::query_as(&format!(
        "{EXECUTION} WHERE t.policy_id = $1{EXECUTION_GROUP} ORDER BY t.execution_id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(policy_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?)
}

/// How many executions policy `policy_id` has.
pub async fn count_executions<'e>(e: impl Executor<'e, Database = Any>, policy_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(DISTINCT execution_id) FROM webhook_tasks WHERE policy_id = $1")
        .bind(policy_id)
        .fetch_one(e)
        .await?)
}

/// Execution `id` of policy `policy_id`.
pub async fn execution<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: i64,
    id: i64,
) -> DbResult<Option<ExecutionRow>> {
    Ok(sqlx::query_as(&format!(
        "{EXECUTION} WHERE t.policy_id = $1 AND t.execution_id = $2{EXECUTION_GROUP}"
    ))
    .bind(policy_id)
    .bind(id)
    .fetch_optional(e)
    .await?)
}

/// A task of an execution.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    /// Id.
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
    /// The target (JSON, auth header sealed).
    pub target: String,
    /// `Pending`, `Running`, `Success` or `Error`.
    pub status: String,
    /// Attempts so far.
    pub run_count: i64,
    /// What the last attempt found.
    pub status_message: String,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// First attempt.
    pub started_at: Option<i64>,
    /// End.
    pub ended_at: Option<i64>,
}

/// One delivery in a project's recent history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecentRow {
    /// Execution id.
    pub id: i64,
    /// Its policy.
    pub policy_id: i64,
    /// The policy's name.
    pub policy: String,
    /// The event type.
    pub event_type: String,
    /// The execution's status.
    pub status: String,
    /// When the event happened.
    pub created_at: i64,
    /// Attempts of its busiest task.
    pub attempts: i64,
    /// What the last attempt of a task found.
    pub message: String,
}

/// The latest `limit` deliveries of project `project_id`'s policies, newest first.
pub async fn recent<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    limit: i64,
) -> DbResult<Vec<RecentRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT t.execution_id AS id, t.policy_id AS policy_id, MIN(p.name) AS policy, \
         MIN(t.event_type) AS event_type, ",
        execution_status!(),
        " AS status, MIN(t.created_at) AS created_at, MAX(t.run_count) AS attempts, \
         COALESCE((SELECT s.status_message FROM webhook_tasks s WHERE s.policy_id = t.policy_id \
         AND s.execution_id = t.execution_id ORDER BY s.updated_at DESC, s.id LIMIT 1), '') AS message \
         FROM webhook_tasks t JOIN webhook_policies p ON p.id = t.policy_id WHERE p.project_id = $1 \
         GROUP BY t.policy_id, t.execution_id ORDER BY t.execution_id DESC LIMIT $2",
    ))
    .bind(project_id)
    .bind(limit)
    .fetch_all(e)
    .await?)
}

/// Tasks of execution `execution_id` of policy `policy_id`.
pub async fn tasks<'e>(
    e: impl Executor<'e, Database = Any>,
    policy_id: i64,
    execution_id: i64,
) -> DbResult<Vec<TaskRow>> {
    Ok(sqlx::query_as(
        "SELECT id, execution_id, target, status, run_count, status_message, created_at, updated_at, started_at, \
         ended_at FROM webhook_tasks WHERE policy_id = $1 AND execution_id = $2 ORDER BY id",
    )
    .bind(policy_id)
    .bind(execution_id)
    .fetch_all(e)
    .await?)
}

/// The attempt log of task `id` of execution `execution_id`.
pub async fn task_log<'e>(
    e: impl Executor<'e, Database = Any>,
    execution_id: i64,
    id: i64,
) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT log FROM webhook_tasks WHERE execution_id = $1 AND id = $2")
        .bind(execution_id)
        .bind(id)
        .fetch_optional(e)
        .await?)
}

/// Deletes the tasks of ended executions older than `before` (unix ms); returns how many.
pub async fn prune<'e>(e: impl Executor<'e, Database = Any>, before: i64) -> DbResult<u64> {
    // Executions with a task still open are few (the due index finds them): kept whole. The
    // newest execution stays too, and with it the highest id: on SQLite the next id follows it,
    // and ids must not go back (migration 0029).
    Ok(sqlx::query(
        "DELETE FROM webhook_tasks WHERE created_at < $1 AND execution_id NOT IN \
         (SELECT execution_id FROM webhook_tasks WHERE status IN ('Pending', 'Running')) \
         AND execution_id < (SELECT execution_id FROM webhook_tasks ORDER BY id DESC LIMIT 1)",
    )
    .bind(before)
    .execute(e)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_event_and_the_touch_land_together_in_one_round_trip() {
        let (_dir, db) = crate::db::testing::sqlite().await;
        let project = crate::db::projects::insert(db.writer(), "p", false, None).await.expect("project");
        let other = crate::db::projects::insert(db.writer(), "q", false, None).await.expect("project");
        let repo = crate::db::repositories::ensure(db.writer(), project, "p/app").await.expect("repo");
        sqlx::query("UPDATE repositories SET updated_at = 0").execute(db.writer()).await.expect("reset");
        // Two policies hear pushes (one with two targets); one is disabled, one hears deletes
        // only, one belongs to another project.
        for (project, name, enabled, events, targets) in [
            (project, "a", 1, ",PUSH_ARTIFACT,", r#"[{"address":"http://a"},{"address":"http://b"}]"#),
            (project, "b", 1, ",DELETE_ARTIFACT,PUSH_ARTIFACT,", r#"[{"address":"http://c"}]"#),
            (project, "c", 0, ",PUSH_ARTIFACT,", r#"[{"address":"http://d"}]"#),
            (project, "d", 1, ",DELETE_ARTIFACT,", r#"[{"address":"http://e"}]"#),
            (other, "e", 1, ",PUSH_ARTIFACT,", r#"[{"address":"http://f"}]"#),
        ] {
            sqlx::query(
                "INSERT INTO webhook_policies (project_id, name, enabled, event_types, targets, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, 0)",
            )
            .bind(project)
            .bind(name)
            .bind(enabled)
            .bind(events)
            .bind(targets)
            .execute(db.writer())
            .await
            .expect("policy");
        }
        for _ in 0..2 {
            let mut tx = db.begin().await.expect("tx");
            record_and_touch(&mut tx, db.backend(), repo, project, "PUSH_ARTIFACT", "{\"a\":1}")
                .await
                .expect("write");
            tx.commit().await.expect("commit");
        }
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT p.name, t.payload, t.status, t.target FROM webhook_tasks t \
             JOIN webhook_policies p ON p.id = t.policy_id ORDER BY t.id",
        )
        .fetch_all(db.reader())
        .await
        .expect("tasks");
        // Each (event, policy) is one execution, named by its first task.
        let ids: Vec<(i64, i64)> = sqlx::query_as("SELECT id, execution_id FROM webhook_tasks ORDER BY id")
            .fetch_all(db.reader())
            .await
            .expect("ids");
        let executions: Vec<i64> = ids.iter().map(|(_, e)| *e).collect();
        let first = ids[0].0;
        assert_eq!(executions, [first, first, first + 2, first + 3, first + 3, first + 5], "{ids:?}");
        let targets: Vec<(&str, &str)> = rows.iter().map(|(p, _, _, t)| (p.as_str(), t.as_str())).collect();
        let once = [
            ("a", r#"{"address":"http://a"}"#),
            ("a", r#"{"address":"http://b"}"#),
            ("b", r#"{"address":"http://c"}"#),
        ];
        assert_eq!(
            targets,
            [once, once].concat(),
            "each event: one task per target of each subscribed policy"
        );
        assert!(rows.iter().all(|(_, payload, status, _)| payload == "{\"a\":1}" && status == "Pending"));
        let updated: i64 = sqlx::query_scalar("SELECT updated_at FROM repositories WHERE id = $1")
            .bind(repo)
            .fetch_one(db.reader())
            .await
            .expect("repo");
        assert!(updated > 0, "the repository was touched");
    }

    #[tokio::test]
    async fn events_queued_before_the_upgrade_become_tasks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
        let mut before = sqlx::migrate!("../migrations/sqlite");
        before.migrations = before.migrations.iter().filter(|m| m.version <= 20).cloned().collect();
        before.run(&pool).await.expect("migrations up to 0020");
        for sql in [
            "INSERT INTO projects (name, public, created_at, updated_at) VALUES ('p', 0, 0, 0)",
            "INSERT INTO webhook_policies (project_id, name, event_types, targets, created_at, updated_at) \
             VALUES (1, 'a', ',PUSH_ARTIFACT,', '[{\"address\":\"http://a\"},{\"address\":\"http://b\"}]', 0, 0)",
            "INSERT INTO webhook_events (project_id, event_type, payload, created_at) VALUES (1, 'PUSH_ARTIFACT', '{}', 5)",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;
        let db = crate::db::Db::connect(&url).await.expect("upgrade");
        let targets: Vec<String> = sqlx::query_scalar("SELECT target FROM webhook_tasks ORDER BY id")
            .fetch_all(db.reader())
            .await
            .expect("tasks");
        assert_eq!(targets, [r#"{"address":"http://a"}"#, r#"{"address":"http://b"}"#]);
    }

    /// On SQLite, and on PostgreSQL too when the suite provides one (`WHARF_TEST_POSTGRES`, a
    /// URL with a `{db}` placeholder): the two migrations differ.
    #[tokio::test]
    async fn delivery_history_survives_the_move_to_one_task_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        history_survives_0028(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await;
        if let Some(template) = std::env::var("WHARF_TEST_POSTGRES").ok().filter(|t| !t.is_empty()) {
            let name = format!("wharf_t_m28_{}", rand::random::<u32>());
            sqlx::any::install_default_drivers();
            let admin =
                sqlx::AnyPool::connect(&template.replace("{db}", "postgres")).await.expect("PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create database");
            history_survives_0028(&template.replace("{db}", &name)).await;
        }
    }

    async fn history_survives_0028(url: &str) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.expect("connect");
        let mut before = if url.starts_with("sqlite:") {
            sqlx::migrate!("../migrations/sqlite")
        } else {
            sqlx::migrate!("../migrations/postgres")
        };
        before.migrations = before.migrations.iter().filter(|m| m.version <= 27).cloned().collect();
        before.run(&pool).await.expect("migrations up to 0027");
        // Execution 1: delivered to two targets (tasks 1, 2). Execution 2: one task, still due.
        // Task 4 was pruned, so the old sequence (4) is ahead of the highest id (3).
        for sql in [
            "INSERT INTO projects (name, public, created_at, updated_at) VALUES ('p', 0, 0, 0)",
            "INSERT INTO webhook_policies (project_id, name, event_types, targets, created_at, updated_at) \
             VALUES (1, 'a', ',PUSH_ARTIFACT,DELETE_ARTIFACT,', '[{\"address\":\"http://a\"}]', 0, 0)",
            "INSERT INTO webhook_executions (id, policy_id, event_type, payload, created_at, event_id) \
             VALUES (1, 1, 'PUSH_ARTIFACT', '{\"n\":1}', 10, 7), (2, 1, 'DELETE_ARTIFACT', '{\"n\":2}', 20, 8)",
            "INSERT INTO webhook_tasks (id, execution_id, target, status, run_count, next_attempt_at, status_message, \
             log, created_at, updated_at, ended_at) VALUES \
             (1, 1, 't1', 'Success', 1, 10, 'delivered: HTTP 200', 'attempt 1\n', 10, 11, 11), \
             (2, 1, 't2', 'Success', 2, 10, 'delivered: HTTP 204', 'attempt 1\nattempt 2\n', 10, 12, 12), \
             (3, 2, 't1', 'Pending', 1, 25, 'the receiver answered HTTP 500', 'attempt 1\n', 20, 21, NULL), \
             (4, 2, 't9', 'Success', 1, 20, '', '', 20, 21, 21)",
            "DELETE FROM webhook_tasks WHERE id = 4",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        if !url.starts_with("sqlite:") {
            // The explicit ids above left PostgreSQL's sequence behind; 0027's state as the
            // server would have left it.
            sqlx::query("SELECT setval(pg_get_serial_sequence('webhook_tasks', 'id'), 4)")
                .execute(&pool)
                .await
                .expect("sequence");
        }
        pool.close().await;
        let db = crate::db::Db::connect(url).await.expect("upgrade");

        type Carried = (i64, i64, i64, String, String, String, String, i64, String, String, i64, Option<i64>);
        let rows: Vec<Carried> = sqlx::query_as(
            "SELECT id, execution_id, policy_id, event_type, payload, target, status, run_count, status_message, \
             log, created_at, ended_at FROM webhook_tasks ORDER BY id",
        )
        .fetch_all(db.reader())
        .await
        .expect("tasks");
        let s = |v: &str| v.to_owned();
        assert_eq!(
            rows,
            [
                (
                    1,
                    1,
                    1,
                    s("PUSH_ARTIFACT"),
                    s("{\"n\":1}"),
                    s("t1"),
                    s("Success"),
                    1,
                    s("delivered: HTTP 200"),
                    s("attempt 1\n"),
                    10,
                    Some(11)
                ),
                (
                    2,
                    1,
                    1,
                    s("PUSH_ARTIFACT"),
                    s("{\"n\":1}"),
                    s("t2"),
                    s("Success"),
                    2,
                    s("delivered: HTTP 204"),
                    s("attempt 1\nattempt 2\n"),
                    10,
                    Some(12)
                ),
                (
                    3,
                    3,
                    1,
                    s("DELETE_ARTIFACT"),
                    s("{\"n\":2}"),
                    s("t1"),
                    s("Pending"),
                    1,
                    s("the receiver answered HTTP 500"),
                    s("attempt 1\n"),
                    20,
                    None
                ),
            ],
            "every task keeps its history and gains its execution's policy, event and payload"
        );
        // A new event takes ids after the old ones and is an execution of its own.
        let mut tx = db.begin().await.expect("tx");
        record(&mut tx, db.backend(), 1, "PUSH_ARTIFACT", "{}").await.expect("record");
        tx.commit().await.expect("commit");
        let executions = executions(db.reader(), 1, 0, 10).await.expect("executions");
        let seen: Vec<(i64, &str, &str, i64, i64)> = executions
            .iter()
            .map(|e| (e.id, e.event_type.as_str(), e.status.as_str(), e.total, e.succeeded))
            .collect();
        assert!(seen[0].0 > 3, "{seen:?}");
        assert_eq!(
            seen[1..],
            [(3, "DELETE_ARTIFACT", "Running", 1, 0), (1, "PUSH_ARTIFACT", "Success", 2, 2)],
            "the old executions, newest first"
        );
        assert_eq!((seen[0].1, seen[0].2, seen[0].3), ("PUSH_ARTIFACT", "Running", 1));
        assert_eq!(count_executions(db.reader(), 1).await.expect("count"), 3);
    }

    /// A new project with one enabled policy on pushes posting to `targets` (JSON); its id.
    async fn project_with_policy(db: &crate::db::Db, targets: &str) -> i64 {
        let project = crate::db::projects::insert(db.writer(), "p", false, None).await.expect("project");
        sqlx::query(
            "INSERT INTO webhook_policies (project_id, name, event_types, targets, created_at, updated_at) \
             VALUES ($1, 'a', ',PUSH_ARTIFACT,', $2, 0, 0)",
        )
        .bind(project)
        .bind(targets)
        .execute(db.writer())
        .await
        .expect("policy");
        project
    }

    /// Ids follow the highest one (SQLite has no sequence for this table since 0029), so
    /// pruning keeps the newest execution whole: ids never go back, whatever is pruned.
    #[tokio::test]
    async fn pruning_keeps_the_newest_execution_so_ids_never_go_back() {
        let (_dir, db) = crate::db::testing::sqlite().await;
        let project = project_with_policy(&db, r#"[{"address":"http://a"},{"address":"http://b"}]"#).await;
        let ids = async || -> Vec<(i64, i64)> {
            sqlx::query_as("SELECT id, execution_id FROM webhook_tasks ORDER BY id")
                .fetch_all(db.reader())
                .await
                .expect("ids")
        };
        for _ in 0..2 {
            let mut tx = db.begin().await.expect("tx");
            record(&mut tx, db.backend(), project, "PUSH_ARTIFACT", "{}").await.expect("record");
            tx.commit().await.expect("commit");
        }
        assert_eq!(ids().await, [(1, 1), (2, 1), (3, 3), (4, 3)], "two targets: two tasks an execution");
        sqlx::query("UPDATE webhook_tasks SET status = 'Success'").execute(db.writer()).await.expect("sent");
        assert_eq!(prune(db.writer(), now_ms() + 1).await.expect("prune"), 2);
        assert_eq!(ids().await, [(3, 3), (4, 3)], "the newest execution stays, whole");
        let mut tx = db.begin().await.expect("tx");
        record(&mut tx, db.backend(), project, "PUSH_ARTIFACT", "{}").await.expect("record");
        tx.commit().await.expect("commit");
        assert_eq!(ids().await, [(3, 3), (4, 3), (5, 5), (6, 5)]);
    }

    #[tokio::test]
    async fn a_task_is_due_when_pending_and_due_or_its_lease_lapsed() {
        let (_dir, db) = crate::db::testing::sqlite().await;
        let project = project_with_policy(&db, r#"[{"address":"http://a"}]"#).await;
        assert!(!any_due(db.reader()).await.expect("read"), "no task at all");
        let mut tx = db.begin().await.expect("tx");
        record(&mut tx, db.backend(), project, "PUSH_ARTIFACT", "{}").await.expect("record");
        tx.commit().await.expect("commit");
        assert!(any_due(db.reader()).await.expect("read"), "a pending task due now");
        let later = now_ms() + 60_000;
        for (status, attempt, lease, due) in [
            ("Pending", later, 0, false),
            ("Running", 0, later, false),
            ("Running", 0, 1, true),
            ("Success", 0, 1, false),
        ] {
            sqlx::query("UPDATE webhook_tasks SET status = $1, next_attempt_at = $2, lease_until = $3")
                .bind(status)
                .bind(attempt)
                .bind(lease)
                .execute(db.writer())
                .await
                .expect("update");
            assert_eq!(
                any_due(db.reader()).await.expect("read"),
                due,
                "{status}, next {attempt}, lease {lease}"
            );
        }
    }
}
