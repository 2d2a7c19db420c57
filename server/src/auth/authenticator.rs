//! Turns an `Authorization` header (Basic or Bearer) into a [`Caller`].

use std::net::IpAddr;

use tokio::sync::OnceCell;

use super::basic::{self, CredentialCache};
use super::throttle::{CheckRate, LoginThrottle};
use super::token::TokenSigner;
use super::{AuthError, Caller, Identity, password};
use crate::db::{self, Db};

/// Checks passwords against the users table (with a short-lived cache of successes) and bearer
/// tokens against the signing key.
pub struct Authenticator {
    db: Db,
    cache: CredentialCache,
    dummy: OnceCell<String>,
    signer: TokenSigner,
    throttle: LoginThrottle,
    checks: CheckRate,
}

impl Authenticator {
    /// An authenticator over `db`, verifying tokens with `signer`.
    pub fn new(db: Db, signer: TokenSigner) -> Self {
        Self {
            db,
            cache: CredentialCache::default(),
            dummy: OnceCell::new(),
            signer,
            throttle: Default::default(),
            checks: Default::default(),
        }
    }

    /// The token signer.
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// The caller named by `authorization` (Basic or Bearer): anonymous when absent, an error
    /// when wrong.
    pub async fn identify(&self, authorization: Option<&str>, client: IpAddr) -> Result<Caller, AuthError> {
        if let Some((scheme, token)) = authorization.and_then(|h| h.split_once(' '))
            && scheme.eq_ignore_ascii_case("bearer")
        {
            let claims = self.signer.verify(token, "access")?;
            return Ok(Caller { identity: claims.identity(), token: Some(claims) });
        }
        self.identify_basic(authorization, client).await.map(Caller::with_password)
    }

    /// The identity named by a Basic `authorization` header; anonymous when absent.
    pub async fn identify_basic(
        &self,
        authorization: Option<&str>,
        client: IpAddr,
    ) -> Result<Identity, AuthError> {
        let Some(header) = authorization else {
            return Ok(Identity::Anonymous);
        };
        match basic::parse(header) {
            None => Err(AuthError::Malformed),
            Some(Err(e)) => Err(e),
            Some(Ok((user, pass))) => self.verify(&user, &pass, client).await,
        }
    }

    /// Checks a username and password sent from `client`. Unknown users, disabled users and
    /// wrong passwords all fail the same way and take the same time.
    pub async fn verify(&self, username: &str, pass: &str, client: IpAddr) -> Result<Identity, AuthError> {
        if username.starts_with("robot$") {
            return self.verify_robot(username, pass, client).await;
        }
        let row = db::users::by_username(self.db.reader(), username).await?;
        let identity = |r: &db::users::UserRow| Identity::User {
            id: r.id,
            name: r.username.clone(),
            sysadmin: r.sysadmin,
        };
        if let Some(r) = &row
            && !r.disabled
            && self.cache.matches(username, pass, &r.password_hash)
        {
            return Ok(identity(r));
        }
        if !self.throttle.allows(username, client) || !self.checks.take(client) {
            return Err(AuthError::Throttled);
        }
        let phc = match &row {
            Some(r) => r.password_hash.clone(),
            None => self.dummy.get_or_try_init(password::dummy_hash).await?.clone(),
        };
        let ok = password::verify(pass.to_owned(), phc).await?;
        match row {
            Some(r) if ok && !r.disabled => {
                self.cache.put(username, pass, &r.password_hash);
                self.throttle.succeeded(username, client);
                Ok(identity(&r))
            }
            _ => {
                self.throttle.failed(username, client);
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Checks a robot's name and secret: refused when unknown, wrong, disabled or expired.
    async fn verify_robot(&self, name: &str, secret: &str, client: IpAddr) -> Result<Identity, AuthError> {
        let row = db::robots::by_name(self.db.reader(), name).await?;
        let identity = |r: &db::robots::RobotRow| Identity::Robot {
            id: r.id,
            name: r.name.clone(),
            project_id: r.project_id,
            grants: r.grants,
        };
        if let Some(r) = &row
            && r.usable()
            && self.cache.matches(name, secret, &r.secret_hash)
        {
            return Ok(identity(r));
        }
        if !self.throttle.allows(name, client) || !self.checks.take(client) {
            return Err(AuthError::Throttled);
        }
        let phc = match &row {
            Some(r) => r.secret_hash.clone(),
            None => self.dummy.get_or_try_init(password::dummy_hash).await?.clone(),
        };
        let ok = password::verify(secret.to_owned(), phc).await?;
        match row {
            Some(r) if ok && r.usable() => {
                self.cache.put(name, secret, &r.secret_hash);
                self.throttle.succeeded(name, client);
                Ok(identity(&r))
            }
            _ => {
                self.throttle.failed(name, client);
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// The current identity of a token's subject: refused when the account is gone or disabled.
    pub async fn still_enabled(&self, identity: Identity) -> Result<Identity, AuthError> {
        let Identity::User { name, .. } = identity else {
            return Err(AuthError::InvalidCredentials);
        };
        match db::users::by_username(self.db.reader(), &name).await? {
            Some(r) if !r.disabled => Ok(Identity::User { id: r.id, name: r.username, sysadmin: r.sysadmin }),
            _ => Err(AuthError::InvalidCredentials),
        }
    }
}
