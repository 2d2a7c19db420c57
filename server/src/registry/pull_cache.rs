//! The manifest pull's database read, kept in memory while the database has not changed.
//!
//! A pull reads one row: the project (visibility, the caller's role), the repository and the
//! manifest the reference names. Asking the database costs far more than the rest of the
//! request (a hop to a connection's thread and back, and the pool's check of the connection on
//! its return), so the answer is kept per (project, repository, reference, caller's user id)
//! and used again while [`crate::db::changes::Changes`] says nothing was written since it was
//! read. Every write moves that generation, so the cache never shows anything a fresh read
//! would not: a moved tag, a deleted manifest and a revoked membership are seen by the next
//! request on this server, and on other replicas once the database's notification arrives.
//! The permission decision and the pull's accounting still run on every request; only the
//! read is skipped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;

use crate::db::changes::Changes;
use crate::db::manifests::ManifestLookup;

/// Entries kept at most; past it the map starts afresh (a simple bound: the working set of a
/// pull storm is a handful of tags).
const MAX_ENTRIES: usize = 4096;
/// Manifest bytes kept at most.
const MAX_BYTES: usize = 32 << 20;

/// What a pull asks for: project, repository, reference, whether it is a tag, and the caller's
/// user id (their role is part of the answer).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    text: Box<str>,
    user_id: i64,
    by_tag: bool,
}

impl Key {
    /// The key for a pull of `reference` from `repo` (its full name, the project's first).
    pub fn new(project: &str, repo: &str, reference: &str, by_tag: bool, user_id: i64) -> Self {
        // Names cannot hold a NUL, so the joined text is unambiguous.
        let text = [project, repo, reference].join("\0").into_boxed_str();
        Self { text, user_id, by_tag }
    }
}

struct Entry {
    generation: u64,
    found: Option<Arc<ManifestLookup>>,
}

/// The cache (cheap to clone; clones share it).
#[derive(Clone)]
pub struct PullCache {
    changes: Changes,
    map: Arc<Mutex<Map>>,
    /// Pulls answered from memory, and pulls that read.
    counts: [Counter; 2],
}

#[derive(Default)]
struct Map {
    entries: HashMap<Key, Entry>,
    bytes: usize,
}

fn size_of(found: &Option<Arc<ManifestLookup>>) -> usize {
    found.as_ref().and_then(|f| f.manifest.as_ref()).map_or(0, |m| m.content.len())
}

impl PullCache {
    /// A cache of reads from the database whose changes `changes` counts.
    pub fn new(changes: Changes) -> Self {
        Self { changes, map: Default::default(), counts: Default::default() }
    }

    /// Counts answers from memory in `counts[0]` and reads in `counts[1]` (`/metrics`).
    pub fn with_counters(mut self, counts: [Counter; 2]) -> Self {
        self.counts = counts;
        self
    }

    /// The answer for `key` if it is known and nothing changed since it was read; otherwise
    /// `read` runs and its answer is kept when nothing changed meanwhile.
    pub async fn get_or_read<E, F>(&self, key: Key, read: F) -> Result<Option<Arc<ManifestLookup>>, E>
    where
        F: Future<Output = Result<Option<ManifestLookup>, E>>,
    {
        let stamp = self.changes.stamp();
        if let Some(generation) = stamp
            && let Ok(map) = self.map.lock()
            && let Some(e) = map.entries.get(&key)
            && e.generation == generation
        {
            self.counts[0].inc();
            return Ok(e.found.clone());
        }
        self.counts[1].inc();
        let found = read.await?.map(Arc::new);
        if let Some(generation) = stamp
            && self.changes.unchanged_since(generation)
            && let Ok(mut map) = self.map.lock()
        {
            let size = size_of(&found);
            if map.entries.len() >= MAX_ENTRIES || map.bytes + size > MAX_BYTES {
                map.entries.clear();
                map.bytes = 0;
            }
            map.bytes += size;
            if let Some(old) = map.entries.insert(key, Entry { generation, found: found.clone() }) {
                map.bytes -= size_of(&old.found);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/wharf.db", dir.path().display());
        let db = Db::connect(&url).await.expect("connect");
        (dir, db)
    }

    /// Waits until the cache may be used (watch running, writer idle).
    async fn wait_watching(db: &Db) {
        for _ in 0..100 {
            if db.changes().stamp().is_some() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the change watch did not start");
    }

    /// Reads `key` through the cache, counting real reads.
    async fn read(cache: &PullCache, key: &Key, reads: &AtomicUsize) {
        let r: Result<_, ()> = cache
            .get_or_read(key.clone(), async {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            })
            .await;
        r.expect("read");
    }

    #[tokio::test]
    async fn answers_from_memory_until_a_write_and_never_without_the_watch() {
        let (_dir, db) = db().await;
        let cache = PullCache::new(db.changes().clone());
        let key = Key::new("library", "library/app", "v1", true, 0);
        let reads = AtomicUsize::new(0);
        // No watch of other processes yet: every pull reads.
        read(&cache, &key, &reads).await;
        read(&cache, &key, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 2);

        let watch = db.spawn_change_watch();
        wait_watching(&db).await;
        read(&cache, &key, &reads).await;
        read(&cache, &key, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 3, "the second read came from memory");

        // Any write through the pool moves the generation before its connection is idle.
        sqlx::query("UPDATE projects SET name = name WHERE id = -1")
            .execute(db.writer())
            .await
            .expect("write");
        read(&cache, &key, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 4, "read again after the write");

        // While a write transaction is open nothing is answered from memory nor learned.
        let tx = db.begin().await.expect("begin");
        read(&cache, &key, &reads).await;
        read(&cache, &key, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 6);
        tx.commit().await.expect("commit");
        // The connection goes back to the pool just after the commit answers.
        wait_watching(&db).await;
        read(&cache, &key, &reads).await;
        read(&cache, &key, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 7);

        // Another process's commit (a second connection, as `wharf gc` on a live data dir) is
        // seen within the poll interval.
        {
            use sqlx::Connection as _;
            let url = format!("sqlite://{}/wharf.db", _dir.path().display());
            let mut other = sqlx::AnyConnection::connect(&url).await.expect("connect");
            sqlx::query("CREATE TABLE probe (x INTEGER)").execute(&mut other).await.expect("write");
        }
        tokio::time::sleep(crate::db::changes::POLL_EVERY * 3).await;
        read(&cache, &key, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 8, "read again after another process's commit");
        watch.abort();
    }

    #[tokio::test]
    async fn the_read_pool_refuses_writes() {
        let (_dir, db) = db().await;
        let err = sqlx::query("UPDATE projects SET name = name").execute(db.reader()).await;
        assert!(err.is_err(), "a write through the read pool would bypass the change count");
    }
}
