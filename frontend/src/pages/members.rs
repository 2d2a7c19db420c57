//! A project's members, users and user groups: add one with a role, change a role, remove.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::project::{ProjectFrame, project_resource};
use crate::api::{AddMember, RemoveMember, SetMemberRole, list_members};
use crate::components::{CsrfField, Failure, first_error};
use crate::types::Role;

/// The roles as a picker's options (the form sends Harbor's role id).
fn role_options(selected: Role) -> impl IntoView {
    Role::ALL
        .into_iter()
        .map(move |r| view! { <option value=r.id().to_string() selected=r == selected>{r.label()}</option> })
        .collect_view()
}

/// `/projects/:project/members`
#[component]
pub fn MembersPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("project").unwrap_or_default();
    let project = project_resource();
    let add = ServerAction::<AddMember>::new();
    let set = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let members = Resource::new_blocking(
        move || (name(), add.version().get() + set.version().get() + remove.version().get()),
        |(n, _)| list_members(n),
    );
    view! {
        <ProjectFrame current="members" project />
        {move || first_error([add.value().get(), set.value().get(), remove.value().get()])}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (Ok(p), rows) = (project.await, members.await) else { return ().into_any() };
                let rows = match rows {
                    Ok(m) => m,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let can_manage = p.can_admin;
                let project = p.name;
                let add_form = can_manage.then(|| {
                    let project = project.clone();
                    view! {
                        <section class="card">
                            <h2>"Add a member"</h2>
                            <ActionForm action=add attr:class="row">
                                <CsrfField />
                                <input type="hidden" name="project" value=project />
                                <select name="kind" aria-label="Member type">
                                    <option value="user" selected>"User"</option>
                                    <option value="group">"Group"</option>
                                </select>
                                <input name="name" placeholder="Username, group name or LDAP group DN" aria-label="Member name" required />
                                <select name="role_id" aria-label="Role">{role_options(Role::Developer)}</select>
                                <button type="submit" class="primary">"Add"</button>
                            </ActionForm>
                        </section>
                    }
                });
                if rows.is_empty() {
                    return view! { {add_form} <p class="empty">"No members yet: add a user by username or a group by name or LDAP DN."</p> }.into_any();
                }
                view! {
                    {add_form}
                    <table class="list">
                        <thead><tr><th>"Member"</th><th>"Type"</th><th>"Role"</th>{can_manage.then(|| view! { <th>"Actions"</th> })}</tr></thead>
                        <tbody>
                            {rows.into_iter().map(|m| {
                                let actions = can_manage.then(|| {
                                    let (p1, p2) = (project.clone(), project.clone());
                                    let (role_label, remove_label) = (format!("Role of {}", m.name), format!("Remove {}", m.name));
                                    view! {
                                        <td class="actions">
                                            <ActionForm action=set attr:class="inline">
                                                <CsrfField />
                                                <input type="hidden" name="project" value=p1 />
                                                <input type="hidden" name="member" value=m.id.to_string() />
                                                <select name="role_id" aria-label=role_label>{role_options(m.role)}</select>
                                                <button type="submit" class="small">"Change role"</button>
                                            </ActionForm>
                                            <ActionForm action=remove attr:class="inline">
                                                <CsrfField />
                                                <input type="hidden" name="project" value=p2 />
                                                <input type="hidden" name="member" value=m.id.to_string() />
                                                <button type="submit" class="small danger" aria-label=remove_label>"Remove"</button>
                                            </ActionForm>
                                        </td>
                                    }
                                });
                                let kind = match m.group {
                                    Some(t) => format!("{} group", t.label()),
                                    None => "User".to_owned(),
                                };
                                view! { <tr><td>{m.name.clone()}</td><td>{kind}</td><td>{m.role.label()}</td>{actions}</tr> }
                            }).collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            })}
        </Suspense>
    }
}
