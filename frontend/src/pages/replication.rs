//! Replication (system administrators): rules with Run and Delete, a form for a new rule, the
//! executions newest first, and one execution's tasks with their logs.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::page_param;
use crate::api::{
    CreateReplicationRule, DeleteReplicationRule, RunReplication, StopReplication, replication_execution,
    replication_page,
};
use crate::components::{CsrfField, Failure, Pager, When, first_error, human_size};
use crate::types::{ReplicationTrigger, RunStatus};

fn status_badge(s: RunStatus) -> impl IntoView {
    let class = match s {
        RunStatus::Success => "status success",
        RunStatus::Error => "status error",
        RunStatus::Stopped => "status stopped",
        RunStatus::Running | RunStatus::Pending => "status running",
    };
    view! { <span class=class>{s.replication_word()}</span> }
}

/// `/admin/replication?page=`
#[component]
pub fn ReplicationPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || page_param(query.read().get("page"));
    let create = ServerAction::<CreateReplicationRule>::new();
    let run = ServerAction::<RunReplication>::new();
    let delete = ServerAction::<DeleteReplicationRule>::new();
    let view_data = Resource::new_blocking(
        move || (page(), create.version().get() + delete.version().get() + run.version().get()),
        |(p, _)| replication_page(p),
    );
    view! {
        <Title text="Replication · Wharf" />
        <div class="bar"><h1>"Replication"</h1></div>
        <p class="muted">
            "Copy images to another registry (push) or from one (pull): by hand, on a schedule, or on every push. "
            "Add the other registry under " <a href="/admin/registries">"Registries"</a> " first."
        </p>
        {move || first_error([create.value().get(), delete.value().get(), run.value().get()])}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let data = match view_data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let endpoints = data.endpoints.clone();
                let rules = if data.rules.is_empty() {
                    view! { <p class="empty">"No replication rules yet."</p> }.into_any()
                } else {
                    view! {
                        <table class="list">
                            <thead><tr><th>"Rule"</th><th>"Direction"</th><th>"Registry"</th><th>"Filters"</th><th>"Trigger"</th><th>"Actions"</th></tr></thead>
                            <tbody>
                                {data.rules.into_iter().map(|r| {
                                    let id = r.id.to_string();
                                    let id2 = id.clone();
                                    let trigger = match r.trigger {
                                        ReplicationTrigger::Scheduled => format!("Scheduled ({})", r.cron),
                                        t => t.label().to_owned(),
                                    };
                                    view! {
                                        <tr>
                                            <td>{r.name.clone()}{(!r.enabled).then(|| view! { " " <span class="badge private">"disabled"</span> })}</td>
                                            <td>{if r.pull { "pull ←" } else { "push →" }}</td>
                                            <td>{r.endpoint.clone()}{(!r.dest_namespace.is_empty()).then(|| format!(" (into {})", r.dest_namespace))}</td>
                                            <td><code>{if r.filters.is_empty() { "everything".to_owned() } else { r.filters.clone() }}</code></td>
                                            <td>{trigger}{r.replicate_deletion.then_some(", deletions too")}</td>
                                            <td class="actions">
                                                <ActionForm action=run attr:class="inline">
                                                    <CsrfField />
                                                    <input type="hidden" name="id" value=id />
                                                    <button type="submit" class="small primary">"Replicate now"</button>
                                                </ActionForm>
                                                <ActionForm action=delete attr:class="inline">
                                                    <CsrfField />
                                                    <input type="hidden" name="id" value=id2 />
                                                    <button type="submit" class="small danger">"Delete"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                };
                let form = if endpoints.is_empty() {
                    view! { <p class="empty">"Add a registry endpoint to replicate with."</p> }.into_any()
                } else {
                    view! {
                        <section class="card">
                            <h2>"New rule"</h2>
                            <ActionForm action=create attr:class="stack">
                                <CsrfField />
                                <div class="row">
                                    <input name="name" placeholder="Name" aria-label="Rule name" required />
                                    <select name="direction" aria-label="Direction">
                                        <option value="push">"Push to"</option>
                                        <option value="pull">"Pull from"</option>
                                    </select>
                                    <select name="endpoint" aria-label="Registry">
                                        {endpoints.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}
                                    </select>
                                </div>
                                <div class="row">
                                    <input name="name_filter" placeholder="Repositories, e.g. library/** (empty: all)" aria-label="Repository filter" />
                                    <input name="tag_filter" placeholder="Tags, e.g. v* (empty: all)" aria-label="Tag filter" />
                                    <input name="label_filter" placeholder="Labels, e.g. release (empty: any)" aria-label="Label filter" />
                                </div>
                                <div class="row">
                                    <input name="dest_namespace" placeholder="Destination namespace (empty: same)" aria-label="Destination namespace" />
                                    <select name="flatten" aria-label="Flattening">
                                        <option value="1">"Replace 1 level"</option>
                                        <option value="0">"No flattening"</option>
                                        <option value="2">"Replace 2 levels"</option>
                                        <option value="-1">"Flatten all levels"</option>
                                    </select>
                                </div>
                                <div class="row">
                                    <select name="trigger" aria-label="Trigger">
                                        {ReplicationTrigger::ALL.into_iter().map(|t| view! { <option value=t.as_str()>{t.label()}</option> }).collect_view()}
                                    </select>
                                    <input name="cron" placeholder="Cron, e.g. 0 0 2 * * * (scheduled)" aria-label="Cron" />
                                    <label class="check"><input type="checkbox" name="replicate_deletion" />" Replicate deletions"</label>
                                    <button type="submit" class="primary">"Add rule"</button>
                                </div>
                            </ActionForm>
                        </section>
                    }.into_any()
                };
                let runs = data.runs;
                let (page, pages, total) = (runs.page, runs.pages(), runs.total);
                let executions = if runs.items.is_empty() {
                    view! { <p class="empty">"No executions yet."</p> }.into_any()
                } else {
                    view! {
                        <table class="list">
                            <thead><tr><th>"Execution"</th><th>"Rule"</th><th>"Status"</th><th>"Trigger"</th><th>"Tasks"</th><th>"Started"</th><th>"Result"</th></tr></thead>
                            <tbody>
                                {runs.items.into_iter().map(|e| view! {
                                    <tr>
                                        <td><a href=format!("/admin/replication/{}", e.id)>{format!("#{}", e.id)}</a></td>
                                        <td>{e.rule.clone()}</td>
                                        <td>{status_badge(e.status)}</td>
                                        <td>{e.trigger.label()}</td>
                                        <td class="num">{if e.failed > 0 { format!("{} ({} failed)", e.total, e.failed) } else { e.total.to_string() }}</td>
                                        <td><When at=e.started.clone() /></td>
                                        <td>{e.text.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <Pager page pages total href=move |p| format!("/admin/replication?page={p}") />
                    }.into_any()
                };
                view! {
                    <h2>"Rules"</h2>
                    {rules}
                    {form}
                    <h2>"Executions"</h2>
                    {executions}
                }.into_any()
            })}
        </Suspense>
    }
}

/// `/admin/replication/:execution`: an execution's tasks with their logs.
#[component]
pub fn ReplicationRunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("execution").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let stop = ServerAction::<StopReplication>::new();
    let data =
        Resource::new_blocking(move || (id(), stop.version().get()), |(id, _)| replication_execution(id));
    view! {
        <Title text=move || format!("Replication #{} · Wharf", id()) />
        <p class="crumbs"><a href="/admin/replication">"Replication"</a> " / " {move || format!("#{}", id())}</p>
        {move || first_error([stop.value().get()])}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (run, tasks) = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let going = matches!(run.status, RunStatus::Running | RunStatus::Pending);
                view! {
                    <div class="bar">
                        <h1>{format!("Execution #{} of {}", run.id, run.rule)} " " {status_badge(run.status)}</h1>
                        {going.then(|| view! {
                            <ActionForm action=stop attr:class="inline">
                                <CsrfField />
                                <input type="hidden" name="execution" value=run.id.to_string() />
                                <button type="submit" class="danger">"Stop"</button>
                            </ActionForm>
                        })}
                    </div>
                    <p class="muted">{format!("{} · started {}{} · {}", run.trigger.label(), run.started,
                        run.ended.as_ref().map(|e| format!(", ended {e}")).unwrap_or_default(), run.text)}</p>
                    {if tasks.is_empty() {
                        view! { <p class="empty">"No tasks: the rule selected nothing."</p> }.into_any()
                    } else {
                        view! {
                            <table class="list">
                                <thead><tr><th>"Source"</th><th>"Destination"</th><th>"Operation"</th><th>"Status"</th><th>"Sent"</th><th>"Log"</th></tr></thead>
                                <tbody>
                                    {tasks.into_iter().map(|t| view! {
                                        <tr>
                                            <td><code>{t.source.clone()}</code></td>
                                            <td><code>{t.destination.clone()}</code></td>
                                            <td>{t.operation.clone()}</td>
                                            <td>{status_badge(t.status)}</td>
                                            <td class="num">{human_size(t.bytes)}</td>
                                            <td><details><summary>"Log"</summary><pre class="log">{t.log.clone()}</pre></details></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                }.into_any()
            })}
        </Suspense>
    }
}
