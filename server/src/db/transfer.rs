//! Copying every row from one database to another (SQLite ⇄ PostgreSQL) for `wharf migrate`.
//!
//! Tables are copied in foreign-key order with their ids, then PostgreSQL identity sequences are
//! moved past the copied ids. Upload sessions are transient and not copied; derived quota usage
//! is rebuilt by the target's triggers.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Db, DbResult};

/// The type of a copied column, as stored through the `Any` driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Int,
    Text,
    Bytes,
}

impl Col {
    /// The type a column declared as `declared` (SQLite's or PostgreSQL's name) is copied as.
    fn of(declared: &str) -> Self {
        let d = declared.to_ascii_lowercase();
        if d.contains("int") {
            Self::Int
        } else if d.contains("blob") || d.contains("bytea") {
            Self::Bytes
        } else {
            Self::Text
        }
    }
}

/// Every table, in foreign-key order (a table after those it references). The columns are read
/// from the source's schema, so a column a migration adds is copied without a change here; a
/// table a migration adds must be listed here or in [`NOT_COPIED`] (a test checks).
const TABLES: &[&str] = &[
    "users",
    "registries",
    "projects",
    "project_quotas",
    "repositories",
    "blobs",
    "repository_blobs",
    "manifests",
    "manifest_blobs",
    "manifest_children",
    "manifest_pending_children",
    "tags",
    "usergroups",
    "usergroup_users",
    "oidc_users",
    "project_members",
    "project_group_members",
    "audit_logs",
    "robots",
    "robot_permissions",
    "gc_runs",
    "purge_runs",
    "schedules",
    "retention_policies",
    "retention_executions",
    "retention_tasks",
    "signing_keys",
    "replication_policies",
    "replication_executions",
    "replication_tasks",
    "immutable_rules",
    "webhook_policies",
    "webhook_tasks",
    "labels",
    "artifact_labels",
    "configurations",
];

/// Tables not copied: upload sessions, leases and portal sessions are transient, and
/// `project_blobs` (with `project_quotas.used`) is kept by the target's triggers as the
/// manifests arrive.
pub const NOT_COPIED: &[&str] = &["uploads", "upload_parts", "leases", "ui_sessions", "project_blobs"];

/// The columns of `table` in `db`, with their types, in declaration order.
async fn columns(db: &Db, table: &str) -> DbResult<Vec<(String, Col)>> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows = sqlx::query(sql).bind(table).fetch_all(db.reader()).await?;
    rows.iter().map(|r| Ok((r.try_get::<String, _>(0)?, Col::of(&r.try_get::<String, _>(1)?)))).collect()
}

/// Rows copied per table, in copy order.
pub type Counts = Vec<(&'static str, u64)>;

/// Whether the database holds no users, projects or blobs (a fresh target).
pub async fn is_empty(db: &Db) -> DbResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM projects) + (SELECT COUNT(*) FROM blobs)",
    )
    .fetch_one(db.reader())
    .await?;
    Ok(n == 0)
}

/// Every blob digest with its size, in order.
pub async fn blob_list(db: &Db) -> DbResult<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT digest, size FROM blobs ORDER BY digest").fetch_all(db.reader()).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    row: &AnyRow,
    i: usize,
    col: Col,
) -> DbResult<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>> {
    Ok(match col {
        Col::Int => q.bind(row.try_get::<Option<i64>, _>(i)?),
        Col::Text => q.bind(row.try_get::<Option<String>, _>(i)?),
        Col::Bytes => q.bind(row.try_get::<Option<Vec<u8>>, _>(i)?),
    })
}

/// Copies every table from `from` into `to` in one transaction on the target.
pub async fn copy_rows(from: &Db, to: &Db) -> DbResult<Counts> {
    let mut counts = Vec::new();
    let mut tx = to.begin().await?;
    for table in TABLES {
        let cols = columns(from, table).await?;
        let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
        let select = format!("SELECT {} FROM {table}", names.join(", "));
        let mut insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            super::placeholders(1, names.len())
        );
        if *table == "project_quotas" {
            // The target made each project's row when the project arrived, and its usage
            // follows the manifests: the limit and its times are the source's.
            insert.push_str(
                " ON CONFLICT (project_id) DO UPDATE SET hard = excluded.hard, \
                 created_at = excluded.created_at, updated_at = excluded.updated_at",
            );
        }
        let rows = sqlx::query(&select).fetch_all(from.reader()).await?;
        for row in &rows {
            let mut q = sqlx::query(&insert);
            for (i, (_, col)) in cols.iter().enumerate() {
                q = bind(q, row, i, *col)?;
            }
            q.execute(&mut *tx).await?;
        }
        if cols.iter().any(|(n, c)| n == "id" && *c == Col::Int) && to.backend() == Backend::Postgres {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .execute(&mut *tx)
            .await?;
        }
        counts.push((*table, rows.len() as u64));
    }
    tx.commit().await?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table of the schema is copied or deliberately not, and each comes after the tables
    /// it references.
    #[tokio::test]
    async fn every_table_is_copied_in_foreign_key_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display())).await.expect("db");
        let all: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations' ORDER BY name",
        )
        .fetch_all(db.reader())
        .await
        .expect("tables");
        let mut listed: Vec<String> = TABLES.iter().chain(NOT_COPIED).map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(all, listed, "a table is neither copied nor listed as not copied");
        for (i, table) in TABLES.iter().enumerate() {
            let refs: Vec<String> =
                sqlx::query_scalar("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list($1)")
                    .bind(table)
                    .fetch_all(db.reader())
                    .await
                    .expect("fks");
            for r in refs.iter().filter(|r| r.as_str() != *table) {
                assert!(TABLES[..i].contains(&r.as_str()), "{table} references {r}, copied later");
            }
            assert!(!columns(&db, table).await.expect("columns").is_empty(), "{table}");
        }
    }
}
