//! A project's audit log (project admins): who pushed, pulled and deleted what, when, from where.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::page_param;
use super::project::{ProjectFrame, project_resource};
use crate::api::project_logs;
use crate::components::{Failure, Pager};

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
                let logs = match logs.await {
                    Ok(l) => l,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                if logs.items.is_empty() {
                    return view! { <p class="empty">"Nothing happened in this project yet: pushes, pulls and deletes appear here."</p> }.into_any();
                }
                let (page, pages, total) = (logs.page, logs.pages(), logs.total);
                let n = name();
                view! {
                    <table class="list">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"Operation"</th><th>"Resource"</th><th>"From"</th></tr></thead>
                        <tbody>
                            {logs.items.into_iter().map(|l| view! {
                                <tr>
                                    <td><time>{l.time}</time></td>
                                    <td>{l.username}</td>
                                    <td>{l.operation}</td>
                                    <td class="digest">{l.resource}</td>
                                    <td>{l.client_ip}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Pager page pages total href=move |p| format!("/projects/{n}/logs?page={p}") />
                }
                    .into_any()
            })}
        </Suspense>
    }
}
