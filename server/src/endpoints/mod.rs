//! Registry endpoints (Harbor's "registries"): the other registries Wharf pulls from as a proxy
//! cache and replicates to and from. System administrators manage them; their credentials are
//! sealed at rest ([`seal`]) and never leave this module in the clear except into a
//! [`client::RegistryClient`].

pub mod client;
pub mod seal;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::{ClientError, RegistryClient, Target};
use seal::SealKey;

use crate::config::{ExposeSecret, Secret};
use crate::db::registries::{RegistryFields, RegistryRow};
use crate::db::{self, Db};
use crate::identity::Identity;
use frontend::types::{EndpointHealth, RegistryKind};

/// How often every endpoint's health is checked in the background.
pub const HEALTH_EVERY: Duration = Duration::from_secs(300);

/// A refused or failed endpoint request.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The caller must sign in.
    #[error("sign in first")]
    Unauthorized,
    /// Only system administrators manage endpoints.
    #[error("only system administrators manage registry endpoints")]
    Forbidden,
    /// No such endpoint.
    #[error("registry {0} not found")]
    NotFound(i64),
    /// The name is taken.
    #[error("a registry named {0:?} already exists")]
    Exists(String),
    /// A field breaks the rules.
    #[error("{0}")]
    Invalid(String),
    /// Projects or policies still use it.
    #[error("registry {0} is in use by {1}: remove them first")]
    InUse(String, String),
    /// The registry did not answer as it should.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A stored credential cannot be opened.
    #[error(transparent)]
    Seal(#[from] seal::SealError),
    /// A database failure.
    #[error("database failure")]
    Db,
}

impl From<db::DbError> for EndpointError {
    fn from(e: db::DbError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Db
    }
}

/// An endpoint as callers see it: the secret only as "there is one".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// What it is.
    pub kind: RegistryKind,
    /// Free text.
    pub description: String,
    /// TLS verification is skipped.
    pub insecure: bool,
    /// User name; empty for anonymous access.
    pub access_key: String,
    /// Whether a secret is stored.
    pub has_secret: bool,
    /// What the last check found.
    pub status: EndpointHealth,
    /// When it was last checked, unix ms.
    pub checked_at: Option<i64>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

impl From<RegistryRow> for Endpoint {
    fn from(r: RegistryRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            url: r.url,
            kind: r.kind,
            description: r.description,
            insecure: r.insecure,
            access_key: r.access_key,
            has_secret: !r.access_secret.is_empty(),
            status: r.status,
            checked_at: r.checked_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new endpoint, or the complete fields of a changed one.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    /// Unique name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// What it is.
    pub kind: RegistryKind,
    /// Free text.
    pub description: String,
    /// Skip TLS verification.
    pub insecure: bool,
    /// User name; empty for anonymous access.
    pub access_key: String,
    /// Password or token; `None` on a change keeps the stored one.
    pub access_secret: Option<Secret>,
}

/// Changes to an endpoint; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    /// New name.
    pub name: Option<String>,
    /// New URL.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New TLS choice.
    pub insecure: Option<bool>,
    /// New user name.
    pub access_key: Option<String>,
    /// New secret.
    pub access_secret: Option<Secret>,
}

/// What an endpoint supports (Harbor's `RegistryInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    /// Its kind.
    pub kind: RegistryKind,
    /// Its description.
    pub description: String,
    /// The replication filters it supports: (type, style).
    pub filters: Vec<(&'static str, &'static str)>,
    /// The replication triggers it supports.
    pub triggers: Vec<&'static str>,
}

/// A client, with the endpoint's `updated_at` it was made for.
type CachedClient = (i64, Arc<RegistryClient>);

/// Registry endpoint services.
#[derive(Clone)]
pub struct Endpoints {
    db: Db,
    key: Arc<SealKey>,
    /// One client per endpoint (tokens are cached in it), dropped when the endpoint changes.
    clients: Arc<Mutex<HashMap<i64, CachedClient>>>,
}

fn admin_only(who: &Identity) -> Result<(), EndpointError> {
    match who {
        Identity::Anonymous => Err(EndpointError::Unauthorized),
        w if w.is_sysadmin() => Ok(()),
        _ => Err(EndpointError::Forbidden),
    }
}

/// A URL without the trailing slash, checked to be one.
fn clean_url(url: &str) -> Result<String, EndpointError> {
    let url = url.trim().trim_end_matches('/');
    let parsed =
        reqwest::Url::parse(url).map_err(|e| EndpointError::Invalid(format!("invalid URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(EndpointError::Invalid(format!(
            "invalid URL {url:?}: use http:// or https:// and a host"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(EndpointError::Invalid(
            "put credentials in access_key and access_secret, not in the URL".into(),
        ));
    }
    Ok(url.to_owned())
}

fn check_name(name: &str) -> Result<(), EndpointError> {
    if name.trim().is_empty() || name.len() > 255 {
        return Err(EndpointError::Invalid("the name must have 1 to 255 characters".into()));
    }
    Ok(())
}

impl Endpoints {
    /// The service over `db`, sealing credentials with `key`.
    pub fn new(db: Db, key: Arc<SealKey>) -> Self {
        Self { db, key, clients: Default::default() }
    }

    /// One page of the endpoints whose name contains `name`, and their total.
    pub async fn list(
        &self,
        who: &Identity,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Endpoint>, i64), EndpointError> {
        admin_only(who)?;
        let rows = db::registries::list(self.db.reader(), name, offset, limit).await?;
        let total = db::registries::count(self.db.reader(), name).await?;
        Ok((rows.into_iter().map(Endpoint::from).collect(), total))
    }

    /// Endpoint `id`.
    pub async fn get(&self, who: &Identity, id: i64) -> Result<Endpoint, EndpointError> {
        admin_only(who)?;
        Ok(self.row(id).await?.into())
    }

    async fn row(&self, id: i64) -> Result<RegistryRow, EndpointError> {
        db::registries::get(self.db.reader(), id).await?.ok_or(EndpointError::NotFound(id))
    }

    /// Creates an endpoint; returns its id. Its health is checked right after, in the
    /// background.
    pub async fn create(&self, who: &Identity, spec: &EndpointSpec) -> Result<i64, EndpointError> {
        admin_only(who)?;
        check_name(&spec.name)?;
        let url = clean_url(&spec.url)?;
        let sealed =
            spec.access_secret.as_ref().map(|s| self.key.seal(s.expose_secret())).unwrap_or_default();
        let fields = RegistryFields {
            name: spec.name.trim(),
            url: &url,
            kind: spec.kind,
            description: &spec.description,
            insecure: spec.insecure,
            access_key: spec.access_key.trim(),
            access_secret: &sealed,
        };
        let id = match db::registries::insert(self.db.writer(), &fields).await {
            Err(e) if e.is_unique_violation() => return Err(EndpointError::Exists(spec.name.clone())),
            other => other?,
        };
        let me = self.clone();
        tokio::spawn(async move { me.check(id).await });
        Ok(id)
    }

    /// Changes endpoint `id`.
    pub async fn update(&self, who: &Identity, id: i64, patch: &EndpointPatch) -> Result<(), EndpointError> {
        admin_only(who)?;
        let row = self.row(id).await?;
        let name = patch.name.clone().unwrap_or(row.name);
        check_name(&name)?;
        let url = clean_url(patch.url.as_deref().unwrap_or(&row.url))?;
        let sealed = match &patch.access_secret {
            Some(s) => self.key.seal(s.expose_secret()),
            None => row.access_secret,
        };
        let access_key = patch.access_key.clone().unwrap_or(row.access_key);
        // Anonymous access keeps no secret.
        let sealed = if access_key.trim().is_empty() { String::new() } else { sealed };
        let fields = RegistryFields {
            name: name.trim(),
            url: &url,
            kind: row.kind,
            description: patch.description.as_deref().unwrap_or(&row.description),
            insecure: patch.insecure.unwrap_or(row.insecure),
            access_key: access_key.trim(),
            access_secret: &sealed,
        };
        match db::registries::update(self.db.writer(), id, &fields).await {
            Err(e) if e.is_unique_violation() => return Err(EndpointError::Exists(name)),
            Ok(false) => return Err(EndpointError::NotFound(id)),
            other => {
                other?;
            }
        }
        if let Ok(mut c) = self.clients.lock() {
            c.remove(&id);
        }
        let me = self.clone();
        tokio::spawn(async move { me.check(id).await });
        Ok(())
    }

    /// Deletes endpoint `id`, unless a project proxies it.
    pub async fn delete(&self, who: &Identity, id: i64) -> Result<(), EndpointError> {
        admin_only(who)?;
        let row = self.row(id).await?;
        let projects = db::registries::proxy_projects(self.db.reader(), id).await?;
        let policies = db::replication::policies_using(self.db.reader(), id).await?;
        if !projects.is_empty() || !policies.is_empty() {
            let list = projects
                .iter()
                .map(|p| format!("proxy-cache project {p}"))
                .chain(policies.iter().map(|p| format!("replication policy {p}")))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(EndpointError::InUse(row.name, list));
        }
        match db::registries::delete(self.db.writer(), id).await {
            // A proxy project or a policy created since the check above.
            Err(e) if e.is_foreign_key_violation() => {
                return Err(EndpointError::InUse(
                    row.name,
                    "a proxy-cache project or replication policy".into(),
                ));
            }
            other => {
                if !other? {
                    return Err(EndpointError::NotFound(id));
                }
            }
        }
        if let Ok(mut c) = self.clients.lock() {
            c.remove(&id);
        }
        Ok(())
    }

    /// Checks that a registry answers with the given settings (Harbor's `POST /registries/ping`).
    /// With `id`, unset settings come from that endpoint (the stored secret included).
    pub async fn ping(
        &self,
        who: &Identity,
        id: Option<i64>,
        kind: Option<RegistryKind>,
        patch: &EndpointPatch,
    ) -> Result<(), EndpointError> {
        admin_only(who)?;
        let stored = match id {
            Some(id) => Some(self.row(id).await?),
            None => None,
        };
        let url = match (&patch.url, &stored) {
            (Some(u), _) => clean_url(u)?,
            (None, Some(r)) => r.url.clone(),
            (None, None) => return Err(EndpointError::Invalid("url is required".into())),
        };
        let access_key = patch
            .access_key
            .clone()
            .or_else(|| stored.as_ref().map(|r| r.access_key.clone()))
            .unwrap_or_default();
        let access_secret = match (&patch.access_secret, &stored) {
            (Some(s), _) => s.clone(),
            (None, Some(r)) => Secret::from(self.key.open(&r.access_secret)?),
            (None, None) => Secret::from(""),
        };
        let target = Target {
            url,
            kind: kind.or(stored.as_ref().map(|r| r.kind)).unwrap_or(RegistryKind::DockerRegistry),
            insecure: patch.insecure.or(stored.as_ref().map(|r| r.insecure)).unwrap_or(false),
            access_key: access_key.trim().to_owned(),
            access_secret,
        };
        RegistryClient::new(&target)?.ping().await?;
        Ok(())
    }

    /// What endpoint `id` supports for replication.
    pub async fn info(&self, who: &Identity, id: i64) -> Result<EndpointInfo, EndpointError> {
        admin_only(who)?;
        let row = self.row(id).await?;
        Ok(EndpointInfo {
            kind: row.kind,
            description: row.description,
            filters: vec![("name", "input"), ("tag", "input"), ("resource", "radio")],
            triggers: vec!["manual", "scheduled", "event_based"],
        })
    }

    /// The name and URL of endpoint `id` (what a proxy project's page shows its members; no
    /// credentials).
    pub async fn describe(&self, id: i64) -> Result<(String, String), EndpointError> {
        let row = self.row(id).await?;
        Ok((row.name, row.url))
    }

    /// The client of endpoint `id` (for the proxy cache and replication; no permission check:
    /// the callers have made theirs).
    pub async fn client(&self, id: i64) -> Result<Arc<RegistryClient>, EndpointError> {
        let row = self.row(id).await?;
        if let Ok(c) = self.clients.lock()
            && let Some((at, client)) = c.get(&id)
            && *at == row.updated_at
        {
            return Ok(client.clone());
        }
        let target = Target {
            url: row.url.clone(),
            kind: row.kind,
            insecure: row.insecure,
            access_key: row.access_key.clone(),
            access_secret: Secret::from(self.key.open(&row.access_secret)?),
        };
        let client = Arc::new(RegistryClient::new(&target)?);
        if let Ok(mut c) = self.clients.lock() {
            c.insert(id, (row.updated_at, client.clone()));
        }
        Ok(client)
    }

    /// Checks endpoint `id` and records what was found.
    pub async fn check(&self, id: i64) -> EndpointHealth {
        let health = match self.client(id).await {
            Ok(c) => match c.ping().await {
                Ok(()) => EndpointHealth::Healthy,
                Err(e) => {
                    tracing::info!(registry = id, error = %e, "registry endpoint is unhealthy");
                    EndpointHealth::Unhealthy
                }
            },
            Err(EndpointError::NotFound(_)) => return EndpointHealth::Unknown,
            Err(e) => {
                tracing::warn!(registry = id, error = %e, "registry endpoint cannot be checked");
                EndpointHealth::Unhealthy
            }
        };
        if let Err(e) = db::registries::set_status(self.db.writer(), id, health).await {
            tracing::warn!(registry = id, error = %e, "recording a registry's health failed");
        }
        health
    }

    /// Checks every endpoint every `every`, forever (each replica runs it; a check is a GET).
    pub fn spawn_health_checks(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let ids = match db::registries::ids(me.db.reader()).await {
                    Ok(ids) => ids,
                    Err(e) => {
                        tracing::warn!(error = %e, "listing registry endpoints failed");
                        continue;
                    }
                };
                for id in ids {
                    me.check(id).await;
                }
            }
        })
    }
}
