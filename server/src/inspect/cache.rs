//! A memory cache of immutable values by digest, bounded by their weight in bytes (least
//! recently used go first), that loads each value once however many callers ask at the same
//! time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

struct Slot<V> {
    cell: Arc<OnceCell<Arc<V>>>,
    /// 0 until loaded.
    weight: usize,
    used: u64,
}

struct Inner<V> {
    slots: HashMap<String, Slot<V>>,
    total: usize,
    clock: u64,
}

/// The cache.
pub struct Cache<V> {
    inner: Mutex<Inner<V>>,
    budget: usize,
}

impl<V> Cache<V> {
    /// A cache holding at most `budget` bytes of loaded values (one value larger than the
    /// budget is still returned, and dropped at once).
    pub fn new(budget: usize) -> Self {
        Self { inner: Mutex::new(Inner { slots: HashMap::new(), total: 0, clock: 0 }), budget }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock leaves only counters behind: carry on with them.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value of `key`, loaded by `load` (weighed by `weight`) when it is not held; callers
    /// asking for the same key meanwhile wait for the one load. A failed load is not kept.
    pub async fn get_or_load<E>(
        &self,
        key: &str,
        weight: fn(&V) -> usize,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<Arc<V>, E> {
        let cell = {
            let mut inner = self.lock();
            inner.clock += 1;
            let now = inner.clock;
            let slot = inner.slots.entry(key.to_owned()).or_insert_with(|| Slot {
                cell: Arc::new(OnceCell::new()),
                weight: 0,
                used: now,
            });
            slot.used = now;
            slot.cell.clone()
        };
        let loaded = cell.get_or_try_init(|| async { load.await.map(Arc::new) }).await.cloned();
        let mut inner = self.lock();
        let Ok(value) = loaded else {
            if inner.slots.get(key).is_some_and(|s| Arc::ptr_eq(&s.cell, &cell) && s.cell.get().is_none()) {
                inner.slots.remove(key);
            }
            return loaded;
        };
        if let Some(slot) = inner.slots.get_mut(key).filter(|s| Arc::ptr_eq(&s.cell, &cell) && s.weight == 0)
        {
            let w = weight(&value).max(1);
            if w > self.budget {
                // Keeping it would push out everything else.
                inner.slots.remove(key);
                return Ok(value);
            }
            slot.weight = w;
            inner.total += w;
        }
        while inner.total > self.budget {
            let oldest = inner
                .slots
                .iter()
                .filter(|(_, s)| s.weight > 0)
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            if let Some(gone) = inner.slots.remove(&k) {
                inner.total -= gone.weight;
            }
        }
        Ok(value)
    }

    /// Whether `key` is held, loaded.
    pub fn holds(&self, key: &str) -> bool {
        self.lock().slots.get(key).is_some_and(|s| s.weight > 0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[allow(clippy::ptr_arg, reason = "the cache weighs values by a function of `&V`")]
    fn weight(v: &Vec<u8>) -> usize {
        v.len()
    }

    #[tokio::test]
    async fn a_value_is_loaded_once_and_the_least_recent_goes_first() {
        let cache: Cache<Vec<u8>> = Cache::new(10);
        let loads = AtomicUsize::new(0);
        let loads = &loads;
        let load = |n: usize| async move {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(vec![0u8; n])
        };
        // Three callers at once: one load.
        let (a, b, c) = tokio::join!(
            cache.get_or_load("a", weight, load(4)),
            cache.get_or_load("a", weight, async { Ok::<_, ()>(vec![]) }),
            cache.get_or_load("a", weight, async { Ok::<_, ()>(vec![]) }),
        );
        assert_eq!((a.map(|v| v.len()), b.map(|v| v.len()), c.map(|v| v.len())), (Ok(4), Ok(4), Ok(4)));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        cache.get_or_load("b", weight, load(4)).await.expect("b");
        // "a" used again: "b" is now the oldest and goes when "c" needs room.
        cache.get_or_load("a", weight, load(99)).await.expect("a");
        cache.get_or_load("c", weight, load(4)).await.expect("c");
        assert!(cache.holds("a") && cache.holds("c") && !cache.holds("b"));
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_load_is_tried_again_and_an_oversized_value_is_not_kept() {
        let cache: Cache<Vec<u8>> = Cache::new(10);
        assert_eq!(cache.get_or_load("x", weight, async { Err::<Vec<u8>, _>("down") }).await, Err("down"));
        assert!(!cache.holds("x"));
        let v = cache.get_or_load("x", weight, async { Ok::<_, &str>(vec![1; 3]) }).await;
        assert_eq!(v.map(|v| v.len()), Ok(3));
        let big = cache.get_or_load("big", weight, async { Ok::<_, &str>(vec![1; 50]) }).await;
        assert_eq!(big.map(|v| v.len()), Ok(50));
        assert!(!cache.holds("big"));
    }
}
