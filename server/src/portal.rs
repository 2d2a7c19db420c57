//! The server's side of the web portal: [`frontend::portal::Portal`] over the domain services.
//! Every method is one domain call, acting as the viewer through the same permission checks as
//! the API, and a mapping of the result to the page's view; the rules, the audit log and the
//! storage live in the domain.

use std::net::IpAddr;

use async_trait::async_trait;
use frontend::portal::Portal;
use frontend::types::*;

use crate::artifacts::{ArtifactWithTags, BrowseError};
use crate::audit::Actor;
use crate::auth::session::UiSessions;
use crate::auth::{Action, AuthError, Identity, allowed};
use crate::db::manifests::{ArtifactSort, ReferrerRow};
use crate::db::projects::{ProjectFilter, ProjectRow};
use crate::endpoints::{EndpointError, EndpointPatch, EndpointSpec};
use crate::gc::GcServiceError;
use crate::gc::collector::GcParams;
use crate::immutable::{ImmutableError, ImmutableRuleDoc};
use crate::labels::{LabelError, LabelSpec};
use crate::projects::members::{GroupRef, MemberRef, UserRef};
use crate::projects::robots::NewRobot;
use crate::projects::{NewProject, ProjectError, ProjectRef};
use crate::purge::{PurgeError, PurgeParams};
use crate::replication::filter::ReplicationFilter;
use crate::replication::{PolicySpec, ReplicationError};
use crate::retention::RetentionError;
use crate::state::AppState;
use crate::time::rfc3339_ms;
use crate::users::{NewUserReq, UserError};
use crate::webhooks::{TargetSpec, WebhookError, WebhookSpec};
use secrecy::ExposeSecret;

/// Rows per page in the portal's lists.
const PAGE_SIZE: i64 = 20;

/// The portal over the application state.
#[derive(Clone)]
pub struct WharfPortal(pub AppState);

/// An audit log row as the log pages show it.
fn log_entry(r: crate::db::audit::AuditRow) -> LogEntry {
    LogEntry {
        username: r.username,
        operation: r.operation,
        resource: r.resource,
        client_ip: r.client_ip,
        time: rfc3339_ms(r.op_time),
    }
}

fn identity(v: &Viewer) -> Identity {
    if v.signed_in() {
        Identity::User { id: v.id, name: v.name.clone(), sysadmin: v.sysadmin }
    } else {
        Identity::Anonymous
    }
}

/// The client's address, from the request the server function runs in (the portal trait is
/// shared with the browser build, which has no addresses); the same resolution, and the same
/// fallback, as every other edge.
fn client_ip() -> IpAddr {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .map_or(crate::auth::client::UNKNOWN, |p| crate::auth::client::of(&p).0)
}

/// The request's portal session (the session layer puts one on every portal request).
fn session() -> PortalResult<tower_sessions::Session> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<tower_sessions::Session>().cloned())
        .ok_or_else(|| internal("no session layer on a portal request"))
}

impl WharfPortal {
    /// The provider's sign-out page for single sign-on user `who` when `oidc_logout` is on,
    /// coming back to the sign-in page. A provider that cannot be asked only costs the extra
    /// step: Wharf's own session has ended already.
    async fn provider_sign_out(&self, who: &Viewer) -> Option<String> {
        let current = self.0.configurations.current().await.ok()?;
        if current.auth_mode() != AuthMode::Oidc || !current.flag("oidc_logout") {
            return None;
        }
        // Only users who came through the provider (not the local admin).
        self.0.auth.cli_secret(who.id).await.ok().flatten()?;
        let settings = crate::auth::oidc::OidcSettings::of(&current);
        let host = leptos::prelude::use_context::<axum::http::request::Parts>().and_then(|p| {
            p.headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).map(String::from)
        });
        let back = format!("{}/login", self.0.config.base_url(host.as_deref()));
        match self.0.auth.oidc().end_session_url(&settings, &back).await {
            Ok(url) => url,
            Err(e) => {
                tracing::warn!(error = %e, "the provider's sign-out page could not be found");
                None
            }
        }
    }
}

fn internal(e: impl std::fmt::Display) -> PortalError {
    tracing::error!(error = %e, "portal call failed");
    PortalError::Internal
}

/// A domain phrase with a capital first letter ("rule 3" → "Rule 3").
fn capitalized(m: &str) -> String {
    let mut c = m.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// A domain message as a sentence: capital first letter, full stop.
fn sentence(m: &str) -> String {
    let s = capitalized(m);
    if s.ends_with('.') { s } else { s + "." }
}

impl From<ProjectError> for PortalError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Unauthorized => Self::Unauthorized,
            ProjectError::Forbidden => Self::Forbidden,
            ProjectError::NotFound(p) => Self::NotFound(format!("Project {p}")),
            ProjectError::Exists(p) => Self::Invalid(format!("A project named {p} already exists.")),
            ProjectError::InvalidName(n) => Self::Invalid(format!(
                "{n:?} is not a valid project name: use lower-case letters and digits, separated by . _ or -."
            )),
            ProjectError::NoSuchMember(m) => Self::NotFound(format!("Member {m}")),
            ProjectError::NoSuchUser(u) => Self::NotFound(format!("User {u}")),
            ProjectError::NoSuchGroup(_) => Self::Invalid(sentence(&e.to_string())),
            ProjectError::NoSuchRobot(r) => Self::NotFound(format!("Robot {r}")),
            ProjectError::NotEmpty(p) => {
                Self::Invalid(format!("Project {p} still has repositories: delete them first."))
            }
            ProjectError::InvalidRobot(_) | ProjectError::AlreadyMember(_) => {
                Self::Invalid(sentence(&e.to_string()))
            }
            other => internal(other),
        }
    }
}

impl From<RetentionError> for PortalError {
    fn from(e: RetentionError) -> Self {
        match e {
            RetentionError::Project(p) => p.into(),
            RetentionError::NotFound(what) => Self::NotFound(capitalized(&what)),
            RetentionError::Invalid(m) | RetentionError::Conflict(m) => Self::Invalid(m),
            RetentionError::Busy | RetentionError::NotRunning(_) => Self::Invalid(sentence(&e.to_string())),
            RetentionError::Db(e) => internal(e),
        }
    }
}

impl From<ImmutableError> for PortalError {
    fn from(e: ImmutableError) -> Self {
        match e {
            ImmutableError::Project(p) => p.into(),
            ImmutableError::NotFound(_) => Self::NotFound(capitalized(&e.to_string())),
            ImmutableError::Invalid(m) | ImmutableError::Conflict(m) => Self::Invalid(sentence(&m)),
            ImmutableError::Db => Self::Internal,
        }
    }
}

impl From<LabelError> for PortalError {
    fn from(e: LabelError) -> Self {
        match e {
            LabelError::Project(p) => p.into(),
            LabelError::NotFound(_) => Self::NotFound(capitalized(&e.to_string())),
            LabelError::Invalid(m) | LabelError::Conflict(m) => Self::Invalid(sentence(&m)),
            LabelError::Db => Self::Internal,
        }
    }
}

impl From<PurgeError> for PortalError {
    fn from(e: PurgeError) -> Self {
        match e {
            PurgeError::Invalid(m) => Self::Invalid(sentence(&m)),
            PurgeError::Busy | PurgeError::NotRunning(_) => Self::Invalid(sentence(&e.to_string())),
            PurgeError::NotFound(_) => Self::NotFound(capitalized(&e.to_string())),
            PurgeError::Db(e) => internal(e),
        }
    }
}

impl From<WebhookError> for PortalError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Project(p) => p.into(),
            WebhookError::NotFound(_) => Self::NotFound(capitalized(&e.to_string())),
            WebhookError::Invalid(m) | WebhookError::Conflict(m) => Self::Invalid(sentence(&m)),
            WebhookError::Db => Self::Internal,
        }
    }
}

impl From<UserError> for PortalError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Unauthorized => Self::Unauthorized,
            UserError::Forbidden => Self::Forbidden,
            UserError::NotFound(u) => Self::NotFound(format!("User {u}")),
            UserError::Directory(_) => Self::Unavailable,
            UserError::Internal => Self::Internal,
            other => Self::Invalid(sentence(&other.to_string())),
        }
    }
}

impl From<BrowseError> for PortalError {
    fn from(e: BrowseError) -> Self {
        match e {
            BrowseError::Project(p) => p.into(),
            BrowseError::NotFound(what) => Self::NotFound(capitalized(&what)),
            BrowseError::Invalid(m)
            | BrowseError::Conflict(m)
            | BrowseError::Quota(m)
            | BrowseError::Exists(m) => Self::Invalid(m),
            BrowseError::Unavailable => Self::Unavailable,
            BrowseError::Internal => Self::Internal,
        }
    }
}

impl From<GcServiceError> for PortalError {
    fn from(e: GcServiceError) -> Self {
        match e {
            GcServiceError::Busy => Self::Invalid("A garbage collection is already running.".into()),
            GcServiceError::BadSchedule(m) => Self::Invalid(m),
            GcServiceError::NotFound(id) => Self::NotFound(format!("Run {id}")),
            other => internal(other),
        }
    }
}

impl From<EndpointError> for PortalError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Unauthorized => Self::Unauthorized,
            EndpointError::Forbidden => Self::Forbidden,
            EndpointError::NotFound(id) => Self::NotFound(format!("Registry endpoint {id}")),
            EndpointError::Db => Self::Internal,
            other => Self::Invalid(sentence(&other.to_string())),
        }
    }
}

impl From<ReplicationError> for PortalError {
    fn from(e: ReplicationError) -> Self {
        match e {
            ReplicationError::Unauthorized => Self::Unauthorized,
            ReplicationError::Forbidden => Self::Forbidden,
            ReplicationError::NotFound(what) => Self::NotFound(capitalized(&what)),
            ReplicationError::Db => Self::Internal,
            other => Self::Invalid(sentence(&other.to_string())),
        }
    }
}

/// A stored execution as the portal lists it.
fn replication_run(e: crate::db::replication::ExecutionRow, rule: String) -> ReplicationRun {
    ReplicationRun {
        id: e.id,
        rule,
        status: e.status,
        trigger: e.trigger,
        text: e.status_text,
        started: rfc3339_ms(e.created_at),
        ended: e.ended_at.map(rfc3339_ms),
        total: e.total,
        failed: e.failed,
    }
}

impl From<crate::configurations::ConfigurationError> for PortalError {
    fn from(e: crate::configurations::ConfigurationError) -> Self {
        match e {
            crate::configurations::ConfigurationError::Invalid(m) => Self::Invalid(sentence(&m)),
            other => internal(other),
        }
    }
}

impl From<crate::db::DbError> for PortalError {
    fn from(e: crate::db::DbError) -> Self {
        internal(e)
    }
}

fn page<T>(items: Vec<T>, total: i64, page: i64) -> Page<T> {
    Page { items, total, page: page.max(1), page_size: PAGE_SIZE }
}

fn offset(page: i64) -> i64 {
    (page.max(1) - 1) * PAGE_SIZE
}

/// `<project>` and `<path>` of a full repository name.
fn split_repo(full: &str) -> PortalResult<(ProjectRef, &str)> {
    full.split_once('/')
        .map(|(p, r)| (ProjectRef::Name(p.to_owned()), r))
        .ok_or_else(|| PortalError::NotFound(format!("Repository {full}")))
}

fn may(who: &Identity, p: &ProjectRow, action: Action) -> bool {
    allowed(who, p.id, p.public, p.role, action)
}

fn require_admin(who: &Viewer) -> PortalResult<()> {
    match (who.signed_in(), who.sysadmin) {
        (_, true) => Ok(()),
        (true, false) => Err(PortalError::Forbidden),
        (false, _) => Err(PortalError::Unauthorized),
    }
}

fn summary((a, tags): ArtifactWithTags) -> ArtifactSummary {
    ArtifactSummary {
        kind: ArtifactKind::classify(
            &a.media_type,
            a.artifact_type.as_deref(),
            a.config_media_type.as_deref(),
        ),
        digest: a.digest,
        immutable_tags: tags.iter().filter(|t| t.immutable).map(|t| t.name.clone()).collect(),
        labels: a.labels.iter().map(chip).collect(),
        tags: tags.into_iter().map(|t| t.name).collect(),
        size: a.total_size,
        pushed: rfc3339_ms(a.pushed_at),
        pulled: a.pulled_at.map(rfc3339_ms),
        platforms: Vec::new(),
    }
}

fn chip(l: &crate::db::labels::LabelRow) -> LabelChip {
    LabelChip { id: l.id, name: l.name.clone(), color: l.color.clone(), global: l.project_id.is_none() }
}

fn referrer(r: ReferrerRow) -> ArtifactSummary {
    ArtifactSummary {
        kind: ArtifactKind::classify(
            &r.media_type,
            r.artifact_type.as_deref(),
            r.config_media_type.as_deref(),
        ),
        digest: r.digest,
        tags: Vec::new(),
        immutable_tags: Vec::new(),
        labels: Vec::new(),
        size: r.size,
        pushed: String::new(),
        pulled: None,
        platforms: Vec::new(),
    }
}

#[async_trait]
impl Portal for WharfPortal {
    async fn sign_in(&self, username: &str, password: &str) -> PortalResult<()> {
        let who = match self.0.auth.sign_in(username, password, client_ip()).await {
            Ok(who) => who,
            Err(AuthError::InvalidCredentials | AuthError::Malformed) => {
                return Err(PortalError::Invalid("Wrong username or password.".into()));
            }
            Err(AuthError::Throttled) => {
                return Err(PortalError::Invalid(
                    "Too many failed sign-ins: wait a minute, then try again.".into(),
                ));
            }
            Err(AuthError::Directory(_)) => {
                return Err(PortalError::Invalid(
                    "The company directory cannot be reached to check your password: try again later, \
                     or ask an administrator (the local admin account still signs in)."
                        .into(),
                ));
            }
            Err(e) => return Err(internal(e)),
        };
        let Identity::User { id, .. } = who else {
            return Err(PortalError::Invalid("Robot accounts cannot sign in to the portal.".into()));
        };
        self.0.sessions.sign_in(&session()?, id).await.map_err(internal)
    }

    async fn sign_out(&self, who: &Viewer) -> Option<String> {
        let session = session().ok()?;
        if let Err(e) = UiSessions::sign_out(&session).await {
            tracing::error!(error = %e, "could not end a session");
        }
        self.provider_sign_out(who).await
    }

    async fn projects(&self, who: &Viewer, q: &str, page_no: i64) -> PortalResult<Page<ProjectSummary>> {
        let filter = ProjectFilter { name_contains: q.trim().to_owned(), ..Default::default() };
        let (rows, total) =
            self.0.projects.list_with_usage(&identity(who), filter, offset(page_no), PAGE_SIZE).await?;
        let items = rows
            .into_iter()
            .map(|(p, storage, storage_limit)| ProjectSummary {
                storage,
                storage_limit,
                name: p.name,
                public: p.public,
                repo_count: p.repo_count,
                role: p.role,
                created: rfc3339_ms(p.created_at),
                proxy_of: p.registry_name,
                group: p.is_group,
            })
            .collect();
        Ok(page(items, total, page_no))
    }

    async fn create_project(
        &self,
        who: &Viewer,
        name: &str,
        public: bool,
        proxy_of: Option<i64>,
        group_of: &[String],
    ) -> PortalResult<()> {
        let id = identity(who);
        let spec = NewProject {
            name,
            public,
            registry_id: proxy_of,
            proxy_speed_kb: -1,
            group_members: group_of,
            storage_limit: None,
        };
        self.0.projects.create_with(Actor::new(&id, client_ip()), &spec).await?;
        Ok(())
    }

    async fn endpoints(&self, who: &Viewer, q: &str, page_no: i64) -> PortalResult<Page<EndpointSummary>> {
        let (rows, total) =
            self.0.endpoints.list(&identity(who), q.trim(), offset(page_no), PAGE_SIZE).await?;
        let items = rows
            .into_iter()
            .map(|e| EndpointSummary {
                id: e.id,
                name: e.name,
                url: e.url,
                kind: e.kind,
                description: e.description,
                insecure: e.insecure,
                access_key: e.access_key,
                status: e.status,
                checked: e.checked_at.map(rfc3339_ms),
                created: rfc3339_ms(e.created_at),
            })
            .collect();
        Ok(page(items, total, page_no))
    }

    async fn create_endpoint(&self, who: &Viewer, new: &NewEndpoint) -> PortalResult<()> {
        let spec = EndpointSpec {
            name: new.name.clone(),
            url: new.url.clone(),
            kind: new.kind.unwrap_or(RegistryKind::DockerRegistry),
            description: new.description.clone(),
            insecure: new.insecure,
            access_key: new.access_key.clone(),
            access_secret: (!new.access_secret.is_empty()).then(|| new.access_secret.as_str().into()),
        };
        self.0.endpoints.create(&identity(who), &spec).await?;
        Ok(())
    }

    async fn test_endpoint(&self, who: &Viewer, id: Option<i64>, new: &NewEndpoint) -> PortalResult<String> {
        let patch = EndpointPatch {
            url: (!new.url.is_empty()).then(|| new.url.clone()),
            insecure: id.is_none().then_some(new.insecure),
            access_key: id.is_none().then(|| new.access_key.clone()),
            access_secret: (!new.access_secret.is_empty()).then(|| new.access_secret.as_str().into()),
            ..Default::default()
        };
        self.0.endpoints.ping(&identity(who), id, new.kind, &patch).await?;
        if let Some(id) = id {
            // The stored status follows what was just found.
            self.0.endpoints.check(id).await;
        }
        Ok("Connection OK: the registry answered and accepted the credentials.".into())
    }

    async fn delete_endpoint(&self, who: &Viewer, id: i64) -> PortalResult<()> {
        self.0.endpoints.delete(&identity(who), id).await?;
        Ok(())
    }

    async fn replication(&self, who: &Viewer, page_no: i64) -> PortalResult<ReplicationView> {
        let id = identity(who);
        let (policies, _) = self.0.replication.list(&id, "", 0, 1000).await?;
        let (endpoints, _) = self.0.endpoints.list(&id, "", 0, 1000).await?;
        let endpoint_name = |eid: Option<i64>| {
            endpoints.iter().find(|e| Some(e.id) == eid).map(|e| e.name.clone()).unwrap_or_default()
        };
        let rule_name =
            |pid: i64| policies.iter().find(|p| p.id == pid).map(|p| p.spec.name.clone()).unwrap_or_default();
        let (rows, total) = self.0.replication.executions(&id, None, offset(page_no), PAGE_SIZE).await?;
        let runs = rows.into_iter().map(|e| {
            let rule = rule_name(e.policy_id);
            replication_run(e, rule)
        });
        Ok(ReplicationView {
            rules: policies
                .iter()
                .map(|p| ReplicationRuleSummary {
                    id: p.id,
                    name: p.spec.name.clone(),
                    pull: p.spec.src_registry_id.is_some(),
                    endpoint: endpoint_name(p.spec.src_registry_id.or(p.spec.dest_registry_id)),
                    dest_namespace: p.spec.dest_namespace.clone(),
                    trigger: p.spec.trigger,
                    cron: p.spec.cron.clone(),
                    filters: p
                        .spec
                        .filters
                        .iter()
                        .map(|f| {
                            let ex = if f.decoration == "excludes" { " not" } else { "" };
                            let value = match &f.value {
                                serde_json::Value::Array(a) => {
                                    a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(",")
                                }
                                v => v.as_str().unwrap_or("…").to_owned(),
                            };
                            format!("{}{ex} {value}", f.kind)
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    replicate_deletion: p.spec.replicate_deletion,
                    enabled: p.spec.enabled,
                })
                .collect(),
            endpoints: endpoints.iter().map(|e| (e.id, e.name.clone())).collect(),
            runs: page(runs.collect(), total, page_no),
        })
    }

    async fn create_replication_rule(&self, who: &Viewer, rule: &NewReplicationRule) -> PortalResult<()> {
        let filter = |kind: &str, value: &str| {
            (!value.is_empty()).then(|| ReplicationFilter {
                kind: kind.into(),
                value: value.into(),
                decoration: String::new(),
            })
        };
        let spec = PolicySpec {
            name: rule.name.clone(),
            description: String::new(),
            src_registry_id: rule.pull.then_some(rule.endpoint),
            dest_registry_id: (!rule.pull).then_some(rule.endpoint),
            dest_namespace: rule.dest_namespace.clone(),
            dest_namespace_replace_count: rule.flatten,
            trigger: rule.trigger,
            cron: rule.cron.clone(),
            filters: filter("name", &rule.name_filter)
                .into_iter()
                .chain(filter("tag", &rule.tag_filter))
                .chain(filter("label", &rule.label_filter))
                .collect(),
            replicate_deletion: rule.replicate_deletion,
            override_existing: true,
            enabled: true,
            speed_kb: -1,
        };
        self.0.replication.create(&identity(who), &spec).await?;
        Ok(())
    }

    async fn run_replication(&self, who: &Viewer, id: i64) -> PortalResult<i64> {
        Ok(self.0.replication.start(&identity(who), id).await?)
    }

    async fn delete_replication_rule(&self, who: &Viewer, id: i64) -> PortalResult<()> {
        Ok(self.0.replication.delete(&identity(who), id).await?)
    }

    async fn stop_replication(&self, who: &Viewer, execution: i64) -> PortalResult<()> {
        Ok(self.0.replication.stop(&identity(who), execution).await?)
    }

    async fn replication_run(
        &self,
        who: &Viewer,
        execution: i64,
    ) -> PortalResult<(ReplicationRun, Vec<ReplicationTaskView>)> {
        let id = identity(who);
        let e = self.0.replication.execution(&id, execution).await?;
        let rule = self.0.replication.get(&id, e.policy_id).await.map(|p| p.spec.name).unwrap_or_default();
        let (tasks, _) = self.0.replication.tasks(&id, execution, 0, 100).await?;
        let mut views = Vec::with_capacity(tasks.len());
        for t in tasks {
            let log = self.0.replication.task_log(&id, execution, t.id).await.unwrap_or_default();
            views.push(ReplicationTaskView {
                id: t.id,
                source: t.source_resource,
                destination: t.destination_resource,
                operation: t.operation,
                status: t.status,
                bytes: t.bytes,
                log,
            });
        }
        Ok((replication_run(e, rule), views))
    }

    async fn project(&self, who: &Viewer, name: &str) -> PortalResult<ProjectView> {
        let id = identity(who);
        let p = self.0.projects.get(&id, &ProjectRef::Name(name.to_owned()), Action::ReadProject).await?;
        let group_of = self.0.projects.group_members(&p).await?;
        let quota = self.0.projects.quota_of(p.id).await?;
        Ok(ProjectView {
            storage_used: quota.as_ref().map_or(0, |q| q.used),
            storage_limit: quota.as_ref().map_or(-1, |q| q.hard),
            can_set_quota: id.is_sysadmin(),
            // A proxy cache refuses pushes whatever the role.
            can_push: p.registry_id.is_none() && !p.is_group && may(&id, &p, Action::Push),
            can_manage_retention: may(&id, &p, Action::ManageRetention),
            can_manage_immutability: may(&id, &p, Action::ManageImmutability),
            can_read_webhooks: may(&id, &p, Action::ReadWebhooks),
            can_list_members: may(&id, &p, Action::ListMembers),
            can_admin: may(&id, &p, Action::UpdateProject),
            repo_count: p.repo_count,
            name: p.name,
            public: p.public,
            registry: self.0.config.registry_host().to_owned(),
            proxy_of: match p.registry_id {
                Some(e) => self.0.endpoints.describe(e).await.ok(),
                None => None,
            },
            group_of,
        })
    }

    async fn repositories(
        &self,
        who: &Viewer,
        project: &str,
        q: &str,
        page_no: i64,
    ) -> PortalResult<Page<RepositorySummary>> {
        let p = ProjectRef::Name(project.to_owned());
        let (rows, total) = self
            .0
            .artifacts
            .list_repositories(&identity(who), &p, q.trim(), offset(page_no), PAGE_SIZE)
            .await?;
        let items = rows
            .into_iter()
            .map(|r| RepositorySummary {
                name: r.name,
                artifact_count: r.artifact_count,
                pull_count: r.pull_count,
                updated: rfc3339_ms(r.updated_at),
            })
            .collect();
        Ok(page(items, total, page_no))
    }

    async fn artifacts(
        &self,
        who: &Viewer,
        repository: &str,
        sort: &str,
        page_no: i64,
    ) -> PortalResult<ArtifactList> {
        let id = identity(who);
        let (p, repo) = split_repo(repository)?;
        let sort = match sort {
            "" => ArtifactSort::default(),
            s => {
                ArtifactSort::parse(s).ok_or_else(|| PortalError::Invalid(format!("Unknown order {s:?}.")))?
            }
        };
        let listed = self.0.artifacts.browse(&id, &p, repo, sort, offset(page_no), PAGE_SIZE).await?;
        let items = listed
            .items
            .into_iter()
            .map(|(row, platforms)| ArtifactSummary { platforms, ..summary(row) })
            .collect();
        Ok(ArtifactList {
            artifacts: page(items, listed.total, page_no),
            can_delete: may(&id, &listed.project, Action::Delete),
        })
    }

    async fn artifact(&self, who: &Viewer, repository: &str, reference: &str) -> PortalResult<ArtifactView> {
        let id = identity(who);
        let (p, repo) = split_repo(repository)?;
        let d = self.0.artifacts.details(&id, &p, repo, reference).await?;
        let manifest: serde_json::Value = serde_json::from_slice(&d.content).unwrap_or_default();
        let descriptors = d.manifest.as_ref();
        let layers = crate::inspect::layer_views(&d);
        let children = descriptors.map_or(&[][..], |m| m.children());
        let media_type = d.artifact.0.media_type.clone();
        let summary = summary(d.artifact);
        Ok(ArtifactView {
            pull_by_digest: format!(
                "{}/{}@{}",
                self.0.config.registry_host(),
                d.repository.name,
                summary.digest
            ),
            repository: d.repository.name,
            media_type,
            manifest: serde_json::to_string_pretty(&manifest).unwrap_or_default(),
            config: d.config.as_ref().map(|c| c.fields()).unwrap_or_default(),
            history: d.config.as_ref().map(|c| c.history_lines()).unwrap_or_default(),
            layers,
            platforms: children
                .iter()
                .map(|c| PlatformView {
                    digest: c.digest.to_string(),
                    platform: c.platform.clone().unwrap_or_default().to_string(),
                    size: c.size,
                })
                .collect(),
            referrers: d.referrers.into_iter().map(referrer).collect(),
            can_delete: may(&id, &d.project, Action::Delete),
            can_tag: may(&id, &d.project, Action::Push),
            usable_labels: if may(&id, &d.project, Action::Push) {
                self.0.labels.usable(&id, &ProjectRef::Id(d.project.id)).await?.iter().map(chip).collect()
            } else {
                Vec::new()
            },
            summary,
        })
    }

    async fn search(&self, who: &Viewer, q: &str) -> PortalResult<SearchResults> {
        const HITS: i64 = 10;
        let q = q.trim();
        if q.is_empty() {
            return Ok(SearchResults::default());
        }
        let id = identity(who);
        let projects = self.projects(who, q, 1).await?.items.into_iter().take(HITS as usize).collect();
        let repositories = self
            .0
            .artifacts
            .search(&id, q, HITS)
            .await?
            .into_iter()
            .map(|h| RepositorySummary {
                name: h.repository.name,
                artifact_count: h.repository.artifact_count,
                pull_count: h.repository.pull_count,
                updated: rfc3339_ms(h.repository.updated_at),
            })
            .collect();
        let artifacts = self
            .0
            .artifacts
            .search_artifacts(&id, q, HITS)
            .await?
            .into_iter()
            .map(|h| ArtifactMatch {
                repository: h.repository,
                digest: h.digest,
                tag: h.tag,
                pushed: rfc3339_ms(h.pushed_at),
            })
            .collect();
        Ok(SearchResults { query: q.to_owned(), projects, repositories, artifacts })
    }

    async fn layer_files(
        &self,
        who: &Viewer,
        repository: &str,
        reference: &str,
        layer: &str,
        q: &str,
        page_no: i64,
    ) -> PortalResult<LayerFiles> {
        let (p, repo) = split_repo(repository)?;
        const FILES_PER_PAGE: i64 = 200;
        Ok(self
            .0
            .inspector
            .layer_files(&identity(who), &p, repo, reference, layer, q, page_no, FILES_PER_PAGE)
            .await?)
    }

    async fn filesystem(
        &self,
        who: &Viewer,
        repository: &str,
        reference: &str,
        path: &str,
        page_no: i64,
    ) -> PortalResult<TreeListing> {
        let (p, repo) = split_repo(repository)?;
        const ENTRIES_PER_PAGE: i64 = 200;
        Ok(self
            .0
            .inspector
            .tree(&identity(who), &p, repo, reference, path, page_no, ENTRIES_PER_PAGE)
            .await?)
    }

    async fn compare(
        &self,
        who: &Viewer,
        repository: &str,
        reference: &str,
        with: &str,
    ) -> PortalResult<Comparison> {
        let (p, repo) = split_repo(repository)?;
        if with.trim().is_empty() {
            return Err(PortalError::Invalid("Name a tag or digest to compare with.".into()));
        }
        Ok(self.0.inspector.compare(&identity(who), &p, repo, reference, with.trim()).await?)
    }

    async fn delete_tag(&self, who: &Viewer, repository: &str, tag: &str) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        let id = identity(who);
        self.0.artifacts.delete_tag(Actor::new(&id, client_ip()), &p, repo, tag, tag).await?;
        Ok(())
    }

    async fn add_tag(&self, who: &Viewer, repository: &str, digest: &str, tag: &str) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        let id = identity(who);
        self.0.artifacts.add_tag(Actor::new(&id, client_ip()), &p, repo, digest, tag).await?;
        Ok(())
    }

    async fn delete_artifact(&self, who: &Viewer, repository: &str, digest: &str) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        let id = identity(who);
        self.0.artifacts.delete_artifact(Actor::new(&id, client_ip()), &p, repo, digest).await?;
        Ok(())
    }

    async fn gc(&self, who: &Viewer, page_no: i64) -> PortalResult<GcView> {
        require_admin(who)?;
        let schedule = self.0.gc.schedule().await?;
        let (rows, total) = self.0.gc.history(offset(page_no), PAGE_SIZE).await?;
        let runs = rows
            .into_iter()
            .map(|r| GcRunView {
                id: r.id,
                trigger: r.trigger_kind,
                dry_run: r.dry_run,
                delete_untagged: r.delete_untagged,
                status: r.status,
                blobs: r.blobs_deleted,
                manifests: r.manifests_deleted,
                bytes: r.bytes_freed,
                created: rfc3339_ms(r.created_at),
                took_ms: r.ended_at.map(|e| e - r.started_at.unwrap_or(r.created_at)),
            })
            .collect();
        Ok(GcView {
            next: schedule.as_ref().and_then(|s| s.next_run_at).map(rfc3339_ms),
            schedule: schedule.map(|s| s.schedule).unwrap_or_default(),
            runs: page(runs, total, page_no),
        })
    }

    async fn purge(&self, who: &Viewer) -> PortalResult<PurgeView> {
        require_admin(who)?;
        let schedule = self.0.purge.schedule().await?;
        let params: PurgeParams =
            schedule.as_ref().and_then(|s| serde_json::from_str(&s.parameters).ok()).unwrap_or_default();
        let (rows, _) = self.0.purge.history(0, 10).await?;
        Ok(PurgeView {
            next: schedule.as_ref().and_then(|s| s.next_run_at).map(rfc3339_ms),
            schedule: schedule.map(|s| s.schedule).unwrap_or_default(),
            keep_hours: params.audit_retention_hour,
            operations: params.include_operations,
            runs: rows
                .into_iter()
                .map(|r| PurgeRunView {
                    id: r.id,
                    trigger: r.trigger_kind,
                    dry_run: serde_json::from_str::<PurgeParams>(&r.parameters).is_ok_and(|p| p.dry_run),
                    status: r.status,
                    purged: r.deleted,
                    created: rfc3339_ms(r.created_at),
                })
                .collect(),
        })
    }

    async fn run_purge(
        &self,
        who: &Viewer,
        keep_hours: i64,
        operations: &str,
        dry_run: bool,
    ) -> PortalResult<i64> {
        require_admin(who)?;
        let params = PurgeParams {
            audit_retention_hour: keep_hours,
            include_operations: operations.trim().to_owned(),
            dry_run,
        };
        Ok(self.0.purge.start(Trigger::Manual, params).await?)
    }

    async fn set_purge_schedule(
        &self,
        who: &Viewer,
        schedule: Schedule,
        keep_hours: i64,
        operations: &str,
    ) -> PortalResult<()> {
        require_admin(who)?;
        let params = PurgeParams {
            audit_retention_hour: keep_hours,
            include_operations: operations.trim().to_owned(),
            dry_run: false,
        };
        Ok(self.0.purge.set_schedule(&schedule, params).await?)
    }

    async fn run_gc(&self, who: &Viewer, dry_run: bool, delete_untagged: bool) -> PortalResult<i64> {
        require_admin(who)?;
        let params = GcParams { delete_untagged, dry_run, workers: None };
        Ok(self.0.gc.start(Trigger::Manual, params).await?)
    }

    async fn set_gc_schedule(
        &self,
        who: &Viewer,
        schedule: Schedule,
        delete_untagged: bool,
    ) -> PortalResult<()> {
        require_admin(who)?;
        let params = GcParams { delete_untagged, dry_run: false, workers: None };
        Ok(self.0.gc.set_schedule(&schedule, params).await?)
    }

    async fn gc_log(&self, who: &Viewer, id: i64) -> PortalResult<String> {
        require_admin(who)?;
        Ok(self.0.gc.log(id).await?)
    }

    async fn retention(&self, who: &Viewer, project: &str, page_no: i64) -> PortalResult<RetentionView> {
        let p = ProjectRef::Name(project.to_owned());
        let (policy, history, total) =
            self.0.retention.project_history(&identity(who), &p, offset(page_no), PAGE_SIZE).await?;
        let executions = history
            .into_iter()
            .map(|(e, tasks)| RetentionExecutionView {
                id: e.id,
                trigger: e.trigger_kind,
                dry_run: e.dry_run,
                status: e.status,
                started: rfc3339_ms(e.created_at),
                took_ms: e.ended_at.map(|end| end - e.created_at),
                tasks: tasks
                    .into_iter()
                    .map(|t| RetentionTaskView {
                        id: t.id,
                        repository: t.repository,
                        status: t.status,
                        total: t.total,
                        retained: t.retained,
                    })
                    .collect(),
            })
            .collect();
        let executions = page(executions, total, page_no);
        Ok(match policy {
            None => RetentionView {
                policy_id: None,
                rules: Vec::new(),
                schedule: Schedule::None,
                next: None,
                executions,
            },
            Some(p) => RetentionView {
                policy_id: p.doc.id,
                rules: p
                    .doc
                    .rules
                    .iter()
                    .zip(p.described)
                    .map(|(r, text)| RetentionRuleView { text, disabled: r.disabled, form: r.form() })
                    .collect(),
                schedule: Schedule::from_cron(&p.doc.trigger.settings.cron),
                next: p.next_run_at.map(rfc3339_ms),
                executions,
            },
        })
    }

    async fn save_retention_rule(
        &self,
        who: &Viewer,
        project: &str,
        index: Option<usize>,
        rule: NewRetentionRule,
    ) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.retention.save_rule(&identity(who), &p, index, &rule).await?)
    }

    async fn delete_retention_rule(&self, who: &Viewer, project: &str, index: usize) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.retention.delete_rule(&identity(who), &p, index).await?)
    }

    async fn set_retention_schedule(
        &self,
        who: &Viewer,
        project: &str,
        schedule: Schedule,
    ) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.retention.set_schedule(&identity(who), &p, &schedule).await?)
    }

    async fn run_retention(&self, who: &Viewer, project: &str, dry_run: bool) -> PortalResult<i64> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.retention.run_project(&identity(who), &p, dry_run).await?)
    }

    async fn webhooks(&self, who: &Viewer, project: &str) -> PortalResult<WebhooksView> {
        let p = ProjectRef::Name(project.to_owned());
        let (policies, recent, can_manage) = self.0.webhooks.overview(&identity(who), &p, 20).await?;
        Ok(WebhooksView {
            policies: policies
                .into_iter()
                .map(|p| {
                    let first = p.targets.first();
                    WebhookPolicyView {
                        id: p.id,
                        address: first.map(|t| t.address.clone()).unwrap_or_default(),
                        kind: first.map_or(NotifyType::Http, |t| t.kind),
                        format: first.map_or(PayloadFormat::Default, |t| t.payload_format),
                        has_auth_header: first.is_some_and(|t| t.has_auth_header),
                        name: p.name,
                        events: p.events,
                        enabled: p.enabled,
                    }
                })
                .collect(),
            deliveries: recent
                .into_iter()
                .map(|d| WebhookDeliveryView {
                    id: d.id,
                    policy_id: d.policy_id,
                    policy: d.policy,
                    event: d.event_type,
                    status: d.status,
                    at: rfc3339_ms(d.created_at),
                    attempts: d.attempts,
                    message: d.message,
                })
                .collect(),
            can_manage,
        })
    }

    async fn add_webhook(&self, who: &Viewer, project: &str, hook: &NewWebhook) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        let spec = WebhookSpec {
            name: hook.name.clone(),
            description: String::new(),
            enabled: true,
            events: hook.events.clone(),
            targets: vec![TargetSpec {
                kind: hook.kind,
                address: hook.address.clone(),
                auth_header: Some(hook.auth_header.clone()),
                skip_cert_verify: hook.skip_cert_verify,
                payload_format: hook.format,
            }],
        };
        self.0.webhooks.create(&identity(who), &p, &spec).await?;
        Ok(())
    }

    async fn switch_webhook(&self, who: &Viewer, project: &str, id: i64, on: bool) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.webhooks.set_enabled(&identity(who), &p, id, on).await?)
    }

    async fn delete_webhook(&self, who: &Viewer, project: &str, id: i64) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.webhooks.delete(&identity(who), &p, id).await?)
    }

    async fn immutable_rules(&self, who: &Viewer, project: &str) -> PortalResult<Vec<ImmutableRuleView>> {
        let p = ProjectRef::Name(project.to_owned());
        let rules = self.0.immutability.list(&identity(who), &p).await?;
        Ok(rules
            .into_iter()
            .map(|r| ImmutableRuleView { id: r.id, text: r.describe(), disabled: r.disabled })
            .collect())
    }

    async fn add_immutable_rule(
        &self,
        who: &Viewer,
        project: &str,
        rule: &NewImmutableRule,
    ) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        let doc = ImmutableRuleDoc::from_form(rule);
        self.0.immutability.create(&identity(who), &p, &doc).await?;
        Ok(())
    }

    async fn switch_immutable_rule(
        &self,
        who: &Viewer,
        project: &str,
        id: i64,
        on: bool,
    ) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        let doc = ImmutableRuleDoc { id, disabled: !on, ..Default::default() };
        Ok(self.0.immutability.update(&identity(who), &p, id, &doc).await?)
    }

    async fn delete_immutable_rule(&self, who: &Viewer, project: &str, id: i64) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.immutability.delete(&identity(who), &p, id).await?)
    }

    async fn project_labels(&self, who: &Viewer, project: &str) -> PortalResult<Vec<LabelChip>> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.labels.usable(&identity(who), &p).await?.iter().map(chip).collect())
    }

    async fn create_label(
        &self,
        who: &Viewer,
        project: &str,
        name: &str,
        color: &str,
        global: bool,
    ) -> PortalResult<()> {
        let id = identity(who);
        let p = self.0.projects.get(&id, &ProjectRef::Name(project.to_owned()), Action::ReadProject).await?;
        let spec = LabelSpec {
            name: name.to_owned(),
            description: String::new(),
            color: color.to_owned(),
            scope: if global { "g" } else { "p" }.to_owned(),
            project_id: (!global).then_some(p.id),
        };
        self.0.labels.create(&id, &spec).await?;
        Ok(())
    }

    async fn global_labels(&self, who: &Viewer) -> PortalResult<Vec<LabelChip>> {
        const MOST: i64 = 500;
        let (rows, _) = self.0.labels.list(&identity(who), "g", None, "", 0, MOST).await?;
        Ok(rows.iter().map(chip).collect())
    }

    async fn delete_global_label(&self, who: &Viewer, id: i64) -> PortalResult<()> {
        let caller = identity(who);
        // This page's form names global labels only: a project's label keeps to its project's
        // Settings tab (and the project's own rules for who may delete it).
        if self.0.labels.get(&caller, id).await?.project_id.is_some() {
            return Err(PortalError::NotFound(format!("Global label {id}")));
        }
        Ok(self.0.labels.delete(&caller, id).await?)
    }

    async fn create_global_label(&self, who: &Viewer, name: &str, color: &str) -> PortalResult<()> {
        let spec = LabelSpec {
            name: name.to_owned(),
            description: String::new(),
            color: color.to_owned(),
            scope: "g".to_owned(),
            project_id: None,
        };
        self.0.labels.create(&identity(who), &spec).await?;
        Ok(())
    }

    async fn delete_label(&self, who: &Viewer, id: i64) -> PortalResult<()> {
        Ok(self.0.labels.delete(&identity(who), id).await?)
    }

    async fn label_artifact(
        &self,
        who: &Viewer,
        repository: &str,
        digest: &str,
        label: i64,
    ) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        Ok(self.0.artifacts.add_label(&identity(who), &p, repo, digest, label).await?)
    }

    async fn unlabel_artifact(
        &self,
        who: &Viewer,
        repository: &str,
        digest: &str,
        label: i64,
    ) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        Ok(self.0.artifacts.remove_label(&identity(who), &p, repo, digest, label).await?)
    }

    async fn set_project_quota(&self, who: &Viewer, project: &str, limit: i64) -> PortalResult<()> {
        let id = identity(who);
        let p = self.0.projects.get(&id, &ProjectRef::Name(project.to_owned()), Action::ReadProject).await?;
        Ok(self.0.projects.set_quota(&id, p.id, limit).await?)
    }

    async fn change_own_password(&self, who: &Viewer, old: &str, new: &str) -> PortalResult<()> {
        self.0.users.change_password(&identity(who), who.id, Some(old), new, client_ip()).await?;
        self.0.sessions.sign_in(&session()?, who.id).await.map_err(internal)
    }

    async fn users(&self, who: &Viewer, q: &str, page_no: i64) -> PortalResult<Page<UserSummary>> {
        let (rows, total) = self.0.users.list(&identity(who), q.trim(), offset(page_no), PAGE_SIZE).await?;
        let items = rows
            .into_iter()
            .map(|u| UserSummary {
                id: u.id,
                username: u.username,
                email: u.email,
                sysadmin: u.sysadmin,
                disabled: u.disabled,
                created: rfc3339_ms(u.created_at),
            })
            .collect();
        Ok(page(items, total, page_no))
    }

    async fn create_user(
        &self,
        who: &Viewer,
        username: &str,
        email: &str,
        password: &str,
    ) -> PortalResult<()> {
        let req = NewUserReq {
            username: username.to_owned(),
            email: email.to_owned(),
            realname: String::new(),
            password: password.into(),
        };
        self.0.users.create(&identity(who), req).await?;
        Ok(())
    }

    async fn change_user(&self, who: &Viewer, id: i64, change: UserChange) -> PortalResult<()> {
        require_admin(who)?;
        let me = identity(who);
        match change {
            UserChange::Disabled(d) => self.0.users.update(&me, id, None, None, Some(d)).await?,
            UserChange::Admin(on) => self.0.users.set_sysadmin(&me, id, on).await?,
            UserChange::Password(p) => self.0.users.change_password(&me, id, None, &p, client_ip()).await?,
        }
        Ok(())
    }

    async fn auth_settings(&self, who: &Viewer) -> PortalResult<AuthSettingsView> {
        require_admin(who)?;
        let answer = self.0.configurations.answer().await?;
        let current = self.0.configurations.current().await?;
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        let views = |items: &[(&str, &str, frontend::types::SettingInput)]| {
            items
                .iter()
                .map(|(name, _, _)| SettingView {
                    name: (*name).to_owned(),
                    value: answer.get(*name).map(|i| text(&i["value"])).unwrap_or_default(),
                    // Secrets are not in the answer; the operator may have fixed them all the same.
                    editable: answer.get(*name).is_none_or(|i| i["editable"] != false),
                })
                .collect()
        };
        let host = leptos::prelude::use_context::<axum::http::request::Parts>().and_then(|p| {
            p.headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).map(String::from)
        });
        Ok(AuthSettingsView {
            mode: current.auth_mode(),
            mode_editable: answer["auth_mode"]["editable"] == true,
            ldap: views(&LDAP_SETTINGS),
            search_password_set: !current.text("ldap_search_password").is_empty(),
            oidc: views(&OIDC_SETTINGS),
            client_secret_set: !current.text("oidc_client_secret").is_empty(),
            redirect_uri: crate::oidc_sign_in::redirect_uri(&self.0, host.as_deref()),
        })
    }

    async fn save_auth_settings(
        &self,
        who: &Viewer,
        items: std::collections::HashMap<String, String>,
        intent: SettingsIntent,
    ) -> PortalResult<String> {
        require_admin(who)?;
        let answer = self.0.configurations.answer().await?;
        let editable = |name: &str| answer.get(name).is_none_or(|i| i["editable"] != false);
        let mut changes = serde_json::Map::new();
        use frontend::types::SettingInput;
        // A section the form did not send is left as it is; in one it sent, an absent checkbox
        // is off (browsers send only checked ones).
        let sent = |section: &[(&str, &str, SettingInput)]| {
            section.iter().any(|(n, _, i)| *i != SettingInput::Flag && items.contains_key(*n))
        };
        let sections = [&LDAP_SETTINGS[..], &OIDC_SETTINGS[..]];
        for (name, _, input) in
            sections.into_iter().filter(|s| sent(s)).flatten().filter(|(n, _, _)| editable(n))
        {
            let raw = items.get(*name).map(String::as_str);
            if raw.is_none() && *input != SettingInput::Flag {
                continue;
            }
            let value = crate::configurations::from_form(name, raw)?;
            // An empty password field keeps the stored password.
            if value.as_str() != Some("") || *input != SettingInput::Secret {
                changes.insert((*name).to_owned(), value);
            }
        }
        if let Some(mode) = items.get("auth_mode").filter(|_| editable("auth_mode")) {
            changes.insert("auth_mode".into(), serde_json::Value::String(mode.clone()));
        }
        let changes = serde_json::Value::Object(changes);
        match intent {
            SettingsIntent::TestLdap => {
                let settings =
                    crate::auth::ldap::LdapSettings::of(&self.0.configurations.preview(&changes).await?);
                let (directory, _) = self.0.auth.directory().await.map_err(internal)?;
                match directory.ping(&settings).await {
                    Ok(()) => Ok("Connected to the directory and signed in as the search DN.".into()),
                    Err(e) => Err(PortalError::Invalid(sentence(&format!("The test failed: {e}")))),
                }
            }
            SettingsIntent::TestOidc => {
                let settings =
                    crate::auth::oidc::OidcSettings::of(&self.0.configurations.preview(&changes).await?);
                match self.0.auth.oidc().discover(&settings.endpoint, settings.verify_cert).await {
                    Ok(_) => {
                        Ok("Found the provider: its discovery document and signing keys are readable.".into())
                    }
                    Err(e) => Err(PortalError::Invalid(sentence(&format!("The test failed: {e}")))),
                }
            }
            SettingsIntent::Save => {
                self.0.configurations.update(&changes).await?;
                Ok("Saved.".into())
            }
        }
    }

    async fn account(&self, who: &Viewer) -> PortalResult<AccountView> {
        let me = identity(who);
        let user = self.0.users.current(&me).await?;
        let cli_secret = self.0.users.oidc_meta(&me, user.id).await?.and_then(|(_, secret)| secret);
        let local_password = user.username == crate::auth::authenticator::LOCAL_ADMIN
            || user.password_hash != crate::db::users::DIRECTORY_ACCOUNT;
        Ok(AccountView {
            username: user.username,
            local_password,
            cli_secret,
            registry: self.0.config.registry_host().to_owned(),
        })
    }

    async fn regenerate_cli_secret(&self, who: &Viewer) -> PortalResult<String> {
        Ok(self.0.users.regenerate_cli_secret(&identity(who), who.id).await?)
    }

    async fn oidc_onboard(&self, username: &str) -> PortalResult<String> {
        crate::users::check_username(username).map_err(|e| PortalError::Invalid(sentence(&e.to_string())))?;
        let parts = leptos::prelude::use_context::<axum::http::request::Parts>()
            .ok_or_else(|| internal("no request"))?;
        let (row, next) = crate::oidc_sign_in::onboard(&self.0, &parts.headers, username)
            .await
            .map_err(|m| PortalError::Invalid(sentence(&m)))?;
        self.0.sessions.sign_in(&session()?, row.id).await.map_err(internal)?;
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            res.append_header(
                axum::http::header::SET_COOKIE,
                axum::http::HeaderValue::from_static(crate::oidc_sign_in::ONBOARD_CLEARED),
            );
        }
        Ok(next)
    }

    async fn groups(&self, who: &Viewer, q: &str, page_no: i64) -> PortalResult<Page<GroupView>> {
        let (rows, total) =
            self.0.users.list_groups(&identity(who), q.trim(), "", offset(page_no), PAGE_SIZE).await?;
        let items = rows
            .into_iter()
            .map(|g| GroupView {
                id: g.id,
                name: g.group_name,
                group_type: g.group_type,
                ldap_group_dn: g.ldap_group_dn,
            })
            .collect();
        Ok(page(items, total, page_no))
    }

    async fn add_group(&self, who: &Viewer, group_type: GroupType, name: &str, dn: &str) -> PortalResult<()> {
        let new = crate::users::NewGroup { name: name.to_owned(), group_type, ldap_group_dn: dn.to_owned() };
        self.0.users.create_group(&identity(who), new).await?;
        Ok(())
    }

    async fn delete_group(&self, who: &Viewer, id: i64) -> PortalResult<()> {
        Ok(self.0.users.delete_group(&identity(who), id).await?)
    }

    async fn members(&self, who: &Viewer, project: &str) -> PortalResult<Vec<MemberView>> {
        let p = ProjectRef::Name(project.to_owned());
        let (rows, _) = self.0.projects.list_members(&identity(who), &p, "", 0, 1000).await?;
        Ok(rows
            .into_iter()
            .map(|m| MemberView { id: m.id, name: m.entity_name, group: m.group_type.0, role: m.role })
            .collect())
    }

    async fn add_member(
        &self,
        who: &Viewer,
        project: &str,
        name: &str,
        group: bool,
        role: Role,
    ) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        let member = if group {
            // A DN names an LDAP group; anything else is a group's name.
            let dn = name.contains('=');
            MemberRef::Group(GroupRef {
                name: if dn { String::new() } else { name.to_owned() },
                ldap_group_dn: if dn { name.to_owned() } else { String::new() },
                ..Default::default()
            })
        } else {
            MemberRef::User(UserRef::Name(name.to_owned()))
        };
        self.0.projects.add_member(&identity(who), &p, &member, role).await?;
        Ok(())
    }

    async fn set_member_role(
        &self,
        who: &Viewer,
        project: &str,
        member: i64,
        role: Role,
    ) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.projects.set_member_role(&identity(who), &p, member, role).await?)
    }

    async fn remove_member(&self, who: &Viewer, project: &str, member: i64) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.projects.remove_member(&identity(who), &p, member).await?)
    }

    async fn robots(&self, who: &Viewer, project: &str) -> PortalResult<Vec<RobotView>> {
        let p = ProjectRef::Name(project.to_owned());
        let (rows, _) = self.0.projects.list_robots(&identity(who), &p).await?;
        let now = crate::db::now_ms();
        Ok(rows
            .into_iter()
            .map(|r| RobotView {
                id: r.id,
                permissions: r.grants,
                expires: (r.expires_at >= 0).then(|| rfc3339_ms(r.expires_at)),
                expired: r.expires_at >= 0 && r.expires_at <= now,
                name: r.name,
                description: r.description,
                disabled: r.disabled,
            })
            .collect())
    }

    async fn create_robot(
        &self,
        who: &Viewer,
        project: &str,
        name: &str,
        permissions: RobotPermissions,
        days: i64,
    ) -> PortalResult<RobotSecret> {
        let p = ProjectRef::Name(project.to_owned());
        let new = NewRobot {
            name: name.to_owned(),
            description: String::new(),
            grants: permissions,
            duration_days: days,
            disabled: false,
        };
        let (row, _, secret) = self.0.projects.create_robot(&identity(who), &p, new).await?;
        // Shown once, to the one who created it.
        Ok(RobotSecret { name: row.name, secret: secret.expose_secret().to_owned() })
    }

    async fn change_robot(&self, who: &Viewer, id: i64, change: RobotAction) -> PortalResult<()> {
        let me = identity(who);
        match change {
            RobotAction::Disable => self.0.projects.update_robot(&me, id, None, None, Some(true)).await?,
            RobotAction::Enable => self.0.projects.update_robot(&me, id, None, None, Some(false)).await?,
            RobotAction::Delete => self.0.projects.delete_robot(&me, id).await?,
        }
        Ok(())
    }

    async fn project_logs(&self, who: &Viewer, project: &str, page_no: i64) -> PortalResult<Page<LogEntry>> {
        let p = ProjectRef::Name(project.to_owned());
        let (rows, total) =
            self.0.projects.logs(&identity(who), &p, "", "", offset(page_no), PAGE_SIZE).await?;
        Ok(page(rows.into_iter().map(log_entry).collect(), total, page_no))
    }

    async fn quotas(&self, who: &Viewer, page_no: i64) -> PortalResult<Page<QuotaView>> {
        let (rows, total) = self.0.projects.quotas(&identity(who), None, offset(page_no), PAGE_SIZE).await?;
        let items = rows
            .into_iter()
            .map(|q| QuotaView { project: q.project_name, used: q.used, hard: q.hard })
            .collect();
        Ok(page(items, total, page_no))
    }

    async fn project_dashboard(&self, who: &Viewer, project: &str) -> PortalResult<ProjectDashboard> {
        Ok(self.0.dashboards.project(&identity(who), &ProjectRef::Name(project.to_owned())).await?)
    }

    async fn registry_dashboard(&self, who: &Viewer) -> PortalResult<RegistryDashboard> {
        Ok(self.0.dashboards.registry(&identity(who)).await?)
    }

    async fn audit_logs(&self, who: &Viewer, page_no: i64) -> PortalResult<Page<LogEntry>> {
        let id = identity(who);
        match self.0.auditor.system_log(&id, "", "", offset(page_no), PAGE_SIZE).await.map_err(internal)? {
            Some((rows, total)) => Ok(page(rows.into_iter().map(log_entry).collect(), total, page_no)),
            None if matches!(id, Identity::Anonymous) => Err(PortalError::Unauthorized),
            None => Err(PortalError::Forbidden),
        }
    }

    async fn set_project_public(&self, who: &Viewer, project: &str, public: bool) -> PortalResult<()> {
        Ok(self.0.projects.set_public(&identity(who), &ProjectRef::Name(project.to_owned()), public).await?)
    }

    async fn delete_project(&self, who: &Viewer, project: &str) -> PortalResult<()> {
        Ok(self.0.projects.delete(&identity(who), &ProjectRef::Name(project.to_owned())).await?)
    }

    async fn delete_repository(&self, who: &Viewer, repository: &str) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        let id = identity(who);
        self.0.artifacts.delete_repository(Actor::new(&id, client_ip()), &p, repo).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_errors_read_as_sentences() {
        assert_eq!(sentence("a rule already exists"), "A rule already exists.");
        assert_eq!(sentence("Done."), "Done.");
        let e: PortalError = ProjectError::NotEmpty("team".into()).into();
        assert_eq!(e.to_string(), "Project team still has repositories: delete them first.");
        let e: PortalError = BrowseError::NotFound("artifact v1".into()).into();
        assert_eq!(e.to_string(), "Artifact v1 was not found.");
        let e: PortalError = RetentionError::NotFound("rule 3".into()).into();
        assert_eq!(e.to_string(), "Rule 3 was not found.");
        assert_eq!(PortalError::from(BrowseError::Unavailable), PortalError::Unavailable);
        assert_eq!(PortalError::from(ProjectError::Unauthorized), PortalError::Unauthorized);
    }

    #[test]
    fn only_administrators_reach_admin_pages() {
        let anonymous = Viewer::default();
        let user = Viewer { id: 2, name: "dev".into(), ..Default::default() };
        let admin = Viewer { id: 1, name: "admin".into(), sysadmin: true, ..Default::default() };
        assert_eq!(require_admin(&anonymous), Err(PortalError::Unauthorized));
        assert_eq!(require_admin(&user), Err(PortalError::Forbidden));
        assert_eq!(require_admin(&admin), Ok(()));
        assert_eq!(identity(&anonymous), Identity::Anonymous);
        assert!(split_repo("library").is_err());
        assert_eq!(split_repo("library/a/b").map(|(_, r)| r), Ok("a/b"));
    }
}
