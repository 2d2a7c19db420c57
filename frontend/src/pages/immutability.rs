//! A project's Immutability tab: the tag immutability rules in plain words, switched on and off,
//! added and deleted. A tag a rule protects cannot be pushed over or deleted, by anyone.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::project::{ProjectFrame, project_resource};
use crate::api::{AddImmutableRule, DeleteImmutableRule, SwitchImmutableRule, immutable_rules_page};
use crate::components::{CsrfField, Failure};

/// `/projects/:project/immutability`
#[component]
pub fn ImmutabilityPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("project").unwrap_or_default();
    let add = ServerAction::<AddImmutableRule>::new();
    let switch = ServerAction::<SwitchImmutableRule>::new();
    let remove = ServerAction::<DeleteImmutableRule>::new();
    let versions = move || add.version().get() + switch.version().get() + remove.version().get();
    let rules = Resource::new_blocking(move || (name(), versions()), |(n, _)| immutable_rules_page(n));
    view! {
        <ProjectFrame current="immutability" project=project_resource() />
        <p class="muted">
            "A tag an enabled rule matches can be pushed once; after that nobody, administrators included, can push it to another image, delete it, or delete its artifact, until the rule is disabled. Retention keeps such artifacts."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let list = match rules.await {
                    Ok(l) => l,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let project = name();
                let full = list.len() >= 15;
                let p_add = project.clone();
                view! {
                    <section class="card">
                        <h2>"Rules"</h2>
                        {if list.is_empty() {
                            view! { <p class="empty">"No immutability rules: every tag can be pushed over and deleted. Add one below, for example tags matching " <code>"v*"</code> " in every repository."</p> }.into_any()
                        } else {
                            view! {
                                <ol class="rules">
                                    {list.into_iter().map(|r| {
                                        let (p1, p2) = (project.clone(), project.clone());
                                        let (id, id2) = (r.id.to_string(), r.id.to_string());
                                        view! {
                                            <li class:muted=r.disabled>
                                                <span class="lock" aria-hidden="true">"🔒 "</span>
                                                <span>{r.text}</span>
                                                {r.disabled.then_some(view! { <span class="badge">"disabled"</span> })}
                                                <ActionForm action=switch attr:class="inline">
                                                    <CsrfField />
                                                    <input type="hidden" name="project" value=p1 />
                                                    <input type="hidden" name="id" value=id />
                                                    {r.disabled.then_some(view! { <input type="hidden" name="on" value="on" /> })}
                                                    <button type="submit" class="small">{if r.disabled { "Enable" } else { "Disable" }}</button>
                                                </ActionForm>
                                                <ActionForm action=remove attr:class="inline">
                                                    <CsrfField />
                                                    <input type="hidden" name="project" value=p2 />
                                                    <input type="hidden" name="id" value=id2 />
                                                    <button type="submit" class="danger small" aria-label=format!("Delete rule {}", r.id)>"Delete"</button>
                                                </ActionForm>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            }.into_any()
                        }}
                        <h3>"Add a rule"</h3>
                        {if full {
                            view! { <p class="muted">"A project has at most 15 rules: delete one to add another."</p> }.into_any()
                        } else {
                            view! {
                                <ActionForm action=add attr:class="rule-form">
                                    <CsrfField />
                                    <input type="hidden" name="project" value=p_add />
                                    <label>"Tags "
                                        <select name="tag_decoration" aria-label="Tags">
                                            <option value="matches" selected=true>"matching"</option>
                                            <option value="excludes">"excluding"</option>
                                        </select>
                                        <input name="tag_pattern" value="v*" aria-label="Tag pattern" />
                                    </label>
                                    <label>"in repositories "
                                        <select name="repo_decoration" aria-label="Repositories">
                                            <option value="repoMatches" selected=true>"matching"</option>
                                            <option value="repoExcludes">"excluding"</option>
                                        </select>
                                        <input name="repo_pattern" value="**" aria-label="Repository pattern" />
                                    </label>
                                    <label>"on artifacts labelled " <input name="labels" placeholder="e.g. release (empty: any)" aria-label="Labels" /></label>
                                    <button type="submit" class="primary">"Add rule"</button>
                                </ActionForm>
                            }.into_any()
                        }}
                        <p class="muted small">"Patterns: " <code>"*"</code> " any characters but /, " <code>"**"</code> " anything, " <code>"{a,b}"</code> " either."</p>
                    </section>
                }
                    .into_any()
            })}
        </Suspense>
    }
}
