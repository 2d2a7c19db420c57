//! Sign in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::SignIn;
use crate::components::{CsrfField, Failure};

/// The sign-in form; `?next=` names where to go afterwards.
#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/projects".into());
    view! {
        <Title text="Sign in · Wharf" />
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action>
                <CsrfField />
                <input type="hidden" name="next" value=next />
                <label>"Username" <input name="username" autocomplete="username" required autofocus /></label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required />
                </label>
                <button type="submit" class="primary">"Sign in"</button>
            </ActionForm>
            {move || match action.value().get() {
                Some(Err(e)) => view! { <Failure error=e /> }.into_any(),
                _ => ().into_any(),
            }}
        </section>
    }
}
