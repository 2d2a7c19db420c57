//! Garbage collection (system administrators): run now, dry run, schedule, history with logs.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::page_param;
use crate::api::{RunGc, RunPurge, SetGcSchedule, SetPurgeSchedule, gc_page, purge_page};
use crate::components::{CsrfField, Failure, Pager, When, first_error, human_size};
use crate::types::{Schedule, ScheduleKind};

/// `/admin/gc?page=`
#[component]
pub fn GcPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || page_param(query.read().get("page"));
    let run = ServerAction::<RunGc>::new();
    let schedule = ServerAction::<SetGcSchedule>::new();
    let gc = Resource::new_blocking(
        move || (page(), run.version().get() + schedule.version().get()),
        |(page, _)| gc_page(page),
    );
    view! {
        <Title text="Garbage collection · Wharf" />
        <GcSection gc run schedule />
        <PurgeSection />
    }
}

#[component]
fn GcSection(
    gc: Resource<Result<crate::types::GcView, crate::types::PortalError>>,
    run: ServerAction<RunGc>,
    schedule: ServerAction<SetGcSchedule>,
) -> impl IntoView {
    view! {
        <h1>"Garbage collection"</h1>
        <p class="muted">
            "Deletes layers no image references any more, and optionally untagged images. It runs while the registry serves."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let v = match gc.await {
                    Ok(v) => v,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let (page, pages, total) = (v.runs.page, v.runs.pages(), v.runs.total);
                view! {
                    <section class="card">
                        <h2>"Run now"</h2>
                        <ActionForm action=run attr:class="row">
                            <CsrfField />
                            <label class="check"><input type="checkbox" name="delete_untagged" />" Also delete untagged artifacts"</label>
                            <button type="submit" name="dry_run" value="on">"Dry run"</button>
                            <button type="submit" class="primary">"GC now"</button>
                        </ActionForm>
                    </section>
                    <section class="card">
                        <h2>"Schedule"</h2>
                        <p>
                            {if v.schedule == Schedule::None { "Not scheduled.".to_owned() } else { format!("{} ({}), next run {}", v.schedule.kind().as_str(), v.schedule.cron(), v.next.clone().unwrap_or_default()) }}
                        </p>
                        <ActionForm action=schedule attr:class="row">
                            <CsrfField />
                            <select name="kind" aria-label="Schedule">
                                {ScheduleKind::ALL.into_iter().map(|k| {
                                    view! { <option value=k.as_str() selected=v.schedule.kind() == k>{k.as_str()}</option> }
                                }).collect_view()}
                            </select>
                            <input name="cron" placeholder="0 0 3 * * 6 (custom)" value=v.schedule.cron().to_owned() aria-label="Cron" />
                            <label class="check"><input type="checkbox" name="delete_untagged" />" Delete untagged"</label>
                            <button type="submit">"Save schedule"</button>
                        </ActionForm>
                    </section>
                    <h2>"History"</h2>
                    {if v.runs.items.is_empty() {
                        view! { <p class="empty">"No collection has run yet."</p> }.into_any()
                    } else {
                        view! {
                            <table class="list">
                                <thead><tr><th>"Run"</th><th>"Trigger"</th><th>"Status"</th><th>"Manifests"</th><th>"Blobs"</th><th>"Freed"</th><th>"Started"</th><th>"Took"</th><th>"Log"</th></tr></thead>
                                <tbody>
                                    {v.runs.items.into_iter().map(|r| view! {
                                        <tr>
                                            <td class="num">{r.id}</td>
                                            <td>{r.trigger.as_str()}{r.dry_run.then_some(" (dry run)")}</td>
                                            <td><span class=format!("status {}", r.status.as_str().to_lowercase())>{r.status.as_str()}</span></td>
                                            <td class="num">{r.manifests}</td>
                                            <td class="num">{r.blobs}</td>
                                            <td class="num">{human_size(r.bytes)}</td>
                                            <td><When at=r.created /></td>
                                            <td class="num">{r.took_ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0)).unwrap_or_else(|| "running".into())}</td>
                                            <td><a href=format!("/api/v2.0/system/gc/{}/log", r.id)>"log"</a></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager page pages total href=|p| format!("/admin/gc?page={p}") />
                        }.into_any()
                    }}
                    {move || first_error([run.value().get().map(|r| r.map(|_| ())), schedule.value().get()])}
                }
                    .into_any()
            })}
        </Suspense>
    }
}

/// Audit log retention: purge now or on a schedule, and the latest purges.
#[component]
fn PurgeSection() -> impl IntoView {
    let run = ServerAction::<RunPurge>::new();
    let schedule = ServerAction::<SetPurgeSchedule>::new();
    let purge =
        Resource::new_blocking(move || run.version().get() + schedule.version().get(), |_| purge_page());
    view! {
        <h1 id="audit">"Audit log retention"</h1>
        <p class="muted">"Deletes audit entries older than a number of hours, of some operations or all, so the log cannot grow without bound."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let v = match purge.await {
                    Ok(v) => v,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let (keep, keep_run) = (v.keep_hours.to_string(), v.keep_hours.to_string());
                let (ops, ops_run) = (v.operations.clone(), v.operations.clone());
                view! {
                    <section class="card">
                        <h2>"Purge"</h2>
                        <p>{if v.schedule == Schedule::None { "Not scheduled.".to_owned() } else {
                            format!("{} ({}), keeping {} hours of {}; next run {}", v.schedule.kind().as_str(), v.schedule.cron(), v.keep_hours,
                                if v.operations.is_empty() { "every operation".to_owned() } else { v.operations.clone() }, v.next.clone().unwrap_or_default())
                        }}</p>
                        <ActionForm action=schedule attr:class="row">
                            <CsrfField />
                            <select name="kind" aria-label="Purge schedule">
                                {ScheduleKind::ALL.into_iter().map(|k| {
                                    view! { <option value=k.as_str() selected=v.schedule.kind() == k>{k.as_str()}</option> }
                                }).collect_view()}
                            </select>
                            <input name="cron" placeholder="0 0 4 * * * (custom)" value=v.schedule.cron().to_owned() aria-label="Purge cron" />
                            <label>"Keep hours " <input name="keep_hours" type="number" min="1" value=keep class="short" aria-label="Keep hours" /></label>
                            <label>"Operations " <input name="operations" value=ops placeholder="all, or create,delete,pull" aria-label="Operations" /></label>
                            <button type="submit">"Save schedule"</button>
                        </ActionForm>
                        <ActionForm action=run attr:class="row">
                            <CsrfField />
                            <input type="hidden" name="keep_hours" value=keep_run />
                            <input type="hidden" name="operations" value=ops_run />
                            <button type="submit" name="dry_run" value="on">"Dry run"</button>
                            <button type="submit" class="primary">"Purge now"</button>
                        </ActionForm>
                    </section>
                    {if v.runs.is_empty() {
                        view! { <p class="empty">"No purge has run yet."</p> }.into_any()
                    } else {
                        view! {
                            <table class="list">
                                <thead><tr><th>"Run"</th><th>"Trigger"</th><th>"Status"</th><th>"Entries"</th><th>"Started"</th><th>"Log"</th></tr></thead>
                                <tbody>
                                    {v.runs.into_iter().map(|r| view! {
                                        <tr>
                                            <td class="num">{r.id}</td>
                                            <td>{r.trigger.as_str()}{r.dry_run.then_some(" (dry run)")}</td>
                                            <td><span class=format!("status {}", r.status.as_str().to_lowercase())>{r.status.as_str()}</span></td>
                                            <td class="num">{r.purged}</td>
                                            <td><When at=r.created /></td>
                                            <td><a href=format!("/api/v2.0/system/purgeaudit/{}/log", r.id)>"log"</a></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                    {move || first_error([run.value().get().map(|r| r.map(|_| ())), schedule.value().get()])}
                }
                    .into_any()
            })}
        </Suspense>
    }
}
