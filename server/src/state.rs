//! Everything a request handler may use, and how it is opened from the configuration. Its own
//! module so that handlers depend on the state, not on the router that mounts them.

use std::sync::Arc;

use crate::artifacts::Artifacts;
use crate::audit::Auditor;
use crate::auth::Authenticator;
use crate::auth::token::TokenSigner;
use crate::config::{Config, ExposeSecret};
use crate::db::Db;
use crate::endpoints::Endpoints;
use crate::endpoints::seal::SealKey;
use crate::gc::GcService;
use crate::gc::collector::Collector;
use crate::jobs::scheduler::{self, Jobs};
use crate::projects::Projects;
use crate::registry::Registry;
use crate::retention::RetentionService;
use crate::storage::BlobStore;
use crate::users::Users;

/// Everything a request handler may use: one shared [`Services`], so the clone every request
/// makes (axum's `State`, the registry's request) is one reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    /// Registry services.
    pub registry: Registry,
    /// Credential checks.
    pub auth: Arc<Authenticator>,
    /// Project services.
    pub projects: Projects,
    /// User services.
    pub users: Users,
    /// Repository, artifact and tag browsing.
    pub artifacts: Artifacts,
    /// Project summaries and the administrators' dashboard.
    pub dashboards: crate::dashboard::Dashboards,
    /// Looking inside images (layer files, merged filesystem, comparison).
    pub inspector: crate::inspect::Inspector,
    /// The database.
    pub db: Db,
    /// The blob store.
    pub store: BlobStore,
    /// The resolved configuration.
    pub config: Arc<Config>,
    /// The audit log and pull statistics.
    pub auditor: Auditor,
    /// Garbage collection.
    pub gc: GcService,
    /// Tag retention.
    pub retention: RetentionService,
    /// Tag immutability rules.
    pub immutability: crate::immutable::Immutability,
    /// Webhook policies and deliveries.
    pub webhooks: crate::webhooks::Webhooks,
    /// Audit log retention.
    pub purge: crate::purge::PurgeService,
    /// Labels.
    pub labels: crate::labels::Labels,
    /// Registry endpoints (proxy upstreams, replication peers).
    pub endpoints: crate::endpoints::Endpoints,
    /// Replication policies and executions.
    pub replication: crate::replication::ReplicationService,
    /// Request and transfer counters for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Web portal sessions.
    pub sessions: crate::auth::session::UiSessions,
    /// Run-time system configuration (authentication mode, LDAP, OIDC).
    pub configurations: crate::configurations::Configurations,
    /// The key secrets at rest (and the OIDC sign-in cookie) are sealed with.
    pub seal_key: Arc<SealKey>,
    /// How the portal's pages are served.
    pub leptos: leptos::prelude::LeptosOptions,
}

/// A startup failure.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Db(#[from] crate::db::DbError),
    /// The blob store could not be opened.
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// `WHARF_CONFIGURATIONS` is not a valid set of configuration items.
    #[error("WHARF_CONFIGURATIONS: {0}")]
    Configurations(#[from] crate::configurations::ConfigurationError),
    /// The first-start setup failed.
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
    /// The key sealing endpoint credentials cannot be read or created.
    #[error("secret key: {0}")]
    SecretKey(#[from] crate::endpoints::seal::SealError),
    /// Listening or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Creates `dir` (and its parents) when missing, the last part readable by its owner only: it
/// holds the database and the blobs.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

impl AppState {
    /// Opens the database and blob store named in `config` and runs the first-start setup.
    pub async fn init(config: Config) -> Result<Self, StartError> {
        // The build holds more than one TLS provider (through its HTTP and LDAP clients), so
        // rustls cannot pick one for clients that do not name theirs: ring, for all. Installed
        // once per process; a later call changes nothing.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if config.storage_url.starts_with(&*config.data_dir.to_string_lossy())
            || config.database_url.expose_secret().contains(&*config.data_dir.to_string_lossy())
        {
            create_private_dir(&config.data_dir)?;
        }
        let db = Db::connect(config.database_url.expose_secret()).await?;
        let store = BlobStore::open(&config.storage_url, config.storage_fsync)?;
        crate::bootstrap::run(&db, config.admin_password.as_ref()).await?;
        let signer = TokenSigner::new(crate::bootstrap::signing_key(&db).await?);
        let auditor = Auditor::start_for(db.clone(), config.registry_host());
        let key = match &config.secret_key {
            Some(k) => SealKey::from_setting(k.expose_secret()),
            None => SealKey::from_dir(&config.data_dir)?,
        };
        let key = Arc::new(key);
        let endpoints = Endpoints::new(db.clone(), key.clone());
        let metrics = crate::metrics::Metrics::default();
        let registry = Registry::new(db.clone(), store.clone(), config.gc_grace, auditor.clone())
            .with_metrics(&metrics)
            .with_max_uploads(config.max_uploads)
            .with_notices(config.registry_host(), config.quota_warning)
            .with_proxy(endpoints.clone(), config.data_dir.join("proxy-spool"));
        let projects =
            Projects::new(db.clone(), auditor.clone()).with_default_quota(config.storage_per_project);
        let db_for_sessions = db.clone();
        let (db_for_rules, projects_for_rules) = (db.clone(), projects.clone());
        let db_for_purge = db.clone();
        let (db_for_labels, projects_for_labels) = (db.clone(), projects.clone());
        let secure = config.tls.is_some() || config.external_url.starts_with("https://");
        let collector = Collector::new(db.clone(), store.clone(), config.gc_grace, config.gc_upload_age);
        let holder = crate::jobs::holder_id();
        let gc = GcService::new(db.clone(), collector, &holder, config.gc_workers, config.job_lease);
        let retention = RetentionService::new(db.clone(), projects.clone(), &holder, config.job_lease)
            .with_host(config.registry_host());
        let configurations = crate::configurations::Configurations::new(
            db.clone(),
            key.clone(),
            config.configurations.as_ref().map(|c| c.expose_secret()),
        )?;
        let auth = Arc::new(Authenticator::new(
            db.clone(),
            configurations.clone(),
            signer,
            auditor.clone(),
            config.credential_cache,
            key.clone(),
        ));
        let webhooks = crate::webhooks::Webhooks::new(
            db.clone(),
            projects.clone(),
            key.clone(),
            &holder,
            config.job_lease,
            config.webhook_retention,
        );
        let replication = crate::replication::ReplicationService::new(
            db.clone(),
            registry.clone(),
            endpoints.clone(),
            store.clone(),
            &holder,
            config.job_lease,
        )
        .with_host(config.registry_host());
        let artifacts = Artifacts::new(db.clone(), projects.clone(), registry.clone(), auditor.clone());
        Ok(Self(Arc::new(Services {
            registry: registry.clone(),
            auth: auth.clone(),
            users: Users::new(db.clone(), auth),
            inspector: crate::inspect::Inspector::new(artifacts.clone(), store.clone()),
            dashboards: crate::dashboard::Dashboards::new(db.clone(), projects.clone(), store.clone()),
            artifacts,
            projects,
            db,
            store,
            auditor,
            gc,
            retention,
            immutability: crate::immutable::Immutability::new(db_for_rules, projects_for_rules),
            webhooks,
            labels: crate::labels::Labels::new(db_for_labels, projects_for_labels),
            purge: crate::purge::PurgeService::new(db_for_purge, &holder, config.job_lease),
            endpoints,
            replication,
            metrics,
            sessions: crate::auth::session::UiSessions::new(db_for_sessions, secure),
            configurations,
            seal_key: key,
            leptos: leptos::prelude::LeptosOptions::builder()
                .output_name("wharf")
                .site_pkg_dir("pkg")
                .build(),
            config: Arc::new(config),
        })))
    }

    /// Starts the background jobs every serving replica runs (the cron scheduler); they stop
    /// when the returned handle is aborted.
    pub fn start_jobs(&self) -> tokio::task::JoinHandle<()> {
        let jobs: Jobs = vec![
            Arc::new(self.gc.clone()),
            Arc::new(self.retention.clone()),
            Arc::new(self.replication.clone()),
            Arc::new(self.purge.clone()),
        ];
        let scheduler = scheduler::spawn(self.db.clone(), jobs);
        let health = self.endpoints.spawn_health_checks(crate::endpoints::HEALTH_EVERY);
        let watch = self.replication.spawn_watch();
        let deliveries = self.webhooks.spawn_worker();
        // Until it runs, the pull cache stays out of use.
        let changes = self.db.spawn_change_watch();
        tokio::spawn(async move {
            // Aborting this task drops the health checks, the replication watch, the webhook
            // worker and the database's change watch with it.
            let _guards =
                (AbortOnDrop(health), AbortOnDrop(watch), AbortOnDrop(deliveries), AbortOnDrop(changes));
            scheduler.await.ok();
        })
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
