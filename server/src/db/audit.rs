//! SQL for `audit_logs`, and the pull statistics written with them.

use sqlx::{Any, Executor, Row};

use super::DbResult;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Id (0 before it is stored).
    pub id: i64,
    /// The project, for project events.
    pub project_id: Option<i64>,
    /// Who.
    pub username: String,
    /// `login`, `pull`, `push`, `delete` or `create`.
    pub operation: String,
    /// What, e.g. `library/app:v1`.
    pub resource: String,
    /// `artifact`, `tag`, `repository`, `project` or `user`.
    pub resource_type: String,
    /// From where.
    pub client_ip: String,
    /// When, unix ms.
    pub op_time: i64,
}

/// Entries stored per statement (7 parameters each, well under both engines' limits).
const ROWS_PER_INSERT: usize = 100;

/// Stores entries inside the caller's transaction, many rows per statement.
pub async fn insert_all(tx: &mut sqlx::AnyConnection, rows: &[AuditRow]) -> DbResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> =
            (0..chunk.len()).map(|i| format!("({})", super::placeholders(i * 7 + 1, 7))).collect();
        let sql = format!(
            "INSERT INTO audit_logs (project_id, username, operation, resource, resource_type, client_ip, op_time) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.project_id)
                .bind(&r.username)
                .bind(&r.operation)
                .bind(&r.resource)
                .bind(&r.resource_type)
                .bind(&r.client_ip)
                .bind(r.op_time);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Adds `pulls` to a repository's pull count and moves the last-pull time of a manifest and,
/// when pulled by tag, of that tag.
pub async fn record_pulls(
    tx: &mut sqlx::AnyConnection,
    repository_id: i64,
    manifest_id: i64,
    tag: Option<&str>,
    pulls: i64,
    at: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE manifests SET pulled_at = $1 WHERE id = $2 AND (pulled_at IS NULL OR pulled_at < $1)",
    )
    .bind(at)
    .bind(manifest_id)
    .execute(&mut *tx)
    .await?;
    if let Some(tag) = tag {
        sqlx::query(
            "UPDATE tags SET pulled_at = $1 WHERE repository_id = $2 AND name = $3 AND (pulled_at IS NULL OR pulled_at < $1)",
        )
        .bind(at)
        .bind(repository_id)
        .bind(tag)
        .execute(&mut *tx)
        .await?;
    }
    // The repository last, the order a push writes in (manifest, tags, repository): the other
    // order deadlocks with a push of the same manifest on PostgreSQL.
    sqlx::query("UPDATE repositories SET pull_count = pull_count + $1 WHERE id = $2")
        .bind(pulls)
        .bind(repository_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Entries, newest first, of one project (or all with `None`), optionally of one operation and
/// user, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: Option<i64>,
    operation: &str,
    username: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<AuditRow>> {
    let rows = sqlx::query(
        "SELECT id, project_id, username, operation, resource, resource_type, client_ip, op_time FROM audit_logs \
         WHERE ($1 < 0 OR project_id = $1) AND ($2 = '' OR operation = $2) AND ($3 = '' OR username = $3) \
         ORDER BY id DESC LIMIT $4 OFFSET $5",
    )
    .bind(project_id.unwrap_or(-1))
    .bind(operation)
    .bind(username)
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get("id")?,
                project_id: r.try_get("project_id")?,
                username: r.try_get("username")?,
                operation: r.try_get("operation")?,
                resource: r.try_get("resource")?,
                resource_type: r.try_get("resource_type")?,
                client_ip: r.try_get("client_ip")?,
                op_time: r.try_get("op_time")?,
            })
        })
        .collect()
}

/// How many entries [`list`] would return without paging.
pub async fn count<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: Option<i64>,
    operation: &str,
    username: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_logs WHERE ($1 < 0 OR project_id = $1) AND ($2 = '' OR operation = $2) \
         AND ($3 = '' OR username = $3)",
    )
    .bind(project_id.unwrap_or(-1))
    .bind(operation)
    .bind(username)
    .fetch_one(e)
    .await?)
}
