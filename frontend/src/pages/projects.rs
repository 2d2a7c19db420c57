//! The project list: search, pagination, and a form to create one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::page_param;
use crate::api::{CreateProject, current_viewer, list_endpoints, list_projects};
use crate::components::{CsrfField, Failure, Pager, When, encode, human_size};

/// `/projects?q=&page=`
#[component]
pub fn ProjectsPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let projects = Resource::new_blocking(move || (q(), page()), |(q, page)| list_projects(q, page));
    let viewer = OnceResource::new_blocking(current_viewer());
    let create = ServerAction::<CreateProject>::new();
    view! {
        <Title text="Projects · Wharf" />
        <div class="bar">
            <h1>"Projects"</h1>
            <form method="get" action="/projects" class="search" role="search">
                <input name="q" placeholder="Search projects" value=q aria-label="Search projects" />
                <button type="submit">"Search"</button>
            </form>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading projects…"</p> }>
            {move || Suspend::new(async move {
                match projects.await {
                    Err(e) => view! { <Failure error=e /> }.into_any(),
                    Ok(p) if p.items.is_empty() => {
                        let hint = if q().is_empty() {
                            "No projects yet. Create one below, then push to <registry>/<project>/<image>:<tag>."
                        } else {
                            "No project matches this search."
                        };
                        view! { <p class="empty">{hint}</p> }.into_any()
                    }
                    Ok(p) => {
                        let (page, pages, total) = (p.page, p.pages(), p.total);
                        let q = q();
                        view! {
                            <table class="list">
                                <thead>
                                    <tr><th>"Name"</th><th>"Access"</th><th>"Repositories"</th><th>"Storage"</th><th>"Your role"</th><th>"Created"</th></tr>
                                </thead>
                                <tbody>
                                    {p.items.into_iter().map(|row| view! {
                                        <tr>
                                            <td>
                                                <a href=format!("/projects/{}", row.name)>{row.name.clone()}</a>
                                                {row.proxy_of.clone().map(|up| view! {
                                                    " " <span class="badge" title=format!("Proxy cache of {up}")>"proxy cache"</span>
                                                })}
                                                {row.group.then(|| view! { " " <span class="badge">"group"</span> })}
                                            </td>
                                            <td>
                                                <span class=if row.public { "badge public" } else { "badge private" }>
                                                    {if row.public { "public" } else { "private" }}
                                                </span>
                                            </td>
                                            <td class="num">{row.repo_count}</td>
                                            <td class="num">{human_size(row.storage)}{(row.storage_limit >= 0).then(|| format!(" of {}", human_size(row.storage_limit)))}</td>
                                            <td>{row.role.map_or("—", |r| r.label())}</td>
                                            <td><When at=row.created /></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager page pages total href=move |n| format!("/projects?q={}&page={n}", encode(&q)) />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
        <Suspense>
            {move || Suspend::new(async move {
                let viewer = viewer.await.ok();
                let signed_in = viewer.as_ref().is_some_and(|v| v.signed_in());
                // Proxy caches are for system administrators, of the endpoints they added.
                let admin = viewer.as_ref().is_some_and(|v| v.sysadmin);
                let endpoints = match admin {
                    true => list_endpoints(String::new(), 1).await.map(|p| p.items).unwrap_or_default(),
                    false => Vec::new(),
                };
                signed_in.then(|| view! {
                    <section class="card">
                        <h2>"New project"</h2>
                        <ActionForm action=create attr:class="row">
                            <CsrfField />
                            <input name="name" placeholder="name" required pattern="[a-z0-9]+(?:[._-][a-z0-9]+)*" aria-label="Project name" />
                            <label class="check"><input type="checkbox" name="public" />" Public"</label>
                            {admin.then(|| view! {
                                <input name="group_of" placeholder="Group of (e.g. ours, dockerhub)" aria-label="Group of" />
                            })}
                            {(!endpoints.is_empty()).then(|| view! {
                                <label>"Proxy cache of "
                                    <select name="proxy_of" aria-label="Proxy cache of">
                                        <option value="">"— none (a normal project)"</option>
                                        {endpoints.iter().map(|e| view! {
                                            <option value=e.id.to_string()>{format!("{} ({})", e.name, e.url)}</option>
                                        }).collect_view()}
                                    </select>
                                </label>
                            })}
                            <button type="submit" class="primary">"Create"</button>
                        </ActionForm>
                        {move || match create.value().get() {
                            Some(Err(e)) => view! { <Failure error=e /> }.into_any(),
                            _ => ().into_any(),
                        }}
                    </section>
                })
            })}
        </Suspense>
    }
}
