//! Fires cron schedules. Every replica runs this loop; a firing is claimed by moving the
//! schedule's `next_run_at` with compare-and-set, so exactly one replica starts each run.

use std::time::Duration;

use super::cron::Cron;
use crate::db::{self, Db};
use crate::gc::{self, GcService};
use crate::retention::{self, RetentionService};

/// How often each replica looks for due schedules (cron's resolution is a second).
pub const TICK: Duration = Duration::from_secs(1);

/// The jobs a schedule can start.
#[derive(Clone)]
pub struct Jobs {
    /// Garbage collection.
    pub gc: GcService,
    /// Tag retention.
    pub retention: RetentionService,
}

/// Runs the scheduler until the task is dropped.
pub fn spawn(db: Db, jobs: Jobs) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = fire_due(&db, &jobs).await {
                tracing::warn!(error = %e, "scheduler could not read schedules");
            }
        }
    })
}

/// Starts every schedule that is due and this replica wins; returns how many it started.
pub async fn fire_due(db: &Db, jobs: &Jobs) -> Result<usize, db::DbError> {
    let now = db::now_ms();
    let mut fired = 0;
    for s in db::schedules::due(db.reader(), now).await? {
        let Some(seen) = s.next_run_at else { continue };
        // Missed firings (every replica was down) collapse into this one.
        let next = s.cron.parse::<Cron>().ok().and_then(|c| c.next_after(now));
        if !db::schedules::claim_firing(db.writer(), &s.name, seen, next).await? {
            continue;
        }
        fired += 1;
        match s.name.as_str() {
            gc::SCHEDULE => jobs.gc.fire(&s).await,
            name if name.starts_with(retention::SCHEDULE_PREFIX) => jobs.retention.fire(&s).await,
            other => tracing::warn!(schedule = other, "no job for schedule"),
        }
    }
    Ok(fired)
}
