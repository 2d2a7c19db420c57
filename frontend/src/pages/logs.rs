//! Audit logs: a project's (project admins) and the whole registry's (system administrators).
//! Who pushed, pulled and deleted what, when, from where.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::page_param;
use super::project::{ProjectFrame, project_resource};
use crate::api::{audit_logs, project_logs};
use crate::components::{Failure, Pager, When};
use crate::types::{LogEntry, Page, PortalError};

/// One page of a log with its pager; `href(n)` links to page `n`.
fn log_table(
    logs: Result<Page<LogEntry>, PortalError>,
    empty: &'static str,
    href: impl Fn(i64) -> String + 'static,
) -> AnyView {
    let logs = match logs {
        Ok(l) => l,
        Err(e) => return view! { <Failure error=e /> }.into_any(),
    };
    if logs.items.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    let (page, pages, total) = (logs.page, logs.pages(), logs.total);
    view! {
        <table class="list">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"Operation"</th><th>"Resource"</th><th>"From"</th></tr></thead>
            <tbody>
                {logs.items.into_iter().map(|l| view! {
                    <tr>
                        <td><When at=l.time /></td>
                        <td>{l.username}</td>
                        <td>{l.operation}</td>
                        <td class="digest">{l.resource}</td>
                        <td>{l.client_ip}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <Pager page pages total href />
    }
    .into_any()
}

/// `/projects/:project/logs?page=`
#[component]
pub fn LogsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("project").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let logs = Resource::new_blocking(move || (name(), page()), |(n, p)| project_logs(n, p));
    let project = project_resource();
    view! {
        <ProjectFrame current="logs" project />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let n = name();
                log_table(
                    logs.await,
                    "Nothing happened in this project yet: pushes, pulls and deletes appear here.",
                    move |p| format!("/projects/{n}/logs?page={p}"),
                )
            })}
        </Suspense>
    }
}

/// `/logs?page=`: every project's events (system administrators).
#[component]
pub fn AuditLogsPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || page_param(query.read().get("page"));
    let logs = Resource::new_blocking(page, audit_logs);
    view! {
        <Title text="Logs · Wharf" />
        <h1>"Logs"</h1>
        <p class="muted">"Every push, pull, delete and change in the registry, newest first. Older entries are purged as the audit purge settings say."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                log_table(logs.await, "Nothing has happened yet.", |p| format!("/logs?page={p}"))
            })}
        </Suspense>
    }
}
