//! A project's settings (project admins): public or private, the storage quota, labels; delete
//! the project when empty.

use leptos::prelude::*;

use super::project::{ProjectFrame, project_resource_after};
use crate::api::{
    CreateLabel, DeleteLabel, DeleteProject, SetProjectPublic, SetProjectQuota, project_labels,
};
use crate::components::{CsrfField, Failure, Label, QuotaMeter};
use crate::types::ProjectView;

/// `/projects/:project/settings`
#[component]
pub fn SettingsPage() -> impl IntoView {
    let public = ServerAction::<SetProjectPublic>::new();
    let quota = ServerAction::<SetProjectQuota>::new();
    let project =
        project_resource_after(Signal::derive(move || public.version().get() + quota.version().get()));
    let params = leptos_router::hooks::use_params_map();
    let create = ServerAction::<CreateLabel>::new();
    let delete = ServerAction::<DeleteLabel>::new();
    // Loaded with the project, in the page's one Suspense (nested ones do not render on the
    // server).
    let labels = Resource::new_blocking(
        move || {
            (
                params.read().get("project").unwrap_or_default(),
                create.version().get() + delete.version().get(),
            )
        },
        |(n, _)| project_labels(n),
    );
    view! {
        <ProjectFrame current="settings" project />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let labels = labels.await;
                match project.await {
                    Ok(p) => view! {
                        <Settings project=p.clone() public quota />
                        <LabelsCard project=p.name.clone() admin=p.can_set_quota labels create delete />
                        <DeleteCard project=p />
                    }
                        .into_any(),
                    Err(_) => ().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Settings(
    project: ProjectView,
    public: ServerAction<SetProjectPublic>,
    quota: ServerAction<SetProjectQuota>,
) -> impl IntoView {
    let for_quota = project.name.clone();
    let limit_text =
        if project.storage_limit < 0 { "-1".to_owned() } else { project.storage_limit.to_string() };
    let for_public = project.name.clone();
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
    }
}

#[component]
fn DeleteCard(project: ProjectView) -> impl IntoView {
    let delete = ServerAction::<DeleteProject>::new();
    let name = project.name.clone();
    let for_delete = name.clone();
    let empty = project.repo_count == 0;
    view! {
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

/// The project's labels (and the global ones) as chips; new ones added, project ones deleted.
#[component]
fn LabelsCard(
    project: String,
    admin: bool,
    labels: Result<Vec<crate::types::LabelChip>, crate::types::PortalError>,
    create: ServerAction<CreateLabel>,
    delete: ServerAction<DeleteLabel>,
) -> impl IntoView {
    let p_new = project.clone();
    view! {
        <section class="card">
            <h2>"Labels"</h2>
            <p class="muted">"Put labels on artifacts to mark them (tested, released, …); listings filter on them."</p>
            {match labels {
                Err(e) => view! { <Failure error=e /> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="empty">"No labels yet."</p> }.into_any(),
                Ok(list) => view! {
                    <ul class="labels">
                        {list.into_iter().map(|l| {
                            let p = project.clone();
                            let id = l.id.to_string();
                            let (chip, aria) = (l.clone(), format!("Delete label {}", l.name));
                            view! {
                                <li>
                                    <Label label=chip />
                                    {l.global.then_some(view! { <span class="muted small">" global"</span> })}
                                    {(!l.global || admin).then(move || view! {
                                        <ActionForm action=delete attr:class="inline">
                                            <CsrfField />
                                            <input type="hidden" name="project" value=p />
                                            <input type="hidden" name="id" value=id />
                                            <button type="submit" class="small danger" aria-label=aria>"×"</button>
                                        </ActionForm>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <ActionForm action=create attr:class="row">
                <CsrfField />
                <input type="hidden" name="project" value=p_new />
                <input name="name" required placeholder="released" aria-label="Label name" />
                <input name="color" type="color" value="#0b63ce" aria-label="Label color" />
                {admin.then_some(view! { <label class="check"><input type="checkbox" name="global" />" global (every project)"</label> })}
                <button type="submit">"Add label"</button>
            </ActionForm>
            {move || create.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
            {move || delete.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
        </section>
    }
}
