//! A project: its repositories, with search, pagination and the push command when empty.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{page_param, repository_href};
use crate::api::{get_project, list_repositories};
use crate::components::{CopyCommand, Failure, Pager, QuotaMeter, When, encode};
use crate::types::{PortalError, ProjectView};

/// `/projects/:project?q=&page=`
#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("project").unwrap_or_default();
    let q = move || query.read().get("q").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let project = Resource::new_blocking(name, get_project);
    let repos = Resource::new_blocking(move || (name(), q(), page()), |(n, q, p)| list_repositories(n, q, p));
    view! {
        <Title text=move || format!("{} · Wharf", name()) />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let project = match project.await {
                    Ok(p) => p,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let repos = repos.await;
                let push = format!("docker push {}/{}/<image>:<tag>", project.registry, project.name);
                let pull = format!("docker pull {}/{}/<image>:<tag>", project.registry, project.name);
                let group_note = (!project.group_of.is_empty()).then(|| view! {
                    <section class="card">
                        <p>"A group: a pull is answered by the first of "
                           <strong>{project.group_of.join(", ")}</strong>
                           " that has the image, in that order. Pushes go to the members."</p>
                        <CopyCommand text=pull.clone() />
                    </section>
                });
                let proxy_note = project.proxy_of.clone().map(|(name, url)| view! {
                    <section class="card">
                        <p>"A proxy cache of " <strong>{name}</strong> " (" <code>{url}</code> "): "
                           "pulls of what is not cached yet go there, and what was pulled is served from here, "
                           "also when it is down. Pushes are refused."</p>
                        <CopyCommand text=pull.clone() />
                    </section>
                });
                view! {
                    <div class="bar">
                        <h1>
                            {project.name.clone()} " "
                            <span class=if project.public { "badge public" } else { "badge private" }>
                                {if project.public { "public" } else { "private" }}
                            </span>
                        </h1>
                        <form method="get" class="search" role="search">
                            <input name="q" placeholder="Search repositories" value=q aria-label="Search repositories" />
                            <button type="submit">"Search"</button>
                        </form>
                    </div>
                    <ProjectTabs project=project.clone() current="repositories" />
                    <p class="muted">"Storage: " <QuotaMeter used=project.storage_used limit=project.storage_limit /></p>
                    {proxy_note}
                    {group_note}
                    {match repos {
                        Err(e) => view! { <Failure error=e /> }.into_any(),
                        Ok(r) if r.items.is_empty() && q().is_empty() => view! {
                            <section class="empty">
                                <p>{if project.proxy_of.is_some() { "Nothing cached yet: pull through it to fill it." } else if !project.group_of.is_empty() { "A group holds no repositories of its own." } else { "No repositories yet." }}</p>
                                {project.can_push.then(|| view! {
                                    <p>"Push an image to create one:"</p>
                                    <CopyCommand text=push.clone() />
                                })}
                            </section>
                        }.into_any(),
                        Ok(r) if r.items.is_empty() => view! { <p class="empty">"No repository matches this search."</p> }.into_any(),
                        Ok(r) => {
                            let (page, pages, total) = (r.page, r.pages(), r.total);
                            let (n, q) = (project.name.clone(), q());
                            view! {
                                <table class="list">
                                    <thead><tr><th>"Name"</th><th>"Artifacts"</th><th>"Pulls"</th><th>"Last modified"</th></tr></thead>
                                    <tbody>
                                        {r.items.into_iter().map(|row| view! {
                                            <tr>
                                                <td><a href=repository_href(&row.name)>{row.name.clone()}</a></td>
                                                <td class="num">{row.artifact_count}</td>
                                                <td class="num">{row.pull_count}</td>
                                                <td><When at=row.updated /></td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <Pager page pages total href=move |p| format!("/projects/{n}?q={}&page={p}", encode(&q)) />
                            }.into_any()
                        }
                    }}
                }
                    .into_any()
            })}
        </Suspense>
    }
}

/// The tabs of a project page, those the viewer may open.
#[component]
pub fn ProjectTabs(
    /// The project.
    project: ProjectView,
    /// The tab shown.
    current: &'static str,
) -> impl IntoView {
    let p = project.name.clone();
    let tabs = [
        ("summary", "Summary", "/summary".to_owned(), true),
        ("repositories", "Repositories", String::new(), true),
        ("members", "Members", "/members".to_owned(), project.can_list_members),
        ("robots", "Robot accounts", "/robots".to_owned(), project.can_admin),
        ("logs", "Logs", "/logs".to_owned(), project.can_admin),
        ("retention", "Retention", "/retention".to_owned(), project.can_manage_retention),
        ("immutability", "Immutability", "/immutability".to_owned(), project.can_manage_immutability),
        ("webhooks", "Webhooks", "/webhooks".to_owned(), project.can_read_webhooks),
        ("settings", "Settings", "/settings".to_owned(), project.can_admin),
    ];
    view! {
        <nav class="tabs" aria-label="Project">
            {tabs
                .into_iter()
                .filter(|t| t.3)
                .map(|(id, label, suffix, _)| {
                    view! {
                        <a href=format!("/projects/{p}{suffix}") class:current=current == id aria-current=(current == id).then_some("page")>
                            {label}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// The project a tab page shows, loaded once by the page (the frame and the content await it).
pub type ProjectResource = Resource<Result<ProjectView, PortalError>>;

/// Loads the project named in the path.
pub fn project_resource() -> ProjectResource {
    project_resource_after(Signal::derive(|| 0))
}

/// Loads the project named in the path again whenever `changes` moves (a tab whose forms change
/// the project: once hydrated, a form's redirect to the same page does not reload it).
pub fn project_resource_after(changes: Signal<usize>) -> ProjectResource {
    let params = use_params_map();
    Resource::new_blocking(
        move || (params.read().get("project").unwrap_or_default(), changes.get()),
        |(name, _)| get_project(name),
    )
}

/// A project tab's header: the project's name and badge, then the tabs. The tab's content
/// follows it in its own `Suspense` (nested ones would not render on the server).
#[component]
pub fn ProjectFrame(
    /// The tab shown.
    current: &'static str,
    /// The project.
    project: ProjectResource,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match project.await {
                    Err(e) => view! { <Failure error=e /> }.into_any(),
                    Ok(p) => view! {
                        <Title text=format!("{} · Wharf", p.name) />
                        <h1>
                            {p.name.clone()} " "
                            <span class=if p.public { "badge public" } else { "badge private" }>
                                {if p.public { "public" } else { "private" }}
                            </span>
                        </h1>
                        <ProjectTabs project=p.clone() current />
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}
