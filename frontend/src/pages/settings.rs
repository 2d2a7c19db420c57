//! A project's settings (project admins): public or private; delete the project when empty.

use leptos::prelude::*;

use super::project::{ProjectFrame, project_resource};
use crate::api::{DeleteProject, SetProjectPublic, SetProjectQuota};
use crate::components::{CsrfField, Failure, QuotaMeter};
use crate::types::ProjectView;

/// `/projects/:project/settings`
#[component]
pub fn SettingsPage() -> impl IntoView {
    let project = project_resource();
    view! {
        <ProjectFrame current="settings" project />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match project.await {
                    Ok(p) => view! { <Settings project=p /> }.into_any(),
                    Err(_) => ().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Settings(project: ProjectView) -> impl IntoView {
    let public = ServerAction::<SetProjectPublic>::new();
    let delete = ServerAction::<DeleteProject>::new();
    let quota = ServerAction::<SetProjectQuota>::new();
    let for_quota = project.name.clone();
    let limit_text =
        if project.storage_limit < 0 { "-1".to_owned() } else { project.storage_limit.to_string() };
    let name = project.name.clone();
    let (for_public, for_delete) = (name.clone(), name.clone());
    let empty = project.repo_count == 0;
    view! {
        <section class="card">
            <h2>"Visibility"</h2>
            <p class="muted">"Anyone, signed in or not, may pull from a public project. Only members see a private one."</p>
            <ActionForm action=public attr:class="row">
                <CsrfField />
                <input type="hidden" name="project" value=for_public />
                <label class="check"><input type="checkbox" name="public" checked=project.public />" Public"</label>
                <button type="submit" class="primary">"Save"</button>
            </ActionForm>
            {move || public.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
        </section>
        <section class="card">
            <h2>"Storage quota"</h2>
            <p><QuotaMeter used=project.storage_used limit=project.storage_limit /></p>
            <p class="muted">"What the project's artifacts hold, each layer counted once however many images share it. A push that would go over the limit is refused; deleting artifacts frees room at once."</p>
            {project.can_set_quota.then(|| view! {
                <ActionForm action=quota attr:class="row">
                    <CsrfField />
                    <input type="hidden" name="project" value=for_quota />
                    <label>"Limit " <input name="limit" value=limit_text aria-label="Storage limit" placeholder="10GiB, 500MB or -1" /></label>
                    <button type="submit" class="primary">"Set limit"</button>
                </ActionForm>
                <p class="muted small">"Bytes, or with a unit: KB, MB, GB, TB, KiB, MiB, GiB, TiB; -1 for no limit."</p>
            })}
            {move || quota.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
        </section>
        <section class="card danger-zone">
            <h2>"Delete project"</h2>
            {if empty {
                view! {
                    <p>"This deletes the project " <strong>{name.clone()}</strong> ", its members, robot accounts and retention policy."</p>
                    <details>
                        <summary>"Delete project…"</summary>
                        <ActionForm action=delete attr:class="row">
                            <CsrfField />
                            <input type="hidden" name="project" value=for_delete.clone() />
                            <button type="submit" class="danger">{format!("Delete {for_delete}")}</button>
                        </ActionForm>
                    </details>
                }.into_any()
            } else {
                view! { <p class="muted">{format!("The project still has {} repositories: delete them first.", project.repo_count)}</p> }.into_any()
            }}
            {move || delete.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
        </section>
    }
}
