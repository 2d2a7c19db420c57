//! Who is calling and what they may do. Every permission decision is made in [`access`].

pub mod access;
pub mod authenticator;
pub mod basic;
pub mod client;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token;

pub use access::{Action, allowed};
pub use authenticator::Authenticator;
pub use frontend::types::{RobotPermissions, Role};

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

/// Whether a robot holding `grants` may perform `action`.
pub fn robot_allows(grants: RobotPermissions, action: Action) -> bool {
    match action {
        Action::Pull | Action::ReadProject => grants.pull || grants.push || grants.delete,
        Action::Push => grants.push,
        Action::Delete => grants.delete,
        _ => false,
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

    /// The name for logs and audit: the username or `anonymous`.
    pub fn name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::User { name, .. } | Self::Robot { name, .. } => name,
        }
    }
}

/// The caller of a request and, when it came with a bearer token, the token's claims: a token
/// limits the caller to the accesses it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who is calling.
    pub identity: Identity,
    /// The bearer token's claims, if the request carried one.
    pub token: Option<token::Claims>,
}

impl Caller {
    /// An anonymous caller without a token.
    pub fn anonymous() -> Self {
        Self { identity: Identity::Anonymous, token: None }
    }

    /// A caller authenticated by password (no token limits).
    pub fn with_password(identity: Identity) -> Self {
        Self { identity, token: None }
    }
}

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Credentials were sent but are wrong, or the account is disabled.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The `Authorization` header is malformed.
    #[error("malformed authorization header")]
    Malformed,
    /// Too many failed logins for the account: try again later.
    #[error("too many failed logins; try again later")]
    Throttled,
    /// The bearer token is invalid or expired.
    #[error("invalid token: {0}")]
    Token(#[from] token::TokenError),
    /// A lookup failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}
