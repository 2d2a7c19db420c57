//! A repository: its artifacts, newest first, with tags, type, size and pull times.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{artifact_href, page_param, repository_href};
use crate::api::{DeleteRepository, list_artifacts};
use crate::components::{CsrfField, Failure, Label, Pager, When, encode, human_size, short_digest};

/// `/repositories/<name>?page=`
#[component]
pub fn RepositoryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let sort = move || query.read().get("sort").unwrap_or_default();
    let delete = ServerAction::<DeleteRepository>::new();
    let artifacts =
        Resource::new_blocking(move || (name(), sort(), page()), |(n, s, p)| list_artifacts(n, s, p));
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
                    Err(e) => view! { <Failure error=e /> }.into_any(),
                    Ok(list) => {
                        let a = list.artifacts;
                        let (page, pages, total) = (a.page, a.pages(), a.total);
                        let repo = name();
                        let links = repo.clone();
                        let current = sort();
                        let sorted = repository_href(&repo);
                        // A column header links to its order; clicking the current order reverses it.
                        let header = move |label: &'static str, key: &'static str| {
                            let desc = format!("-{key}");
                            let (next, mark) = if current == desc || (current.is_empty() && key == "push_time") {
                                (key.to_owned(), " ↓")
                            } else if current == key {
                                (desc, " ↑")
                            } else {
                                (desc, "")
                            };
                            view! { <th><a href=format!("{sorted}?sort={next}")>{label}{mark}</a></th> }
                        };
                        let delete_form = list.can_delete.then(|| {
                            let repo = repo.clone();
                            view! {
                                <details class="danger-zone card">
                                    <summary>"Delete repository…"</summary>
                                    <p>"This deletes " <strong>{repo.clone()}</strong> {format!(" with its {} artifacts and all their tags.", total)}</p>
                                    <ActionForm action=delete>
                                        <CsrfField />
                                        <input type="hidden" name="repository" value=repo.clone() />
                                        <button type="submit" class="danger">{format!("Delete {repo}")}</button>
                                    </ActionForm>
                                </details>
                            }
                        });
                        if a.items.is_empty() {
                            return view! { <p class="empty">"This repository has no artifacts."</p> {delete_form} }.into_any();
                        }
                        let sort_now = sort();
                        view! {
                            <table class="list">
                                <thead>
                                    <tr>
                                        <th>"Artifact"</th><th>"Tags"</th><th>"Type"</th>
                                        {header("Size", "size")}
                                        {header("Pushed", "push_time")}
                                        {header("Last pulled", "pull_time")}
                                    </tr>
                                </thead>
                                <tbody>
                                    {a.items.into_iter().map(|row| view! {
                                        <tr>
                                            <td><a class="digest" href=artifact_href(&repo, &row.digest) title=row.digest.clone()>{short_digest(&row.digest)}</a></td>
                                            <td>{row.tags.into_iter().map(|t| {
                                                let locked = row.immutable_tags.contains(&t);
                                                view! { <span class="tag" class:immutable=locked title=locked.then_some("immutable: cannot be pushed over or deleted")>{locked.then_some("🔒 ")}{t}</span> }
                                            }).collect_view()}
                                            {row.labels.into_iter().map(|l| {
                                                view! { <Label label=l /> }
                                            }).collect_view()}</td>
                                            <td>
                                                {row.kind.to_string()}
                                                {(!row.platforms.is_empty()).then(|| view! { <span class="muted small">" (" {row.platforms.join(", ")} ")"</span> })}
                                            </td>
                                            <td class="num">{human_size(row.size)}</td>
                                            <td><When at=row.pushed /></td>
                                            <td><When at=row.pulled.unwrap_or_else(|| "never".into()) /></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager page pages total href=move |p| format!("{}?sort={}&page={p}", repository_href(&links), encode(&sort_now)) />
                            {delete_form}
                            {move || delete.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
