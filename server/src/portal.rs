//! The server's side of the web portal: [`frontend::portal::Portal`] over the domain services.
//! Every call acts as the viewer, through the same permission checks as the API.

use std::net::IpAddr;

use async_trait::async_trait;
use frontend::portal::{NewSession, Portal, PortalError, PortalResult};
use frontend::types::*;
use futures::TryStreamExt;
use serde_json::Value;

use crate::artifacts::BrowseError;
use crate::auth::{Action, AuthError, Identity, allowed};
use crate::auth::{RobotGrants, Role};
use crate::db::manifests::ArtifactSort;
use crate::db::projects::ProjectFilter;
use crate::db::{self, manifests::ArtifactRow, manifests::TagRow};
use crate::gc::collector::GcParams;
use crate::gc::{GcServiceError, Trigger};
use crate::projects::members::UserRef;
use crate::projects::robots::NewRobot;
use crate::projects::{ProjectError, ProjectRef};
use crate::retention::RetentionError;
use crate::retention::policy::{RuleDoc, SelectorDoc};
use crate::state::AppState;
use crate::storage::StorageKey;
use crate::time::rfc3339_ms;
use crate::users::{NewUserReq, UserError};

/// Rows per page in the portal's lists.
const PAGE_SIZE: i64 = 20;
/// Largest image config the artifact page reads.
const CONFIG_LIMIT: usize = 1 << 20;

/// The portal over the application state.
#[derive(Clone)]
pub struct WharfPortal(pub AppState);

impl WharfPortal {
    /// Records a portal action in the audit log, as the API records the same action. The
    /// client's address comes from the request the server function runs in (the portal trait
    /// is shared with the browser build, which has no addresses).
    fn audit(&self, who: &Viewer, project_id: i64, operation: &str, resource: String, kind: &str) {
        let ip = leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<IpAddr>().copied())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        self.0.auditor.record(crate::audit::entry(
            Some(project_id),
            &who.name,
            operation,
            resource,
            kind,
            ip,
        ));
    }
}

fn identity(v: &Viewer) -> Identity {
    if v.signed_in() {
        Identity::User { id: v.id, name: v.name.clone(), sysadmin: v.sysadmin }
    } else {
        Identity::Anonymous
    }
}

fn internal(e: impl std::fmt::Display) -> PortalError {
    tracing::error!(error = %e, "portal call failed");
    PortalError::Internal
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
            ProjectError::NoSuchRobot(r) => Self::NotFound(format!("Robot {r}")),
            ProjectError::NotEmpty(_) | ProjectError::InvalidRobot(_) | ProjectError::AlreadyMember(_) => {
                Self::Invalid(capitalized(&e.to_string()))
            }
            other => internal(other),
        }
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect::<String>() + ".")
}

impl From<RetentionError> for PortalError {
    fn from(e: RetentionError) -> Self {
        match e {
            RetentionError::Project(p) => p.into(),
            RetentionError::NotFound(what) => Self::NotFound(what),
            RetentionError::Invalid(m) | RetentionError::Conflict(m) => Self::Invalid(m),
            RetentionError::Busy | RetentionError::NotRunning(_) => Self::Invalid(e.to_string()),
            RetentionError::Db(e) => internal(e),
        }
    }
}

/// A rule's fields for the portal's edit form, when it has the form's shape (one selector of
/// each kind).
fn rule_form(r: &RuleDoc) -> Option<NewRetentionRule> {
    let [tag] = r.tag_selectors.as_slice() else { return None };
    let [repo] = r.scope_selectors.get("repository")?.as_slice() else { return None };
    let tag_excludes = tag.decoration == "excludes";
    let untagged = serde_json::from_str::<Value>(&tag.extras)
        .ok()
        .and_then(|e| e.get("untagged").and_then(Value::as_bool))
        .unwrap_or(!tag_excludes);
    Some(NewRetentionRule {
        template: r.template.clone(),
        count: r.params.get(&r.template).and_then(Value::as_i64).unwrap_or(0),
        repo_excludes: repo.decoration == "repoExcludes",
        repo_pattern: repo.pattern.clone(),
        tag_excludes,
        tag_pattern: tag.pattern.clone(),
        untagged,
    })
}

impl From<UserError> for PortalError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Unauthorized => Self::Unauthorized,
            UserError::Forbidden => Self::Forbidden,
            UserError::NotFound(u) => Self::NotFound(format!("User {u}")),
            UserError::Internal => Self::Internal,
            other => Self::Invalid(sentence(&other.to_string())),
        }
    }
}

/// A domain message as a sentence: capital first letter, full stop.
fn sentence(m: &str) -> String {
    let mut c = m.chars();
    let first = c.next().map(|f| f.to_uppercase().collect::<String>()).unwrap_or_default();
    let rest: String = c.collect();
    if rest.ends_with('.') { format!("{first}{rest}") } else { format!("{first}{rest}.") }
}

impl From<BrowseError> for PortalError {
    fn from(e: BrowseError) -> Self {
        match e {
            BrowseError::Project(p) => p.into(),
            BrowseError::NotFound(what) => Self::NotFound(what),
            BrowseError::Invalid(m) | BrowseError::Conflict(m) => Self::Invalid(m),
            other => internal(other),
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

impl From<db::DbError> for PortalError {
    fn from(e: db::DbError) -> Self {
        internal(e)
    }
}

fn page<T>(items: Vec<T>, total: i64, page: i64) -> Page<T> {
    Page { items, total, page, page_size: PAGE_SIZE }
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

/// Harbor's artifact types: image, index, or the artifact's own type.
fn kind(media_type: &str, artifact_type: Option<&str>, config_media_type: Option<&str>) -> String {
    if let Some(t) = artifact_type {
        return t.to_owned();
    }
    if media_type.contains("index") || media_type.contains("manifest.list") {
        return "index".into();
    }
    match config_media_type {
        Some(c) if !c.contains("image.config") && !c.contains("container.image") => c.to_owned(),
        _ => "image".into(),
    }
}

fn summary((a, tags): (ArtifactRow, Vec<TagRow>)) -> ArtifactSummary {
    ArtifactSummary {
        kind: kind(&a.media_type, a.artifact_type.as_deref(), a.config_media_type.as_deref()),
        digest: a.digest,
        tags: tags.into_iter().map(|t| t.name).collect(),
        size: a.total_size,
        pushed: rfc3339_ms(a.pushed_at),
        pulled: a.pulled_at.map(rfc3339_ms),
        platforms: Vec::new(),
    }
}

/// `os/arch[/variant]` of each entry of an index (`unknown` when it names none).
fn index_platforms(index: &Value) -> Vec<(String, &Value)> {
    index["manifests"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|c| {
                    let pl = &c["platform"];
                    let platform = [pl["os"].as_str(), pl["architecture"].as_str(), pl["variant"].as_str()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("/");
                    (if platform.is_empty() { "unknown".into() } else { platform }, c)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn join(v: &Value) -> Option<String> {
    match v {
        Value::Array(items) => Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The config fields people look for, in the order Harbor shows them.
fn config_fields(config: &Value) -> (Vec<(String, String)>, Vec<String>) {
    let mut out = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push((k.to_owned(), v));
        }
    };
    put("Created", config["created"].as_str().map(str::to_owned));
    let platform = [config["os"].as_str(), config["architecture"].as_str(), config["variant"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    put("OS/Arch", Some(platform));
    let c = &config["config"];
    put("Entrypoint", join(&c["Entrypoint"]));
    put("Cmd", join(&c["Cmd"]));
    put("Working dir", c["WorkingDir"].as_str().map(str::to_owned));
    put("User", c["User"].as_str().map(str::to_owned));
    put(
        "Env",
        join(&c["Env"]).map(|_| {
            c["Env"]
                .as_array()
                .map(|e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default()
        }),
    );
    if let Some(ports) = c["ExposedPorts"].as_object() {
        put("Exposed ports", Some(ports.keys().cloned().collect::<Vec<_>>().join(", ")));
    }
    if let Some(labels) = c["Labels"].as_object() {
        let text =
            labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>();
        put("Labels", Some(text.join("\n")));
    }
    let history = config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|e| e["created_by"].as_str().or(e["comment"].as_str()).unwrap_or("").to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    (out, history)
}

impl WharfPortal {
    fn who_may(&self, who: &Identity, p: &db::projects::ProjectRow, action: Action) -> bool {
        allowed(who, p.id, p.public, p.role, action)
    }

    async fn read_config(&self, digest: &str) -> Option<Value> {
        let key = StorageKey::Blob(digest.parse().ok()?);
        let read = self.0.store.read(&key, None).await.ok()?;
        if read.size as usize > CONFIG_LIMIT {
            return None;
        }
        let chunks: Vec<bytes::Bytes> = read.stream.try_collect().await.ok()?;
        serde_json::from_slice(&chunks.concat()).ok()
    }

    fn require_admin(who: &Viewer) -> PortalResult<()> {
        match (who.signed_in(), who.sysadmin) {
            (_, true) => Ok(()),
            (true, false) => Err(PortalError::Forbidden),
            (false, _) => Err(PortalError::Unauthorized),
        }
    }
}

#[async_trait]
impl Portal for WharfPortal {
    async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client_ip: Option<IpAddr>,
    ) -> PortalResult<NewSession> {
        let ip = client_ip.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let who = match self.0.auth.verify(username, password, ip).await {
            Ok(who) => who,
            Err(AuthError::InvalidCredentials | AuthError::Malformed) => {
                return Err(PortalError::Invalid("Wrong username or password.".into()));
            }
            Err(AuthError::Throttled) => {
                return Err(PortalError::Invalid(
                    "Too many failed sign-ins: wait a minute, then try again.".into(),
                ));
            }
            Err(e) => return Err(internal(e)),
        };
        let Identity::User { id, .. } = who else {
            return Err(PortalError::Invalid("Robot accounts cannot sign in to the portal.".into()));
        };
        self.0.auditor.record(crate::audit::entry(None, username, "login", username.to_owned(), "user", ip));
        Ok(NewSession { cookie: self.0.sessions.open(id).await? })
    }

    async fn sign_out(&self, cookie_header: Option<&str>) -> String {
        match self.0.sessions.close(cookie_header).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not end a session");
                self.0.sessions.clear_cookie()
            }
        }
    }

    async fn projects(&self, who: &Viewer, q: &str, page_no: i64) -> PortalResult<Page<ProjectSummary>> {
        let filter = ProjectFilter { name_contains: q.trim().to_owned(), ..Default::default() };
        let (rows, total) = self.0.projects.list(&identity(who), filter, offset(page_no), PAGE_SIZE).await?;
        let ids: Vec<i64> = rows.iter().map(|p| p.id).collect();
        let storage = db::projects::storage_of(self.0.db.reader(), &ids).await.map_err(internal)?;
        let items = rows
            .into_iter()
            .map(|p| ProjectSummary {
                storage: storage.iter().find(|(id, _)| *id == p.id).map_or(0, |(_, b)| *b),
                name: p.name,
                public: p.public,
                repo_count: p.repo_count,
                role: p.role.map(|r| r.name().to_owned()),
                created: rfc3339_ms(p.created_at),
            })
            .collect();
        Ok(page(items, total, page_no.max(1)))
    }

    async fn create_project(&self, who: &Viewer, name: &str, public: bool) -> PortalResult<()> {
        let id = self.0.projects.create(&identity(who), name, public).await?;
        self.audit(who, id, "create", name.to_owned(), "project");
        Ok(())
    }

    async fn project(&self, who: &Viewer, name: &str) -> PortalResult<ProjectView> {
        let id = identity(who);
        let p = self.0.projects.get(&id, &ProjectRef::Name(name.to_owned()), Action::ReadProject).await?;
        Ok(ProjectView {
            can_push: self.who_may(&id, &p, Action::Push),
            can_manage_retention: self.who_may(&id, &p, Action::ManageRetention),
            can_list_members: self.who_may(&id, &p, Action::ListMembers),
            can_admin: self.who_may(&id, &p, Action::UpdateProject),
            repo_count: p.repo_count,
            name: p.name,
            public: p.public,
            registry: self.0.config.registry_host().to_owned(),
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
        Ok(page(items, total, page_no.max(1)))
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
        let (rows, total, project) =
            self.0.artifacts.list_artifacts(&id, &p, repo, sort, offset(page_no), PAGE_SIZE).await?;
        let indexes: Vec<i64> = rows
            .iter()
            .filter(|(a, _)| a.media_type.contains("index") || a.media_type.contains("list"))
            .map(|(a, _)| a.id)
            .collect();
        let contents = db::manifests::contents_of(self.0.db.reader(), &indexes).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let id = row.0.id;
                let mut s = summary(row);
                if let Some((_, content)) = contents.iter().find(|(i, _)| *i == id) {
                    let index: Value = serde_json::from_slice(content).unwrap_or(Value::Null);
                    s.platforms = index_platforms(&index).into_iter().map(|(p, _)| p).collect();
                }
                s
            })
            .collect();
        Ok(ArtifactList {
            artifacts: page(items, total, page_no.max(1)),
            can_delete: self.who_may(&id, &project, Action::Delete),
        })
    }

    async fn artifact(&self, who: &Viewer, repository: &str, reference: &str) -> PortalResult<ArtifactView> {
        let id = identity(who);
        let (p, repo) = split_repo(repository)?;
        let project = self.0.projects.get(&id, &p, Action::ReadProject).await?;
        let (r, found) = self.0.artifacts.artifact(&id, &p, repo, reference, Action::Pull).await?;
        let summary = summary(found);
        let m = db::manifests::by_digest(self.0.db.reader(), r.id, &summary.digest)
            .await?
            .ok_or_else(|| PortalError::NotFound(format!("Artifact {reference}")))?;
        let manifest: Value = serde_json::from_slice(&m.content).unwrap_or(Value::Null);
        let layers = manifest["layers"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .map(|l| LayerView {
                        digest: l["digest"].as_str().unwrap_or_default().to_owned(),
                        media_type: l["mediaType"].as_str().unwrap_or_default().to_owned(),
                        size: l["size"].as_i64().unwrap_or(0),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let platforms = index_platforms(&manifest)
            .into_iter()
            .map(|(platform, c)| PlatformView {
                digest: c["digest"].as_str().unwrap_or_default().to_owned(),
                platform,
                size: c["size"].as_i64().unwrap_or(0),
            })
            .collect();
        let (config, history) = match manifest["config"]["digest"].as_str() {
            Some(d) if summary.kind == "image" => match self.read_config(d).await {
                Some(c) => config_fields(&c),
                None => (Vec::new(), Vec::new()),
            },
            _ => (Vec::new(), Vec::new()),
        };
        let referrers = db::manifests::referrers(self.0.db.reader(), r.id, &summary.digest, None)
            .await?
            .into_iter()
            .map(|x| ArtifactSummary {
                kind: kind(&x.media_type, x.artifact_type.as_deref(), x.config_media_type.as_deref()),
                digest: x.digest,
                tags: Vec::new(),
                size: x.size,
                pushed: String::new(),
                pulled: None,
                platforms: Vec::new(),
            })
            .collect();
        Ok(ArtifactView {
            pull_by_digest: format!("{}/{}@{}", self.0.config.registry_host(), r.name, summary.digest),
            repository: r.name,
            media_type: m.media_type,
            manifest: serde_json::to_string_pretty(&manifest).unwrap_or_default(),
            config,
            history,
            layers,
            platforms,
            referrers,
            can_delete: self.who_may(&id, &project, Action::Delete),
            can_tag: self.who_may(&id, &project, Action::Push),
            summary,
        })
    }

    async fn delete_tag(&self, who: &Viewer, repository: &str, tag: &str) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        let r = self.0.artifacts.delete_tag(&identity(who), &p, repo, tag, tag).await?;
        self.audit(who, r.project_id, "delete", format!("{}:{tag}", r.name), "tag");
        Ok(())
    }

    async fn add_tag(&self, who: &Viewer, repository: &str, digest: &str, tag: &str) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        let r = self.0.artifacts.add_tag(&identity(who), &p, repo, digest, tag).await?;
        self.audit(who, r.project_id, "create", format!("{}:{tag}", r.name), "tag");
        Ok(())
    }

    async fn delete_artifact(&self, who: &Viewer, repository: &str, digest: &str) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        let r = self.0.artifacts.delete_artifact(&identity(who), &p, repo, digest).await?;
        self.audit(who, r.project_id, "delete", format!("{}:{digest}", r.name), "artifact");
        Ok(())
    }

    async fn gc(&self, who: &Viewer, page_no: i64) -> PortalResult<GcView> {
        Self::require_admin(who)?;
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
            schedule_kind: schedule.as_ref().map_or("None".into(), |s| s.kind.clone()),
            cron: schedule.as_ref().map(|s| s.cron.clone()).unwrap_or_default(),
            next: schedule.and_then(|s| s.next_run_at).map(rfc3339_ms),
            runs: page(runs, total, page_no.max(1)),
        })
    }

    async fn run_gc(&self, who: &Viewer, dry_run: bool, delete_untagged: bool) -> PortalResult<i64> {
        Self::require_admin(who)?;
        let params = GcParams { delete_untagged, dry_run, workers: None };
        Ok(self.0.gc.start(Trigger::Manual, params).await?)
    }

    async fn set_gc_schedule(
        &self,
        who: &Viewer,
        kind: &str,
        cron: &str,
        delete_untagged: bool,
    ) -> PortalResult<()> {
        Self::require_admin(who)?;
        let params = GcParams { delete_untagged, dry_run: false, workers: None };
        Ok(self.0.gc.set_schedule(kind, cron, params).await?)
    }

    async fn gc_log(&self, who: &Viewer, id: i64) -> PortalResult<String> {
        Self::require_admin(who)?;
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
        let executions = page(executions, total, page_no.max(1));
        Ok(match policy {
            None => RetentionView {
                policy_id: None,
                rules: Vec::new(),
                cron: String::new(),
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
                    .map(|(r, text)| RetentionRuleView { text, disabled: r.disabled, form: rule_form(r) })
                    .collect(),
                cron: p.doc.trigger.settings.cron.clone(),
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
        let selector = |decoration: &str, pattern: &str, extras: String| SelectorDoc {
            kind: "doublestar".into(),
            decoration: decoration.into(),
            pattern: pattern.into(),
            extras,
        };
        let doc = RuleDoc {
            action: "retain".into(),
            params: (rule.template != "always")
                .then(|| (rule.template.clone(), serde_json::json!(rule.count)))
                .into_iter()
                .collect(),
            tag_selectors: vec![selector(
                if rule.tag_excludes { "excludes" } else { "matches" },
                &rule.tag_pattern,
                serde_json::json!({ "untagged": rule.untagged }).to_string(),
            )],
            scope_selectors: [(
                "repository".to_owned(),
                vec![selector(
                    if rule.repo_excludes { "repoExcludes" } else { "repoMatches" },
                    &rule.repo_pattern,
                    String::new(),
                )],
            )]
            .into_iter()
            .collect(),
            template: rule.template,
            ..Default::default()
        };
        let p = ProjectRef::Name(project.to_owned());
        Ok(self
            .0
            .retention
            .edit_project_policy(&identity(who), &p, |d| match index {
                None => {
                    d.rules.push(doc);
                    Ok(())
                }
                Some(i) => match d.rules.get_mut(i) {
                    Some(r) => {
                        *r = doc;
                        Ok(())
                    }
                    None => Err(RetentionError::NotFound(format!("rule {}", i + 1))),
                },
            })
            .await?)
    }

    async fn delete_retention_rule(&self, who: &Viewer, project: &str, index: usize) -> PortalResult<()> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self
            .0
            .retention
            .edit_project_policy(&identity(who), &p, |d| {
                if index >= d.rules.len() {
                    return Err(RetentionError::NotFound(format!("rule {}", index + 1)));
                }
                d.rules.remove(index);
                Ok(())
            })
            .await?)
    }

    async fn set_retention_schedule(
        &self,
        who: &Viewer,
        project: &str,
        kind: &str,
        cron: &str,
    ) -> PortalResult<()> {
        let expr = match (kind, crate::jobs::cron::preset(kind)) {
            ("None", _) => String::new(),
            (_, Some(preset)) => preset.to_owned(),
            ("Custom", None) => cron.trim().to_owned(),
            _ => return Err(PortalError::Invalid(format!("unknown schedule {kind:?}"))),
        };
        let p = ProjectRef::Name(project.to_owned());
        Ok(self
            .0
            .retention
            .edit_project_policy(&identity(who), &p, |d| {
                if d.rules.is_empty() {
                    return Err(RetentionError::Invalid("Add a rule before setting a schedule.".into()));
                }
                d.trigger.settings.cron = expr;
                Ok(())
            })
            .await?)
    }

    async fn run_retention(&self, who: &Viewer, project: &str, dry_run: bool) -> PortalResult<i64> {
        let p = ProjectRef::Name(project.to_owned());
        Ok(self.0.retention.run_project(&identity(who), &p, dry_run).await?)
    }

    async fn change_own_password(
        &self,
        who: &Viewer,
        old: &str,
        new: &str,
        client_ip: Option<IpAddr>,
    ) -> PortalResult<NewSession> {
        let id = identity(who);
        let ip = client_ip.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        self.0.users.change_password(&id, who.id, Some(old), new, ip).await?;
        Ok(NewSession { cookie: self.0.sessions.open(who.id).await? })
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
        Ok(page(items, total, page_no.max(1)))
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
            password: password.to_owned(),
        };
        self.0.users.create(&identity(who), req).await?;
        Ok(())
    }

    async fn change_user(&self, who: &Viewer, id: i64, change: UserChange) -> PortalResult<()> {
        let me = identity(who);
        Self::require_admin(who)?;
        match change {
            UserChange::Disabled(d) => self.0.users.update(&me, id, None, None, Some(d)).await?,
            UserChange::Admin(on) => self.0.users.set_sysadmin(&me, id, on).await?,
            UserChange::Password(p) => {
                self.0.users.change_password(&me, id, None, &p, IpAddr::from([127, 0, 0, 1])).await?
            }
        }
        Ok(())
    }

    async fn members(&self, who: &Viewer, project: &str) -> PortalResult<Vec<MemberView>> {
        let p = ProjectRef::Name(project.to_owned());
        let (rows, _) = self.0.projects.list_members(&identity(who), &p, "", 0, 1000).await?;
        Ok(rows
            .into_iter()
            .map(|m| MemberView {
                id: m.id,
                username: m.username,
                role_id: m.role.id(),
                role: m.role.name().to_owned(),
            })
            .collect())
    }

    async fn add_member(
        &self,
        who: &Viewer,
        project: &str,
        username: &str,
        role_id: i64,
    ) -> PortalResult<()> {
        let role = Role::from_id(role_id).ok_or_else(|| PortalError::Invalid("Pick a role.".into()))?;
        let p = ProjectRef::Name(project.to_owned());
        self.0.projects.add_member(&identity(who), &p, &UserRef::Name(username.to_owned()), role).await?;
        Ok(())
    }

    async fn set_member_role(
        &self,
        who: &Viewer,
        project: &str,
        member: i64,
        role_id: i64,
    ) -> PortalResult<()> {
        let role = Role::from_id(role_id).ok_or_else(|| PortalError::Invalid("Pick a role.".into()))?;
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
        let now = db::now_ms();
        Ok(rows
            .into_iter()
            .map(|r| {
                let permissions =
                    [(r.grants.pull, "pull"), (r.grants.push, "push"), (r.grants.delete, "delete")]
                        .into_iter()
                        .filter_map(|(on, name)| on.then_some(name))
                        .collect::<Vec<_>>()
                        .join(", ");
                RobotView {
                    id: r.id,
                    name: r.name,
                    description: r.description,
                    permissions,
                    disabled: r.disabled,
                    expires: (r.expires_at >= 0).then(|| rfc3339_ms(r.expires_at)),
                    expired: r.expires_at >= 0 && r.expires_at <= now,
                }
            })
            .collect())
    }

    async fn create_robot(
        &self,
        who: &Viewer,
        project: &str,
        name: &str,
        permissions: (bool, bool, bool),
        days: i64,
    ) -> PortalResult<RobotSecret> {
        let p = ProjectRef::Name(project.to_owned());
        let new = NewRobot {
            name: name.to_owned(),
            description: String::new(),
            grants: RobotGrants { pull: permissions.0, push: permissions.1, delete: permissions.2 },
            duration_days: days,
            disabled: false,
        };
        let (row, _, secret) = self.0.projects.create_robot(&identity(who), &p, new).await?;
        Ok(RobotSecret { name: row.name, secret })
    }

    async fn set_robot_disabled(&self, who: &Viewer, id: i64, disabled: bool) -> PortalResult<()> {
        Ok(self.0.projects.update_robot(&identity(who), id, None, None, Some(disabled)).await?)
    }

    async fn delete_robot(&self, who: &Viewer, id: i64) -> PortalResult<()> {
        Ok(self.0.projects.delete_robot(&identity(who), id).await?)
    }

    async fn project_logs(&self, who: &Viewer, project: &str, page_no: i64) -> PortalResult<Page<LogEntry>> {
        let p = self
            .0
            .projects
            .get(&identity(who), &ProjectRef::Name(project.to_owned()), Action::ReadLogs)
            .await?;
        let rows = db::audit::list(self.0.db.reader(), Some(p.id), "", "", offset(page_no), PAGE_SIZE)
            .await
            .map_err(internal)?;
        let total = db::audit::count(self.0.db.reader(), Some(p.id), "", "").await.map_err(internal)?;
        let items = rows
            .into_iter()
            .map(|r| LogEntry {
                username: r.username,
                operation: r.operation,
                resource: r.resource,
                client_ip: r.client_ip,
                time: rfc3339_ms(r.op_time),
            })
            .collect();
        Ok(page(items, total, page_no.max(1)))
    }

    async fn set_project_public(&self, who: &Viewer, project: &str, public: bool) -> PortalResult<()> {
        Ok(self.0.projects.set_public(&identity(who), &ProjectRef::Name(project.to_owned()), public).await?)
    }

    async fn delete_project(&self, who: &Viewer, project: &str) -> PortalResult<()> {
        match self.0.projects.delete(&identity(who), &ProjectRef::Name(project.to_owned())).await {
            Err(ProjectError::NotEmpty(p)) => {
                Err(PortalError::Invalid(format!("Project {p} still has repositories: delete them first.")))
            }
            other => Ok(other?),
        }
    }

    async fn delete_repository(&self, who: &Viewer, repository: &str) -> PortalResult<()> {
        let (p, repo) = split_repo(repository)?;
        let r = self.0.artifacts.delete_repository(&identity(who), &p, repo).await?;
        self.audit(who, r.project_id, "delete", r.name, "repository");
        Ok(())
    }
}
