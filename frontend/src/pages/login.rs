//! Sign in: with the single sign-on provider in OIDC mode, and with a password (the local admin,
//! or everyone in the other modes).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{OidcOnboard, SignIn};
use crate::app::ViewerResource;
use crate::components::{CsrfField, Failure, encode};

/// The sign-in form; `?next=` names where to go afterwards.
#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/projects".into());
    // The navigation bar's lookup of the viewer, which says whether single sign-on is on.
    let viewer = use_context::<ViewerResource>();
    view! {
        <Title text="Sign in · Wharf" />
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let Some(ViewerResource(viewer)) = viewer else { return ().into_any() };
                    match viewer.await {
                        Ok(v) if !v.sso.is_empty() => {
                            let href = format!("/c/oidc/login?next={}", encode(&next()));
                            view! {
                                <a class="button primary sso" href=href rel="external">{format!("Sign in with {}", v.sso)}</a>
                                <p class="muted">"Or with a local account (the administrator):"</p>
                            }
                                .into_any()
                        }
                        _ => ().into_any(),
                    }
                })}
            </Suspense>
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

/// `/oidc-onboard?username=`: the first sign-in of a provider user when accounts are not made
/// automatically: they choose their Wharf username (the provider's suggestion filled in).
#[component]
pub fn OidcOnboardPage() -> impl IntoView {
    let action = ServerAction::<OidcOnboard>::new();
    let query = use_query_map();
    let suggested = move || query.read().get("username").unwrap_or_default();
    view! {
        <Title text="Choose a username · Wharf" />
        <section class="card narrow">
            <h1>"Welcome to Wharf"</h1>
            <p>"You signed in with single sign-on for the first time. Choose the username your images and projects will show:"</p>
            <ActionForm action>
                <CsrfField />
                <label>"Username" <input name="username" value=suggested autocomplete="username" required autofocus /></label>
                <button type="submit" class="primary">"Continue"</button>
            </ActionForm>
            {move || match action.value().get() {
                Some(Err(e)) => view! { <Failure error=e /> }.into_any(),
                _ => ().into_any(),
            }}
        </section>
    }
}
