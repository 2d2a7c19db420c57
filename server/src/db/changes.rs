//! Knowing, without asking the database, that nothing has changed since a read: what lets the
//! hot read paths (manifest pulls) answer from memory and stay exact.
//!
//! A *generation* counts changes. It moves
//! - after every use of the write pool ends (the pool's `after_release` hook runs after the
//!   transaction committed and before the connection is idle again) and whenever a write
//!   connection is opened (one closed instead of released may have committed something);
//! - when another process commits: on PostgreSQL, triggers on the tables the caches read
//!   `NOTIFY wharf_changes` at commit and every replica listens; on SQLite (other processes are
//!   the `wharf` commands run on a live data dir) a connection polls `PRAGMA data_version`.
//!
//! A cache may answer from memory only while the writer is *quiet* (every write connection is
//! idle, and the listener or poller is running) and the generation is the one it recorded
//! before its own read. So a change this process made is seen by the next request: its
//! connection is either still out of the pool (not quiet) or came back after the generation
//! moved. Changes made elsewhere are seen once their notification arrives (PostgreSQL: as soon
//! as it is delivered; SQLite: within [`POLL_EVERY`]). Reads go through a read-only pool, so no
//! write can bypass the signal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::AnyPool;

/// How often SQLite's `data_version` is read for other processes' commits.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// The PostgreSQL channel the change triggers notify.
pub const CHANNEL: &str = "wharf_changes";

/// The counter the write pool's hooks move (they hold only this: a hook holding the pool itself
/// would keep the pool alive forever).
#[derive(Clone, Debug, Default)]
pub struct Generation(Arc<AtomicU64>);

impl Generation {
    /// Something may have changed.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The change generation of one database and what it needs to tell whether it holds (cheap to
/// clone).
#[derive(Clone, Debug)]
pub struct Changes {
    generation: Generation,
    /// Other processes' commits are being watched.
    watching: Arc<AtomicBool>,
    write: AnyPool,
}

impl Changes {
    /// The changes counted by `generation`, which `write`'s hooks move.
    pub(super) fn new(generation: Generation, write: AnyPool) -> Self {
        Self { generation, watching: Arc::new(AtomicBool::new(false)), write }
    }

    /// Something may have changed.
    pub fn bump(&self) {
        self.generation.bump();
    }

    fn set_watching(&self, on: bool) {
        // Either way the cross-process view may have a gap: nothing read before counts.
        self.bump();
        self.watching.store(on, Ordering::SeqCst);
        self.bump();
    }

    /// The current generation when nothing is being written and other processes are watched;
    /// `None` otherwise (then a cache must not answer nor learn). The pool is looked at before
    /// the generation: a write whose connection is back in the pool has moved it already.
    pub fn stamp(&self) -> Option<u64> {
        if !self.watching.load(Ordering::SeqCst) {
            return None;
        }
        let size = self.write.size();
        if size == 0 || self.write.num_idle() != size as usize {
            return None;
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        Some(self.generation.0.load(Ordering::SeqCst))
    }

    /// Whether `stamp` (from [`Self::stamp`] before a read) still holds.
    pub fn unchanged_since(&self, stamp: u64) -> bool {
        self.stamp() == Some(stamp)
    }

    /// Watches other processes' commits until the returned task is aborted: PostgreSQL's
    /// notifications or SQLite's `data_version`. While the watch is down (a lost connection)
    /// caches stay out of use.
    pub fn spawn_watch(&self, url: String, backend: super::Backend) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let result = match backend {
                    super::Backend::Postgres => me.listen(&url).await,
                    super::Backend::Sqlite => me.poll(&url).await,
                };
                me.set_watching(false);
                if let Err(e) = result {
                    tracing::warn!(error = %e, "watching the database for other processes' changes; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn listen(&self, url: &str) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        self.set_watching(true);
        loop {
            // `None`: the connection was lost; notifications may have been missed.
            match listener.try_recv().await? {
                Some(_) => self.bump(),
                None => return Ok(()),
            }
        }
    }

    async fn poll(&self, url: &str) -> Result<(), sqlx::Error> {
        use sqlx::Connection as _;
        let mut conn = sqlx::AnyConnection::connect(url).await?;
        let mut last: i64 = sqlx::query_scalar("PRAGMA data_version").fetch_one(&mut conn).await?;
        self.set_watching(true);
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            let now: i64 = sqlx::query_scalar("PRAGMA data_version").fetch_one(&mut conn).await?;
            if now != last {
                last = now;
                self.bump();
            }
        }
    }
}
