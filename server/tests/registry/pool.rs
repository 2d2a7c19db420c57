//! The PostgreSQL pools skip sqlx's ping before each use of a connection that was used within
//! the last second; a connection idle for longer is pinged first. So a database that dropped
//! the pool's connections (a restart, a failover, an idle timeout on the way) costs no failed
//! request. Runs in the PostgreSQL half of the suite (it needs `WHARF_TEST_POSTGRES`).

use std::time::Duration;

use sqlx::Connection;
use wharf::db::Db;

use crate::support::test_database;

#[tokio::test]
async fn connections_the_database_dropped_are_replaced_before_use() {
    let Some(url) = test_database().await else {
        eprintln!("WHARF_TEST_POSTGRES is not set: the pool test runs in the PostgreSQL half");
        return;
    };
    let db = Db::connect(&url).await.expect("connect");
    let one = || async { sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(db.writer()).await };
    assert_eq!(one().await.expect("write pool"), 1);
    db.ping().await.expect("read pool");

    let database: String =
        sqlx::query_scalar("SELECT current_database()::text").fetch_one(db.reader()).await.expect("name");
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("admin connection");
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&database)
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert!(ended.len() >= 2, "both pools held a connection: {ended:?}");

    // Idle past the window: each use pings first and gets a new connection.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    for _ in 0..3 {
        assert_eq!(one().await.expect("write pool after the drop"), 1);
        db.ping().await.expect("read pool after the drop");
    }
}
