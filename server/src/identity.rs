//! Who is calling: a user, a robot account with its scope, or nobody. Below `auth` (which
//! decides what an identity may do) and `audit` (which records what it did), so neither imports
//! the other for it.

use frontend::types::RobotPermissions;

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No credentials were sent.
    Anonymous,
    /// A signed-in user.
    User {
        /// User id.
        id: i64,
        /// Login name.
        name: String,
        /// System administrator.
        sysadmin: bool,
    },
    /// A robot account: only the projects and actions it was granted.
    Robot {
        /// Robot id.
        id: i64,
        /// Full name: `robot$<project>+<name>` (project level) or `robot$<name>` (system level).
        name: String,
        /// Where it works and what it may do there.
        scope: RobotScope,
    },
}

/// Where a robot account works: Harbor's project and system levels.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RobotScope {
    /// A project robot: its one project, with these grants.
    Project(i64, RobotPermissions),
    /// A system robot: grants per project; a `None` project means every project.
    System(Vec<(Option<i64>, RobotPermissions)>),
}

impl RobotScope {
    /// Where the robot of row `r` works and what it may do there.
    pub fn of(r: &crate::db::robots::RobotRow) -> Self {
        match r.project_id {
            Some(p) => Self::Project(p, r.grants),
            None => Self::System(r.permissions.iter().map(|g| (g.project_id, g.grants)).collect()),
        }
    }

    /// What the robot may do in project `project_id` (for a system robot, every entry naming
    /// the project or all projects, together).
    pub fn grants_in(&self, project_id: i64) -> RobotPermissions {
        match self {
            Self::Project(own, g) if *own == project_id => *g,
            Self::Project(..) => RobotPermissions::default(),
            Self::System(entries) => entries
                .iter()
                .filter(|(p, _)| p.is_none_or(|p| p == project_id))
                .fold(RobotPermissions::default(), |a, (_, g)| a.union(*g)),
        }
    }

    /// The projects it works in; `None` when it works in every project.
    pub fn projects(&self) -> Option<Vec<i64>> {
        match self {
            Self::Project(p, _) => Some(vec![*p]),
            Self::System(entries) => entries.iter().map(|(p, _)| *p).collect(),
        }
    }
}

impl Identity {
    /// The user id, or 0 for anonymous callers and robots (no user row has id 0); robots are
    /// never project members.
    pub fn user_id(&self) -> i64 {
        match self {
            Self::Anonymous | Self::Robot { .. } => 0,
            Self::User { id, .. } => *id,
        }
    }

    /// Whether it is a signed-in system administrator.
    pub fn is_sysadmin(&self) -> bool {
        matches!(self, Self::User { sysadmin: true, .. })
    }

    /// The name for logs and audit: the username or `anonymous`.
    pub fn name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::User { name, .. } | Self::Robot { name, .. } => name,
        }
    }
}
