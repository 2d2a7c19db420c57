//! Global labels (system administrators; Harbor's Administration › Labels): labels every
//! project's artifacts may carry. A project's own labels live on its Settings tab.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{CreateGlobalLabel, DeleteGlobalLabel, global_labels};
use crate::components::{CsrfField, Failure, Label, first_error};

/// `/admin/labels`
#[component]
pub fn LabelsPage() -> impl IntoView {
    let create = ServerAction::<CreateGlobalLabel>::new();
    let delete = ServerAction::<DeleteGlobalLabel>::new();
    let labels =
        Resource::new_blocking(move || create.version().get() + delete.version().get(), |_| global_labels());
    view! {
        <Title text="Labels · Wharf" />
        <h1>"Global labels"</h1>
        <p class="muted">"Labels every project's artifacts may carry (tested, released, …); listings filter on them, and retention, immutability and replication rules select by them. A project's own labels are on its Settings tab."</p>
        <ActionForm action=create attr:class="row">
            <CsrfField />
            <input name="name" required placeholder="released" aria-label="Label name" />
            <input name="color" type="color" value="#0b63ce" aria-label="Label color" />
            <button type="submit" class="primary">"Add label"</button>
        </ActionForm>
        {move || first_error([create.value().get(), delete.value().get()])}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match labels.await {
                    Err(e) => view! { <Failure error=e /> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No global labels yet: add one above."</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="labels">
                            {list.into_iter().map(|l| {
                                let (id, aria) = (l.id.to_string(), format!("Delete label {}", l.name));
                                view! {
                                    <li>
                                        <Label label=l />
                                        <ActionForm action=delete attr:class="inline">
                                            <CsrfField />
                                            <input type="hidden" name="id" value=id />
                                            <button type="submit" class="small danger" aria-label=aria>"×"</button>
                                        </ActionForm>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
