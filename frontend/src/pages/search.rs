//! The header's search: projects, repositories, and artifacts by digest prefix or tag, among
//! what the viewer may see. A plain GET page without scripts; once hydrated the header's box
//! updates it as the viewer types.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{artifact_href, repository_href};
use crate::api::search;
use crate::components::{Failure, When, short_digest};

/// `/search?q=`
#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let results = Resource::new_blocking(q, search);
    view! {
        <Title text=move || format!("Search: {} · Wharf", q()) />
        <h1>"Search"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Searching…"</p> }>
            {move || Suspend::new(async move {
                let r = match results.await {
                    Ok(r) => r,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                if r.query.is_empty() {
                    return view! { <p class="empty">"Type a project or repository name, a tag, or the start of a digest."</p> }.into_any();
                }
                if r.projects.is_empty() && r.repositories.is_empty() && r.artifacts.is_empty() {
                    return view! { <p class="empty">{format!("Nothing you can see matches “{}”.", r.query)}</p> }.into_any();
                }
                view! {
                    {(!r.projects.is_empty()).then(|| view! {
                        <h2>"Projects"</h2>
                        <ul class="hits">
                            {r.projects.into_iter().map(|p| view! {
                                <li><a href=format!("/projects/{}", p.name)>{p.name.clone()}</a> " "
                                    <span class="muted">{format!("{} repositories", p.repo_count)}</span></li>
                            }).collect_view()}
                        </ul>
                    })}
                    {(!r.repositories.is_empty()).then(|| view! {
                        <h2>"Repositories"</h2>
                        <ul class="hits">
                            {r.repositories.into_iter().map(|x| view! {
                                <li><a href=repository_href(&x.name)>{x.name.clone()}</a> " "
                                    <span class="muted">{format!("{} artifacts, {} pulls", x.artifact_count, x.pull_count)}</span></li>
                            }).collect_view()}
                        </ul>
                    })}
                    {(!r.artifacts.is_empty()).then(|| view! {
                        <h2>"Artifacts"</h2>
                        <ul class="hits">
                            {r.artifacts.into_iter().map(|a| {
                                let label = match &a.tag {
                                    Some(t) => format!("{}:{t}", a.repository),
                                    None => format!("{}@{}", a.repository, short_digest(&a.digest)),
                                };
                                view! {
                                    <li><a href=artifact_href(&a.repository, &a.digest)>{label}</a> " "
                                        <span class="digest muted">{short_digest(&a.digest)}</span> " · pushed " <When at=a.pushed /></li>
                                }
                            }).collect_view()}
                        </ul>
                    })}
                }
                    .into_any()
            })}
        </Suspense>
    }
}
