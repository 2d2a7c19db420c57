//! Users: the rules for creating them, changing passwords, promoting and disabling. System
//! administrators manage everyone; a user reads and changes their own profile and password.

use crate::auth::{Identity, password};
use crate::db::usergroups::UserGroupRow;
use crate::db::users::{NewUser, UserRow};
use crate::db::{self, Db};
use frontend::types::GroupType;
use secrecy::{ExposeSecret, SecretString};

/// A user-management failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    /// The caller must sign in.
    #[error("sign in first")]
    Unauthorized,
    /// The caller may not do this.
    #[error("not allowed")]
    Forbidden,
    /// No such user.
    #[error("user {0} not found")]
    NotFound(String),
    /// The name is taken.
    #[error("user {0} already exists")]
    Exists(String),
    /// The name breaks the rules.
    #[error(
        "invalid username {0:?}: use 1 to 255 characters without spaces, ':' or control characters, not starting with robot$"
    )]
    InvalidName(String),
    /// The password breaks Harbor's rules.
    #[error(
        "the password must be 8 to 128 characters with at least one upper-case letter, one lower-case letter and one digit"
    )]
    WeakPassword,
    /// The old password is wrong.
    #[error("the old password is wrong")]
    WrongPassword,
    /// Accounts and passwords belong to the directory in this authentication mode.
    #[error("{0}")]
    NotInThisMode(String),
    /// Too many wrong passwords from this address: wait.
    #[error("too many wrong passwords: wait a minute, then try again")]
    Throttled,
    /// No such user group.
    #[error("user group {0} not found")]
    GroupNotFound(i64),
    /// A group of that type and name (or DN) exists.
    #[error("user group {0} already exists")]
    GroupExists(String),
    /// A group request breaks the rules.
    #[error("{0}")]
    InvalidGroup(String),
    /// The directory could not answer.
    #[error("the LDAP directory could not be reached: {0}")]
    Directory(String),
    /// Not possible in the current state of the configuration (the reason says why).
    #[error("{0}")]
    Precondition(String),
    /// A database or hashing failure.
    #[error("internal failure")]
    Internal,
}

impl From<db::DbError> for UserError {
    fn from(e: db::DbError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Internal
    }
}

impl From<crate::auth::AuthError> for UserError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError::*;
        match e {
            InvalidCredentials | Malformed | Refused(_) => Self::WrongPassword,
            Throttled => Self::Throttled,
            Directory(m) => Self::Directory(m),
            other => {
                tracing::error!(error = %other, "password check");
                Self::Internal
            }
        }
    }
}

/// Harbor's password rule: 8–128 characters with upper case, lower case and a digit.
pub fn check_password(p: &str) -> Result<(), UserError> {
    let n = p.chars().count();
    let ok = (8..=128).contains(&n)
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| c.is_ascii_digit());
    if ok { Ok(()) } else { Err(UserError::WeakPassword) }
}

/// Checks a new username against Harbor's rules.
pub fn check_username(name: &str) -> Result<(), UserError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with("robot$")
        && !name.chars().any(|c| c.is_whitespace() || c.is_control() || c == ':');
    if ok { Ok(()) } else { Err(UserError::InvalidName(name.chars().take(300).collect())) }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUserReq {
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Full name.
    pub realname: String,
    /// The initial password.
    pub password: SecretString,
}

/// User services.
#[derive(Clone)]
pub struct Users {
    db: Db,
    auth: std::sync::Arc<crate::auth::Authenticator>,
}

fn admin_only(who: &Identity) -> Result<(), UserError> {
    match who {
        Identity::User { sysadmin: true, .. } => Ok(()),
        Identity::User { .. } | Identity::Robot { .. } => Err(UserError::Forbidden),
        Identity::Anonymous => Err(UserError::Unauthorized),
    }
}

impl Users {
    /// Refuses, saying `why`, unless accounts and passwords are Wharf's own (`db_auth`).
    async fn local_accounts(&self, why: &str) -> Result<(), UserError> {
        match self.auth.mode().await? {
            frontend::types::AuthMode::Database => Ok(()),
            mode => Err(UserError::NotInThisMode(format!("not in {}: {why}", mode.as_str()))),
        }
    }

    /// User services over `db`; old passwords are checked by `auth`, under its throttle.
    pub fn new(db: Db, auth: std::sync::Arc<crate::auth::Authenticator>) -> Self {
        Self { db, auth }
    }

    /// Users whose name contains `name`, one page, and the total (system administrators).
    pub async fn list(
        &self,
        who: &Identity,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<UserRow>, i64), UserError> {
        admin_only(who)?;
        let rows = db::users::list(self.db.reader(), name, offset, limit).await?;
        Ok((rows, db::users::count(self.db.reader(), name).await?))
    }

    /// Creates a user (system administrators); returns the id.
    pub async fn create(&self, who: &Identity, req: NewUserReq) -> Result<i64, UserError> {
        admin_only(who)?;
        self.local_accounts("users are made by their first sign-in or an LDAP import").await?;
        check_username(&req.username)?;
        check_password(req.password.expose_secret())?;
        let hash = password::hash(req.password.expose_secret().to_owned()).await?;
        let new = NewUser {
            username: &req.username,
            email: &req.email,
            realname: &req.realname,
            password_hash: &hash,
            sysadmin: false,
        };
        match db::users::create(self.db.writer(), &new).await {
            Ok(id) => Ok(id),
            Err(e) if e.is_unique_violation() => Err(UserError::Exists(req.username)),
            Err(e) => Err(e.into()),
        }
    }

    /// User `id`, for a system administrator or the user themselves.
    pub async fn get(&self, who: &Identity, id: i64) -> Result<UserRow, UserError> {
        match who {
            Identity::Anonymous => return Err(UserError::Unauthorized),
            Identity::Robot { .. } => return Err(UserError::Forbidden),
            Identity::User { id: me, sysadmin, .. } if *me != id && !sysadmin => {
                return Err(UserError::Forbidden);
            }
            Identity::User { .. } => {}
        }
        db::users::by_id(self.db.reader(), id).await?.ok_or_else(|| UserError::NotFound(id.to_string()))
    }

    /// The signed-in user.
    pub async fn current(&self, who: &Identity) -> Result<UserRow, UserError> {
        self.get(who, who.user_id()).await
    }

    /// Changes user `id`'s password: their own with the old password (checked as a sign-in
    /// from `client` is, under the same limits on guessing), anyone's as a system
    /// administrator. Every session and refresh token of the user ends.
    pub async fn change_password(
        &self,
        who: &Identity,
        id: i64,
        old: Option<&str>,
        new: &str,
        client: std::net::IpAddr,
    ) -> Result<(), UserError> {
        let user = self.get(who, id).await?;
        if user.username != crate::auth::authenticator::LOCAL_ADMIN {
            self.local_accounts("passwords are changed in the directory").await?;
        }
        let own = who.user_id() == id;
        if own {
            let old = old.ok_or(UserError::WrongPassword)?;
            self.auth.verify(&user.username, old, client).await?;
        }
        check_password(new)?;
        let hash = password::hash(new.to_owned()).await?;
        db::users::set_password_hash(self.db.writer(), id, &hash).await?;
        db::users::revoke_sign_ins(&self.db, id).await?;
        Ok(())
    }

    /// User `id`'s tie to the OIDC provider, if it has one, with the CLI secret when the caller
    /// is that user (nobody else reads it, administrators included).
    pub async fn oidc_meta(
        &self,
        who: &Identity,
        id: i64,
    ) -> Result<Option<(db::oidc::OidcUserRow, Option<String>)>, UserError> {
        self.get(who, id).await?;
        let own = who.user_id() == id;
        Ok(self.auth.cli_secret(id).await?.map(|(tie, secret)| (tie, own.then_some(secret))))
    }

    /// Sets OIDC user `id`'s CLI secret (the user or an administrator; Harbor's password rule
    /// applies): the old one stops working at once.
    pub async fn set_cli_secret(&self, who: &Identity, id: i64, secret: &str) -> Result<(), UserError> {
        let user = self.get(who, id).await?;
        if who.user_id() != id && !who.is_sysadmin() {
            return Err(UserError::Forbidden);
        }
        if self.auth.mode().await? != frontend::types::AuthMode::Oidc {
            return Err(UserError::Precondition("the auth mode has to be oidc_auth".into()));
        }
        check_password(secret)?;
        if !self.auth.set_cli_secret(id, secret).await? {
            return Err(UserError::NotFound(format!("{} (an OIDC user)", user.username)));
        }
        Ok(())
    }

    /// Gives OIDC user `id` a new random CLI secret and returns it (the portal's "Regenerate").
    pub async fn regenerate_cli_secret(&self, who: &Identity, id: i64) -> Result<String, UserError> {
        let secret = crate::auth::password::random_secret();
        self.set_cli_secret(who, id, &secret).await?;
        Ok(secret)
    }

    /// Makes user `id` a system administrator or not (system administrators, not on themselves).
    pub async fn set_sysadmin(&self, who: &Identity, id: i64, on: bool) -> Result<(), UserError> {
        admin_only(who)?;
        if who.user_id() == id {
            return Err(UserError::Forbidden);
        }
        if db::users::set_sysadmin(self.db.writer(), id, on).await? {
            Ok(())
        } else {
            Err(UserError::NotFound(id.to_string()))
        }
    }

    /// Changes user `id`'s profile (the user or an administrator) and, for administrators on
    /// others, whether the account is disabled.
    pub async fn update(
        &self,
        who: &Identity,
        id: i64,
        email: Option<&str>,
        realname: Option<&str>,
        disabled: Option<bool>,
    ) -> Result<(), UserError> {
        let user = self.get(who, id).await?;
        if let Some(d) = disabled {
            admin_only(who)?;
            if who.user_id() == id {
                return Err(UserError::Forbidden);
            }
            db::users::set_disabled(self.db.writer(), id, d).await?;
            if d {
                db::users::revoke_sign_ins(&self.db, id).await?;
            }
        }
        if email.is_some() || realname.is_some() {
            let email = email.unwrap_or(&user.email);
            let realname = realname.unwrap_or(&user.realname);
            db::users::set_profile(self.db.writer(), id, email, realname).await?;
        }
        Ok(())
    }
}

/// A user group to create: an LDAP group by DN (its name from the directory when not given),
/// an HTTP or OIDC group by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    /// The name.
    pub name: String,
    /// The type.
    pub group_type: GroupType,
    /// An LDAP group's DN.
    pub ldap_group_dn: String,
}

impl Users {
    /// User groups whose name contains `name` (and with DN `dn`), one page, and the total
    /// (system administrators).
    pub async fn list_groups(
        &self,
        who: &Identity,
        name: &str,
        dn: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<UserGroupRow>, i64), UserError> {
        admin_only(who)?;
        let rows = db::usergroups::list(self.db.reader(), name, dn, offset, limit).await?;
        Ok((rows, db::usergroups::count(self.db.reader(), name, dn).await?))
    }

    /// User groups whose name contains `name`, one page, and the total: any signed-in user may
    /// search (a project admin picks a group to add).
    pub async fn search_groups(
        &self,
        who: &Identity,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<UserGroupRow>, i64), UserError> {
        match who {
            Identity::User { .. } => {}
            Identity::Robot { .. } => return Err(UserError::Forbidden),
            Identity::Anonymous => return Err(UserError::Unauthorized),
        }
        let rows = db::usergroups::list(self.db.reader(), name, "", offset, limit).await?;
        Ok((rows, db::usergroups::count(self.db.reader(), name, "").await?))
    }

    /// One user group (system administrators).
    pub async fn group(&self, who: &Identity, id: i64) -> Result<UserGroupRow, UserError> {
        admin_only(who)?;
        db::usergroups::get(self.db.reader(), id).await?.ok_or(UserError::GroupNotFound(id))
    }

    /// Creates a user group; returns its id. In LDAP mode an LDAP group's DN must name a group
    /// of the directory (as Harbor checks), which also gives its name when none is given.
    pub async fn create_group(&self, who: &Identity, new: NewGroup) -> Result<i64, UserError> {
        admin_only(who)?;
        let NewGroup { mut name, group_type, ldap_group_dn: dn } = new;
        let dn = dn.trim().to_owned();
        name = name.trim().to_owned();
        match group_type {
            GroupType::Ldap => {
                if dn.is_empty() {
                    return Err(UserError::InvalidGroup("an LDAP group needs its ldap_group_dn".into()));
                }
                if self.auth.mode().await? == frontend::types::AuthMode::Ldap {
                    let (directory, settings) = self.auth.directory().await?;
                    let found = directory
                        .groups(&settings, "", &dn)
                        .await
                        .map_err(|e| UserError::Directory(e.to_string()))?;
                    let Some(g) = found.into_iter().next() else {
                        return Err(UserError::InvalidGroup(format!("the directory has no group {dn}")));
                    };
                    if name.is_empty() {
                        name = g.name;
                    }
                }
                if name.is_empty() {
                    return Err(UserError::InvalidGroup("a group needs a group_name".into()));
                }
            }
            GroupType::Http | GroupType::Oidc => {
                if name.is_empty() {
                    return Err(UserError::InvalidGroup("a group needs a group_name".into()));
                }
                if !dn.is_empty() {
                    return Err(UserError::InvalidGroup("only LDAP groups have an ldap_group_dn".into()));
                }
            }
        }
        match db::usergroups::insert(self.db.writer(), &name, group_type, &dn).await {
            Ok(id) => Ok(id),
            Err(e) if e.is_unique_violation() => {
                Err(UserError::GroupExists(if dn.is_empty() { name } else { dn }))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Renames user group `id` (system administrators).
    pub async fn rename_group(&self, who: &Identity, id: i64, name: &str) -> Result<(), UserError> {
        admin_only(who)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(UserError::InvalidGroup("a group needs a group_name".into()));
        }
        match db::usergroups::rename(self.db.writer(), id, name).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(UserError::GroupNotFound(id)),
            Err(e) if e.is_unique_violation() => Err(UserError::GroupExists(name.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes user group `id` and its project memberships (system administrators).
    pub async fn delete_group(&self, who: &Identity, id: i64) -> Result<(), UserError> {
        admin_only(who)?;
        if db::usergroups::delete(self.db.writer(), id).await? {
            Ok(())
        } else {
            Err(UserError::GroupNotFound(id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harbors_password_rule() {
        for ok in ["Harbor12345", "aB3aaaaa", &format!("Aa1{}", "x".repeat(125))] {
            assert!(check_password(ok).is_ok(), "{ok}");
        }
        for bad in ["short1A", "alllower1", "ALLUPPER1", "NoDigitsHere", &format!("Aa1{}", "x".repeat(126))] {
            assert_eq!(check_password(bad), Err(UserError::WeakPassword), "{bad}");
        }
    }

    #[test]
    fn usernames() {
        assert!(check_username("dev.user-1").is_ok());
        for bad in ["", "a b", "a:b", "robot$x", "tab\t"] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }
}
