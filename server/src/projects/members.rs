//! Project members: who may list them, add them, change their role and remove them.

use super::{ProjectError, ProjectRef, Projects};
use crate::auth::{Action, Identity, Role};
use crate::db::{self, members::MemberRow};

/// Names the user to add: by name or by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// By username.
    Name(String),
    /// By user id.
    Id(i64),
}

impl Projects {
    /// Members of project `r` whose name contains `name`, one page, and the total.
    pub async fn list_members(
        &self,
        who: &Identity,
        r: &ProjectRef,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<MemberRow>, i64), ProjectError> {
        let p = self.get(who, r, Action::ListMembers).await?;
        let rows = db::members::list(self.db.reader(), p.id, name, offset, limit).await?;
        let total = db::members::count(self.db.reader(), p.id, name).await?;
        Ok((rows, total))
    }

    /// One member of project `r`.
    pub async fn get_member(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
    ) -> Result<MemberRow, ProjectError> {
        let p = self.get(who, r, Action::ListMembers).await?;
        db::members::get(self.db.reader(), p.id, id)
            .await?
            .ok_or_else(|| ProjectError::NoSuchMember(id.to_string()))
    }

    /// Adds `user` to project `r` with `role`; returns the membership id.
    pub async fn add_member(
        &self,
        who: &Identity,
        r: &ProjectRef,
        user: &UserRef,
        role: Role,
    ) -> Result<i64, ProjectError> {
        let p = self.get(who, r, Action::ManageMembers).await?;
        let found = match user {
            UserRef::Name(n) => db::users::by_username(self.db.reader(), n).await?,
            UserRef::Id(id) => db::users::by_id(self.db.reader(), *id).await?,
        };
        let label = || match user {
            UserRef::Name(n) => n.clone(),
            UserRef::Id(id) => id.to_string(),
        };
        let u = found.ok_or_else(|| ProjectError::NoSuchUser(label()))?;
        match db::members::add(self.db.writer(), p.id, u.id, role).await {
            Ok(id) => Ok(id),
            Err(e) if e.is_unique_violation() => Err(ProjectError::AlreadyMember(u.username)),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the role of member `id` of project `r`.
    pub async fn set_member_role(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
        role: Role,
    ) -> Result<(), ProjectError> {
        let p = self.get(who, r, Action::ManageMembers).await?;
        if db::members::set_role(self.db.writer(), p.id, id, role).await? {
            Ok(())
        } else {
            Err(ProjectError::NoSuchMember(id.to_string()))
        }
    }

    /// Removes member `id` from project `r`.
    pub async fn remove_member(&self, who: &Identity, r: &ProjectRef, id: i64) -> Result<(), ProjectError> {
        let p = self.get(who, r, Action::ManageMembers).await?;
        if db::members::remove(self.db.writer(), p.id, id).await? {
            Ok(())
        } else {
            Err(ProjectError::NoSuchMember(id.to_string()))
        }
    }
}
