//! Project quotas as Harbor's `/api/v2.0/quotas` sees them: one storage limit per project,
//! read and set by system administrators; the usage is counted by the database (see
//! [`crate::db::quotas`]) and checked by the registry when a push would add to it.

use super::{ProjectError, Projects, admin_only};
use crate::auth::Identity;
use crate::db::{self, quotas::QuotaRow};

/// Harbor's words for a write that would take a project over its limit.
pub fn overflow(adding: i64, current: i64, hard: i64) -> String {
    use frontend::components::human_size;
    format!(
        "adding {} of storage resource, which when updated to current usage of {} will exceed the configured upper limit of {}.",
        human_size(adding),
        human_size(current),
        human_size(hard)
    )
}

/// Harbor's words for a project nearing its limit (`QUOTA_WARNING`).
pub fn warning(percent: u8, used: i64, hard: i64) -> String {
    use frontend::components::human_size;
    format!(
        "quota usage reach {percent}%: resource storage used {} of {}",
        human_size(used),
        human_size(hard)
    )
}

/// A limit as given: -1 (none) or a number of bytes.
fn valid_limit(hard: i64) -> Result<i64, ProjectError> {
    if hard == -1 || hard >= 0 {
        Ok(hard)
    } else {
        Err(ProjectError::InvalidMetadata(format!(
            "storage limit {hard}: use -1 for none, or a number of bytes"
        )))
    }
}

impl Projects {
    /// Quotas of every project (or of project `project_id`), one page, and their total: system
    /// administrators.
    pub async fn quotas(
        &self,
        who: &Identity,
        project_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<QuotaRow>, i64), ProjectError> {
        admin_only(who)?;
        let rows = db::quotas::list(self.db.reader(), project_id, offset, limit).await?;
        let total = db::quotas::count(self.db.reader(), project_id).await?;
        Ok((rows, total))
    }

    /// Quota `id` (the project's id): system administrators.
    pub async fn quota(&self, who: &Identity, id: i64) -> Result<QuotaRow, ProjectError> {
        admin_only(who)?;
        db::quotas::get(self.db.reader(), id)
            .await?
            .ok_or_else(|| ProjectError::NotFound(format!("quota {id}")))
    }

    /// Sets quota `id`'s storage limit (-1: none): system administrators. A limit below the
    /// usage is allowed: it stops pushes that add, while deletes bring the usage down.
    pub async fn set_quota(&self, who: &Identity, id: i64, hard: i64) -> Result<(), ProjectError> {
        admin_only(who)?;
        let hard = valid_limit(hard)?;
        if db::quotas::set_hard(self.db.writer(), id, hard).await? {
            Ok(())
        } else {
            Err(ProjectError::NotFound(format!("quota {id}")))
        }
    }

    /// Harbor's statistics for `who`: (public projects, private projects, public repositories,
    /// private repositories) they may see, and for system administrators the storage all
    /// projects' artifacts hold.
    pub async fn statistics(
        &self,
        who: &Identity,
    ) -> Result<((i64, i64, i64, i64), Option<i64>), ProjectError> {
        if matches!(who, Identity::Anonymous) {
            return Err(ProjectError::Unauthorized);
        }
        let all = who.is_sysadmin();
        let counts = db::projects::statistics(self.db.reader(), who.user_id(), all).await?;
        let storage = if all { Some(db::quotas::total_used(self.db.reader()).await?) } else { None };
        Ok((counts, storage))
    }

    /// Project `r`'s summary for whoever may see it: the project, its member count per role id
    /// and its quota.
    pub async fn summary(
        &self,
        who: &Identity,
        r: &super::ProjectRef,
    ) -> Result<(crate::db::projects::ProjectRow, Vec<(i64, i64)>, Option<QuotaRow>), ProjectError> {
        let p = self.get(who, r, crate::auth::Action::ReadProject).await?;
        let roles = db::members::role_counts(self.db.reader(), p.id).await?;
        let quota = db::quotas::get(self.db.reader(), p.id).await?;
        Ok((p, roles, quota))
    }

    /// The quota of a project the caller has already been allowed to see.
    pub async fn quota_of(&self, project_id: i64) -> Result<Option<QuotaRow>, ProjectError> {
        Ok(db::quotas::get(self.db.reader(), project_id).await?)
    }

    /// The limit a new project gets: `requested` when a system administrator gives one (Harbor's
    /// `storage_limit`), else the configured default (Harbor ignores anyone else's request too).
    pub(super) fn initial_limit(&self, who: &Identity, requested: Option<i64>) -> Result<i64, ProjectError> {
        match requested {
            Some(hard) if who.is_sysadmin() => valid_limit(hard),
            _ => Ok(self.default_quota),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harbors_words() {
        assert_eq!(
            overflow(2_202_010, 8_703_180, 10 * 1024 * 1024),
            "adding 2.1 MiB of storage resource, which when updated to current usage of 8.3 MiB will exceed the configured upper limit of 10.0 MiB."
        );
        assert_eq!(
            warning(85, 13_212_057, 14 * 1024 * 1024),
            "quota usage reach 85%: resource storage used 12.6 MiB of 14.0 MiB"
        );
        assert!(valid_limit(-2).is_err());
        assert_eq!(valid_limit(0).ok(), Some(0));
    }
}
