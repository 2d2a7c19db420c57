//! A project's settings (project admins): public or private; delete the project when empty.

use leptos::prelude::*;

use super::project::{ProjectFrame, project_resource};
use crate::api::{DeleteProject, SetProjectPublic};
use crate::components::{CsrfField, Failure};
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
