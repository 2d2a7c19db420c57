//! Registry endpoints (system administrators): the upstreams of proxy-cache projects and the
//! peers of replication. Add one (testing the connection first if you like), test a stored one,
//! delete one no project uses.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::page_param;
use crate::api::{DeleteEndpoint, SaveEndpoint, TestEndpoint, list_endpoints};
use crate::components::{CsrfField, Failure, Pager, When, encode, first_error, outcome};
use crate::types::{EndpointHealth, RegistryKind};

fn health_badge(h: EndpointHealth) -> impl IntoView {
    let class = match h {
        EndpointHealth::Healthy => "status success",
        EndpointHealth::Unhealthy => "status error",
        EndpointHealth::Unknown => "status pending",
    };
    view! { <span class=class>{h.as_str()}</span> }
}

/// `/admin/registries?q=&page=`
#[component]
pub fn RegistriesPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let save = ServerAction::<SaveEndpoint>::new();
    let test = ServerAction::<TestEndpoint>::new();
    let delete = ServerAction::<DeleteEndpoint>::new();
    let endpoints = Resource::new_blocking(
        move || (q(), page(), save.version().get() + test.version().get() + delete.version().get()),
        |(q, p, _)| list_endpoints(q, p),
    );
    view! {
        <Title text="Registries · Wharf" />
        <div class="bar">
            <h1>"Registries"</h1>
            <form method="get" class="search" role="search">
                <input name="q" placeholder="Search registries" value=q aria-label="Search registries" />
                <button type="submit">"Search"</button>
            </form>
        </div>
        <p class="muted">
            "Other registries Wharf pulls from (proxy-cache projects) and replicates with. "
            "Credentials are stored encrypted and never shown again."
        </p>
        <section class="card">
            <h2>"New registry endpoint"</h2>
            <ActionForm action=save attr:class="stack">
                <CsrfField />
                <div class="row">
                    <label>"Type "
                        <select name="registry_type" aria-label="Type">
                            {RegistryKind::ALL.into_iter().map(|k| view! {
                                <option value=k.as_str() selected=k == RegistryKind::DockerRegistry>{k.label()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <input name="name" placeholder="Name" aria-label="Name" required />
                    <input name="url" type="url" placeholder="https://registry.example.com" aria-label="Endpoint URL" required />
                </div>
                <div class="row">
                    <input name="access_key" placeholder="Access ID (empty: anonymous)" aria-label="Access ID" autocomplete="off" />
                    <input name="access_secret" type="password" placeholder="Access secret" aria-label="Access secret" autocomplete="new-password" />
                    <label class="check"><input type="checkbox" name="insecure" />" Skip TLS verification"</label>
                </div>
                <input name="description" placeholder="Description (optional)" aria-label="Description" />
                <div class="row">
                    <button type="submit" name="intent" value="test">"Test connection"</button>
                    <button type="submit" name="intent" value="save" class="primary">"Add registry"</button>
                </div>
            </ActionForm>
            {move || outcome(save.value().get())}
        </section>
        {move || outcome(test.value().get())}
        {move || first_error([delete.value().get()])}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let list = match endpoints.await {
                    Ok(l) => l,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                if list.items.is_empty() {
                    let hint = if q().is_empty() {
                        "No registry endpoints yet. Add one above to create proxy-cache projects of it."
                    } else {
                        "No registry matches this search."
                    };
                    return view! { <p class="empty">{hint}</p> }.into_any();
                }
                let (page, pages, total) = (list.page, list.pages(), list.total);
                let q = q();
                view! {
                    <table class="list">
                        <thead><tr><th>"Name"</th><th>"Status"</th><th>"URL"</th><th>"Type"</th><th>"Access ID"</th><th>"Checked"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {list.items.into_iter().map(|e| {
                                let id = e.id.to_string();
                                let id2 = id.clone();
                                view! {
                                    <tr>
                                        <td>{e.name.clone()}<br /><span class="muted">{e.description.clone()}</span></td>
                                        <td>{health_badge(e.status)}</td>
                                        <td><code>{e.url.clone()}</code>{e.insecure.then(|| view! { " " <span class="badge private">"TLS unchecked"</span> })}</td>
                                        <td>{e.kind.label()}</td>
                                        <td>{if e.access_key.is_empty() { "anonymous".to_owned() } else { e.access_key.clone() }}</td>
                                        <td><When at=e.checked.clone().unwrap_or_else(|| "never".into()) /></td>
                                        <td class="actions">
                                            <ActionForm action=test attr:class="inline">
                                                <CsrfField />
                                                <input type="hidden" name="id" value=id />
                                                <button type="submit" class="small">"Test connection"</button>
                                            </ActionForm>
                                            <ActionForm action=delete attr:class="inline">
                                                <CsrfField />
                                                <input type="hidden" name="id" value=id2 />
                                                <button type="submit" class="small danger">"Delete"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Pager page pages total href=move |p| format!("/admin/registries?q={}&page={p}", encode(&q)) />
                }
                    .into_any()
            })}
        </Suspense>
    }
}
