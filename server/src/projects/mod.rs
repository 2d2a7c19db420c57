//! Projects: listing what a caller may see, creating (the creator becomes ProjectAdmin),
//! reading, changing visibility, and deleting empty projects; and their members. Rules here,
//! SQL in `db`.

pub mod members;
pub mod metadata;
pub mod quotas;
pub mod robots;

use crate::audit::{Actor, Auditor, Operation, ResourceType};
use crate::auth::{Action, Identity, Role, allowed};
use crate::db::audit::AuditRow;
use crate::db::projects::{ProjectFilter, ProjectRow};
use crate::db::{self, Db};
use crate::oci::reference::valid_component;

/// A project failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProjectError {
    /// The caller must sign in.
    #[error("sign in first")]
    Unauthorized,
    /// The caller may not do this.
    #[error("not allowed")]
    Forbidden,
    /// No such project.
    #[error("project {0} not found")]
    NotFound(String),
    /// The name is taken.
    #[error("project {0} already exists")]
    Exists(String),
    /// The name breaks the rules.
    #[error(
        "invalid project name {0:?}: use 1 to 255 lower-case letters, digits and separators (. _ -), starting and ending with a letter or digit"
    )]
    InvalidName(String),
    /// The project still has repositories.
    #[error("project {0} still has repositories: delete them first")]
    NotEmpty(String),
    /// No such member in the project.
    #[error("member {0} not found")]
    NoSuchMember(String),
    /// No such user.
    #[error("user {0} not found")]
    NoSuchUser(String),
    /// No such user group.
    #[error(
        "user group {0} not found: an administrator adds LDAP groups under Groups, and a group appears when one of its members signs in"
    )]
    NoSuchGroup(String),
    /// No such robot account.
    #[error("robot {0} not found")]
    NoSuchRobot(String),
    /// A robot request breaks the rules.
    #[error("{0}")]
    InvalidRobot(String),
    /// The user is a member already.
    #[error("{0} is already a member")]
    AlreadyMember(String),
    /// A metadata key or value breaks the rules.
    #[error("{0}")]
    InvalidMetadata(String),
    /// A database failure.
    #[error("database failure")]
    Db,
}

impl From<db::DbError> for ProjectError {
    fn from(e: db::DbError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Db
    }
}

/// How a request names a project: by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    /// By numeric id.
    Id(i64),
    /// By name.
    Name(String),
}

impl ProjectRef {
    /// Harbor's rule: a numeric path segment is an id unless `X-Is-Resource-Name: true` says it
    /// is a name.
    pub fn parse(segment: &str, is_name: bool) -> Self {
        match segment.parse::<i64>() {
            Ok(id) if !is_name => Self::Id(id),
            _ => Self::Name(segment.to_owned()),
        }
    }
}

/// What a new project is.
#[derive(Debug, Clone, Copy)]
pub struct NewProject<'a> {
    /// Its name.
    pub name: &'a str,
    /// Anyone may pull.
    pub public: bool,
    /// The endpoint it is a proxy cache of.
    pub registry_id: Option<i64>,
    /// The proxy's upstream bandwidth, KiB/s; -1 unlimited.
    pub proxy_speed_kb: i64,
    /// A group project's members, by name, in search order (empty: not a group).
    pub group_members: &'a [String],
    /// Harbor's `storage_limit` in bytes (-1: none; system administrators only); `None`: the
    /// configured default.
    pub storage_limit: Option<i64>,
}

/// Project services.
#[derive(Clone)]
pub struct Projects {
    db: Db,
    auditor: Auditor,
    /// The storage limit new projects get, bytes; -1: none.
    default_quota: i64,
}

/// System administrators only (quotas, system robots).
fn admin_only(who: &Identity) -> Result<(), ProjectError> {
    match who {
        Identity::User { sysadmin: true, .. } => Ok(()),
        Identity::Anonymous => Err(ProjectError::Unauthorized),
        _ => Err(ProjectError::Forbidden),
    }
}

fn denied(who: &Identity) -> ProjectError {
    match who {
        Identity::Anonymous => ProjectError::Unauthorized,
        Identity::User { .. } | Identity::Robot { .. } => ProjectError::Forbidden,
    }
}

impl Projects {
    /// Project services over `db`, recording to `auditor`.
    pub fn new(db: Db, auditor: Auditor) -> Self {
        Self { db, auditor, default_quota: -1 }
    }

    /// New projects get a storage limit of `bytes` (-1: none) unless created with one.
    pub fn with_default_quota(mut self, bytes: i64) -> Self {
        self.default_quota = bytes;
        self
    }

    /// The projects `who` may see under `filter`, one page, and how many there are in all.
    pub async fn list(
        &self,
        who: &Identity,
        mut filter: ProjectFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ProjectRow>, i64), ProjectError> {
        filter.all = matches!(who, Identity::User { sysadmin: true, .. });
        let uid = who.user_id();
        let rows = db::projects::list(self.db.reader(), uid, &filter, offset, limit).await?;
        let total = db::projects::count(self.db.reader(), uid, &filter).await?;
        Ok((rows, total))
    }

    /// As [`Self::list`], each project with its quota: (bytes its artifacts hold, limit).
    pub async fn list_with_usage(
        &self,
        who: &Identity,
        filter: ProjectFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<(ProjectRow, i64, i64)>, i64), ProjectError> {
        let (rows, total) = self.list(who, filter, offset, limit).await?;
        let ids: Vec<i64> = rows.iter().map(|p| p.id).collect();
        let usage: std::collections::HashMap<i64, (i64, i64)> = db::quotas::usage_of(self.db.reader(), &ids)
            .await?
            .into_iter()
            .map(|(id, used, hard)| (id, (used, hard)))
            .collect();
        let rows = rows
            .into_iter()
            .map(|p| {
                let (used, hard) = usage.get(&p.id).copied().unwrap_or((0, -1));
                (p, used, hard)
            })
            .collect();
        Ok((rows, total))
    }

    /// The audit log of project `r` (newest first, filtered by operation and username when not
    /// empty), one page, and its total, if `who` may read the project's logs.
    pub async fn logs(
        &self,
        who: &Identity,
        r: &ProjectRef,
        operation: &str,
        username: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AuditRow>, i64), ProjectError> {
        let p = self.get(who, r, Action::ReadLogs).await?;
        let rows = db::audit::list(self.db.reader(), Some(p.id), operation, username, offset, limit).await?;
        let total = db::audit::count(self.db.reader(), Some(p.id), operation, username).await?;
        Ok((rows, total))
    }

    /// The project `r`, if `who` may perform `action` on it.
    /// What `who` may do in project `r` (nothing when they cannot see it).
    pub async fn permissions(&self, who: &Identity, r: &ProjectRef) -> Result<Vec<Action>, ProjectError> {
        let row = match self.get(who, r, Action::ReadProject).await {
            Ok(row) => row,
            Err(ProjectError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(Action::PROJECT.into_iter().filter(|a| allowed(who, row.id, row.public, row.role, *a)).collect())
    }

    pub async fn get(
        &self,
        who: &Identity,
        r: &ProjectRef,
        action: Action,
    ) -> Result<ProjectRow, ProjectError> {
        let (id, name) = match r {
            ProjectRef::Id(id) => (Some(*id), ""),
            ProjectRef::Name(n) => (None, n.as_str()),
        };
        let label = || match r {
            ProjectRef::Id(id) => id.to_string(),
            ProjectRef::Name(n) => n.clone(),
        };
        let row = db::projects::find(self.db.reader(), who.user_id(), id, name)
            .await?
            .ok_or_else(|| ProjectError::NotFound(label()))?;
        if !allowed(who, row.id, row.public, row.role, Action::ReadProject) {
            // Private projects are invisible to those who may not read them.
            return Err(ProjectError::NotFound(label()));
        }
        if !allowed(who, row.id, row.public, row.role, action) {
            return Err(denied(who));
        }
        Ok(row)
    }

    /// Whether a project named `name` exists (Harbor's `HEAD /projects?project_name=`).
    pub async fn exists(&self, name: &str) -> Result<bool, ProjectError> {
        Ok(db::projects::find(self.db.reader(), 0, None, name).await?.is_some())
    }

    /// Creates project `name`; the creator becomes its ProjectAdmin. Returns the new id.
    pub async fn create(&self, actor: Actor<'_>, name: &str, public: bool) -> Result<i64, ProjectError> {
        let spec = NewProject {
            name,
            public,
            registry_id: None,
            proxy_speed_kb: -1,
            group_members: &[],
            storage_limit: None,
        };
        self.create_with(actor, &spec).await
    }

    /// Creates the project `spec` describes; the creator becomes its ProjectAdmin. A proxy
    /// cache (system administrators only, as in Harbor) gets Harbor's default retention policy
    /// in the same transaction. Returns the new id.
    pub async fn create_with(&self, actor: Actor<'_>, spec: &NewProject<'_>) -> Result<i64, ProjectError> {
        let name = spec.name;
        let uid = match actor.identity {
            Identity::User { id, .. } => id,
            Identity::Robot { .. } => return Err(ProjectError::Forbidden),
            Identity::Anonymous => return Err(ProjectError::Unauthorized),
        };
        if name.len() > 255 || !valid_component(name) {
            return Err(ProjectError::InvalidName(name.chars().take(300).collect()));
        }
        if let Some(registry_id) = spec.registry_id {
            if !actor.identity.is_sysadmin() {
                return Err(ProjectError::Forbidden);
            }
            if db::registries::get(self.db.reader(), registry_id).await?.is_none() {
                return Err(ProjectError::InvalidMetadata(format!("registry {registry_id} does not exist")));
            }
        }
        // A group: system administrators only (it reads its members with its own rights),
        // members that exist and are not groups themselves, not also a proxy.
        let mut members = Vec::new();
        if !spec.group_members.is_empty() {
            if !actor.identity.is_sysadmin() {
                return Err(ProjectError::Forbidden);
            }
            if spec.registry_id.is_some() {
                return Err(ProjectError::InvalidMetadata(
                    "a project is a proxy cache or a group, not both: make the proxy a member".into(),
                ));
            }
            for m in spec.group_members {
                let row = db::projects::find(self.db.reader(), 0, None, m).await?.ok_or_else(|| {
                    ProjectError::InvalidMetadata(format!("group member {m} does not exist"))
                })?;
                if row.is_group {
                    return Err(ProjectError::InvalidMetadata(format!("{m} is a group: groups do not nest")));
                }
                if !members.contains(&row.id) {
                    members.push(row.id);
                }
            }
        }
        let hard = self.initial_limit(actor.identity, spec.storage_limit)?;
        if spec.proxy_speed_kb == 0 || spec.proxy_speed_kb < -1 {
            return Err(ProjectError::InvalidMetadata(
                "proxy_speed_kb must be a positive number of KiB/s, or -1 for no limit".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        let id = match db::projects::insert(&mut *tx, name, spec.public, Some(*uid)).await {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(ProjectError::Exists(name.to_owned())),
            Err(e) => return Err(e.into()),
        };
        db::members::add(&mut *tx, id, db::members::Entity::User(*uid), Role::ProjectAdmin).await?;
        if hard != -1 {
            db::quotas::set_hard(&mut *tx, id, hard).await?;
        }
        if spec.registry_id.is_some() {
            db::projects::set_proxy(&mut *tx, id, spec.registry_id, spec.proxy_speed_kb).await?;
            crate::retention::install_proxy_default(&mut tx, id).await?;
        }
        if !members.is_empty() {
            db::projects::set_group(&mut tx, id, &members).await?;
        }
        tx.commit().await.map_err(db::DbError::from)?;
        self.auditor.log(actor, Some(id), Operation::Create, ResourceType::Project, name.to_owned());
        Ok(id)
    }

    /// The member names of group project `p` (empty when it is not a group).
    pub async fn group_members(&self, p: &ProjectRow) -> Result<Vec<String>, ProjectError> {
        if !p.is_group {
            return Ok(Vec::new());
        }
        Ok(db::projects::group_members(self.db.reader(), p.id).await?.into_iter().map(|m| m.name).collect())
    }

    /// Makes project `r` public or private.
    pub async fn set_public(&self, who: &Identity, r: &ProjectRef, public: bool) -> Result<(), ProjectError> {
        let row = self.get(who, r, Action::UpdateProject).await?;
        Ok(db::projects::set_public(self.db.writer(), row.id, public).await?)
    }

    /// Deletes project `r`, which must have no repositories.
    pub async fn delete(&self, who: &Identity, r: &ProjectRef) -> Result<(), ProjectError> {
        let row = self.get(who, r, Action::DeleteProject).await?;
        if db::projects::delete_if_empty(self.db.writer(), row.id).await? {
            Ok(())
        } else {
            Err(ProjectError::NotEmpty(row.name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_follow_harbors_rule() {
        assert_eq!(ProjectRef::parse("12", false), ProjectRef::Id(12));
        assert_eq!(ProjectRef::parse("12", true), ProjectRef::Name("12".into()));
        assert_eq!(ProjectRef::parse("library", false), ProjectRef::Name("library".into()));
    }
}
