//! Server functions: the pages' only way to the backend. Reads are `GET`s; everything that
//! changes state is a `POST` that must carry the viewer's anti-forgery token. Each one takes the
//! viewer from the request (the server resolved the session cookie) and makes one
//! [`crate::portal::Portal`] call; failures come back as the typed [`PortalError`].
// A server function takes one argument per form field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::types::*;

#[cfg(feature = "ssr")]
mod ctx {
    use leptos::prelude::*;

    use crate::portal::SharedPortal;
    use crate::types::{PortalError, Viewer};

    /// The portal and the viewer of the request being served.
    pub fn portal() -> Result<(SharedPortal, Viewer), PortalError> {
        let portal = use_context::<SharedPortal>().ok_or(PortalError::Internal)?;
        let viewer = use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Viewer>().cloned())
            .unwrap_or_default();
        Ok((portal, viewer))
    }

    /// The portal and the viewer of a request that changes something: the viewer's
    /// anti-forgery token must come with it (the server's request layer checks the same before
    /// any server function runs; this keeps each action honest on its own).
    pub fn acting(csrf: Option<&str>) -> Result<(SharedPortal, Viewer), PortalError> {
        let (portal, viewer) = portal()?;
        let header = header(http::HeaderName::from_static("x-csrf-token"));
        let given = csrf.or(header.as_deref());
        if viewer.signed_in() && given != Some(viewer.csrf.as_str()) {
            return Err(PortalError::Invalid(crate::components::CSRF_REFUSAL.into()));
        }
        Ok((portal, viewer))
    }

    /// The request's header `name`.
    pub fn header(name: http::HeaderName) -> Option<String> {
        use_context::<http::request::Parts>()
            .and_then(|p| p.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned))
    }
}

/// Who is signed in.
#[server(prefix = "/ui", endpoint = "current_viewer", input = GetUrl)]
pub async fn current_viewer() -> Result<Viewer, PortalError> {
    Ok(ctx::portal()?.1)
}

/// Signs in and goes to `next` (a local path) or the projects.
#[server(prefix = "/ui", endpoint = "sign_in")]
pub async fn sign_in(
    username: String,
    password: String,
    next: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, _) = ctx::acting(csrf.as_deref())?;
    portal.sign_in(username.trim(), &password).await?;
    // Only local paths: an open redirect would let a link send a fresh session elsewhere.
    leptos_axum::redirect(&crate::components::local_path(next.as_deref()));
    Ok(())
}

/// Ends the session (server-side) and goes to the sign-in page.
#[server(prefix = "/ui", endpoint = "sign_out")]
pub async fn sign_out(csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let next = portal.sign_out(&who).await;
    leptos_axum::redirect(next.as_deref().unwrap_or("/login"));
    Ok(())
}

/// Projects the viewer may see.
#[server(prefix = "/ui", endpoint = "list_projects", input = GetUrl)]
pub async fn list_projects(q: String, page: i64) -> Result<Page<ProjectSummary>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.projects(&who, &q, page).await
}

/// Creates a project and opens it.
#[server(prefix = "/ui", endpoint = "create_project")]
pub async fn create_project(
    name: String,
    public: Option<String>,
    proxy_of: Option<String>,
    group_of: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let name = name.trim().to_owned();
    // The form's select: empty for a normal project, an endpoint's id for a proxy cache.
    let proxy_of = match proxy_of.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id) => Some(id.parse().map_err(|_| PortalError::Invalid("Choose a registry endpoint.".into()))?),
    };
    // "ours, hub": the members, in search order.
    let group_of: Vec<String> = group_of
        .unwrap_or_default()
        .split([',', ' '])
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    portal.create_project(&who, &name, public.is_some(), proxy_of, &group_of).await?;
    leptos_axum::redirect(&format!("/projects/{name}"));
    Ok(())
}

/// A project's header.
#[server(prefix = "/ui", endpoint = "get_project", input = GetUrl)]
pub async fn get_project(name: String) -> Result<ProjectView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.project(&who, &name).await
}

/// Repositories of a project.
#[server(prefix = "/ui", endpoint = "list_repositories", input = GetUrl)]
pub async fn list_repositories(
    project: String,
    q: String,
    page: i64,
) -> Result<Page<RepositorySummary>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.repositories(&who, &project, &q, page).await
}

/// Artifacts of a repository.
#[server(prefix = "/ui", endpoint = "list_artifacts", input = GetUrl)]
pub async fn list_artifacts(
    repository: String,
    sort: String,
    page: i64,
) -> Result<ArtifactList, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.artifacts(&who, &repository, &sort, page).await
}

/// One artifact.
#[server(prefix = "/ui", endpoint = "get_artifact", input = GetUrl)]
pub async fn get_artifact(repository: String, reference: String) -> Result<ArtifactView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.artifact(&who, &repository, &reference).await
}

/// A project's summary tab.
#[server(prefix = "/ui", endpoint = "project_dashboard", input = GetUrl)]
pub async fn get_project_dashboard(project: String) -> Result<ProjectDashboard, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.project_dashboard(&who, &project).await
}

/// The administrators' dashboard.
#[server(prefix = "/ui", endpoint = "registry_dashboard", input = GetUrl)]
pub async fn get_registry_dashboard() -> Result<RegistryDashboard, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.registry_dashboard(&who).await
}

/// The whole registry's audit log.
#[server(prefix = "/ui", endpoint = "audit_logs", input = GetUrl)]
pub async fn audit_logs(page: i64) -> Result<Page<LogEntry>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.audit_logs(&who, page).await
}

/// The header's search.
#[server(prefix = "/ui", endpoint = "search", input = GetUrl)]
pub async fn search(q: String) -> Result<SearchResults, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.search(&who, &q).await
}

/// One page of one layer's files.
#[server(prefix = "/ui", endpoint = "layer_files", input = GetUrl)]
pub async fn list_layer_files(
    repository: String,
    reference: String,
    layer: String,
    q: String,
    page: i64,
) -> Result<LayerFiles, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.layer_files(&who, &repository, &reference, &layer, &q, page).await
}

/// One directory of an image's merged filesystem.
#[server(prefix = "/ui", endpoint = "filesystem", input = GetUrl)]
pub async fn filesystem(
    repository: String,
    reference: String,
    path: String,
    page: i64,
) -> Result<TreeListing, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.filesystem(&who, &repository, &reference, &path, page).await
}

/// Two images of a repository compared.
#[server(prefix = "/ui", endpoint = "compare", input = GetUrl)]
pub async fn compare(repository: String, reference: String, with: String) -> Result<Comparison, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.compare(&who, &repository, &reference, &with).await
}

/// Deletes a tag, then shows the artifact again.
#[server(prefix = "/ui", endpoint = "delete_tag")]
pub async fn delete_tag(
    repository: String,
    digest: String,
    tag: String,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_tag(&who, &repository, &tag).await?;
    leptos_axum::redirect(&crate::pages::artifact_href(&repository, &digest));
    Ok(())
}

/// Adds a tag, then shows the artifact again.
#[server(prefix = "/ui", endpoint = "add_tag")]
pub async fn add_tag(
    repository: String,
    digest: String,
    tag: String,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.add_tag(&who, &repository, &digest, tag.trim()).await?;
    leptos_axum::redirect(&crate::pages::artifact_href(&repository, &digest));
    Ok(())
}

/// Deletes an artifact, then shows its repository.
#[server(prefix = "/ui", endpoint = "delete_artifact")]
pub async fn delete_artifact(
    repository: String,
    digest: String,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_artifact(&who, &repository, &digest).await?;
    leptos_axum::redirect(&crate::pages::repository_href(&repository));
    Ok(())
}

/// The garbage collection page.
#[server(prefix = "/ui", endpoint = "gc_page", input = GetUrl)]
pub async fn gc_page(page: i64) -> Result<GcView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.gc(&who, page).await
}

/// Starts a collection (or a dry run).
#[server(prefix = "/ui", endpoint = "run_gc")]
pub async fn run_gc(
    dry_run: Option<String>,
    delete_untagged: Option<String>,
    csrf: Option<String>,
) -> Result<i64, PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let id = portal.run_gc(&who, dry_run.is_some(), delete_untagged.is_some()).await?;
    leptos_axum::redirect("/admin/gc");
    Ok(id)
}

/// Sets the collection schedule.
#[server(prefix = "/ui", endpoint = "set_gc_schedule")]
pub async fn set_gc_schedule(
    kind: ScheduleKind,
    cron: Option<String>,
    delete_untagged: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let schedule = Schedule::new(kind, cron.as_deref().unwrap_or(""));
    portal.set_gc_schedule(&who, schedule, delete_untagged.is_some()).await?;
    leptos_axum::redirect("/admin/gc");
    Ok(())
}

/// Audit log retention on the admin page.
#[server(prefix = "/ui", endpoint = "purge_page", input = GetUrl)]
pub async fn purge_page() -> Result<PurgeView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.purge(&who).await
}

#[cfg(feature = "ssr")]
fn hours(text: &str) -> Result<i64, PortalError> {
    text.trim().parse().map_err(|_| PortalError::Invalid(format!("{text:?} is not a number of hours.")))
}

/// Purges the audit log now (or counts, with `dry_run`).
#[server(prefix = "/ui", endpoint = "run_purge")]
pub async fn run_purge(
    keep_hours: String,
    operations: Option<String>,
    dry_run: Option<String>,
    csrf: Option<String>,
) -> Result<i64, PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let id = portal
        .run_purge(&who, hours(&keep_hours)?, operations.as_deref().unwrap_or(""), dry_run.is_some())
        .await?;
    leptos_axum::redirect("/admin/gc");
    Ok(id)
}

/// Sets the audit log purge schedule.
#[server(prefix = "/ui", endpoint = "set_purge_schedule")]
pub async fn set_purge_schedule(
    kind: ScheduleKind,
    cron: Option<String>,
    keep_hours: String,
    operations: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let schedule = Schedule::new(kind, cron.as_deref().unwrap_or(""));
    portal
        .set_purge_schedule(&who, schedule, hours(&keep_hours)?, operations.as_deref().unwrap_or(""))
        .await?;
    leptos_axum::redirect("/admin/gc");
    Ok(())
}

/// A project's Retention tab.
#[server(prefix = "/ui", endpoint = "retention_page", input = GetUrl)]
pub async fn retention_page(project: String, page: i64) -> Result<RetentionView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.retention(&who, &project, page).await
}

/// Adds a retention rule, or replaces rule `index`.
#[server(prefix = "/ui", endpoint = "save_retention_rule")]
pub async fn save_retention_rule(
    project: String,
    index: Option<usize>,
    template: RetentionTemplate,
    count: Option<String>,
    repo_decoration: String,
    repo_pattern: String,
    tag_decoration: String,
    tag_pattern: String,
    untagged: Option<String>,
    labels: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let count = match count.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => c.parse().map_err(|_| PortalError::Invalid(format!("{c:?} is not a number.")))?,
    };
    let rule = NewRetentionRule {
        template,
        count,
        repo_excludes: repo_decoration == "repoExcludes",
        repo_pattern: repo_pattern.trim().to_owned(),
        tag_excludes: tag_decoration == "excludes",
        tag_pattern: tag_pattern.trim().to_owned(),
        untagged: untagged.is_some(),
        labels: labels.unwrap_or_default().trim().to_owned(),
    };
    portal.save_retention_rule(&who, &project, index, rule).await?;
    leptos_axum::redirect(&tab_href(&project, "retention"));
    Ok(())
}

/// Removes a retention rule.
#[server(prefix = "/ui", endpoint = "delete_retention_rule")]
pub async fn delete_retention_rule(
    project: String,
    index: usize,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_retention_rule(&who, &project, index).await?;
    leptos_axum::redirect(&tab_href(&project, "retention"));
    Ok(())
}

/// Sets the retention schedule.
#[server(prefix = "/ui", endpoint = "set_retention_schedule")]
pub async fn set_retention_schedule(
    project: String,
    kind: ScheduleKind,
    cron: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let schedule = Schedule::new(kind, cron.as_deref().unwrap_or(""));
    portal.set_retention_schedule(&who, &project, schedule).await?;
    leptos_axum::redirect(&tab_href(&project, "retention"));
    Ok(())
}

/// Starts a retention run or dry run.
#[server(prefix = "/ui", endpoint = "run_retention")]
pub async fn run_retention(
    project: String,
    dry_run: Option<String>,
    csrf: Option<String>,
) -> Result<i64, PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let id = portal.run_retention(&who, &project, dry_run.is_some()).await?;
    leptos_axum::redirect(&tab_href(&project, "retention"));
    Ok(id)
}

/// The labels a project's artifacts may carry.
#[server(prefix = "/ui", endpoint = "project_labels", input = GetUrl)]
pub async fn project_labels(project: String) -> Result<Vec<LabelChip>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.project_labels(&who, &project).await
}

/// Creates a label (`global` for system administrators).
#[server(prefix = "/ui", endpoint = "create_label")]
pub async fn create_label(
    project: String,
    name: String,
    color: Option<String>,
    global: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal
        .create_label(&who, &project, name.trim(), color.as_deref().unwrap_or("").trim(), global.is_some())
        .await?;
    leptos_axum::redirect(&tab_href(&project, "settings"));
    Ok(())
}

/// Deletes a label.
#[server(prefix = "/ui", endpoint = "delete_label")]
pub async fn delete_label(project: String, id: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_label(&who, id).await?;
    leptos_axum::redirect(&tab_href(&project, "settings"));
    Ok(())
}

/// Puts a label on an artifact.
#[server(prefix = "/ui", endpoint = "label_artifact")]
pub async fn label_artifact(
    repository: String,
    digest: String,
    label: i64,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.label_artifact(&who, &repository, &digest, label).await?;
    leptos_axum::redirect(&crate::pages::artifact_href(&repository, &digest));
    Ok(())
}

/// Takes a label off an artifact.
#[server(prefix = "/ui", endpoint = "unlabel_artifact")]
pub async fn unlabel_artifact(
    repository: String,
    digest: String,
    label: i64,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.unlabel_artifact(&who, &repository, &digest, label).await?;
    leptos_axum::redirect(&crate::pages::artifact_href(&repository, &digest));
    Ok(())
}

/// Sets a project's storage limit (`10GiB`, `500MB`, bytes, or -1 for none).
#[server(prefix = "/ui", endpoint = "set_project_quota")]
pub async fn set_project_quota(
    project: String,
    limit: String,
    back: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let bytes = parse_size(&limit).map_err(PortalError::Invalid)?;
    portal.set_project_quota(&who, &project, bytes).await?;
    // From the Quotas page, back to it; else to the project's settings.
    if back.as_deref() == Some("quotas") {
        leptos_axum::redirect("/admin/quotas");
    } else {
        leptos_axum::redirect(&tab_href(&project, "settings"));
    }
    Ok(())
}

/// The global labels.
#[server(prefix = "/ui", endpoint = "global_labels", input = GetUrl)]
pub async fn global_labels() -> Result<Vec<LabelChip>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.global_labels(&who).await
}

/// Creates a global label, then shows the labels again.
#[server(prefix = "/ui", endpoint = "create_global_label")]
pub async fn create_global_label(
    name: String,
    color: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.create_global_label(&who, name.trim(), color.as_deref().unwrap_or("").trim()).await?;
    leptos_axum::redirect("/admin/labels");
    Ok(())
}

/// Deletes a global label, then shows the labels again.
#[server(prefix = "/ui", endpoint = "delete_global_label")]
pub async fn delete_global_label(id: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_global_label(&who, id).await?;
    leptos_axum::redirect("/admin/labels");
    Ok(())
}

/// Every project's quota.
#[server(prefix = "/ui", endpoint = "list_quotas", input = GetUrl)]
pub async fn list_quotas(page: i64) -> Result<Page<QuotaView>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.quotas(&who, page).await
}

/// A project's Webhooks tab.
#[server(prefix = "/ui", endpoint = "webhooks_page", input = GetUrl)]
pub async fn webhooks_page(project: String) -> Result<WebhooksView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.webhooks(&who, &project).await
}

/// Adds a webhook policy; each event is a checkbox named by its word (`PUSH_ARTIFACT`, …).
#[server(prefix = "/ui", endpoint = "add_webhook")]
pub async fn add_webhook(
    project: String,
    name: String,
    address: String,
    kind: String,
    format: String,
    auth_header: Option<String>,
    skip_cert_verify: Option<String>,
    #[server(rename = "PUSH_ARTIFACT")] push: Option<String>,
    #[server(rename = "PULL_ARTIFACT")] pull: Option<String>,
    #[server(rename = "DELETE_ARTIFACT")] delete: Option<String>,
    #[server(rename = "QUOTA_EXCEED")] quota_exceed: Option<String>,
    #[server(rename = "QUOTA_WARNING")] quota_warning: Option<String>,
    #[server(rename = "REPLICATION")] replication: Option<String>,
    #[server(rename = "TAG_RETENTION")] tag_retention: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let checked = [push, pull, delete, quota_exceed, quota_warning, replication, tag_retention];
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let hook = NewWebhook {
        name: name.trim().to_owned(),
        address: address.trim().to_owned(),
        kind: NotifyType::parse(&kind).ok_or_else(|| PortalError::Invalid("Pick HTTP or Slack.".into()))?,
        format: PayloadFormat::parse(&format)
            .ok_or_else(|| PortalError::Invalid("Pick a payload format.".into()))?,
        auth_header: auth_header.unwrap_or_default(),
        skip_cert_verify: skip_cert_verify.is_some(),
        events: WebhookEvent::ALL
            .into_iter()
            .zip(checked)
            .filter(|(_, c)| c.is_some())
            .map(|(e, _)| e)
            .collect(),
    };
    portal.add_webhook(&who, &project, &hook).await?;
    leptos_axum::redirect(&tab_href(&project, "webhooks"));
    Ok(())
}

/// Switches a webhook policy on (`on` present) or off.
#[server(prefix = "/ui", endpoint = "switch_webhook")]
pub async fn switch_webhook(
    project: String,
    id: i64,
    on: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.switch_webhook(&who, &project, id, on.is_some()).await?;
    leptos_axum::redirect(&tab_href(&project, "webhooks"));
    Ok(())
}

/// Deletes a webhook policy.
#[server(prefix = "/ui", endpoint = "delete_webhook")]
pub async fn delete_webhook(project: String, id: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_webhook(&who, &project, id).await?;
    leptos_axum::redirect(&tab_href(&project, "webhooks"));
    Ok(())
}

/// A project's Immutability tab.
#[server(prefix = "/ui", endpoint = "immutable_rules_page", input = GetUrl)]
pub async fn immutable_rules_page(project: String) -> Result<Vec<ImmutableRuleView>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.immutable_rules(&who, &project).await
}

/// Adds a tag immutability rule.
#[server(prefix = "/ui", endpoint = "add_immutable_rule")]
pub async fn add_immutable_rule(
    project: String,
    repo_decoration: String,
    repo_pattern: String,
    tag_decoration: String,
    tag_pattern: String,
    labels: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let rule = NewImmutableRule {
        repo_excludes: repo_decoration == "repoExcludes",
        repo_pattern: repo_pattern.trim().to_owned(),
        tag_excludes: tag_decoration == "excludes",
        tag_pattern: tag_pattern.trim().to_owned(),
        labels: labels.unwrap_or_default().trim().to_owned(),
    };
    portal.add_immutable_rule(&who, &project, &rule).await?;
    leptos_axum::redirect(&tab_href(&project, "immutability"));
    Ok(())
}

/// Switches a tag immutability rule on (`on` present) or off.
#[server(prefix = "/ui", endpoint = "switch_immutable_rule")]
pub async fn switch_immutable_rule(
    project: String,
    id: i64,
    on: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.switch_immutable_rule(&who, &project, id, on.is_some()).await?;
    leptos_axum::redirect(&tab_href(&project, "immutability"));
    Ok(())
}

/// Deletes a tag immutability rule.
#[server(prefix = "/ui", endpoint = "delete_immutable_rule")]
pub async fn delete_immutable_rule(
    project: String,
    id: i64,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_immutable_rule(&who, &project, id).await?;
    leptos_axum::redirect(&tab_href(&project, "immutability"));
    Ok(())
}

/// Changes the viewer's own password.
#[server(prefix = "/ui", endpoint = "change_password")]
pub async fn change_password(
    old: String,
    new: String,
    confirm: String,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    if new != confirm {
        return Err(PortalError::Invalid("The new password and its confirmation differ.".into()));
    }
    // Every session ends with the old password; this browser goes on in a new one.
    portal.change_own_password(&who, &old, &new).await?;
    leptos_axum::redirect("/account?changed=1");
    Ok(())
}

/// The viewer's account page.
#[server(prefix = "/ui", endpoint = "account", input = GetUrl)]
pub async fn account() -> Result<AccountView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.account(&who).await
}

/// Gives the viewer (an OIDC user) a new CLI secret; the old one stops working.
#[server(prefix = "/ui", endpoint = "regenerate_cli_secret")]
pub async fn regenerate_cli_secret(csrf: Option<String>) -> Result<String, PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.regenerate_cli_secret(&who).await
}

/// Makes the account of the OIDC sign-in under way in this browser under `username` (when the
/// provider's users are not onboarded automatically) and goes on where the sign-in was headed.
#[server(prefix = "/ui", endpoint = "oidc_onboard")]
pub async fn oidc_onboard(username: String, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, _) = ctx::acting(csrf.as_deref())?;
    let next = portal.oidc_onboard(username.trim()).await?;
    leptos_axum::redirect(&crate::components::local_path(Some(&next)));
    Ok(())
}

/// Users (system administrators).
#[server(prefix = "/ui", endpoint = "list_users", input = GetUrl)]
pub async fn list_users(q: String, page: i64) -> Result<Page<UserSummary>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.users(&who, &q, page).await
}

/// Creates a user.
#[server(prefix = "/ui", endpoint = "create_user")]
pub async fn create_user(
    username: String,
    email: Option<String>,
    password: String,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.create_user(&who, username.trim(), email.as_deref().unwrap_or("").trim(), &password).await?;
    leptos_axum::redirect("/admin/users");
    Ok(())
}

/// Disables, enables, promotes, demotes a user or sets their password (with `password`).
#[server(prefix = "/ui", endpoint = "change_user")]
pub async fn change_user(
    id: i64,
    what: UserAction,
    password: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let change = match what {
        UserAction::Disable => UserChange::Disabled(true),
        UserAction::Enable => UserChange::Disabled(false),
        UserAction::Admin => UserChange::Admin(true),
        UserAction::Unadmin => UserChange::Admin(false),
        UserAction::Password => UserChange::Password(password.unwrap_or_default()),
    };
    portal.change_user(&who, id, change).await?;
    leptos_axum::redirect("/admin/users");
    Ok(())
}

/// The authentication settings (system administrators).
#[server(prefix = "/ui", endpoint = "auth_settings", input = GetUrl)]
pub async fn auth_settings() -> Result<AuthSettingsView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.auth_settings(&who).await
}

/// Saves the authentication settings, or (`intent`, see [`SettingsIntent`]) tries the LDAP
/// connection or finds the OIDC provider with them.
#[server(prefix = "/ui", endpoint = "save_auth_settings")]
pub async fn save_auth_settings(
    items: Option<std::collections::HashMap<String, String>>,
    intent: String,
    csrf: Option<String>,
) -> Result<String, PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let intent = SettingsIntent::of(&intent).ok_or_else(|| PortalError::Invalid("Unknown action.".into()))?;
    portal.save_auth_settings(&who, items.unwrap_or_default(), intent).await
}

/// User groups (system administrators).
#[server(prefix = "/ui", endpoint = "list_groups", input = GetUrl)]
pub async fn list_groups(q: String, page: i64) -> Result<Page<GroupView>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.groups(&who, &q, page).await
}

/// Adds a user group: `group_type` is Harbor's number; LDAP groups by `dn`.
#[server(prefix = "/ui", endpoint = "add_group")]
pub async fn add_group(
    group_type: i64,
    name: Option<String>,
    dn: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let t =
        GroupType::from_id(group_type).ok_or_else(|| PortalError::Invalid("Pick a group type.".into()))?;
    let (name, dn) = (name.unwrap_or_default(), dn.unwrap_or_default());
    portal.add_group(&who, t, name.trim(), dn.trim()).await?;
    leptos_axum::redirect("/admin/groups");
    Ok(())
}

/// Deletes a user group and its project memberships.
#[server(prefix = "/ui", endpoint = "delete_group")]
pub async fn delete_group(id: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_group(&who, id).await?;
    leptos_axum::redirect("/admin/groups");
    Ok(())
}

/// A project's members.
#[server(prefix = "/ui", endpoint = "list_members", input = GetUrl)]
pub async fn list_members(project: String) -> Result<Vec<MemberView>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.members(&who, &project).await
}

#[cfg(feature = "ssr")]
fn tab_href(project: &str, tab: &str) -> String {
    format!("/projects/{project}/{tab}")
}

/// The role a form's `role_id` (Harbor's role ids) names.
#[cfg(feature = "ssr")]
fn role_of(role_id: i64) -> Result<Role, PortalError> {
    Role::from_id(role_id).ok_or_else(|| PortalError::Invalid("Pick a role.".into()))
}

/// Adds a member: a user by name, or (`kind` "group") a user group by name or LDAP DN.
#[server(prefix = "/ui", endpoint = "add_member")]
pub async fn add_member(
    project: String,
    name: String,
    kind: String,
    role_id: i64,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let role = role_of(role_id)?;
    portal.add_member(&who, &project, name.trim(), kind == "group", role).await?;
    leptos_axum::redirect(&tab_href(&project, "members"));
    Ok(())
}

/// Changes a member's role.
#[server(prefix = "/ui", endpoint = "set_member_role")]
pub async fn set_member_role(
    project: String,
    member: i64,
    role_id: i64,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let role = role_of(role_id)?;
    portal.set_member_role(&who, &project, member, role).await?;
    leptos_axum::redirect(&tab_href(&project, "members"));
    Ok(())
}

/// Removes a member.
#[server(prefix = "/ui", endpoint = "remove_member")]
pub async fn remove_member(project: String, member: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.remove_member(&who, &project, member).await?;
    leptos_axum::redirect(&tab_href(&project, "members"));
    Ok(())
}

/// A project's robot accounts.
#[server(prefix = "/ui", endpoint = "list_robots", input = GetUrl)]
pub async fn list_robots(project: String) -> Result<Vec<RobotView>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.robots(&who, &project).await
}

/// Creates a robot account and answers its secret (shown once, so no redirect).
#[server(prefix = "/ui", endpoint = "create_robot")]
pub async fn create_robot(
    project: String,
    name: String,
    pull: Option<String>,
    push: Option<String>,
    delete: Option<String>,
    days: i64,
    csrf: Option<String>,
) -> Result<RobotSecret, PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let grants = RobotPermissions { pull: pull.is_some(), push: push.is_some(), delete: delete.is_some() };
    portal.create_robot(&who, &project, name.trim(), grants, days).await
}

/// Disables, enables or deletes a robot account.
#[server(prefix = "/ui", endpoint = "change_robot")]
pub async fn change_robot(
    project: String,
    id: i64,
    what: RobotAction,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.change_robot(&who, id, what).await?;
    leptos_axum::redirect(&tab_href(&project, "robots"));
    Ok(())
}

/// A project's audit log.
#[server(prefix = "/ui", endpoint = "project_logs", input = GetUrl)]
pub async fn project_logs(project: String, page: i64) -> Result<Page<LogEntry>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.project_logs(&who, &project, page).await
}

/// Makes a project public or private.
#[server(prefix = "/ui", endpoint = "set_project_public")]
pub async fn set_project_public(
    project: String,
    public: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.set_project_public(&who, &project, public.is_some()).await?;
    leptos_axum::redirect(&tab_href(&project, "settings"));
    Ok(())
}

/// Deletes an empty project.
#[server(prefix = "/ui", endpoint = "delete_project")]
pub async fn delete_project(project: String, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_project(&who, &project).await?;
    leptos_axum::redirect("/projects");
    Ok(())
}

/// Deletes a repository, then shows its project.
#[server(prefix = "/ui", endpoint = "delete_repository")]
pub async fn delete_repository(repository: String, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_repository(&who, &repository).await?;
    let project = repository.split('/').next().unwrap_or_default();
    leptos_axum::redirect(&format!("/projects/{project}"));
    Ok(())
}

/// Registry endpoints (system administrators).
#[server(prefix = "/ui", endpoint = "list_endpoints", input = GetUrl)]
pub async fn list_endpoints(q: String, page: i64) -> Result<Page<EndpointSummary>, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.endpoints(&who, &q, page).await
}

/// Adds a registry endpoint, or (with `intent` = `test`) only checks the form's settings;
/// answers what happened.
#[server(prefix = "/ui", endpoint = "save_endpoint")]
pub async fn save_endpoint(
    name: String,
    registry_type: Option<RegistryKind>,
    url: String,
    description: Option<String>,
    access_key: Option<String>,
    access_secret: Option<String>,
    insecure: Option<String>,
    intent: Option<String>,
    csrf: Option<String>,
) -> Result<String, PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let new = NewEndpoint {
        name: name.trim().to_owned(),
        kind: registry_type,
        url: url.trim().to_owned(),
        description: description.unwrap_or_default().trim().to_owned(),
        access_key: access_key.unwrap_or_default().trim().to_owned(),
        access_secret: access_secret.unwrap_or_default(),
        insecure: insecure.is_some(),
    };
    if intent.as_deref() == Some("test") {
        return portal.test_endpoint(&who, None, &new).await;
    }
    portal.create_endpoint(&who, &new).await?;
    Ok(format!("Added {}.", new.name))
}

/// Checks a stored endpoint now ("Test connection"); answers what was found.
#[server(prefix = "/ui", endpoint = "test_endpoint")]
pub async fn test_endpoint(id: i64, csrf: Option<String>) -> Result<String, PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.test_endpoint(&who, Some(id), &NewEndpoint::default()).await
}

/// Deletes a registry endpoint.
#[server(prefix = "/ui", endpoint = "delete_endpoint")]
pub async fn delete_endpoint(id: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_endpoint(&who, id).await
}

/// The replication page (system administrators).
#[server(prefix = "/ui", endpoint = "replication_page", input = GetUrl)]
pub async fn replication_page(page: i64) -> Result<ReplicationView, PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.replication(&who, page).await
}

/// Adds a replication rule.
#[server(prefix = "/ui", endpoint = "create_replication_rule")]
pub async fn create_replication_rule(
    name: String,
    direction: Option<String>,
    endpoint: Option<i64>,
    dest_namespace: Option<String>,
    flatten: Option<i64>,
    name_filter: Option<String>,
    tag_filter: Option<String>,
    label_filter: Option<String>,
    trigger: Option<ReplicationTrigger>,
    cron: Option<String>,
    replicate_deletion: Option<String>,
    csrf: Option<String>,
) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let rule = NewReplicationRule {
        name: name.trim().to_owned(),
        pull: direction.as_deref() == Some("pull"),
        endpoint: endpoint.ok_or_else(|| PortalError::Invalid("Choose a registry endpoint.".into()))?,
        dest_namespace: dest_namespace.unwrap_or_default().trim().to_owned(),
        flatten: flatten.unwrap_or(1),
        name_filter: name_filter.unwrap_or_default().trim().to_owned(),
        tag_filter: tag_filter.unwrap_or_default().trim().to_owned(),
        label_filter: label_filter.unwrap_or_default().trim().to_owned(),
        trigger: trigger.unwrap_or_default(),
        cron: cron.unwrap_or_default().trim().to_owned(),
        replicate_deletion: replicate_deletion.is_some(),
    };
    portal.create_replication_rule(&who, &rule).await
}

/// Starts a replication rule now and shows its execution.
#[server(prefix = "/ui", endpoint = "run_replication")]
pub async fn run_replication(id: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    let execution = portal.run_replication(&who, id).await?;
    leptos_axum::redirect(&format!("/admin/replication/{execution}"));
    Ok(())
}

/// Deletes a replication rule with its history.
#[server(prefix = "/ui", endpoint = "delete_replication_rule")]
pub async fn delete_replication_rule(id: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.delete_replication_rule(&who, id).await
}

/// Asks a replication execution to stop.
#[server(prefix = "/ui", endpoint = "stop_replication")]
pub async fn stop_replication(execution: i64, csrf: Option<String>) -> Result<(), PortalError> {
    let (portal, who) = ctx::acting(csrf.as_deref())?;
    portal.stop_replication(&who, execution).await
}

/// A replication execution with its tasks and their logs.
#[server(prefix = "/ui", endpoint = "replication_execution", input = GetUrl)]
pub async fn replication_execution(
    execution: i64,
) -> Result<(ReplicationRun, Vec<ReplicationTaskView>), PortalError> {
    let (portal, who) = ctx::portal()?;
    portal.replication_run(&who, execution).await
}
