//! The company directory (LDAP, Active Directory): finding users and groups, and checking a
//! user's password by binding as them, as Harbor's `ldap_auth` does.
//!
//! Searches share one connection bound as the search DN (reopened when the settings change or
//! it fails); a password check binds on a connection of its own, since a bind changes who the
//! connection is. Every operation is bounded by `ldap_timeout`: a directory that is down or
//! slow gives an error, never a hang.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use tokio::sync::Mutex;

use crate::configurations::Snapshot;

/// The LDAP items of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LdapSettings {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// The DN searches bind as (empty: anonymous).
    pub search_dn: String,
    /// Its password.
    pub search_password: String,
    /// Where users are searched.
    pub base_dn: String,
    /// An extra filter users must match, e.g. `(objectClass=person)`.
    pub filter: String,
    /// The attribute holding the username, e.g. `uid`, `cn` or `sAMAccountName`.
    pub uid: String,
    /// 0 base, 1 one level, 2 subtree.
    pub scope: i64,
    /// Seconds an operation may take.
    pub timeout: i64,
    /// Verify the server's certificate.
    pub verify_cert: bool,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub start_tls: bool,
    /// PEM certificates to trust instead of the system's (a private CA).
    pub ca_cert: String,
    /// Where groups are searched.
    pub group_base_dn: String,
    /// An extra filter groups must match.
    pub group_filter: String,
    /// The attribute holding a group's name.
    pub group_attribute: String,
    /// 0 base, 1 one level, 2 subtree.
    pub group_scope: i64,
    /// Members of this group are system administrators.
    pub group_admin_dn: String,
    /// The user attribute listing their groups' DNs.
    pub membership_attribute: String,
}

impl LdapSettings {
    /// The groups of `user` Wharf knows them by, as (name, DN): those under the group base DN
    /// (all when it is empty), named by their DN's first value (`cn=developers,…`: developers).
    pub fn groups_of(&self, user: &DirectoryUser) -> Vec<(String, String)> {
        let base = self.group_base_dn.trim().to_lowercase();
        user.groups
            .iter()
            .filter(|dn| base.is_empty() || dn.to_lowercase().ends_with(&base))
            .filter_map(|dn| Some((first_value(dn)?, dn.clone())))
            .collect()
    }

    /// The settings in `c`.
    pub fn of(c: &Snapshot) -> Self {
        Self {
            url: c.text("ldap_url").to_owned(),
            search_dn: c.text("ldap_search_dn").to_owned(),
            search_password: c.text("ldap_search_password").to_owned(),
            base_dn: c.text("ldap_base_dn").to_owned(),
            filter: c.text("ldap_filter").to_owned(),
            uid: c.text("ldap_uid").to_owned(),
            scope: c.int("ldap_scope"),
            timeout: c.int("ldap_timeout"),
            verify_cert: c.flag("ldap_verify_cert"),
            start_tls: c.flag("ldap_start_tls"),
            ca_cert: c.text("ldap_ca_cert").to_owned(),
            group_base_dn: c.text("ldap_group_base_dn").to_owned(),
            group_filter: c.text("ldap_group_search_filter").to_owned(),
            group_attribute: c.text("ldap_group_attribute_name").to_owned(),
            group_scope: c.int("ldap_group_search_scope"),
            group_admin_dn: c.text("ldap_group_admin_dn").to_owned(),
            membership_attribute: c.text("ldap_group_membership_attribute").to_owned(),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.clamp(1, 300) as u64)
    }
}

/// A TLS client that trusts only the certificates in `pem` (none: the system's, as `ldap3`
/// builds it), when certificates are verified at all.
fn trusting(pem: &str, verify: bool) -> Result<Option<Arc<rustls::ClientConfig>>, LdapError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    if pem.trim().is_empty() || !verify {
        return Ok(None);
    }
    let bad = |e: String| LdapError::Failed(format!("ldap_ca_cert: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
    }
    // The provider is named: other crates in the build bring TLS providers of their own.
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

fn scope(n: i64) -> Scope {
    match n {
        0 => Scope::Base,
        1 => Scope::OneLevel,
        _ => Scope::Subtree,
    }
}

/// A filter in parentheses (Harbor accepts `objectClass=person` as well as `(objectClass=person)`).
fn wrapped(filter: &str) -> String {
    let f = filter.trim();
    if f.is_empty() || f.starts_with('(') { f.to_owned() } else { format!("({f})") }
}

/// Why a directory call failed, in words an administrator can act on.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// LDAP is not configured.
    #[error("LDAP is not configured (ldap_url is empty)")]
    NotConfigured,
    /// The server cannot be reached, or did not answer in time.
    #[error("the LDAP server cannot be reached: {0}")]
    Unreachable(String),
    /// The search DN or its password is wrong.
    #[error("the LDAP server refused the search DN's credentials")]
    SearchBind,
    /// An operation failed.
    #[error("LDAP {0}")]
    Failed(String),
}

/// A user found in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// Their entry's DN.
    pub dn: String,
    /// The `uid` attribute's value.
    pub username: String,
    /// `mail`, or empty.
    pub email: String,
    /// `displayName` or `cn`, or the username.
    pub realname: String,
    /// DNs of the groups listed in their membership attribute.
    pub groups: Vec<String>,
}

/// A group found in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// Its DN.
    pub dn: String,
    /// Its name (the group attribute's value).
    pub name: String,
}

/// The directory client.
#[derive(Clone, Default)]
pub struct Directory {
    search: Arc<Mutex<Option<(LdapSettings, Ldap)>>>,
}

impl Directory {
    async fn open(s: &LdapSettings) -> Result<Ldap, LdapError> {
        if s.url.trim().is_empty() {
            return Err(LdapError::NotConfigured);
        }
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(s.timeout())
            .set_starttls(s.start_tls && s.url.starts_with("ldap://"))
            .set_no_tls_verify(!s.verify_cert);
        if let Some(config) = trusting(&s.ca_cert, s.verify_cert)? {
            settings = settings.set_config(config);
        }
        let opened = tokio::time::timeout(s.timeout(), LdapConnAsync::with_settings(settings, &s.url)).await;
        let (conn, ldap) = match opened {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(LdapError::Unreachable(e.to_string())),
            Err(_) => {
                return Err(LdapError::Unreachable(format!("no answer within {} s", s.timeout().as_secs())));
            }
        };
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(ldap)
    }

    /// Binds `ldap` as the search DN (nothing to do for anonymous searches).
    async fn bind_search(ldap: &mut Ldap, s: &LdapSettings) -> Result<(), LdapError> {
        if s.search_dn.is_empty() {
            return Ok(());
        }
        match ldap.with_timeout(s.timeout()).simple_bind(&s.search_dn, &s.search_password).await {
            Ok(r) if r.rc == 0 => Ok(()),
            Ok(_) => Err(LdapError::SearchBind),
            Err(e) => Err(LdapError::Unreachable(e.to_string())),
        }
    }

    /// A connection bound as the search DN: the shared one when it is still good.
    async fn searcher(&self, s: &LdapSettings) -> Result<Ldap, LdapError> {
        let mut shared = self.search.lock().await;
        if let Some((settings, ldap)) = shared.as_mut()
            && settings == s
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        let mut ldap = Self::open(s).await?;
        Self::bind_search(&mut ldap, s).await?;
        *shared = Some((s.clone(), ldap.clone()));
        Ok(ldap)
    }

    async fn search(
        &self,
        s: &LdapSettings,
        base: &str,
        scope_n: i64,
        filter: &str,
        attrs: Vec<&str>,
    ) -> Result<Vec<SearchEntry>, LdapError> {
        // A shared connection the server closed is reopened once.
        for attempt in 0..2 {
            let mut ldap = self.searcher(s).await?;
            match ldap.with_timeout(s.timeout()).search(base, scope(scope_n), filter, attrs.clone()).await {
                // noSuchObject (32): the base itself is missing, e.g. a group DN that is not
                // in the directory. That is an empty answer, not a failure.
                Ok(result) if result.1.rc == 32 => return Ok(Vec::new()),
                Ok(result) => {
                    let (entries, _) = result.success().map_err(|e| LdapError::Failed(e.to_string()))?;
                    return Ok(entries.into_iter().map(SearchEntry::construct).collect());
                }
                Err(e) if attempt == 0 => {
                    tracing::debug!(error = %e, "LDAP search failed; reconnecting");
                    *self.search.lock().await = None;
                }
                Err(e) => return Err(LdapError::Unreachable(e.to_string())),
            }
        }
        Err(LdapError::Failed("search failed".into()))
    }

    /// Connects and binds as the search DN (`/ldap/ping`).
    pub async fn ping(&self, s: &LdapSettings) -> Result<(), LdapError> {
        let mut ldap = Self::open(s).await?;
        Self::bind_search(&mut ldap, s).await?;
        let _ = ldap.unbind().await;
        Ok(())
    }

    /// Users whose username contains `name` (all users when empty), at most `limit`.
    pub async fn users(
        &self,
        s: &LdapSettings,
        name: &str,
        limit: usize,
    ) -> Result<Vec<DirectoryUser>, LdapError> {
        let name = if name.is_empty() { "*".to_owned() } else { format!("*{}*", ldap_escape(name)) };
        let filter = format!("(&{}({}={name}))", wrapped(&s.filter), s.uid);
        let mut found = self.user_entries(s, &filter).await?;
        found.truncate(limit);
        Ok(found)
    }

    /// The user named exactly `username`, when there is one (more than one is an error: the
    /// directory cannot tell them apart).
    pub async fn user(&self, s: &LdapSettings, username: &str) -> Result<Option<DirectoryUser>, LdapError> {
        let filter = format!("(&{}({}={}))", wrapped(&s.filter), s.uid, ldap_escape(username));
        let mut found = self.user_entries(s, &filter).await?;
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            n => Err(LdapError::Failed(format!("{n} directory entries match user {username}"))),
        }
    }

    async fn user_entries(&self, s: &LdapSettings, filter: &str) -> Result<Vec<DirectoryUser>, LdapError> {
        let attrs = vec![s.uid.as_str(), "mail", "displayName", "cn", s.membership_attribute.as_str()];
        let entries = self.search(s, &s.base_dn, s.scope, filter, attrs).await?;
        let first = |e: &SearchEntry, a: &str| {
            e.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(a)).and_then(|(_, v)| v.first().cloned())
        };
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                let username = first(&e, &s.uid)?;
                let groups = e
                    .attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&s.membership_attribute))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                Some(DirectoryUser {
                    email: first(&e, "mail").unwrap_or_default(),
                    realname: first(&e, "displayName")
                        .or_else(|| first(&e, "cn"))
                        .unwrap_or_else(|| username.clone()),
                    username,
                    groups,
                    dn: e.dn,
                })
            })
            .collect())
    }

    /// Checks `password` for `username`: their entry is found with the search DN, then bound
    /// as. `Ok(None)`: no such user, or the wrong password.
    pub async fn authenticate(
        &self,
        s: &LdapSettings,
        username: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, LdapError> {
        // An empty password is an unauthenticated bind, which servers accept for any DN.
        if password.is_empty() {
            return Ok(None);
        }
        let Some(user) = self.user(s, username).await? else { return Ok(None) };
        let mut ldap = Self::open(s).await?;
        let bound = ldap.with_timeout(s.timeout()).simple_bind(&user.dn, password).await;
        let _ = ldap.unbind().await;
        match bound {
            Ok(r) if r.rc == 0 => Ok(Some(user)),
            // 49: invalid credentials.
            Ok(r) if r.rc == 49 => Ok(None),
            Ok(r) => Err(LdapError::Failed(format!("bind answered {}: {}", r.rc, r.text))),
            Err(e) => Err(LdapError::Unreachable(e.to_string())),
        }
    }

    /// Groups whose name contains `name` or whose DN is `dn` (either may be empty).
    pub async fn groups(
        &self,
        s: &LdapSettings,
        name: &str,
        dn: &str,
    ) -> Result<Vec<DirectoryGroup>, LdapError> {
        let attr = if s.group_attribute.is_empty() { "cn" } else { s.group_attribute.as_str() };
        let (base, scope_n, filter) = if dn.is_empty() {
            let name = if name.is_empty() { "*".to_owned() } else { format!("*{}*", ldap_escape(name)) };
            (
                s.group_base_dn.as_str(),
                s.group_scope,
                format!("(&{}({attr}={name}))", wrapped(&s.group_filter)),
            )
        } else {
            (dn, 0, format!("(&{}({attr}=*))", wrapped(&s.group_filter)))
        };
        let entries = self.search(s, base, scope_n, &filter, vec![attr]).await?;
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                let name = e.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(attr))?.1.first()?.clone();
                Some(DirectoryGroup { dn: e.dn, name })
            })
            .collect())
    }
}

/// The value of a DN's first attribute (`cn=dev\,ops,ou=groups`: `dev,ops`), unescaped.
fn first_value(dn: &str) -> Option<String> {
    let (_, rest) = dn.split_once('=')?;
    let mut value = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            ',' | '+' => break,
            c => value.push(c),
        }
    }
    let value = value.trim().to_owned();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_named_by_its_first_value_and_kept_under_the_base() {
        assert_eq!(first_value("cn=developers,ou=groups,dc=example,dc=org").as_deref(), Some("developers"));
        assert_eq!(first_value("cn=dev\\,ops,ou=groups").as_deref(), Some("dev,ops"));
        assert_eq!(first_value("nonsense"), None);
        let s = LdapSettings { group_base_dn: "ou=Groups,dc=example,dc=org".into(), ..Default::default() };
        let user = DirectoryUser {
            dn: "uid=a,ou=people,dc=example,dc=org".into(),
            username: "a".into(),
            email: String::new(),
            realname: String::new(),
            groups: vec![
                "cn=devs,ou=groups,dc=example,dc=org".into(),
                "cn=x,ou=other,dc=example,dc=org".into(),
            ],
        };
        assert_eq!(
            s.groups_of(&user),
            [("devs".to_owned(), "cn=devs,ou=groups,dc=example,dc=org".to_owned())]
        );
    }

    #[test]
    fn filters_are_wrapped_once() {
        assert_eq!(wrapped("objectClass=person"), "(objectClass=person)");
        assert_eq!(wrapped(" (objectClass=person) "), "(objectClass=person)");
        assert_eq!(wrapped(""), "");
    }

    #[tokio::test]
    async fn an_unreachable_directory_fails_fast_with_a_clear_error() {
        // A port nobody listens on: refused at once. (A black hole is bounded by the timeout.)
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let s = LdapSettings {
            url: format!("ldap://127.0.0.1:{port}"),
            search_dn: String::new(),
            search_password: String::new(),
            base_dn: "dc=x".into(),
            filter: String::new(),
            uid: "uid".into(),
            scope: 2,
            timeout: 2,
            verify_cert: true,
            start_tls: false,
            ca_cert: String::new(),
            group_base_dn: String::new(),
            group_filter: String::new(),
            group_attribute: "cn".into(),
            group_scope: 2,
            group_admin_dn: String::new(),
            membership_attribute: "memberof".into(),
        };
        let started = std::time::Instant::now();
        let e = Directory::default().authenticate(&s, "alice", "pw").await.expect_err("down");
        assert!(matches!(e, LdapError::Unreachable(_)), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        let e =
            Directory::default().ping(&LdapSettings { url: String::new(), ..s }).await.expect_err("unset");
        assert!(matches!(e, LdapError::NotConfigured));
    }
}
