//! The permission check: one function over one table, Harbor's permission matrix.
//!
//! System administrators may do everything. A project member may do what their role allows.
//! Anyone, signed in or not, may read a public project (pull and see it); nothing else is open
//! to non-members.

use super::{Identity, Role};

/// What a caller wants to do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read manifests, blobs, tags and referrers.
    Pull,
    /// Upload blobs, push manifests and tags, create repositories.
    Push,
    /// Delete manifests, tags, repositories and blob links.
    Delete,
    /// See the project and its repositories.
    ReadProject,
    /// List the project's members.
    ListMembers,
    /// Read the project's logs.
    ReadLogs,
    /// Create, change and run retention policies.
    ManageRetention,
    /// Manage tag immutability rules.
    ManageImmutability,
    /// Create, change and delete the project's labels.
    ManageLabels,
    /// See the project's webhook policies and their deliveries.
    ReadWebhooks,
    /// Create, change and delete webhook policies.
    ManageWebhooks,
    /// Add, change and remove members.
    ManageMembers,
    /// Create, change and delete robot accounts.
    ManageRobots,
    /// Change the project's settings.
    UpdateProject,
    /// Delete the (empty) project.
    DeleteProject,
}

impl Action {
    /// The action's name in token scopes (registry actions only).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Delete => "delete",
            _ => "",
        }
    }

    /// Parses a scope action; `*` is handled by the caller.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pull" => Some(Self::Pull),
            "push" => Some(Self::Push),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }

    /// The actions a registry token can carry.
    pub const ALL: [Action; 3] = [Self::Pull, Self::Push, Self::Delete];

    /// Every action on a project.
    pub const PROJECT: [Action; 15] = [
        Self::Pull,
        Self::Push,
        Self::Delete,
        Self::ReadProject,
        Self::ListMembers,
        Self::ReadLogs,
        Self::ManageRetention,
        Self::ManageImmutability,
        Self::ManageLabels,
        Self::ReadWebhooks,
        Self::ManageWebhooks,
        Self::ManageMembers,
        Self::ManageRobots,
        Self::UpdateProject,
        Self::DeleteProject,
    ];

    /// The (resource, action) pairs of Harbor's RBAC this action stands for, as
    /// `/users/current/permissions` lists them (Harbor's portal shows and hides by these).
    pub fn harbor_permissions(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Pull => &[
                ("repository", "pull"),
                ("repository", "list"),
                ("repository", "read"),
                ("artifact", "list"),
                ("artifact", "read"),
                ("tag", "list"),
                ("accessory", "list"),
                ("artifact-addition", "read"),
            ],
            Self::Push => &[
                ("repository", "push"),
                ("repository", "update"),
                ("artifact", "create"),
                ("tag", "create"),
                ("artifact-label", "create"),
                ("artifact-label", "delete"),
            ],
            Self::Delete => &[("repository", "delete"), ("artifact", "delete"), ("tag", "delete")],
            Self::ReadProject => {
                &[("project", "read"), ("metadata", "list"), ("metadata", "read"), ("quota", "read")]
            }
            Self::ListMembers => &[("member", "list"), ("member", "read")],
            Self::ReadLogs => &[("log", "list")],
            Self::ManageRetention => &[
                ("tag-retention", "create"),
                ("tag-retention", "read"),
                ("tag-retention", "update"),
                ("tag-retention", "delete"),
                ("tag-retention", "list"),
                ("tag-retention", "operate"),
            ],
            Self::ManageImmutability => &[
                ("immutable-tag", "create"),
                ("immutable-tag", "update"),
                ("immutable-tag", "delete"),
                ("immutable-tag", "list"),
            ],
            Self::ManageLabels => &[
                ("label", "create"),
                ("label", "read"),
                ("label", "update"),
                ("label", "delete"),
                ("label", "list"),
            ],
            Self::ReadWebhooks => &[("notification-policy", "list"), ("notification-policy", "read")],
            Self::ManageWebhooks => &[
                ("notification-policy", "create"),
                ("notification-policy", "update"),
                ("notification-policy", "delete"),
            ],
            Self::ManageMembers => &[("member", "create"), ("member", "update"), ("member", "delete")],
            Self::ManageRobots => &[
                ("robot", "create"),
                ("robot", "read"),
                ("robot", "update"),
                ("robot", "delete"),
                ("robot", "list"),
            ],
            Self::UpdateProject => &[
                ("project", "update"),
                ("metadata", "create"),
                ("metadata", "update"),
                ("metadata", "delete"),
            ],
            Self::DeleteProject => &[("project", "delete")],
        }
    }
}

/// Harbor's matrix: whether `role` includes `action`.
fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        Pull | ReadProject => true,
        ListMembers => role != LimitedGuest,
        Push | ManageRetention => matches!(role, Developer | Maintainer | ProjectAdmin),
        Delete | ManageImmutability | ManageLabels | ReadWebhooks => {
            matches!(role, Maintainer | ProjectAdmin)
        }
        ReadLogs | ManageMembers | ManageRobots | ManageWebhooks | UpdateProject | DeleteProject => {
            role == ProjectAdmin
        }
    }
}

/// Whether `who`, with `role` in project `project_id` that is `public` or not, may perform
/// `action`.
pub fn allowed(who: &Identity, project_id: i64, public: bool, role: Option<Role>, action: Action) -> bool {
    let open = public && matches!(action, Action::Pull | Action::ReadProject);
    match who {
        Identity::User { sysadmin: true, .. } => true,
        Identity::User { .. } => open || role.is_some_and(|r| role_allows(r, action)),
        Identity::Robot { scope, .. } => open || super::robot_allows(scope.grants_in(project_id), action),
        Identity::Anonymous => open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Role::*;

    #[test]
    fn harbors_matrix_by_role() {
        let user = Identity::User { id: 2, name: "u".into(), sysadmin: false };
        // (action, [ProjectAdmin, Maintainer, Developer, Guest, LimitedGuest])
        let table = [
            (Pull, [true, true, true, true, true]),
            (ReadProject, [true, true, true, true, true]),
            (ListMembers, [true, true, true, true, false]),
            (ReadLogs, [true, false, false, false, false]),
            (Push, [true, true, true, false, false]),
            (ManageRetention, [true, true, true, false, false]),
            (Delete, [true, true, false, false, false]),
            (ManageImmutability, [true, true, false, false, false]),
            (ReadWebhooks, [true, true, false, false, false]),
            (ManageLabels, [true, true, false, false, false]),
            (ManageWebhooks, [true, false, false, false, false]),
            (ManageMembers, [true, false, false, false, false]),
            (ManageRobots, [true, false, false, false, false]),
            (UpdateProject, [true, false, false, false, false]),
            (DeleteProject, [true, false, false, false, false]),
        ];
        for (action, expected) in table {
            for (role, expect) in
                [ProjectAdmin, Maintainer, Developer, Guest, LimitedGuest].into_iter().zip(expected)
            {
                assert_eq!(allowed(&user, 1, false, Some(role), action), expect, "{role:?} {action:?}");
            }
        }
    }

    #[test]
    fn admins_anonymous_and_non_members() {
        let admin = Identity::User { id: 1, name: "admin".into(), sysadmin: true };
        let user = Identity::User { id: 2, name: "u".into(), sysadmin: false };
        let anon = Identity::Anonymous;
        assert!(allowed(&admin, 1, false, None, DeleteProject));
        for who in [&user, &anon] {
            assert!(allowed(who, 1, true, None, Pull));
            assert!(allowed(who, 1, true, None, ReadProject));
            assert!(!allowed(who, 1, true, None, Push));
            assert!(!allowed(who, 1, true, None, ListMembers));
            assert!(!allowed(who, 1, false, None, Pull));
        }
        // A role never counts for an anonymous caller.
        assert!(!allowed(&anon, 1, false, Some(ProjectAdmin), Pull));
    }

    #[test]
    fn robots_act_only_in_their_project_with_their_grants() {
        use super::super::RobotPermissions;
        let grants = RobotPermissions { pull: true, push: true, delete: false };
        let robot = Identity::Robot {
            id: 1,
            name: "robot$team+ci".into(),
            scope: crate::auth::RobotScope::Project(7, grants),
        };
        assert!(allowed(&robot, 7, false, None, Pull));
        assert!(allowed(&robot, 7, false, None, Push));
        assert!(!allowed(&robot, 7, false, None, Delete));
        assert!(!allowed(&robot, 7, false, None, ManageMembers));
        assert!(!allowed(&robot, 8, false, None, Pull), "never another project");
        assert!(allowed(&robot, 8, true, None, Pull), "public projects are open to all");
        assert!(!allowed(&robot, 7, false, Some(ProjectAdmin), Delete), "a role never widens a robot");
    }

    #[test]
    fn role_ids_are_harbors() {
        for (id, role) in [(1, ProjectAdmin), (2, Developer), (3, Guest), (4, Maintainer), (5, LimitedGuest)]
        {
            assert_eq!(Role::from_id(id), Some(role));
            assert_eq!(role.id(), id);
        }
        assert_eq!(Role::from_id(6), None);
    }
}
