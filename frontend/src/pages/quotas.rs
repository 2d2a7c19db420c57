//! Every project's storage against its limit, with a form to change each (system
//! administrators; Harbor's Administration › Project Quotas).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::page_param;
use crate::api::{SetProjectQuota, list_quotas};
use crate::components::{CsrfField, Failure, Pager, QuotaMeter, first_error};

/// `/admin/quotas?page=`
#[component]
pub fn QuotasPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || page_param(query.read().get("page"));
    let set = ServerAction::<SetProjectQuota>::new();
    let quotas = Resource::new_blocking(move || (page(), set.version().get()), |(p, _)| list_quotas(p));
    view! {
        <Title text="Quotas · Wharf" />
        <h1>"Project quotas"</h1>
        <p class="muted">"What each project's artifacts hold, each layer counted once however many images share it. A push that would go over the limit is refused."</p>
        {move || first_error([set.value().get()])}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let q = match quotas.await {
                    Ok(q) => q,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let (page, pages, total) = (q.page, q.pages(), q.total);
                view! {
                    <table class="list">
                        <thead><tr><th>"Project"</th><th>"Storage"</th><th>"Limit"</th></tr></thead>
                        <tbody>
                            {q.items.into_iter().map(|row| {
                                let current = if row.hard < 0 { "-1".to_owned() } else { row.hard.to_string() };
                                let label = format!("Limit of {} (bytes, a size such as 10GiB, or -1)", row.project);
                                view! {
                                    <tr>
                                        <td><a href=format!("/projects/{}/summary", row.project)>{row.project.clone()}</a></td>
                                        <td><QuotaMeter used=row.used limit=row.hard /></td>
                                        <td>
                                            <ActionForm action=set attr:class="row">
                                                <CsrfField />
                                                <input type="hidden" name="project" value=row.project.clone() />
                                                <input type="hidden" name="back" value="quotas" />
                                                <input name="limit" class="short" value=current aria-label=label />
                                                <button type="submit" class="small">"Set"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Pager page pages total href=|p| format!("/admin/quotas?page={p}") />
                }
                    .into_any()
            })}
        </Suspense>
    }
}
