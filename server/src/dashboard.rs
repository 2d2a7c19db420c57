//! At a glance: a project's summary (counts, members by role, storage against its quota, and
//! the last 30 days of pushes, pulls and storage) and the administrators' dashboard (the same
//! for the whole registry, with the garbage collector's history). Everything comes from what
//! Wharf records anyway: the audit log, the artifacts and their push times, the quotas and the
//! collections.

use frontend::types::{Activity, DayValue, GcFreed, ProjectDashboard, RegistryDashboard, Role};

use crate::auth::Identity;
use crate::db::activity::DAY_MS;
use crate::db::{self, Db};
use crate::projects::{ProjectError, ProjectRef, Projects};
use crate::storage::BlobStore;
use crate::time::rfc3339;
use crate::vocab::RunStatus;

/// Days a chart covers, today included.
pub const DAYS: i64 = 30;
/// Collections the dashboard charts.
const GC_RUNS: i64 = 20;

/// The summaries.
#[derive(Clone)]
pub struct Dashboards {
    db: Db,
    projects: Projects,
    store: BlobStore,
}

/// `YYYY-MM-DD` of UTC day `day` (days since the epoch).
fn day_name(day: i64) -> String {
    rfc3339(day * 86_400).chars().take(10).collect()
}

/// One value per day from `first` for [`DAYS`] days, zero where `counts` has none.
fn per_day(first: i64, counts: &[(i64, i64)]) -> Vec<DayValue> {
    (first..first + DAYS)
        .map(|day| DayValue {
            day: day_name(day),
            value: counts.iter().find(|(d, _)| *d == day).map_or(0, |(_, v)| *v),
        })
        .collect()
}

/// The running total from `start`, adding each day's figure.
fn running(first: i64, start: i64, added: &[(i64, i64)]) -> Vec<DayValue> {
    let mut total = start;
    per_day(first, added)
        .into_iter()
        .map(|mut d| {
            total += d.value;
            d.value = total;
            d
        })
        .collect()
}

impl Dashboards {
    /// Summaries over `db`, with access checked by `projects` and the volume of `store`.
    pub fn new(db: Db, projects: Projects, store: BlobStore) -> Self {
        Self { db, projects, store }
    }

    /// The last [`DAYS`] days of project `project` (or of the whole registry).
    async fn activity(&self, project: Option<i64>) -> Result<Activity, db::DbError> {
        let today = db::now_ms().div_euclid(DAY_MS);
        let first = today - DAYS + 1;
        let since = first * DAY_MS;
        let r = self.db.reader();
        let pushes = db::activity::daily_operations(r, project, "push", since).await?;
        let pulls = db::activity::daily_operations(r, project, "pull", since).await?;
        let (before, stored) = db::activity::daily_stored(r, project, since).await?;
        Ok(Activity {
            pushes: per_day(first, &pushes),
            pulls: per_day(first, &pulls),
            stored: running(first, before, &stored),
        })
    }

    /// Project `p`'s summary, for whoever may see the project.
    pub async fn project(&self, who: &Identity, p: &ProjectRef) -> Result<ProjectDashboard, ProjectError> {
        let (project, roles, quota) = self.projects.summary(who, p).await?;
        let mut members: Vec<(Role, i64)> =
            roles.into_iter().filter_map(|(id, n)| Role::from_id(id).map(|r| (r, n))).collect();
        members.sort_by_key(|(r, _)| Role::ALL.iter().position(|x| x == r));
        Ok(ProjectDashboard {
            repositories: project.repo_count,
            artifacts: db::activity::artifact_count(self.db.reader(), Some(project.id)).await?,
            members,
            storage_used: quota.as_ref().map_or(0, |q| q.used),
            storage_limit: quota.as_ref().map_or(-1, |q| q.hard),
            activity: self.activity(Some(project.id)).await?,
        })
    }

    /// The whole registry, for system administrators.
    pub async fn registry(&self, who: &Identity) -> Result<RegistryDashboard, ProjectError> {
        match who {
            Identity::Anonymous => return Err(ProjectError::Unauthorized),
            w if !w.is_sysadmin() => return Err(ProjectError::Forbidden),
            _ => {}
        }
        let r = self.db.reader();
        let (projects, repositories) = db::activity::totals(r).await?;
        let mut gc: Vec<GcFreed> = db::gc_runs::list(r, GC_RUNS, 0)
            .await?
            .into_iter()
            .filter(|run| !run.dry_run && run.status == RunStatus::Success)
            .map(|run| GcFreed {
                at: crate::time::rfc3339_ms(run.created_at),
                bytes: run.bytes_freed,
                blobs: run.blobs_deleted,
            })
            .collect();
        gc.reverse();
        Ok(RegistryDashboard {
            projects,
            repositories,
            artifacts: db::activity::artifact_count(r, None).await?,
            storage_used: db::quotas::total_used(r).await?,
            volume: self.store.volume(),
            activity: self.activity(None).await?,
            gc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_without_events_are_zero_and_storage_accumulates() {
        let first = 20_000;
        let days = per_day(first, &[(first, 3), (first + 29, 5), (first + 30, 99)]);
        assert_eq!(days.len(), 30);
        assert_eq!((days[0].day.as_str(), days[0].value), ("2024-10-04", 3));
        assert_eq!(days[1].value, 0);
        assert_eq!(days[29].value, 5);
        let stored = running(first, 100, &[(first + 1, 10), (first + 3, 5)]);
        let values: Vec<i64> = stored.iter().take(5).map(|d| d.value).collect();
        assert_eq!(values, [100, 110, 110, 115, 115]);
        assert_eq!(stored[29].value, 115);
    }
}
