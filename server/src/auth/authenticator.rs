//! Turns an `Authorization` header into an [`Identity`].

use tokio::sync::OnceCell;

use super::basic::{self, CredentialCache};
use super::{AuthError, Identity, password};
use crate::db::{self, Db};

/// Checks credentials against the users table, with a short-lived cache of successes.
pub struct Authenticator {
    db: Db,
    cache: CredentialCache,
    dummy: OnceCell<String>,
}

impl Authenticator {
    /// An authenticator over `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: CredentialCache::default(),
            dummy: OnceCell::new(),
        }
    }

    /// The caller named by `authorization`: anonymous when absent, an error when wrong.
    pub async fn identify(&self, authorization: Option<&str>) -> Result<Identity, AuthError> {
        let Some(header) = authorization else {
            return Ok(Identity::Anonymous);
        };
        match basic::parse(header) {
            None => Err(AuthError::Malformed),
            Some(Err(e)) => Err(e),
            Some(Ok((user, pass))) => self.verify(&user, &pass).await,
        }
    }

    /// Checks a username and password. Unknown users, disabled users and wrong passwords all
    /// fail the same way and take the same time.
    pub async fn verify(&self, username: &str, pass: &str) -> Result<Identity, AuthError> {
        if let Some(id) = self.cache.get(username, pass) {
            return Ok(id);
        }
        let row = db::users::by_username(self.db.reader(), username).await?;
        let phc = match &row {
            Some(r) => r.password_hash.clone(),
            None => self
                .dummy
                .get_or_try_init(password::dummy_hash)
                .await?
                .clone(),
        };
        let ok = password::verify(pass.to_owned(), phc).await?;
        match row {
            Some(r) if ok && !r.disabled => {
                let id = Identity::User {
                    id: r.id,
                    name: r.username,
                    sysadmin: r.sysadmin,
                };
                self.cache.put(username, pass, id.clone());
                Ok(id)
            }
            _ => Err(AuthError::InvalidCredentials),
        }
    }
}
