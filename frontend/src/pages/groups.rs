//! User groups (system administrators): the directory's and the providers' groups Wharf knows,
//! which project members can name. Add one ahead of its members' sign-ins, or delete one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::page_param;
use crate::api::{AddGroup, DeleteGroup, list_groups};
use crate::components::{CsrfField, Failure, Pager, encode, first_error};
use crate::types::GroupType;

/// `/admin/groups?q=&page=`
#[component]
pub fn GroupsPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let add = ServerAction::<AddGroup>::new();
    let delete = ServerAction::<DeleteGroup>::new();
    let groups = Resource::new_blocking(
        move || (q(), page(), add.version().get() + delete.version().get()),
        |(q, p, _)| list_groups(q, p),
    );
    let types = GroupType::ALL
        .into_iter()
        .map(
            |t| view! { <option value=t.id().to_string() selected=t == GroupType::Ldap>{t.label()}</option> },
        )
        .collect_view();
    view! {
        <Title text="Groups · Wharf" />
        <div class="bar">
            <h1>"Groups"</h1>
            <form method="get" class="search" role="search">
                <input name="q" placeholder="Search groups" value=q aria-label="Search groups" />
                <button type="submit">"Search"</button>
            </form>
        </div>
        <section class="card">
            <h2>"Add a group"</h2>
            <p class="muted">"Directory groups appear here when one of their members signs in; add one ahead of that by its DN. A group is given a role in a project on the project's Members tab."</p>
            <ActionForm action=add attr:class="row">
                <CsrfField />
                <select name="group_type" aria-label="Group type">{types}</select>
                <input name="dn" placeholder="LDAP group DN (cn=developers,ou=groups,…)" aria-label="LDAP group DN" />
                <input name="name" placeholder="Name (HTTP and OIDC groups)" aria-label="Group name" />
                <button type="submit" class="primary">"Add group"</button>
            </ActionForm>
        </section>
        {move || first_error([add.value().get(), delete.value().get()])}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let groups = match groups.await {
                    Ok(g) => g,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                if groups.items.is_empty() {
                    return view! { <p class="empty">"No groups yet: they appear as directory users sign in, or add one above."</p> }.into_any();
                }
                let (page, pages, total) = (groups.page, groups.pages(), groups.total);
                let q = q();
                view! {
                    <table class="list">
                        <thead><tr><th>"Name"</th><th>"Type"</th><th>"LDAP DN"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {groups.items.into_iter().map(|g| {
                                let label = format!("Delete group {}", g.name);
                                view! {
                                    <tr>
                                        <td>{g.name.clone()}</td>
                                        <td>{g.group_type.label()}</td>
                                        <td><code>{g.ldap_group_dn.clone()}</code></td>
                                        <td class="actions">
                                            <ActionForm action=delete attr:class="inline">
                                                <CsrfField />
                                                <input type="hidden" name="id" value=g.id.to_string() />
                                                <button type="submit" class="small danger" aria-label=label>"Delete"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Pager page pages total href=move |p| format!("/admin/groups?q={}&page={p}", encode(&q)) />
                }
                    .into_any()
            })}
        </Suspense>
    }
}
