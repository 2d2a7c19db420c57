//! The permission check: one function, one table.
//!
//! Until project membership exists, the rules are: system administrators may do everything;
//! anyone, signed in or not, may pull from a public project; nothing else is allowed.

use super::Identity;

/// What a caller wants to do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read manifests, blobs, tags and referrers.
    Pull,
    /// Upload blobs, push manifests and tags.
    Push,
    /// Delete manifests, tags and blob links.
    Delete,
}

impl Action {
    /// The action's name in token scopes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Delete => "delete",
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

    /// Every action.
    pub const ALL: [Action; 3] = [Self::Pull, Self::Push, Self::Delete];
}

/// Whether `who` may perform `action` in a project that is `public` or not.
pub fn allowed(who: &Identity, public: bool, action: Action) -> bool {
    match who {
        Identity::User { sysadmin: true, .. } => true,
        _ => action == Action::Pull && public,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix() {
        let admin = Identity::User { id: 1, name: "admin".into(), sysadmin: true };
        let user = Identity::User { id: 2, name: "u".into(), sysadmin: false };
        let anon = Identity::Anonymous;
        let table = [
            (&admin, true, Action::Push, true),
            (&admin, false, Action::Delete, true),
            (&admin, false, Action::Pull, true),
            (&user, true, Action::Pull, true),
            (&user, true, Action::Push, false),
            (&user, false, Action::Pull, false),
            (&anon, true, Action::Pull, true),
            (&anon, true, Action::Push, false),
            (&anon, true, Action::Delete, false),
            (&anon, false, Action::Pull, false),
        ];
        for (who, public, action, expect) in table {
            assert_eq!(allowed(who, public, action), expect, "{who:?} {public} {action:?}");
        }
    }
}
