//! The signed-in user's account: change the password.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::ChangePassword;
use crate::components::{CsrfField, Failure};

/// `/account`
#[component]
pub fn AccountPage() -> impl IntoView {
    let query = use_query_map();
    let change = ServerAction::<ChangePassword>::new();
    let changed =
        move || query.read().get("changed").is_some() && change.value().get().is_none_or(|r| r.is_ok());
    view! {
        <Title text="Account · Wharf" />
        <h1>"Account"</h1>
        <section class="card narrow-left">
            <h2>"Change password"</h2>
            <p class="muted">"8 to 128 characters with an upper-case letter, a lower-case letter and a digit."</p>
            <ActionForm action=change>
                <CsrfField />
                <label>"Current password" <input type="password" name="old" autocomplete="current-password" required /></label>
                <label>"New password" <input type="password" name="new" autocomplete="new-password" required /></label>
                <label>"New password again" <input type="password" name="confirm" autocomplete="new-password" required /></label>
                <button type="submit" class="primary">"Change password"</button>
            </ActionForm>
            {move || changed().then(|| view! { <p class="ok" role="status">"Password changed."</p> })}
            {move || change.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
        </section>
    }
}
