//! Users (system administrators): search, create, disable or enable, reset a password, make or
//! unmake an administrator.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::page_param;
use crate::api::{ChangeUser, CreateUser, list_users};
use crate::components::{CsrfField, Failure, Pager, When, encode, first_error};

/// `/admin/users?q=&page=`
#[component]
pub fn UsersPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let create = ServerAction::<CreateUser>::new();
    let change = ServerAction::<ChangeUser>::new();
    let users = Resource::new_blocking(
        move || (q(), page(), create.version().get() + change.version().get()),
        |(q, p, _)| list_users(q, p),
    );
    view! {
        <Title text="Users · Wharf" />
        <div class="bar">
            <h1>"Users"</h1>
            <form method="get" class="search" role="search">
                <input name="q" placeholder="Search users" value=q aria-label="Search users" />
                <button type="submit">"Search"</button>
            </form>
        </div>
        <section class="card">
            <h2>"New user"</h2>
            <ActionForm action=create attr:class="row">
                <CsrfField />
                <input name="username" placeholder="Username" aria-label="Username" required />
                <input name="email" type="email" placeholder="Email (optional)" aria-label="Email" />
                <input name="password" type="password" placeholder="Password" aria-label="Password" autocomplete="new-password" required />
                <button type="submit" class="primary">"Create user"</button>
            </ActionForm>
        </section>
        {move || first_error([create.value().get(), change.value().get()])}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let users = match users.await {
                    Ok(u) => u,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                if users.items.is_empty() {
                    return view! { <p class="empty">"No user matches this search."</p> }.into_any();
                }
                let (page, pages, total) = (users.page, users.pages(), users.total);
                let q = q();
                view! {
                    <table class="list">
                        <thead><tr><th>"Username"</th><th>"Email"</th><th>"Role"</th><th>"Status"</th><th>"Created"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {users.items.into_iter().map(|u| {
                                let id = u.id.to_string();
                                let button = move |what: &'static str, label: &'static str, class: &'static str| {
                                    let id = id.clone();
                                    view! {
                                        <ActionForm action=change attr:class="inline">
                                            <CsrfField />
                                            <input type="hidden" name="id" value=id />
                                            <button type="submit" name="what" value=what class=class>{label}</button>
                                        </ActionForm>
                                    }
                                };
                                view! {
                                    <tr>
                                        <td>{u.username.clone()}</td>
                                        <td>{u.email.clone()}</td>
                                        <td>{if u.sysadmin { "administrator" } else { "user" }}</td>
                                        <td>{if u.disabled { view! { <span class="badge private">"disabled"</span> }.into_any() } else { view! { <span class="badge public">"active"</span> }.into_any() }}</td>
                                        <td><When at=u.created.clone() /></td>
                                        <td class="actions">
                                            {if u.disabled { button("enable", "Enable", "small") } else { button("disable", "Disable", "small danger") }}
                                            {if u.sysadmin { button("unadmin", "Revoke admin", "small") } else { button("admin", "Make admin", "small") }}
                                            <details class="inline">
                                                <summary>"Reset password"</summary>
                                                <ActionForm action=change attr:class="row">
                                                    <CsrfField />
                                                    <input type="hidden" name="id" value=u.id.to_string() />
                                                    <input type="hidden" name="what" value="password" />
                                                    <input type="password" name="password" placeholder="New password" aria-label=format!("New password for {}", u.username) autocomplete="new-password" required />
                                                    <button type="submit" class="small">"Set"</button>
                                                </ActionForm>
                                            </details>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Pager page pages total href=move |p| format!("/admin/users?q={}&page={p}", encode(&q)) />
                }
                    .into_any()
            })}
        </Suspense>
    }
}
