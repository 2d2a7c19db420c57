//! Turns an `Authorization` header (Basic or Bearer) into a [`Caller`].

use std::net::IpAddr;

use tokio::sync::OnceCell;

use super::basic::{self, CredentialCache};
use super::ldap::{Directory, DirectoryUser, LdapSettings};
use super::throttle::{CheckQueue, CheckRate, LoginThrottle};
use super::token::TokenSigner;
use super::{AuthError, Caller, Identity, password};
use crate::configurations::Configurations;
use crate::db::{self, Db};
use frontend::types::{AuthMode, GroupType};

/// The account that always signs in with its own password, whatever the mode.
pub const LOCAL_ADMIN: &str = "admin";

/// The longest username there can be (Harbor's limit, in bytes).
pub const MAX_USERNAME: usize = 255;
/// The longest password or secret checked (new passwords have at most 128 characters).
pub const MAX_SECRET: usize = 1024;

/// Checks passwords against the users table (with a short-lived cache of successes) and bearer
/// tokens against the signing key.
pub struct Authenticator {
    db: Db,
    configurations: Configurations,
    directory: Directory,
    oidc: super::oidc::Oidc,
    /// Seals what must be read back (CLI secrets, the provider's refresh tokens).
    seal: std::sync::Arc<crate::endpoints::seal::SealKey>,
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
    /// An authenticator over `db`, verifying tokens with `signer`, asking the directory
    /// `configurations` name when users sign in with it, and recording sign-ins to `auditor`.
    /// Verified credentials are trusted for `cache_for`.
    pub fn new(
        db: Db,
        configurations: Configurations,
        signer: TokenSigner,
        auditor: crate::audit::Auditor,
        cache_for: std::time::Duration,
        seal: std::sync::Arc<crate::endpoints::seal::SealKey>,
    ) -> Self {
        Self {
            db,
            configurations,
            directory: Directory::default(),
            oidc: super::oidc::Oidc::default(),
            seal,
            auditor,
            cache: CredentialCache::new(cache_for),
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
        // The local admin always signs in with its own password, whatever the mode: a directory
        // or provider that is down or misconfigured never locks the administrator out.
        if username != LOCAL_ADMIN {
            match self.configurations.current().await?.auth_mode() {
                AuthMode::Ldap => return self.check_directory(username, pass, client).await,
                AuthMode::Oidc => return self.check_cli_secret(username, pass, client).await,
                AuthMode::Database => {}
            }
        }
        self.check(username, pass, client, || self.user_account(username)).await
    }

    /// How users other than the local admin sign in.
    pub async fn mode(&self) -> Result<AuthMode, AuthError> {
        Ok(self.configurations.current().await?.auth_mode())
    }

    /// The account of provider user `user` after an OIDC sign-in: the one tied to them, or a new
    /// one (with a new CLI secret) under the username they `chose` on the onboarding page or,
    /// with automatic onboarding, their claimed one — refused when another account has that
    /// name; `None` when they must choose first. Their groups and administrator flag follow the
    /// provider's claims; the refresh token is kept (sealed) for the CLI secret's checks.
    pub async fn oidc_account(
        &self,
        s: &super::oidc::OidcSettings,
        user: &super::oidc::ProviderUser,
        chose: Option<&str>,
    ) -> Result<Option<db::users::UserRow>, AuthError> {
        let sealed_refresh = user.refresh_token.as_deref().map(|t| self.seal.seal(t)).unwrap_or_default();
        let sealed_secret = self.seal.seal(&password::random_secret());
        let admin = !s.admin_group.is_empty() && user.groups.iter().any(|g| g == &s.admin_group);
        let mut tx = self.db.begin().await?;
        let id = match db::oidc::user_of(&mut *tx, &user.subject).await? {
            Some(id) => id,
            None => {
                let username = match chose {
                    Some(name) => name,
                    None if s.auto_onboard => user.username.as_str(),
                    None => return Ok(None),
                };
                if username == LOCAL_ADMIN || db::users::by_username(&mut *tx, username).await?.is_some() {
                    return Err(AuthError::Refused(format!(
                        "the username {username} is taken by another account"
                    )));
                }
                db::users::onboard(&mut *tx, username, &user.email, &user.realname, admin).await?.id
            }
        };
        db::oidc::link(&mut *tx, id, &user.subject, &sealed_secret, &sealed_refresh, user.expires).await?;
        let groups: Vec<(String, String)> = user.groups.iter().map(|g| (g.clone(), String::new())).collect();
        let ids = db::usergroups::ensure(&mut tx, GroupType::Oidc, &groups).await?;
        db::usergroups::set_memberships(&mut tx, id, GroupType::Oidc, &ids).await?;
        if admin {
            db::users::set_sysadmin(&mut *tx, id, true).await?;
        }
        let row = db::users::by_id(&mut *tx, id).await?.ok_or(AuthError::InvalidCredentials)?;
        tx.commit().await.map_err(db::DbError::from)?;
        if row.disabled {
            return Err(AuthError::InvalidCredentials);
        }
        Ok(Some(row))
    }

    /// The OpenID Connect client.
    pub fn oidc(&self) -> &super::oidc::Oidc {
        &self.oidc
    }

    /// The directory client and its settings (`/ldap/*`).
    pub async fn directory(&self) -> Result<(Directory, LdapSettings), AuthError> {
        let settings = LdapSettings::of(&*self.configurations.current().await?);
        Ok((self.directory.clone(), settings))
    }

    /// Checks an OIDC user's CLI secret (the password registry clients and scripts use in OIDC
    /// mode, as in Harbor), then that their session at the provider still stands.
    async fn check_cli_secret(
        &self,
        name: &str,
        secret: &str,
        client: IpAddr,
    ) -> Result<Identity, AuthError> {
        let row = db::users::by_username(self.db.reader(), name).await?;
        let tie = match &row {
            Some(r) if !r.disabled => db::oidc::of_user(self.db.reader(), r.id).await?,
            _ => None,
        };
        if !self.throttle.allows(name, client) {
            return Err(AuthError::Throttled);
        }
        // Sealed, not hashed: its owner reads it again on their profile page. Compared in
        // constant time.
        let genuine = tie.as_ref().is_some_and(|t| {
            self.seal.open(&t.secret).is_ok_and(|plain| {
                bool::from(subtle::ConstantTimeEq::ct_eq(plain.as_bytes(), secret.as_bytes()))
            })
        });
        let (Some(row), Some(tie), true) = (row, tie, genuine) else {
            self.throttle.failed(name, client);
            return Err(AuthError::InvalidCredentials);
        };
        self.provider_session(Some(&tie), row.id, name).await?;
        self.throttle.succeeded(name, client);
        Ok(Identity::User { id: row.id, name: row.username, sysadmin: row.sysadmin })
    }

    /// Whether OIDC account `user_id`'s session at the provider still stands: trusted until the
    /// tokens of its last sign-in or refresh expire, then asked with the refresh token (one
    /// replica asks; the others trust it for the moment the asking takes). A provider that
    /// refuses the refresh ends the session until the user signs in to the portal again; the
    /// groups of a refreshed ID token replace the user's OIDC groups. `read` is the account's
    /// tie when the caller has just read it.
    async fn provider_session(
        &self,
        read: Option<&db::oidc::OidcUserRow>,
        user_id: i64,
        name: &str,
    ) -> Result<(), AuthError> {
        const ASKING: i64 = 30;
        let gone = || {
            AuthError::Refused(
                "the session at the OIDC provider has ended: sign in to the portal again to use the CLI secret"
                    .into(),
            )
        };
        let now = db::now_ms() / 1000;
        let fresh = |t: &db::oidc::OidcUserRow| t.token_expires > now;
        let fresh_now = match read {
            Some(t) => fresh(t),
            None => match db::oidc::of_user(self.db.reader(), user_id).await? {
                Some(t) => fresh(&t),
                None => return Err(AuthError::InvalidCredentials),
            },
        };
        if fresh_now {
            return Ok(());
        }
        let _turn = self.queue.turn(name).await;
        // Read again from the writer: the check this one waited for may have refreshed already.
        let Some(tie) = db::oidc::of_user(self.db.writer(), user_id).await? else {
            return Err(AuthError::InvalidCredentials);
        };
        if fresh(&tie) {
            return Ok(());
        }
        if tie.refresh_token.is_empty() {
            return Err(gone());
        }
        if !db::oidc::claim_refresh(self.db.writer(), user_id, tie.token_expires, now + ASKING).await? {
            return Ok(());
        }
        let settings = super::oidc::OidcSettings::of(&*self.configurations.current().await?);
        let refresh_token = self.seal.open(&tie.refresh_token).map_err(|_| gone())?;
        match self.oidc.refresh(&settings, &refresh_token).await {
            Err(e) => {
                // Let the next check ask again.
                db::oidc::set_tokens(self.db.writer(), user_id, &tie.refresh_token, tie.token_expires)
                    .await?;
                tracing::warn!(error = %e, "the OIDC provider could not check a CLI sign-in");
                Err(AuthError::Directory(e.to_string()))
            }
            Ok(super::oidc::Refresh::Gone(why)) => {
                db::oidc::set_tokens(self.db.writer(), user_id, "", 0).await?;
                tracing::info!(user = name, reason = %why, "the OIDC provider ended a session");
                Err(gone())
            }
            Ok(super::oidc::Refresh::Alive { refresh_token: rotated, expires, groups }) => {
                let sealed = rotated.as_deref().map(|t| self.seal.seal(t)).unwrap_or(tie.refresh_token);
                let mut tx = self.db.begin().await?;
                db::oidc::set_tokens(&mut *tx, user_id, &sealed, expires).await?;
                if let Some(groups) = groups {
                    let groups: Vec<(String, String)> =
                        groups.into_iter().map(|g| (g, String::new())).collect();
                    let ids = db::usergroups::ensure(&mut tx, GroupType::Oidc, &groups).await?;
                    db::usergroups::set_memberships(&mut tx, user_id, GroupType::Oidc, &ids).await?;
                }
                tx.commit().await.map_err(db::DbError::from)?;
                Ok(())
            }
        }
    }

    /// The CLI secret of OIDC account `user_id` (for its owner), or `None` when it has none.
    pub async fn cli_secret(
        &self,
        user_id: i64,
    ) -> Result<Option<(db::oidc::OidcUserRow, String)>, AuthError> {
        let Some(tie) = db::oidc::of_user(self.db.reader(), user_id).await? else { return Ok(None) };
        let plain = self.seal.open(&tie.secret).unwrap_or_default();
        Ok(Some((tie, plain)))
    }

    /// Replaces OIDC account `user_id`'s CLI secret with `secret`; false when it has no tie to a
    /// provider.
    pub async fn set_cli_secret(&self, user_id: i64, secret: &str) -> Result<bool, AuthError> {
        Ok(db::oidc::set_secret(self.db.writer(), user_id, &self.seal.seal(secret)).await?)
    }

    /// Checks `secret` by binding to the directory as `name`: a success is remembered for a
    /// minute like a password check (so a user the directory disables or deletes is refused
    /// at most a minute later), and creates or refreshes their account.
    async fn check_directory(&self, name: &str, secret: &str, client: IpAddr) -> Result<Identity, AuthError> {
        let row = db::users::by_username(self.db.reader(), name).await?;
        if let Some(r) = &row
            && !r.disabled
            && self.cache.matches(name, secret, &r.password_hash)
        {
            return Ok(Identity::User { id: r.id, name: r.username.clone(), sysadmin: r.sysadmin });
        }
        if row.as_ref().is_some_and(|r| r.disabled) {
            return Err(AuthError::InvalidCredentials);
        }
        let _turn = self.queue.turn(name).await;
        if !self.throttle.allows(name, client) || !self.checks.take(client) {
            return Err(AuthError::Throttled);
        }
        let settings = LdapSettings::of(&*self.configurations.current().await?);
        let found = self.directory.authenticate(&settings, name, secret).await.map_err(|e| {
            tracing::warn!(error = %e, "the directory could not check a sign-in");
            self.checks.refund(client);
            AuthError::Directory(e.to_string())
        })?;
        let Some(user) = found else {
            self.throttle.failed(name, client);
            return Err(AuthError::InvalidCredentials);
        };
        let row = self.onboard(&settings, &user).await?;
        self.cache.put(name, secret, &row.password_hash);
        self.throttle.succeeded(name, client);
        self.checks.refund(client);
        Ok(Identity::User { id: row.id, name: row.username, sysadmin: row.sysadmin })
    }

    /// Creates or refreshes the account of directory user `user` (an administrator when they
    /// are in the admin group).
    pub async fn onboard(
        &self,
        s: &LdapSettings,
        user: &DirectoryUser,
    ) -> Result<db::users::UserRow, AuthError> {
        let admin = !s.group_admin_dn.is_empty()
            && user.groups.iter().any(|g| g.eq_ignore_ascii_case(&s.group_admin_dn));
        // The account, its groups and its memberships as the directory says now, together.
        let mut tx = self.db.begin().await?;
        let row = db::users::onboard(&mut *tx, &user.username, &user.email, &user.realname, admin).await?;
        let groups = db::usergroups::ensure(&mut tx, GroupType::Ldap, &s.groups_of(user)).await?;
        db::usergroups::set_memberships(&mut tx, row.id, GroupType::Ldap, &groups).await?;
        tx.commit().await.map_err(db::DbError::from)?;
        Ok(row)
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
                if r.password_hash == db::users::DIRECTORY_ACCOUNT && r.username != LOCAL_ADMIN {
                    if self.mode().await? == AuthMode::Oidc {
                        self.provider_session(None, r.id, &r.username).await?;
                        return Ok(Identity::User { id: r.id, name: r.username, sysadmin: r.sysadmin });
                    }
                    return self.still_in_directory(r).await;
                }
                Ok(Identity::User { id: r.id, name: r.username, sysadmin: r.sysadmin })
            }
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    /// A directory account redeeming a refresh token: there is no password to bind with, so the
    /// search DN looks the user up (at most once per credential window). One the directory
    /// removed or filters out is refused as a bind would refuse them; their groups and
    /// administrator flag follow the directory as at a sign-in.
    async fn still_in_directory(&self, row: db::users::UserRow) -> Result<Identity, AuthError> {
        if !self.cache.found_recently(&row.username, &row.password_hash) {
            if self.mode().await? != AuthMode::Ldap {
                return Err(AuthError::InvalidCredentials);
            }
            let settings = LdapSettings::of(&*self.configurations.current().await?);
            let found = self.directory.user(&settings, &row.username).await.map_err(|e| {
                tracing::warn!(error = %e, "the directory could not check a refresh token");
                AuthError::Directory(e.to_string())
            })?;
            let Some(user) = found else { return Err(AuthError::InvalidCredentials) };
            let row = self.onboard(&settings, &user).await?;
            self.cache.found(&row.username, &row.password_hash);
            return Ok(Identity::User { id: row.id, name: row.username, sysadmin: row.sysadmin });
        }
        Ok(Identity::User { id: row.id, name: row.username, sysadmin: row.sysadmin })
    }
}
