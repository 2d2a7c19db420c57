//! The OCI Distribution API under `/v2`.
//!
//! Handlers (in `handlers`) parse the request and call one method of [`Registry`]; the domain
//! methods hold the rules and call `db` for rows and `storage` for bytes. This module never
//! writes SQL itself.

pub mod blobs;
pub mod content_range;
pub mod error;
pub mod grants;
pub mod group;
pub mod handlers;
pub mod manifests;
pub mod proxy;
pub mod pull_cache;
pub mod route;
pub mod uploads;

use crate::auth::{Action, Caller, Identity, allowed};
use crate::db::{self, Db};
use crate::oci::reference::RepoName;
use crate::storage::BlobStore;
use error::RegistryError;

/// The registry's domain services over the database and the blob store.
#[derive(Clone)]
pub struct Registry {
    db: Db,
    store: BlobStore,
    hashes: std::sync::Arc<uploads::HashCache>,
    /// How often a HEAD restarts a blob's grace window (see [`Registry::check_blob`]).
    touch_every_ms: i64,
    /// Upload sessions one account may keep active at once.
    max_uploads: i64,
    /// Pushes, pulls and deletes are recorded here.
    auditor: crate::audit::Auditor,
    /// Proxy-cache projects' upstream fetches.
    proxy: Option<std::sync::Arc<proxy::Proxy>>,
    /// Pushes and deletes, for whoever listens (event-based replication).
    events: tokio::sync::broadcast::Sender<RegistryEvent>,
    /// The registry host clients use, for the resource URLs webhook events carry.
    host: std::sync::Arc<str>,
    /// Percent of a project's limit at which a push reports `QUOTA_WARNING`.
    quota_warning: u8,
    /// Compiled immutability rules by project and version.
    rules: crate::immutable::RulesCache,
    /// Repositories' full names and creation times by id (they never change).
    names: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, RepoIdentity>>>,
    /// Manifest pulls' database reads while nothing changed.
    pulls: pull_cache::PullCache,
}

/// A repository's full name and creation time.
type RepoIdentity = (std::sync::Arc<str>, i64);

/// Something that changed a repository's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A manifest was stored (pushed or copied), with the tags it got.
    Pushed {
        /// The repository.
        repository_id: i64,
        /// The manifest's digest.
        digest: String,
        /// The tags it got.
        tags: Vec<String>,
    },
    /// A manifest was deleted with its tags.
    Deleted {
        /// The repository's full name.
        repository: String,
        /// The manifest's digest.
        digest: String,
    },
}

/// Whether `caller` may perform `action` on `name`, given what the database knows of its project
/// (`None`: no such project). Returns the project's access row when allowed.
pub(crate) fn decide(
    caller: &Caller,
    name: &RepoName,
    action: Action,
    access: Option<db::projects::ProjectAccess>,
) -> Result<db::projects::ProjectAccess, RegistryError> {
    let who = &caller.identity;
    let Some(access) = access else {
        // Anonymous callers learn nothing about which projects exist.
        return Err(match who {
            Identity::Anonymous => RegistryError::Unauthorized,
            Identity::User { .. } | Identity::Robot { .. } => {
                RegistryError::NameUnknown(format!("project {} does not exist", name.project()))
            }
        });
    };
    let account_may = allowed(who, access.project_id, access.public, access.role, action);
    let permitted = match &caller.token {
        Some(claims) => claims.allows(name.as_str(), action.as_str()),
        None => account_may,
    };
    if permitted {
        Ok(access)
    } else if account_may {
        Err(RegistryError::Unauthorized)
    } else {
        Err(match who {
            Identity::Anonymous => RegistryError::Unauthorized,
            Identity::User { .. } | Identity::Robot { .. } => RegistryError::Denied,
        })
    }
}

/// A repository the caller was allowed to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoCtx {
    /// The repository's id.
    pub repository_id: i64,
    /// Its project's id.
    pub project_id: i64,
    /// The upstream endpoint, when the project is a proxy cache.
    pub proxy: Option<i64>,
    /// The project is a group: its pulls are answered by its members (`repository_id` is 0).
    pub group: bool,
}

impl Registry {
    /// The registry over `db` and `store`, recording to `auditor`; `gc_grace` is the
    /// collector's grace window, which HEADs keep restarting for blobs in use.
    /// Counts manifest pulls answered from memory and read from the database in `metrics`.
    pub fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.pulls = self.pulls.with_counters(metrics.pull_cache_counters());
        self
    }

    pub fn new(
        db: Db,
        store: BlobStore,
        gc_grace: std::time::Duration,
        auditor: crate::audit::Auditor,
    ) -> Self {
        // Often enough that a blob a client is about to reference never ages past the window,
        // rarely enough that HEADs do not write on every request: at most once a minute.
        let touch_every_ms = (gc_grace.as_millis() as i64 / 4).min(60_000);
        Self {
            pulls: pull_cache::PullCache::new(db.changes().clone()),
            db,
            store,
            hashes: Default::default(),
            touch_every_ms,
            max_uploads: i64::MAX,
            auditor,
            proxy: None,
            // Listeners that fall this far behind lose the oldest events (and log it).
            events: tokio::sync::broadcast::channel(1024).0,
            host: std::sync::Arc::from(""),
            quota_warning: 85,
            rules: Default::default(),
            names: Default::default(),
        }
    }

    /// Names `host` in webhook events and warns at `quota_warning` percent of a project's limit.
    pub fn with_notices(mut self, host: &str, quota_warning: u8) -> Self {
        self.host = std::sync::Arc::from(host);
        self.quota_warning = quota_warning;
        self
    }

    /// Pushes and deletes from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }

    /// Serves proxy-cache projects from the upstreams in `endpoints`, spooling fetches under
    /// `spool`.
    pub fn with_proxy(mut self, endpoints: crate::endpoints::Endpoints, spool: std::path::PathBuf) -> Self {
        self.proxy = Some(std::sync::Arc::new(proxy::Proxy::new(endpoints, spool)));
        self
    }

    /// Limits the upload sessions one account may keep active at once.
    pub fn with_max_uploads(mut self, max: usize) -> Self {
        self.max_uploads = i64::try_from(max).unwrap_or(i64::MAX).max(1);
        self
    }

    /// Checks that `caller` may perform `action` on repository `name` and resolves it. Pushing
    /// creates the repository; the other actions need it to exist.
    ///
    /// A caller with a bearer token is limited to what the token grants. When the token lacks an
    /// action the caller's account would be allowed, the answer is 401 so the client fetches a
    /// token with the wider scope; when the account is not allowed either, it is 403.
    pub async fn authorize(
        &self,
        caller: &Caller,
        name: &RepoName,
        action: Action,
    ) -> Result<RepoCtx, RegistryError> {
        self.authorize_existing(caller, name, action)
            .await?
            .ok_or_else(|| RegistryError::NameUnknown(name.to_string()))
    }

    /// As [`Self::authorize`], but `None` when the caller may read the project and the repository
    /// has no content yet (the referrers API answers an empty index there, not an error).
    pub async fn authorize_existing(
        &self,
        caller: &Caller,
        name: &RepoName,
        action: Action,
    ) -> Result<Option<RepoCtx>, RegistryError> {
        let access =
            db::projects::access(self.db.reader(), name.project(), name.as_str(), caller.identity.user_id())
                .await?;
        let access = decide(caller, name, action, access)?;
        if let (Some(upstream), Action::Push) = (access.registry_id, action) {
            return Err(self.read_only(name.project(), upstream).await);
        }
        if access.is_group {
            return match action {
                Action::Pull => Ok(Some(RepoCtx {
                    repository_id: 0,
                    project_id: access.project_id,
                    proxy: None,
                    group: true,
                })),
                _ => Err(RegistryError::GroupReadOnly(name.project().to_owned())),
            };
        }
        let repository_id = match (access.repository_id, action) {
            (Some(id), _) => id,
            // A proxy cache's repositories appear on first pull.
            (None, Action::Pull) if access.registry_id.is_some() => {
                db::repositories::ensure(self.db.writer(), access.project_id, name.as_str()).await?
            }
            (None, Action::Push) => {
                db::repositories::ensure(self.db.writer(), access.project_id, name.as_str()).await?
            }
            (None, _) => return Ok(None),
        };
        Ok(Some(RepoCtx {
            repository_id,
            project_id: access.project_id,
            proxy: access.registry_id,
            group: false,
        }))
    }

    /// Repository names for `GET /v2/_catalog` that `who` may see, after `last`, at most `n`.
    pub async fn catalog(
        &self,
        who: &Identity,
        last: Option<&str>,
        n: i64,
    ) -> Result<Vec<String>, RegistryError> {
        let visible = match who {
            Identity::User { sysadmin: true, .. } => None,
            Identity::Robot { scope, .. } if scope.projects().is_none() => None,
            _ => {
                let mut ids = db::projects::readable_ids(self.db.reader(), who.user_id()).await?;
                if let Identity::Robot { scope, .. } = who {
                    ids.extend(scope.projects().unwrap_or_default());
                }
                Some(ids)
            }
        };
        Ok(db::repositories::catalog(self.db.reader(), visible.as_deref(), last, n).await?)
    }

    /// Tag names of a repository, after `last`, at most `n`.
    pub async fn tags(
        &self,
        repo: RepoCtx,
        name: &RepoName,
        last: Option<&str>,
        n: i64,
    ) -> Result<Vec<String>, RegistryError> {
        if repo.group {
            return self.group_tags(repo, name, last, n).await;
        }
        Ok(db::tags::list(self.db.reader(), repo.repository_id, last, n).await?)
    }
}
