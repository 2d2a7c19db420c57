//! Project members: who may list them, add them, change their role and remove them.

use super::{ProjectError, ProjectRef, Projects};
use crate::auth::{Action, Identity, Role};
use crate::db::{self, members::Entity, members::MemberRow};
use frontend::types::GroupType;

/// Names the user to add: by name or by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// By username.
    Name(String),
    /// By user id.
    Id(i64),
}

/// Names the user group to add (Harbor's `member_group`): by id, by LDAP DN, or by name (and
/// type, when several types share the name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupRef {
    /// The group's id.
    pub id: Option<i64>,
    /// The group's name.
    pub name: String,
    /// The group's type.
    pub group_type: Option<GroupType>,
    /// An LDAP group's DN.
    pub ldap_group_dn: String,
}

/// The member to add: a user or a user group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    /// A user.
    User(UserRef),
    /// A user group.
    Group(GroupRef),
}

impl GroupRef {
    fn label(&self) -> String {
        match (self.id, self.ldap_group_dn.is_empty()) {
            (Some(id), _) => id.to_string(),
            (None, false) => self.ldap_group_dn.clone(),
            (None, true) => self.name.clone(),
        }
    }
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

    /// Adds `member` to project `r` with `role`; returns the membership id. A group named only
    /// by name and an HTTP or OIDC type is created when missing (a name is all such a group is);
    /// an LDAP group must be known (imported, or seen at a member's sign-in).
    pub async fn add_member(
        &self,
        who: &Identity,
        r: &ProjectRef,
        member: &MemberRef,
        role: Role,
    ) -> Result<i64, ProjectError> {
        let p = self.get(who, r, Action::ManageMembers).await?;
        let (entity, name) = match member {
            MemberRef::User(user) => {
                let found = match user {
                    UserRef::Name(n) => db::users::by_username(self.db.reader(), n).await?,
                    UserRef::Id(id) => db::users::by_id(self.db.reader(), *id).await?,
                };
                let u = found.ok_or_else(|| {
                    ProjectError::NoSuchUser(match user {
                        UserRef::Name(n) => n.clone(),
                        UserRef::Id(id) => id.to_string(),
                    })
                })?;
                (Entity::User(u.id), u.username)
            }
            MemberRef::Group(g) => {
                let group = self.find_group(g).await?.ok_or_else(|| ProjectError::NoSuchGroup(g.label()))?;
                (Entity::Group(group.0), group.1)
            }
        };
        match db::members::add(self.db.writer(), p.id, entity, role).await {
            Ok(id) => Ok(id),
            Err(e) if e.is_unique_violation() => Err(ProjectError::AlreadyMember(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// The id and name of the group `g` names, created when it is an HTTP or OIDC group named
    /// only by name.
    async fn find_group(&self, g: &GroupRef) -> Result<Option<(i64, String)>, ProjectError> {
        if let Some(id) = g.id {
            return Ok(db::usergroups::get(self.db.reader(), id).await?.map(|r| (r.id, r.group_name)));
        }
        if !g.ldap_group_dn.is_empty() {
            let rows = db::usergroups::list(self.db.reader(), "", &g.ldap_group_dn, 0, 1).await?;
            return Ok(rows.into_iter().next().map(|r| (r.id, r.group_name)));
        }
        if g.name.is_empty() {
            return Ok(None);
        }
        let named = db::usergroups::named(self.db.reader(), &g.name).await?;
        let of_type: Vec<_> =
            named.into_iter().filter(|r| g.group_type.is_none_or(|t| t == r.group_type)).collect();
        match (of_type.as_slice(), g.group_type) {
            ([one], _) => Ok(Some((one.id, one.group_name.clone()))),
            ([], Some(t @ (GroupType::Http | GroupType::Oidc))) => {
                let mut tx = self.db.begin().await?;
                let ids = db::usergroups::ensure(&mut tx, t, &[(g.name.clone(), String::new())]).await?;
                tx.commit().await.map_err(db::DbError::from)?;
                Ok(ids.first().map(|id| (*id, g.name.clone())))
            }
            _ => Ok(None),
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
