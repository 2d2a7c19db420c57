//! Harbor's system configuration (`/api/v2.0/configurations`): how users sign in (`auth_mode`)
//! and the LDAP and OIDC settings, changed by system administrators at run time and stored in
//! the database, so every replica reads the same. An operator may also fix items for automation
//! (`WHARF_CONFIGURATIONS`, a JSON object of the same items): those win over the database and
//! the API reports them as not editable.
//!
//! Secrets (the LDAP search password, the OIDC client secret) are sealed with the server's key
//! before they are written and are never part of an answer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frontend::types::AuthMode;
use serde_json::{Map, Value, json};

use crate::db::{self, Db, DbError};
use crate::endpoints::seal::SealKey;

/// How long a replica answers from the items it read last: a change made on another replica
/// binds this one after at most this long (sign-ins read the mode on every check that misses
/// the credential cache, which must not cost a query each).
const FRESH_FOR: Duration = Duration::from_secs(2);

/// What an item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Bool,
    /// Text that is sealed at rest and never answered.
    Secret,
}

/// Every item: its name (Harbor's), kind and default (as JSON). `ldap_start_tls` and
/// `ldap_ca_cert` (PEM certificates to trust) are Wharf's: Harbor has no StartTLS and trusts a
/// private CA through the host's store.
const ITEMS: &[(&str, Kind, &str)] = &[
    ("auth_mode", Kind::Text, r#""db_auth""#),
    ("ldap_url", Kind::Text, r#""""#),
    ("ldap_search_dn", Kind::Text, r#""""#),
    ("ldap_search_password", Kind::Secret, r#""""#),
    ("ldap_base_dn", Kind::Text, r#""""#),
    ("ldap_filter", Kind::Text, r#""""#),
    ("ldap_uid", Kind::Text, r#""cn""#),
    ("ldap_scope", Kind::Int, "2"),
    ("ldap_timeout", Kind::Int, "5"),
    ("ldap_verify_cert", Kind::Bool, "true"),
    ("ldap_start_tls", Kind::Bool, "false"),
    ("ldap_ca_cert", Kind::Text, r#""""#),
    ("ldap_group_base_dn", Kind::Text, r#""""#),
    ("ldap_group_search_filter", Kind::Text, r#""""#),
    ("ldap_group_attribute_name", Kind::Text, r#""cn""#),
    ("ldap_group_search_scope", Kind::Int, "2"),
    ("ldap_group_admin_dn", Kind::Text, r#""""#),
    ("ldap_group_membership_attribute", Kind::Text, r#""memberof""#),
    ("oidc_name", Kind::Text, r#""""#),
    ("oidc_endpoint", Kind::Text, r#""""#),
    ("oidc_client_id", Kind::Text, r#""""#),
    ("oidc_client_secret", Kind::Secret, r#""""#),
    ("oidc_groups_claim", Kind::Text, r#""""#),
    ("oidc_admin_group", Kind::Text, r#""""#),
    ("oidc_scope", Kind::Text, r#""openid,offline_access""#),
    ("oidc_user_claim", Kind::Text, r#""""#),
    ("oidc_verify_cert", Kind::Bool, "true"),
    ("oidc_auto_onboard", Kind::Bool, "false"),
    ("oidc_logout", Kind::Bool, "false"),
    ("oidc_extra_redirect_parms", Kind::Text, r#""{}""#),
];

/// The item called `name`: its name as a `'static` and its kind.
fn item(name: &str) -> Option<(&'static str, Kind)> {
    ITEMS.iter().find(|(n, _, _)| *n == name).map(|(n, k, _)| (*n, *k))
}

/// Why a configuration call failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigurationError {
    /// An item is unknown, of the wrong type, out of range, or fixed by the operator.
    #[error("{0}")]
    Invalid(String),
    /// A stored secret cannot be unsealed (the server's key changed).
    #[error("the stored {0} cannot be unsealed: was WHARF_SECRET_KEY changed?")]
    Sealed(&'static str),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The items in force, secrets unsealed (kept in memory only).
#[derive(Debug, Clone)]
pub struct Snapshot {
    values: BTreeMap<&'static str, Value>,
}

impl Snapshot {
    /// How users sign in.
    pub fn auth_mode(&self) -> AuthMode {
        AuthMode::parse(self.text("auth_mode")).unwrap_or_default()
    }

    /// A text or secret item ("" when unset).
    pub fn text(&self, name: &str) -> &str {
        self.values.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// A number item.
    pub fn int(&self, name: &str) -> i64 {
        self.values.get(name).and_then(Value::as_i64).unwrap_or(0)
    }

    /// A flag item.
    pub fn flag(&self, name: &str) -> bool {
        self.values.get(name).and_then(Value::as_bool).unwrap_or(false)
    }
}

/// The configuration service.
#[derive(Clone)]
pub struct Configurations {
    db: Db,
    key: Arc<SealKey>,
    fixed: Arc<Map<String, Value>>,
    cached: Arc<Mutex<Option<Cached>>>,
}

/// The items last read, and when.
type Cached = (Instant, Arc<Snapshot>);

impl Configurations {
    /// The service over `db`, sealing secrets with `key`; `fixed` is the operator's JSON object
    /// of items (`WHARF_CONFIGURATIONS`), refused when it names an unknown item or a wrong type.
    pub fn new(db: Db, key: Arc<SealKey>, fixed: Option<&str>) -> Result<Self, ConfigurationError> {
        let fixed = match fixed.map(str::trim).filter(|s| !s.is_empty()) {
            None => Map::new(),
            Some(text) => {
                let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
                    return Err(ConfigurationError::Invalid(
                        "WHARF_CONFIGURATIONS must be a JSON object of configuration items".into(),
                    ));
                };
                for (name, value) in &map {
                    check(name, value)?;
                }
                map
            }
        };
        Ok(Self { db, key, fixed: Arc::new(fixed), cached: Arc::new(Mutex::new(None)) })
    }

    /// The items in force (at most [`FRESH_FOR`] old).
    pub async fn current(&self) -> Result<Arc<Snapshot>, ConfigurationError> {
        if let Ok(cached) = self.cached.lock()
            && let Some((at, snapshot)) = cached.as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return Ok(snapshot.clone());
        }
        let snapshot = Arc::new(self.read().await?);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((Instant::now(), snapshot.clone()));
        }
        Ok(snapshot)
    }

    async fn read(&self) -> Result<Snapshot, ConfigurationError> {
        let stored: BTreeMap<String, String> =
            db::configurations::all(self.db.reader()).await?.into_iter().collect();
        let mut values = BTreeMap::new();
        for (name, kind, default) in ITEMS {
            let value = if let Some(v) = self.fixed.get(*name) {
                v.clone()
            } else if let Some(v) = stored.get(*name).and_then(|s| serde_json::from_str::<Value>(s).ok()) {
                match (kind, v.as_str()) {
                    (Kind::Secret, Some(sealed)) if !sealed.is_empty() => {
                        Value::String(self.key.open(sealed).map_err(|_| ConfigurationError::Sealed(name))?)
                    }
                    _ => v,
                }
            } else {
                serde_json::from_str(default).unwrap_or(Value::Null)
            };
            values.insert(*name, value);
        }
        Ok(Snapshot { values })
    }

    /// Harbor's `ConfigurationsResponse`: every item but the secrets, as `{value, editable}`.
    /// `auth_mode` cannot change once users other than `admin` exist (as in Harbor: their
    /// accounts belong to the mode that made them).
    pub async fn answer(&self) -> Result<Value, ConfigurationError> {
        let snapshot = self.read().await?;
        let others = db::users::others_than_admin(self.db.reader()).await?;
        let mut out = Map::new();
        for (name, kind, _) in ITEMS {
            if *kind == Kind::Secret {
                continue;
            }
            let fixed = self.fixed.contains_key(*name);
            let editable = !fixed && (*name != "auth_mode" || !others);
            let value = snapshot.values.get(name).cloned().unwrap_or(Value::Null);
            out.insert((*name).to_owned(), json!({"value": value, "editable": editable}));
        }
        Ok(Value::Object(out))
    }

    /// The items in force with `changes` (Harbor's `Configurations` object) applied, without
    /// storing anything: what a "Test" button tries. Fixed items keep their value; an empty
    /// secret keeps the stored one.
    pub async fn preview(&self, changes: &Value) -> Result<Snapshot, ConfigurationError> {
        let mut snapshot = (*self.current().await?).clone();
        let Value::Object(given) = changes else {
            return Err(ConfigurationError::Invalid(
                "the body must be a JSON object of configuration items".into(),
            ));
        };
        for (name, value) in given {
            let (name, kind) = check(name, value)?;
            if self.fixed.contains_key(name) || (kind == Kind::Secret && value.as_str() == Some("")) {
                continue;
            }
            snapshot.values.insert(name, value.clone());
        }
        Ok(snapshot)
    }

    /// Applies Harbor's `Configurations` object `body`: only the items it names change; an
    /// unknown, mistyped or fixed item refuses the whole update.
    pub async fn update(&self, body: &Value) -> Result<(), ConfigurationError> {
        let Value::Object(given) = body else {
            return Err(ConfigurationError::Invalid(
                "the body must be a JSON object of configuration items".into(),
            ));
        };
        let mut items: Vec<(&str, String)> = Vec::with_capacity(given.len());
        for (name, value) in given {
            let (name, kind) = check(name, value)?;
            if self.fixed.contains_key(name) {
                return Err(ConfigurationError::Invalid(format!(
                    "{name} is set by the server's configuration (WHARF_CONFIGURATIONS) and cannot be changed here"
                )));
            }
            let stored = match (kind, value.as_str()) {
                (Kind::Secret, Some(plain)) if !plain.is_empty() => Value::String(self.key.seal(plain)),
                _ => value.clone(),
            };
            items.push((name, stored.to_string()));
        }
        let mut tx = self.db.begin().await?;
        if let Some(mode) = given.get("auth_mode").and_then(Value::as_str) {
            let current = self.read().await?.auth_mode();
            if current.as_str() != mode && db::users::others_than_admin(&mut *tx).await? {
                return Err(ConfigurationError::Invalid(
                    "auth_mode can only change while admin is the only user".into(),
                ));
            }
        }
        db::configurations::put(&mut tx, &items).await?;
        tx.commit().await.map_err(DbError::from)?;
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
        Ok(())
    }
}

/// Item `name`'s value from an HTML form's text: numbers parsed, a checkbox's "on" true and an
/// absent checkbox false, text as given (trimmed, but for certificates and secrets).
pub fn from_form(name: &str, raw: Option<&str>) -> Result<Value, ConfigurationError> {
    let (name, kind) = item(name)
        .ok_or_else(|| ConfigurationError::Invalid(format!("unknown configuration item {name}")))?;
    Ok(match kind {
        Kind::Bool => Value::Bool(raw.is_some_and(|v| matches!(v, "on" | "true" | "1"))),
        Kind::Int => {
            let raw = raw.unwrap_or("").trim();
            Value::from(
                raw.parse::<i64>()
                    .map_err(|_| ConfigurationError::Invalid(format!("{name} must be a whole number")))?,
            )
        }
        Kind::Secret => Value::String(raw.unwrap_or("").to_owned()),
        Kind::Text if name == "ldap_ca_cert" => Value::String(raw.unwrap_or("").to_owned()),
        Kind::Text => Value::String(raw.unwrap_or("").trim().to_owned()),
    })
}

/// Checks that `value` suits item `name`; returns its kind.
fn check(name: &str, value: &Value) -> Result<(&'static str, Kind), ConfigurationError> {
    let (name, kind) = item(name)
        .ok_or_else(|| ConfigurationError::Invalid(format!("unknown configuration item {name}")))?;
    let ok = match kind {
        Kind::Text | Kind::Secret => value.is_string(),
        Kind::Int => value.as_i64().is_some(),
        Kind::Bool => value.is_boolean(),
    };
    if !ok {
        let expected = match kind {
            Kind::Text | Kind::Secret => "a string",
            Kind::Int => "an integer",
            Kind::Bool => "true or false",
        };
        return Err(ConfigurationError::Invalid(format!("{name} must be {expected}")));
    }
    match name {
        "auth_mode" if value.as_str().and_then(AuthMode::parse).is_none() => {
            Err(ConfigurationError::Invalid("auth_mode must be db_auth, ldap_auth or oidc_auth".into()))
        }
        "ldap_scope" | "ldap_group_search_scope" if !(0..=2).contains(&value.as_i64().unwrap_or(-1)) => {
            Err(ConfigurationError::Invalid(format!("{name} must be 0 (base), 1 (one level) or 2 (subtree)")))
        }
        "ldap_ca_cert" if !value.as_str().unwrap_or("").trim().is_empty() => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let pem = value.as_str().unwrap_or("");
            let invalid = |e: String| {
                ConfigurationError::Invalid(format!("ldap_ca_cert is not a valid certificate: {e}"))
            };
            // Each certificate parsed as the TLS client will parse it.
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.map_err(|e| invalid(e.to_string()))?).map_err(|e| invalid(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(ConfigurationError::Invalid(
                    "ldap_ca_cert holds no certificate: paste PEM (-----BEGIN CERTIFICATE-----)".into(),
                ));
            }
            Ok((name, kind))
        }
        "ldap_timeout" if !(1..=300).contains(&value.as_i64().unwrap_or(0)) => {
            Err(ConfigurationError::Invalid("ldap_timeout must be 1 to 300 seconds".into()))
        }
        "oidc_extra_redirect_parms" => {
            let text = value.as_str().unwrap_or("");
            match serde_json::from_str::<serde_json::Map<String, Value>>(if text.is_empty() { "{}" } else { text }) {
                Ok(map) if map.values().all(Value::is_string) => Ok((name, kind)),
                _ => Err(ConfigurationError::Invalid(
                    "oidc_extra_redirect_parms must be a JSON object of strings, as {\"access_type\": \"offline\"}"
                        .into(),
                )),
            }
        }
        "ldap_url" | "oidc_endpoint" if !value.as_str().unwrap_or("").is_empty() => {
            let url = value.as_str().unwrap_or("");
            let schemes: &[&str] =
                if name == "ldap_url" { &["ldap://", "ldaps://"] } else { &["https://", "http://"] };
            if schemes.iter().any(|s| url.starts_with(s)) {
                Ok((name, kind))
            } else {
                Err(ConfigurationError::Invalid(format!("{name} must start with {}", schemes.join(" or "))))
            }
        }
        _ => Ok((name, kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn service(fixed: Option<&str>) -> (tempfile::TempDir, Configurations) {
        let (dir, db) = crate::db::testing::sqlite().await;
        let key = Arc::new(SealKey::from_setting("test key"));
        (dir, Configurations::new(db, key, fixed).expect("service"))
    }

    #[tokio::test]
    async fn defaults_updates_and_sealed_secrets() {
        let (_dir, c) = service(None).await;
        assert_eq!(c.current().await.expect("read").auth_mode(), AuthMode::Database);
        c.update(&json!({"auth_mode": "ldap_auth", "ldap_url": "ldap://dir:389", "ldap_search_password": "s3cret", "ldap_scope": 1}))
            .await
            .expect("update");
        let now = c.current().await.expect("read");
        assert_eq!(now.auth_mode(), AuthMode::Ldap);
        assert_eq!(
            (now.text("ldap_url"), now.int("ldap_scope"), now.text("ldap_search_password")),
            ("ldap://dir:389", 1, "s3cret")
        );
        let stored: Vec<(String, String)> = db::configurations::all(c.db.reader()).await.expect("rows");
        assert!(
            stored.iter().all(|(_, v)| !v.contains("s3cret")),
            "the secret is sealed at rest: {stored:?}"
        );
        let answer = c.answer().await.expect("answer");
        assert_eq!(answer["auth_mode"], json!({"value": "ldap_auth", "editable": true}));
        assert!(answer.get("ldap_search_password").is_none() && !answer.to_string().contains("s3cret"));
    }

    #[tokio::test]
    async fn wrong_items_are_refused_whole() {
        let (_dir, c) = service(None).await;
        for bad in [
            json!({"nope": 1}),
            json!({"ldap_scope": "2"}),
            json!({"ldap_scope": 7}),
            json!({"auth_mode": "magic"}),
            json!({"ldap_url": "http://dir"}),
            json!({"ldap_verify_cert": "yes"}),
            json!({"ldap_uid": "uid", "ldap_timeout": 0}),
            json!([1]),
        ] {
            assert!(matches!(c.update(&bad).await, Err(ConfigurationError::Invalid(_))), "{bad}");
        }
        assert_eq!(
            c.current().await.expect("read").text("ldap_uid"),
            "cn",
            "nothing of a refused update stays"
        );
    }

    #[tokio::test]
    async fn operator_fixed_items_win_and_are_not_editable() {
        assert!(
            Configurations::new(
                crate::db::testing::sqlite().await.1,
                Arc::new(SealKey::from_setting("k")),
                Some(r#"{"ldap_scope": "x"}"#)
            )
            .is_err()
        );
        let (_dir, c) = service(Some(r#"{"auth_mode": "ldap_auth", "ldap_uid": "uid"}"#)).await;
        let now = c.current().await.expect("read");
        assert_eq!((now.auth_mode(), now.text("ldap_uid")), (AuthMode::Ldap, "uid"));
        assert!(matches!(c.update(&json!({"ldap_uid": "cn"})).await, Err(ConfigurationError::Invalid(_))));
        assert_eq!(c.answer().await.expect("answer")["ldap_uid"], json!({"value": "uid", "editable": false}));
    }
}
