//! All SQL lives in this module and its children; nothing else in Wharf writes a query.
//!
//! One set of statements serves SQLite (embedded default) and PostgreSQL (scale-out) through
//! sqlx's `Any` driver: placeholders are `$N`, times are unix milliseconds in BIGINT, flags are
//! 0/1 integers. SQLite gets a single-connection write pool (no SQLITE_BUSY between writers) and a
//! separate read pool; on PostgreSQL both are the same pool.

pub mod activity;
pub mod audit;
pub mod blobs;
pub mod changes;
pub mod configurations;
pub mod gc_runs;
pub mod immutable;
pub mod labels;
pub mod leases;
pub mod manifests;
pub mod members;
pub mod metrics;
pub mod oidc;
pub mod projects;
pub mod purge_runs;
pub mod quotas;
pub mod registries;
pub mod replication;
pub mod repositories;
pub mod retention;
pub mod robots;
pub mod runs;
pub mod schedules;
pub mod signing_keys;
pub mod tags;
pub mod transfer;
pub mod ui_sessions;
pub mod uploads;
pub mod usergroups;
pub mod users;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Connection as _, Executor, Transaction};

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Any sqlx failure.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The URL names an engine Wharf does not support.
    #[error("unsupported database URL {0:?}: use sqlite:// or postgres://")]
    UnsupportedUrl(String),
}

impl DbError {
    /// True when the failure is a unique or primary key violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// True when the transaction lost a race another one won (PostgreSQL's deadlock or
    /// serialization failure; SQLite's busy): running it again may well succeed.
    pub fn is_transient(&self) -> bool {
        let Self::Sqlx(sqlx::Error::Database(e)) = self else { return false };
        // SQLite's extended codes keep the primary code in the low byte (5 is SQLITE_BUSY).
        matches!(e.code().as_deref(), Some("40P01" | "40001"))
            || e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 5)
    }

    /// True when the failure is a foreign key violation.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, Self::Sqlx(sqlx::Error::Database(e)) if e.is_foreign_key_violation())
    }
}

/// Result of a database call.
pub type DbResult<T> = Result<T, DbError>;

/// A flag as both engines store it here, an integer 0 or 1: row structs read it into a `bool`
/// with `#[sqlx(try_from = "Flag")]`.
pub(crate) struct Flag(i64);

impl sqlx::Type<Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <i64 as sqlx::Decode<'r, Any>>::decode(value).map(Flag)
    }
}

impl From<Flag> for bool {
    fn from(f: Flag) -> Self {
        f.0 != 0
    }
}

/// A nullable role id (Harbor's numbering), read into an optional [`frontend::types::Role`] with
/// `#[sqlx(try_from = "RoleId")]`; an id no role has reads as none.
pub(crate) struct RoleId(Option<i64>);

impl sqlx::Type<Any> for RoleId {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for RoleId {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <Option<i64> as sqlx::Decode<'r, Any>>::decode(value).map(RoleId)
    }
}

impl From<RoleId> for Option<frontend::types::Role> {
    fn from(r: RoleId) -> Self {
        r.0.and_then(frontend::types::Role::from_id)
    }
}

/// Which engine the pools talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL, for scale-out.
    Postgres,
}

/// The database: a read-only pool and a write pool, and the generation of its changes.
#[derive(Clone, Debug)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    changes: changes::Changes,
    url: Arc<secrecy::SecretString>,
}

/// How long a PostgreSQL connection may sit idle in the pool before it is pinged on its next use.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The current time in unix milliseconds, the unit of every stored time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Db {
    /// Connects to `url` and runs the migrations.
    pub async fn connect(url: &str) -> DbResult<Self> {
        install_default_drivers();
        let generation = changes::Generation::default();
        // The write pool moves the change generation after every use and on every new
        // connection (see `changes`); the read pool cannot write, so nothing bypasses that.
        let write_opts = |opts: AnyPoolOptions, setup: &'static str| {
            let (opened, released) = (generation.clone(), generation.clone());
            opts.after_connect(move |conn, _| {
                let opened = opened.clone();
                Box::pin(async move {
                    conn.execute(setup).await?;
                    opened.bump();
                    Ok(())
                })
            })
            .after_release(move |_, _| {
                released.bump();
                Box::pin(async { Ok(true) })
            })
        };
        let read_opts = |opts: AnyPoolOptions, setup: &'static str, read_only: &'static str| {
            opts.after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(setup).await?;
                    conn.execute(read_only).await?;
                    Ok(())
                })
            })
        };
        let (read, write, backend) = if url.starts_with("sqlite:") {
            create_private(url);
            const SETUP: &str = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; \
                 PRAGMA busy_timeout=10000; PRAGMA synchronous=NORMAL;";
            // An SQLite connection is a file in this process: it cannot be dropped by a peer, so
            // nothing is tested before use (sqlx would otherwise ping each one as it leaves the
            // pool: a hop to its thread and back, on the one writer every push shares).
            let sqlite_opts = |max: u32| {
                AnyPoolOptions::new()
                    .max_connections(max)
                    .min_connections(1)
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(30))
            };
            // Each first connection reads the whole schema on its own thread: opened together,
            // the two reads overlap. A new file is switched to WAL by the writer first.
            let write = write_opts(sqlite_opts(1), SETUP);
            let read = read_opts(sqlite_opts(8), SETUP, "PRAGMA query_only=ON");
            let (write, read) = if in_wal_mode(url) {
                tokio::try_join!(write.connect(url), read.connect(url))?
            } else {
                let write = write.connect(url).await?;
                (write, read.connect(url).await?)
            };
            (read, write, Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // A connection used in the last second is taken as alive (HikariCP's bypass window);
            // one idle longer is pinged first, so a server restart or a dropped idle connection
            // is noticed before a query runs on it. sqlx's default pings before every use: a
            // round trip for each statement run outside a transaction.
            let pg_opts = |max: u32| {
                AnyPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(Duration::from_secs(30))
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PING_IDLE_AFTER {
                                conn.ping().await?;
                            }
                            Ok(true)
                        })
                    })
            };
            let write = write_opts(pg_opts(8), "SELECT 1").connect(url).await?;
            let read =
                read_opts(pg_opts(8), "SELECT 1", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                    .connect(url)
                    .await?;
            (read, write, Backend::Postgres)
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let changes = changes::Changes::new(generation, write.clone());
        let db = Self { read, write, backend, changes, url: Arc::new(url.into()) };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> DbResult<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite").run(&self.write).await?,
            Backend::Postgres => sqlx::migrate!("../migrations/postgres").run(&self.write).await?,
        }
        Ok(())
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The generation of the database's changes, for caches of what it holds.
    pub fn changes(&self) -> &changes::Changes {
        &self.changes
    }

    /// Starts watching other processes' commits (every serving replica does; see
    /// [`changes`]); stops when the returned task is aborted.
    pub fn spawn_change_watch(&self) -> tokio::task::JoinHandle<()> {
        use secrecy::ExposeSecret as _;
        self.changes.spawn_watch(self.url.expose_secret().to_owned(), self.backend)
    }

    /// The read-only pool, for reads that need not see the caller's own open transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// The pool for writes outside a transaction.
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads and then writes fails with SQLITE_BUSY when
    /// another process (`wharf gc` on a live data dir) committed in between, and busy_timeout
    /// cannot retry that.
    pub async fn begin(&self) -> DbResult<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        })
    }

    /// Checks the database answers (for health checks).
    pub async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// The file of SQLite URL `url`, if it names one.
fn sqlite_path(url: &str) -> Option<&str> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Whether the SQLite file of `url` is in WAL mode already (its header's read and write
/// versions are 2). Only then may two connections open at once: switching a file to WAL takes
/// an exclusive lock that SQLite's busy timeout does not wait for.
fn in_wal_mode(url: &str) -> bool {
    use std::io::Read;
    let mut header = [0u8; 20];
    sqlite_path(url)
        .and_then(|p| std::fs::File::open(p).ok())
        .is_some_and(|mut f| f.read_exact(&mut header).is_ok() && header[18] == 2 && header[19] == 2)
}

/// Creates the SQLite file of `url` readable by its owner only when it does not exist yet: it
/// holds the token signing key and the session table. SQLite gives its `-wal` and `-shm` files
/// the database file's permissions.
fn create_private(url: &str) {
    let Some(path) = sqlite_path(url) else {
        return;
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // Exists already (then it keeps its permissions), or the directory is missing (then the
    // connect reports it).
    let _ = options.open(path);
}

/// Escapes `%`, `_` and `\` in user input for a pattern used with `LIKE … ESCAPE '\'` (SQLite
/// has no default escape character, so every such query names it).
pub(crate) fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// `$first, $first+1, …` placeholders for an `IN (…)` list of `n` values.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
pub(crate) mod testing {
    use super::Db;

    /// A migrated SQLite database in a temp dir, kept alive by the returned guard.
    pub async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = Db::connect(&url).await.expect("connect");
        (dir, db)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_count_from_first() {
        assert_eq!(super::placeholders(3, 3), "$3, $4, $5");
        assert_eq!(super::placeholders(1, 0), "");
    }

    /// A new file gets its pools one after the other (the writer switches it to WAL, which two
    /// connections at once would fail with "database is locked"); a WAL file gets them together.
    #[tokio::test]
    async fn pools_open_together_only_on_a_wal_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/w.db?mode=rwc", dir.path().display());
        assert!(!super::in_wal_mode(&url), "no file yet");
        for _ in 0..3 {
            let db = super::Db::connect(&url).await.expect("connect");
            assert!(super::in_wal_mode(&url));
            db.ping().await.expect("the read pool answers");
            sqlx::query("SELECT COUNT(*) FROM users")
                .execute(db.writer())
                .await
                .expect("the write pool answers");
            db.close().await;
        }
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").expect("empty file");
        assert!(!super::in_wal_mode(&format!("sqlite://{}?mode=rwc", empty.display())));
    }
}
