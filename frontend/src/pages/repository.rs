//! A repository: its artifacts, newest first, with tags, type, size and pull times.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{artifact_href, page_param, repository_href};
use crate::api::list_artifacts;
use crate::components::{ErrorBox, Pager, human_size, message, short_digest};

/// `/repositories/<name>?page=`
#[component]
pub fn RepositoryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let artifacts = Resource::new_blocking(move || (name(), page()), |(n, p)| list_artifacts(n, p));
    view! {
        <Title text=move || format!("{} · Wharf", name()) />
        <p class="crumbs">
            <a href="/projects">"Projects"</a> " / "
            {move || {
                let n = name();
                let project = n.split('/').next().unwrap_or_default().to_owned();
                view! { <a href=format!("/projects/{project}")>{project.clone()}</a> }
            }}
        </p>
        <h1>{name}</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading artifacts…"</p> }>
            {move || Suspend::new(async move {
                match artifacts.await {
                    Err(e) => view! { <ErrorBox message=message(&e) /> }.into_any(),
                    Ok(a) if a.items.is_empty() => view! { <p class="empty">"This repository has no artifacts."</p> }.into_any(),
                    Ok(a) => {
                        let (page, pages, total) = (a.page, a.pages(), a.total);
                        let repo = name();
                        let links = repo.clone();
                        view! {
                            <table class="list">
                                <thead>
                                    <tr><th>"Artifact"</th><th>"Tags"</th><th>"Type"</th><th>"Size"</th><th>"Pushed"</th><th>"Last pulled"</th></tr>
                                </thead>
                                <tbody>
                                    {a.items.into_iter().map(|row| view! {
                                        <tr>
                                            <td><a class="digest" href=artifact_href(&repo, &row.digest) title=row.digest.clone()>{short_digest(&row.digest)}</a></td>
                                            <td>{row.tags.into_iter().map(|t| view! { <span class="tag">{t}</span> }).collect_view()}</td>
                                            <td>{row.kind}</td>
                                            <td class="num">{human_size(row.size)}</td>
                                            <td><time>{row.pushed}</time></td>
                                            <td><time>{row.pulled.unwrap_or_else(|| "never".into())}</time></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager page pages total href=move |p| format!("{}?page={p}", repository_href(&links)) />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
