//! A project's robot accounts: create with permissions and expiry (the secret is shown once,
//! with a copy button), disable or enable, delete.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::project::{ProjectFrame, project_resource};
use crate::api::{ChangeRobot, CreateRobot, list_robots};
use crate::components::{CopyCommand, CsrfField, Failure};

/// `/projects/:project/robots`
#[component]
pub fn RobotsPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("project").unwrap_or_default();
    let project = project_resource();
    let create = ServerAction::<CreateRobot>::new();
    let change = ServerAction::<ChangeRobot>::new();
    let robots = Resource::new_blocking(
        move || (name(), create.version().get() + change.version().get()),
        |(n, _)| list_robots(n),
    );
    view! {
        <ProjectFrame current="robots" project />
        <section class="card">
            <h2>"New robot account"</h2>
            <p class="muted">"For CI and other machines: " <code>"docker login"</code> " with the robot's name and secret."</p>
            <ActionForm action=create attr:class="row">
                <CsrfField />
                <input type="hidden" name="project" value=name />
                <input name="name" placeholder="Name, e.g. ci" aria-label="Robot name" required />
                <label class="check"><input type="checkbox" name="pull" checked />" pull"</label>
                <label class="check"><input type="checkbox" name="push" />" push"</label>
                <label class="check"><input type="checkbox" name="delete" />" delete"</label>
                <label class="check">"expires in "
                    <select name="days" aria-label="Expiry">
                        <option value="30" selected>"30 days"</option>
                        <option value="90">"90 days"</option>
                        <option value="365">"a year"</option>
                        <option value="-1">"never"</option>
                    </select>
                </label>
                <button type="submit" class="primary">"Create"</button>
            </ActionForm>
            {move || create.value().get().map(|r| match r {
                Ok(s) => view! {
                    <div class="secret" role="status">
                        <p>"Robot " <code>{s.name.clone()}</code> " created. Copy its secret now: it is not shown again."</p>
                        <CopyCommand text=s.secret.clone() />
                    </div>
                }.into_any(),
                Err(e) => view! { <Failure error=e /> }.into_any(),
            })}
        </section>
        {move || change.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let rows = match robots.await {
                    Ok(r) => r,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                if rows.is_empty() {
                    return view! { <p class="empty">"No robot accounts. Create one for your CI pipeline above."</p> }.into_any();
                }
                let project = name();
                view! {
                    <table class="list">
                        <thead><tr><th>"Name"</th><th>"Permissions"</th><th>"Expires"</th><th>"Status"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| {
                                let id = r.id.to_string();
                                let project = project.clone();
                                let button = move |what: &'static str, label: &'static str, class: &'static str, aria: String| {
                                    let (id, project) = (id.clone(), project.clone());
                                    view! {
                                        <ActionForm action=change attr:class="inline">
                                            <CsrfField />
                                            <input type="hidden" name="project" value=project />
                                            <input type="hidden" name="id" value=id />
                                            <button type="submit" name="what" value=what class=class aria-label=aria>{label}</button>
                                        </ActionForm>
                                    }
                                };
                                let status = if r.expired { "expired" } else if r.disabled { "disabled" } else { "active" };
                                view! {
                                    <tr>
                                        <td><code>{r.name.clone()}</code></td>
                                        <td>{r.permissions.actions().join(", ")}</td>
                                        <td>{r.expires.clone().unwrap_or_else(|| "never".into())}</td>
                                        <td><span class=if status == "active" { "badge public" } else { "badge private" }>{status}</span></td>
                                        <td class="actions">
                                            {if r.disabled {
                                                button("enable", "Enable", "small", format!("Enable {}", r.name))
                                            } else {
                                                button("disable", "Disable", "small", format!("Disable {}", r.name))
                                            }}
                                            // A confirmation step that names the robot: pipelines using it stop working.
                                            <details class="confirm">
                                                <summary aria-label=format!("Delete {}…", r.name)>"Delete…"</summary>
                                                <span class="muted small">"Pipelines using it will be refused. "</span>
                                                {button("delete", "Delete robot", "small danger", format!("Delete {}", r.name))}
                                            </details>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            })}
        </Suspense>
    }
}
