//! Who is calling and what they may do. Every permission decision is made in [`access`].

pub mod access;
pub mod authenticator;
pub mod basic;
pub mod client;
pub mod ldap;
pub mod oidc;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token;

pub use crate::identity::{Identity, RobotScope};
pub use access::{Action, allowed};
pub use authenticator::Authenticator;
pub use frontend::types::{RobotPermissions, Role};

/// Whether a robot holding `grants` may perform `action`.
pub fn robot_allows(grants: RobotPermissions, action: Action) -> bool {
    match action {
        Action::Pull | Action::ReadProject => grants.pull || grants.push || grants.delete,
        Action::Push => grants.push,
        Action::Delete => grants.delete,
        _ => false,
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
    /// The company directory cannot be asked (down, misconfigured): nobody but the local admin
    /// can sign in until it answers.
    #[error("the directory cannot check credentials: {0}")]
    Directory(String),
    /// The identity is genuine but has no usable account here (the reason says why).
    #[error("{0}")]
    Refused(String),
    /// The configuration cannot be read.
    #[error(transparent)]
    Configuration(#[from] crate::configurations::ConfigurationError),
}
