//! Fires cron schedules. Every replica runs this loop; a firing is claimed by moving the
//! schedule's `next_run_at` with compare-and-set, so exactly one replica starts each run.
//!
//! The scheduler knows no job: each one is handed in as a [`Scheduled`] and claims its
//! schedules by name, so a new kind of job adds no import here.

use std::sync::Arc;
use std::time::Duration;

use super::cron::Cron;
use crate::db::schedules::ScheduleRow;
use crate::db::{self, Db};

/// How often each replica looks for due schedules (cron's resolution is a second).
pub const TICK: Duration = Duration::from_secs(1);

/// A job a schedule can start.
#[async_trait::async_trait]
pub trait Scheduled: Send + Sync {
    /// Whether the schedule named `name` starts this job.
    fn owns(&self, name: &str) -> bool;
    /// Starts a run for `schedule` (errors are the job's to log: the firing is spent).
    async fn fire(&self, schedule: &ScheduleRow);
}

/// The jobs schedules can start.
pub type Jobs = Vec<Arc<dyn Scheduled>>;

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
pub async fn fire_due(db: &Db, jobs: &[Arc<dyn Scheduled>]) -> Result<usize, db::DbError> {
    let now = db::now_ms();
    let mut fired = 0;
    for s in db::schedules::due(db.reader(), now).await? {
        let Some(seen) = s.next_run_at else { continue };
        // Missed firings (every replica was down) collapse into this one.
        let next = s.schedule.cron().parse::<Cron>().ok().and_then(|c| c.next_after(now));
        if !db::schedules::claim_firing(db.writer(), &s.name, seen, next).await? {
            continue;
        }
        fired += 1;
        match jobs.iter().find(|j| j.owns(&s.name)) {
            Some(job) => job.fire(&s).await,
            None => tracing::warn!(schedule = %s.name, "no job for schedule"),
        }
    }
    Ok(fired)
}
