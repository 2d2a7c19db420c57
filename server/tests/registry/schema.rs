//! The two migration folders describe one schema: migrating SQLite and PostgreSQL must give the
//! same tables with the same columns and the same nullability, so a migration written for one
//! engine cannot be forgotten for the other. Runs in the PostgreSQL half of the suite (it needs
//! `WHARF_TEST_POSTGRES`).

use std::collections::BTreeSet;

use sqlx::Row;
use wharf::db::Db;

use crate::support::test_database;

/// (table, column, nullable) of every table Wharf made (sqlx's own bookkeeping left out).
type Schema = BTreeSet<(String, String, bool)>;

async fn sqlite_schema(db: &Db) -> Schema {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations'",
    )
    .fetch_all(db.reader())
    .await
    .expect("tables");
    let mut out = Schema::new();
    for t in tables {
        let sql = format!("SELECT name, \"notnull\", pk FROM pragma_table_info('{t}')");
        for r in sqlx::query(&sql).fetch_all(db.reader()).await.expect("columns") {
            let (name, not_null, pk): (String, i64, i64) =
                (r.try_get(0).expect("name"), r.try_get(1).expect("notnull"), r.try_get(2).expect("pk"));
            // A primary key is never null, whether or not SQLite was told so.
            out.insert((t.clone(), name, not_null == 0 && pk == 0));
        }
    }
    out
}

async fn postgres_schema(db: &Db) -> Schema {
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(db.reader())
    .await
    .expect("columns");
    rows.iter()
        .map(|r| {
            let nullable: String = r.try_get(2).expect("nullable");
            (r.try_get(0).expect("table"), r.try_get(1).expect("column"), nullable == "YES")
        })
        .collect()
}

#[tokio::test]
async fn both_engines_migrate_to_the_same_tables_and_columns() {
    let Some(pg_url) = test_database().await else {
        eprintln!("WHARF_TEST_POSTGRES is not set: the schema comparison runs in the PostgreSQL half");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite =
        Db::connect(&format!("sqlite://{}/schema.db?mode=rwc", dir.path().display())).await.expect("sqlite");
    let postgres = Db::connect(&pg_url).await.expect("postgres");
    let (lite, pg) = (sqlite_schema(&sqlite).await, postgres_schema(&postgres).await);
    assert!(lite.len() > 50, "the schema was read: {} columns", lite.len());
    let only_sqlite: Vec<_> = lite.difference(&pg).collect();
    let only_postgres: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migration folders differ\n(table, column, nullable) only in SQLite: {only_sqlite:#?}\nonly in PostgreSQL: {only_postgres:#?}"
    );
}
