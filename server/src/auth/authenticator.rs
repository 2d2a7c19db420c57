//! Turns an `Authorization` header (Basic or Bearer) into a [`Caller`].

use std::net::IpAddr;

use tokio::sync::OnceCell;

use super::basic::{self, CredentialCache};
use super::throttle::{CheckQueue, CheckRate, LoginThrottle};
use super::token::TokenSigner;
use super::{AuthError, Caller, Identity, password};
use crate::db::{self, Db};

/// The longest username there can be (Harbor's limit, in bytes).
pub const MAX_USERNAME: usize = 255;
/// The longest password or secret checked (new passwords have at most 128 characters).
pub const MAX_SECRET: usize = 1024;

/// Checks passwords against the users table (with a short-lived cache of successes) and bearer
/// tokens against the signing key.
pub struct Authenticator {
    db: Db,
    auditor: crate::audit::Auditor,
    cache: CredentialCache,
    dummy: OnceCell<String>,
    signer: TokenSigner,
    throttle: LoginThrottle,
    checks: CheckRate,
    queue: CheckQueue,
}

/// Where a registry client signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginThrough {
    /// `/v2/` with credentials.
    Registry,
    /// The token service.
    TokenService,
}

/// An account a password or secret is checked against.
struct Account {
    identity: Identity,
    hash: String,
    /// Not disabled (nor, for robots, expired).
    usable: bool,
}

impl Authenticator {
    /// An authenticator over `db`, verifying tokens with `signer` and recording sign-ins to
    /// `auditor`.
    pub fn new(db: Db, signer: TokenSigner, auditor: crate::audit::Auditor) -> Self {
        Self {
            db,
            auditor,
            cache: CredentialCache::default(),
            dummy: OnceCell::new(),
            signer,
            throttle: Default::default(),
            checks: Default::default(),
            queue: Default::default(),
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

    /// A registry client signing in with the credentials in `authorization`: `docker login`
    /// against `/v2/` (users and robots), or the token service (users only: robots fetch a
    /// token for every pull, and a log line per pull is noise). A password sign-in is recorded
    /// in the audit log; a bearer token is not a sign-in.
    pub async fn registry_login(
        &self,
        authorization: Option<&str>,
        client: IpAddr,
        through: LoginThrough,
    ) -> Result<Caller, AuthError> {
        let caller = match through {
            LoginThrough::Registry => self.identify(authorization, client).await?,
            LoginThrough::TokenService => {
                Caller::with_password(self.identify_basic(authorization, client).await?)
            }
        };
        let recorded = caller.token.is_none()
            && match caller.identity {
                Identity::User { .. } => true,
                Identity::Robot { .. } => through == LoginThrough::Registry,
                Identity::Anonymous => false,
            };
        if recorded {
            self.auditor.login(crate::audit::Actor::new(&caller.identity, client));
        }
        Ok(caller)
    }

    /// A user's sign-in (the portal's form): [`Self::verify`], recorded in the audit log when it
    /// succeeds.
    pub async fn sign_in(&self, username: &str, pass: &str, client: IpAddr) -> Result<Identity, AuthError> {
        let who = self.verify(username, pass, client).await?;
        if matches!(who, Identity::User { .. }) {
            self.auditor.login(crate::audit::Actor::new(&who, client));
        }
        Ok(who)
    }

    /// Checks a username and password sent from `client`. Unknown users, disabled users and
    /// wrong passwords all fail the same way and take the same time.
    pub async fn verify(&self, username: &str, pass: &str, client: IpAddr) -> Result<Identity, AuthError> {
        // No account has a longer name (Harbor's limit) or password: refused before anything
        // is looked up, hashed or remembered.
        if username.is_empty() || username.len() > MAX_USERNAME || pass.len() > MAX_SECRET {
            return Err(AuthError::InvalidCredentials);
        }
        if username.starts_with("robot$") {
            return self.check(username, pass, client, || self.robot_account(username)).await;
        }
        self.check(username, pass, client, || self.user_account(username)).await
    }

    async fn user_account(&self, name: &str) -> Result<Option<Account>, AuthError> {
        Ok(db::users::by_username(self.db.reader(), name).await?.map(|r| Account {
            usable: !r.disabled,
            identity: Identity::User { id: r.id, name: r.username, sysadmin: r.sysadmin },
            hash: r.password_hash,
        }))
    }

    /// Robots are refused when unknown, wrong, disabled or expired.
    async fn robot_account(&self, name: &str) -> Result<Option<Account>, AuthError> {
        Ok(db::robots::by_name(self.db.reader(), name).await?.map(|r| Account {
            usable: r.usable(),
            identity: Identity::Robot { id: r.id, scope: super::RobotScope::of(&r), name: r.name },
            hash: r.secret_hash,
        }))
    }

    /// Checks `secret` for the account `lookup` reads: from the cache of recent successes, else
    /// with argon2, one check at a time per name and within the address's allowance.
    async fn check<F, Fut>(
        &self,
        name: &str,
        secret: &str,
        client: IpAddr,
        lookup: F,
    ) -> Result<Identity, AuthError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Account>, AuthError>>,
    {
        let cached = |account: &Option<Account>| {
            account
                .as_ref()
                .filter(|a| a.usable && self.cache.matches(name, secret, &a.hash))
                .map(|a| a.identity.clone())
        };
        if let Some(identity) = cached(&lookup().await?) {
            return Ok(identity);
        }
        let _turn = self.queue.turn(name).await;
        // Read again: the check this one waited for may have just cached these credentials.
        let account = lookup().await?;
        if let Some(identity) = cached(&account) {
            return Ok(identity);
        }
        if !self.throttle.allows(name, client) || !self.checks.take(client) {
            return Err(AuthError::Throttled);
        }
        let phc = match &account {
            Some(a) => a.hash.clone(),
            None => self.dummy.get_or_try_init(password::dummy_hash).await?.clone(),
        };
        let ok = password::verify(secret.to_owned(), phc).await?;
        match account {
            Some(a) if ok && a.usable => {
                self.cache.put(name, secret, &a.hash);
                self.throttle.succeeded(name, client);
                self.checks.refund(client);
                Ok(a.identity)
            }
            _ => {
                self.throttle.failed(name, client);
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// A refresh token for a user (none for robots and anonymous callers), bound to the user's
    /// current token generation.
    pub async fn refresh_token(&self, who: &Identity, ttl: i64) -> Result<Option<String>, AuthError> {
        let Identity::User { id, .. } = who else { return Ok(None) };
        let Some(row) = db::users::by_id(self.db.reader(), *id).await? else { return Ok(None) };
        Ok(Some(self.signer.issue_generation(who, Vec::new(), "refresh", ttl, row.token_generation).0))
    }

    /// The current identity behind a refresh token: refused when the token is forged or expired,
    /// the account is gone or disabled, or its password changed since the token was issued.
    pub async fn redeem_refresh(&self, token: &str) -> Result<Identity, AuthError> {
        let claims = self.signer.verify(token, "refresh")?;
        let Identity::User { name, .. } = claims.identity() else {
            return Err(AuthError::InvalidCredentials);
        };
        match db::users::by_username(self.db.reader(), &name).await? {
            Some(r) if !r.disabled && r.token_generation == claims.generation => {
                Ok(Identity::User { id: r.id, name: r.username, sysadmin: r.sysadmin })
            }
            _ => Err(AuthError::InvalidCredentials),
        }
    }
}
