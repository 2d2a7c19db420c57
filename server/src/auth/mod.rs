//! Who is calling and what they may do. Every permission decision is made in [`access`].

pub mod access;
pub mod authenticator;
pub mod basic;
pub mod password;

pub use access::{Action, allowed};
pub use authenticator::Authenticator;

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
}

impl Identity {
    /// The name for logs and audit: the username or `anonymous`.
    pub fn name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::User { name, .. } => name,
        }
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
    /// A lookup failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}
