//! A held lease that renews itself while the job runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::db::{self, Db, DbResult};

/// A lease this process holds; renewed every third of its lifetime until released or dropped.
pub struct LeaseGuard {
    db: Db,
    name: String,
    holder: String,
    lost: Arc<AtomicBool>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl LeaseGuard {
    /// Takes lease `name` for `holder` with lifetime `ttl` (a crashed holder's job can restart
    /// after it), or returns `None` when another holder has it.
    pub async fn acquire(db: &Db, name: &str, holder: &str, ttl: Duration) -> DbResult<Option<Self>> {
        let ttl_ms = ttl.as_millis() as i64;
        if !db::leases::acquire(db.writer(), name, holder, ttl_ms).await? {
            return Ok(None);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let (db, name, holder, lost) = (db.clone(), name.to_owned(), holder.to_owned(), lost.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    match db::leases::acquire(db.writer(), &name, &holder, ttl_ms).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(lease = %name, "lease taken over by another holder");
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        // A passing database error: try again; the lease outlives two misses.
                        Err(e) => tracing::warn!(lease = %name, error = %e, "could not renew lease"),
                    }
                }
            })
        };
        Ok(Some(Self { db: db.clone(), name: name.to_owned(), holder: holder.to_owned(), lost, heartbeat }))
    }

    /// Whether another holder took the lease (this one failed to renew in time): the job must
    /// stop touching shared state.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Gives the lease up.
    pub async fn release(self) {
        self.heartbeat.abort();
        if let Err(e) = db::leases::release(self.db.writer(), &self.name, &self.holder).await {
            tracing::warn!(lease = %self.name, error = %e, "could not release lease; it will expire");
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}
