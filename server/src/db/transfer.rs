//! Copying every row from one database to another (SQLite ⇄ PostgreSQL) for `wharf migrate`.
//!
//! Tables are copied in foreign-key order with their ids, then PostgreSQL identity sequences are
//! moved past the copied ids. Upload sessions are transient and not copied.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Db, DbResult};

/// The type of a copied column, as stored through the `Any` driver.
#[derive(Clone, Copy)]
enum Col {
    Int,
    Text,
    Bytes,
}

/// A copied table: its name, its columns, and whether `id` is an identity column.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Col)],
    identity: bool,
}

/// Tables in foreign-key order.
const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            ("id", Col::Int),
            ("username", Col::Text),
            ("email", Col::Text),
            ("realname", Col::Text),
            ("password_hash", Col::Text),
            ("sysadmin", Col::Int),
            ("disabled", Col::Int),
            ("created_at", Col::Int),
            ("updated_at", Col::Int),
            ("token_generation", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "projects",
        columns: &[
            ("id", Col::Int),
            ("name", Col::Text),
            ("public", Col::Int),
            ("owner_id", Col::Int),
            ("created_at", Col::Int),
            ("updated_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "repositories",
        columns: &[
            ("id", Col::Int),
            ("project_id", Col::Int),
            ("name", Col::Text),
            ("pull_count", Col::Int),
            ("created_at", Col::Int),
            ("updated_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "blobs",
        columns: &[
            ("digest", Col::Text),
            ("size", Col::Int),
            ("created_at", Col::Int),
            ("status", Col::Text),
            ("touched_at", Col::Int),
        ],
        identity: false,
    },
    Table {
        name: "repository_blobs",
        columns: &[("repository_id", Col::Int), ("digest", Col::Text), ("created_at", Col::Int)],
        identity: false,
    },
    Table {
        name: "manifests",
        columns: &[
            ("id", Col::Int),
            ("repository_id", Col::Int),
            ("digest", Col::Text),
            ("media_type", Col::Text),
            ("artifact_type", Col::Text),
            ("config_media_type", Col::Text),
            ("subject_digest", Col::Text),
            ("annotations", Col::Text),
            ("size", Col::Int),
            ("total_size", Col::Int),
            ("content", Col::Bytes),
            ("pushed_at", Col::Int),
            ("pulled_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "manifest_blobs",
        columns: &[("manifest_id", Col::Int), ("digest", Col::Text)],
        identity: false,
    },
    Table {
        name: "manifest_children",
        columns: &[("parent_id", Col::Int), ("child_id", Col::Int)],
        identity: false,
    },
    Table {
        name: "tags",
        columns: &[
            ("repository_id", Col::Int),
            ("name", Col::Text),
            ("manifest_id", Col::Int),
            ("pushed_at", Col::Int),
            ("pulled_at", Col::Int),
        ],
        identity: false,
    },
    Table {
        name: "project_members",
        columns: &[
            ("id", Col::Int),
            ("project_id", Col::Int),
            ("user_id", Col::Int),
            ("role_id", Col::Int),
            ("created_at", Col::Int),
            ("updated_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "audit_logs",
        columns: &[
            ("id", Col::Int),
            ("project_id", Col::Int),
            ("username", Col::Text),
            ("operation", Col::Text),
            ("resource", Col::Text),
            ("resource_type", Col::Text),
            ("client_ip", Col::Text),
            ("op_time", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "robots",
        columns: &[
            ("id", Col::Int),
            ("name", Col::Text),
            ("project_id", Col::Int),
            ("description", Col::Text),
            ("secret_hash", Col::Text),
            ("can_pull", Col::Int),
            ("can_push", Col::Int),
            ("can_delete", Col::Int),
            ("disabled", Col::Int),
            ("expires_at", Col::Int),
            ("created_at", Col::Int),
            ("updated_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "robot_permissions",
        columns: &[
            ("robot_id", Col::Int),
            ("project_id", Col::Int),
            ("can_pull", Col::Int),
            ("can_push", Col::Int),
            ("can_delete", Col::Int),
        ],
        identity: false,
    },
    Table {
        name: "gc_runs",
        columns: &[
            ("id", Col::Int),
            ("trigger_kind", Col::Text),
            ("dry_run", Col::Int),
            ("delete_untagged", Col::Int),
            ("workers", Col::Int),
            ("status", Col::Text),
            ("stop_requested", Col::Int),
            ("blobs_deleted", Col::Int),
            ("manifests_deleted", Col::Int),
            ("uploads_purged", Col::Int),
            ("bytes_freed", Col::Int),
            ("log", Col::Text),
            ("created_at", Col::Int),
            ("started_at", Col::Int),
            ("ended_at", Col::Int),
            ("updated_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "schedules",
        columns: &[
            ("name", Col::Text),
            ("kind", Col::Text),
            ("cron", Col::Text),
            ("parameters", Col::Text),
            ("next_run_at", Col::Int),
            ("created_at", Col::Int),
            ("updated_at", Col::Int),
        ],
        identity: false,
    },
    Table {
        name: "retention_policies",
        columns: &[
            ("id", Col::Int),
            ("project_id", Col::Int),
            ("policy", Col::Text),
            ("created_at", Col::Int),
            ("updated_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "retention_executions",
        columns: &[
            ("id", Col::Int),
            ("policy_id", Col::Int),
            ("trigger_kind", Col::Text),
            ("dry_run", Col::Int),
            ("status", Col::Text),
            ("stop_requested", Col::Int),
            ("created_at", Col::Int),
            ("ended_at", Col::Int),
            ("updated_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "retention_tasks",
        columns: &[
            ("id", Col::Int),
            ("execution_id", Col::Int),
            ("repository", Col::Text),
            ("status", Col::Text),
            ("total", Col::Int),
            ("retained", Col::Int),
            ("log", Col::Text),
            ("started_at", Col::Int),
            ("ended_at", Col::Int),
        ],
        identity: true,
    },
    Table {
        name: "signing_keys",
        columns: &[("id", Col::Text), ("secret", Col::Bytes), ("created_at", Col::Int)],
        identity: false,
    },
];

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
    for Table { name: table, columns: cols, identity } in TABLES {
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let select = format!("SELECT {} FROM {table}", names.join(", "));
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            super::placeholders(1, names.len())
        );
        let rows = sqlx::query(&select).fetch_all(from.reader()).await?;
        for row in &rows {
            let mut q = sqlx::query(&insert);
            for (i, (_, col)) in cols.iter().enumerate() {
                q = bind(q, row, i, *col)?;
            }
            q.execute(&mut *tx).await?;
        }
        if *identity && to.backend() == Backend::Postgres {
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
