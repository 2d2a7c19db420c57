//! The signed-in user's account: change the password, or, for single sign-on users, the CLI
//! secret registry clients sign in with.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{ChangePassword, RegenerateCliSecret, account};
use crate::components::{CopyCommand, CsrfField, Failure};

/// `/account`
#[component]
pub fn AccountPage() -> impl IntoView {
    let regenerate = ServerAction::<RegenerateCliSecret>::new();
    let view = Resource::new_blocking(move || regenerate.version().get(), |_| account());
    view! {
        <Title text="Account · Wharf" />
        <h1>"Account"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match view.await {
                    Ok(a) => {
                        let secret = a.cli_secret.clone().map(|secret| {
                            view! { <CliSecret secret registry=a.registry.clone() username=a.username.clone() regenerate /> }
                        });
                        view! {
                            {secret}
                            {a.local_password.then(|| view! { <PasswordCard /> })}
                        }
                            .into_any()
                    }
                    Err(e) => view! { <Failure error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// An OIDC user's CLI secret: hidden until asked for, copyable, replaceable.
#[component]
fn CliSecret(
    secret: String,
    registry: String,
    username: String,
    regenerate: ServerAction<RegenerateCliSecret>,
) -> impl IntoView {
    let shown = RwSignal::new(false);
    let login = format!("docker login {registry} -u {username}");
    view! {
        <section class="card narrow-left cli-secret">
            <h2>"CLI secret"</h2>
            <p class="muted">
                "You sign in to the portal with single sign-on; registry clients (docker, podman, skopeo, helm) and scripts "
                "cannot, so they use this secret as your password. It works while your single sign-on session does."
            </p>
            <CopyCommand text=login />
            <details on:toggle=move |_| shown.update(|s| *s = !*s)>
                <summary>{move || if shown.get() { "Hide the secret" } else { "Show the secret" }}</summary>
                <CopyCommand text=secret />
            </details>
            <ActionForm action=regenerate attr:class="row">
                <CsrfField />
                <button type="submit">"Regenerate"</button>
                <span class="muted">"The old secret stops working at once."</span>
            </ActionForm>
            {move || match regenerate.value().get() {
                Some(Ok(_)) => view! { <p class="ok" role="status">"A new secret is in place."</p> }.into_any(),
                Some(Err(e)) => view! { <Failure error=e /> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}

/// Change password (accounts whose password is Wharf's).
#[component]
fn PasswordCard() -> impl IntoView {
    let query = use_query_map();
    let change = ServerAction::<ChangePassword>::new();
    let changed =
        move || query.read().get("changed").is_some() && change.value().get().is_none_or(|r| r.is_ok());
    view! {
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
