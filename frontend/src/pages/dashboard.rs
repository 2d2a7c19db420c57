//! At a glance: a project's summary tab and the administrators' dashboard, with charts drawn
//! on the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::project::{ProjectFrame, project_resource};
use crate::api::{get_project_dashboard, get_registry_dashboard};
use crate::charts::{DayChart, Shape, Unit};
use crate::components::{Failure, QuotaMeter, When, human_size};
use crate::types::{Activity, DayValue};

/// Pushes, pulls and storage over the last 30 days.
fn activity_charts(a: Activity) -> AnyView {
    view! {
        <div class="charts">
            <DayChart title="Pushes" points=a.pushes unit=Unit::Count shape=Shape::Bars />
            <DayChart title="Pulls" points=a.pulls unit=Unit::Count shape=Shape::Bars />
            <DayChart title="Stored, by push date" points=a.stored unit=Unit::Bytes shape=Shape::Area />
        </div>
        <p class="muted small">"Pushes and pulls come from the audit log, where identical pulls by one client within a moment are one entry; storage is the size of the artifacts stored now, by the day they were pushed."</p>
    }
    .into_any()
}

/// A figure with its label, as the summary cards show it.
fn stat(label: &'static str, value: String) -> AnyView {
    view! { <div class="stat"><span class="stat-value">{value}</span><span class="stat-label">{label}</span></div> }.into_any()
}

/// `/projects/:project/summary`
#[component]
pub fn SummaryPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("project").unwrap_or_default();
    let dashboard = Resource::new_blocking(name, get_project_dashboard);
    let project = project_resource();
    view! {
        <ProjectFrame current="summary" project />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let d = match dashboard.await {
                    Ok(d) => d,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let members: i64 = d.members.iter().map(|(_, n)| n).sum();
                view! {
                    <section class="stats" aria-label="Figures">
                        {stat("repositories", d.repositories.to_string())}
                        {stat("artifacts", d.artifacts.to_string())}
                        {stat("members", members.to_string())}
                        {stat("stored", human_size(d.storage_used))}
                    </section>
                    <h2>"Storage"</h2>
                    <p><QuotaMeter used=d.storage_used limit=d.storage_limit /></p>
                    <h2>"Members by role"</h2>
                    {if d.members.is_empty() {
                        view! { <p class="empty">"No members: only system administrators manage this project."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="roles">
                                {d.members.into_iter().map(|(role, n)| view! { <li><strong>{n}</strong>{format!(" {}", role.label())}</li> }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    <h2>"The last 30 days"</h2>
                    {activity_charts(d.activity)}
                }
                    .into_any()
            })}
        </Suspense>
    }
}

/// `/admin`: the whole registry at a glance (system administrators).
#[component]
pub fn DashboardPage() -> impl IntoView {
    let dashboard = Resource::new_blocking(|| (), |_| get_registry_dashboard());
    view! {
        <Title text="Dashboard · Wharf" />
        <h1>"Dashboard"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let d = match dashboard.await {
                    Ok(d) => d,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let volume = d.volume.map(|(total, free)| {
                    let used = total.saturating_sub(free);
                    let (used, total) = (i64::try_from(used).unwrap_or(i64::MAX), i64::try_from(total).unwrap_or(i64::MAX));
                    view! { <p>"Blob store volume: " <QuotaMeter used limit=total /></p> }
                });
                let freed: Vec<DayValue> = d.gc.iter().map(|g| DayValue { day: g.at.chars().take(10).collect(), value: g.bytes }).collect();
                let last_gc = d.gc.last().cloned();
                view! {
                    <section class="stats" aria-label="Figures">
                        {stat("projects", d.projects.to_string())}
                        {stat("repositories", d.repositories.to_string())}
                        {stat("artifacts", d.artifacts.to_string())}
                        {stat("stored", human_size(d.storage_used))}
                    </section>
                    {volume}
                    <h2>"The last 30 days"</h2>
                    {activity_charts(d.activity)}
                    <h2>"Garbage collection"</h2>
                    {match last_gc {
                        None => view! { <p class="empty">"No collection has deleted anything yet. " <a href="/admin/gc">"Run one"</a></p> }.into_any(),
                        Some(g) => view! {
                            <p>"The last collection, " <When at=g.at.clone() /> ", freed " {human_size(g.bytes)} " (" {g.blobs} " blobs). " <a href="/admin/gc">"Collections"</a></p>
                            <div class="charts">
                                <DayChart title="Freed per collection" points=freed unit=Unit::Bytes shape=Shape::Bars />
                            </div>
                        }.into_any(),
                    }}
                }
                    .into_any()
            })}
        </Suspense>
    }
}
