//! Server functions: the pages' only way to the backend. Each one takes the viewer from the
//! request (the server resolved the session cookie) and makes one [`Portal`] call.
// A server function takes one argument per form field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::types::*;

#[cfg(feature = "ssr")]
mod ctx {
    use leptos::prelude::*;

    use crate::portal::{PortalError, SharedPortal};
    use crate::types::Viewer;

    /// The portal and the viewer of the request being served.
    pub fn portal() -> Result<(SharedPortal, Viewer), ServerFnError> {
        let portal = use_context::<SharedPortal>().ok_or_else(|| ServerFnError::new("portal missing"))?;
        let viewer = use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Viewer>().cloned())
            .unwrap_or_default();
        Ok((portal, viewer))
    }

    /// The request's header `name`.
    pub fn header(name: http::HeaderName) -> Option<String> {
        use_context::<http::request::Parts>()
            .and_then(|p| p.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned))
    }

    /// The client's address, as the server recorded it.
    pub fn client_ip() -> Option<std::net::IpAddr> {
        use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<std::net::IpAddr>().copied())
    }

    pub fn fail(e: PortalError) -> ServerFnError {
        ServerFnError::ServerError(e.to_string())
    }
}

/// Who is signed in.
#[server(prefix = "/ui", endpoint = "current_viewer")]
pub async fn current_viewer() -> Result<Viewer, ServerFnError> {
    Ok(ctx::portal()?.1)
}

/// Signs in and goes to `next` (a local path) or the projects.
#[server(prefix = "/ui", endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String, next: Option<String>) -> Result<(), ServerFnError> {
    let (portal, _) = ctx::portal()?;
    let session = portal.sign_in(username.trim(), &password, ctx::client_ip()).await.map_err(ctx::fail)?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    if let Ok(v) = http::HeaderValue::from_str(&session.cookie) {
        response.insert_header(http::header::SET_COOKIE, v);
    }
    // Only local paths: an open redirect would let a link send a fresh session elsewhere.
    let next =
        next.filter(|n| n.starts_with('/') && !n.starts_with("//")).unwrap_or_else(|| "/projects".into());
    leptos_axum::redirect(&next);
    Ok(())
}

/// Ends the session (server-side) and goes to the sign-in page.
#[server(prefix = "/ui", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    let (portal, _) = ctx::portal()?;
    let clear = portal.sign_out(ctx::header(http::header::COOKIE).as_deref()).await;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    if let Ok(v) = http::HeaderValue::from_str(&clear) {
        response.insert_header(http::header::SET_COOKIE, v);
    }
    leptos_axum::redirect("/login");
    Ok(())
}

/// Projects the viewer may see.
#[server(prefix = "/ui", endpoint = "list_projects")]
pub async fn list_projects(q: String, page: i64) -> Result<Page<ProjectSummary>, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.projects(&who, &q, page).await.map_err(ctx::fail)
}

/// Creates a project and opens it.
#[server(prefix = "/ui", endpoint = "create_project")]
pub async fn create_project(name: String, public: Option<String>) -> Result<(), ServerFnError> {
    let (portal, who) = ctx::portal()?;
    let name = name.trim().to_owned();
    portal.create_project(&who, &name, public.is_some()).await.map_err(ctx::fail)?;
    leptos_axum::redirect(&format!("/projects/{name}"));
    Ok(())
}

/// A project's header.
#[server(prefix = "/ui", endpoint = "get_project")]
pub async fn get_project(name: String) -> Result<ProjectView, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.project(&who, &name).await.map_err(ctx::fail)
}

/// Repositories of a project.
#[server(prefix = "/ui", endpoint = "list_repositories")]
pub async fn list_repositories(
    project: String,
    q: String,
    page: i64,
) -> Result<Page<RepositorySummary>, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.repositories(&who, &project, &q, page).await.map_err(ctx::fail)
}

/// Artifacts of a repository.
#[server(prefix = "/ui", endpoint = "list_artifacts")]
pub async fn list_artifacts(repository: String, page: i64) -> Result<Page<ArtifactSummary>, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.artifacts(&who, &repository, page).await.map_err(ctx::fail)
}

/// One artifact.
#[server(prefix = "/ui", endpoint = "get_artifact")]
pub async fn get_artifact(repository: String, reference: String) -> Result<ArtifactView, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.artifact(&who, &repository, &reference).await.map_err(ctx::fail)
}

/// Deletes a tag, then shows the artifact again.
#[server(prefix = "/ui", endpoint = "delete_tag")]
pub async fn delete_tag(repository: String, digest: String, tag: String) -> Result<(), ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.delete_tag(&who, &repository, &tag).await.map_err(ctx::fail)?;
    leptos_axum::redirect(&crate::pages::artifact_href(&repository, &digest));
    Ok(())
}

/// Adds a tag, then shows the artifact again.
#[server(prefix = "/ui", endpoint = "add_tag")]
pub async fn add_tag(repository: String, digest: String, tag: String) -> Result<(), ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.add_tag(&who, &repository, &digest, tag.trim()).await.map_err(ctx::fail)?;
    leptos_axum::redirect(&crate::pages::artifact_href(&repository, &digest));
    Ok(())
}

/// Deletes an artifact, then shows its repository.
#[server(prefix = "/ui", endpoint = "delete_artifact")]
pub async fn delete_artifact(repository: String, digest: String) -> Result<(), ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.delete_artifact(&who, &repository, &digest).await.map_err(ctx::fail)?;
    leptos_axum::redirect(&crate::pages::repository_href(&repository));
    Ok(())
}

/// The garbage collection page.
#[server(prefix = "/ui", endpoint = "gc_page")]
pub async fn gc_page(page: i64) -> Result<GcView, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.gc(&who, page).await.map_err(ctx::fail)
}

/// Starts a collection (or a dry run).
#[server(prefix = "/ui", endpoint = "run_gc")]
pub async fn run_gc(dry_run: Option<String>, delete_untagged: Option<String>) -> Result<i64, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    let id = portal.run_gc(&who, dry_run.is_some(), delete_untagged.is_some()).await.map_err(ctx::fail)?;
    leptos_axum::redirect("/admin/gc");
    Ok(id)
}

/// Sets the collection schedule.
#[server(prefix = "/ui", endpoint = "set_gc_schedule")]
pub async fn set_gc_schedule(
    kind: String,
    cron: Option<String>,
    delete_untagged: Option<String>,
) -> Result<(), ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal
        .set_gc_schedule(&who, &kind, cron.as_deref().unwrap_or(""), delete_untagged.is_some())
        .await
        .map_err(ctx::fail)?;
    leptos_axum::redirect("/admin/gc");
    Ok(())
}

/// A project's Retention tab.
#[server(prefix = "/ui", endpoint = "retention_page")]
pub async fn retention_page(project: String, page: i64) -> Result<RetentionView, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.retention(&who, &project, page).await.map_err(ctx::fail)
}

#[cfg(feature = "ssr")]
fn retention_href(project: &str) -> String {
    format!("/projects/{project}/retention")
}

/// Adds a retention rule, or replaces rule `index`.
#[server(prefix = "/ui", endpoint = "save_retention_rule")]
pub async fn save_retention_rule(
    project: String,
    index: Option<usize>,
    template: String,
    count: Option<String>,
    repo_decoration: String,
    repo_pattern: String,
    tag_decoration: String,
    tag_pattern: String,
    untagged: Option<String>,
) -> Result<(), ServerFnError> {
    let (portal, who) = ctx::portal()?;
    let count = match count.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => c.parse().map_err(|_| ServerFnError::new(format!("{c:?} is not a number")))?,
    };
    let rule = NewRetentionRule {
        template,
        count,
        repo_excludes: repo_decoration == "repoExcludes",
        repo_pattern: repo_pattern.trim().to_owned(),
        tag_excludes: tag_decoration == "excludes",
        tag_pattern: tag_pattern.trim().to_owned(),
        untagged: untagged.is_some(),
    };
    portal.save_retention_rule(&who, &project, index, rule).await.map_err(ctx::fail)?;
    leptos_axum::redirect(&retention_href(&project));
    Ok(())
}

/// Removes a retention rule.
#[server(prefix = "/ui", endpoint = "delete_retention_rule")]
pub async fn delete_retention_rule(project: String, index: usize) -> Result<(), ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal.delete_retention_rule(&who, &project, index).await.map_err(ctx::fail)?;
    leptos_axum::redirect(&retention_href(&project));
    Ok(())
}

/// Sets the retention schedule.
#[server(prefix = "/ui", endpoint = "set_retention_schedule")]
pub async fn set_retention_schedule(
    project: String,
    kind: String,
    cron: Option<String>,
) -> Result<(), ServerFnError> {
    let (portal, who) = ctx::portal()?;
    portal
        .set_retention_schedule(&who, &project, &kind, cron.as_deref().unwrap_or(""))
        .await
        .map_err(ctx::fail)?;
    leptos_axum::redirect(&retention_href(&project));
    Ok(())
}

/// Starts a retention run or dry run.
#[server(prefix = "/ui", endpoint = "run_retention")]
pub async fn run_retention(project: String, dry_run: Option<String>) -> Result<i64, ServerFnError> {
    let (portal, who) = ctx::portal()?;
    let id = portal.run_retention(&who, &project, dry_run.is_some()).await.map_err(ctx::fail)?;
    leptos_axum::redirect(&retention_href(&project));
    Ok(id)
}
