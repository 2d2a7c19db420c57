//! Authentication (system administrators): how users sign in, and the LDAP and OIDC settings,
//! with "Test" buttons that try the settings as typed before anything is saved.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{SaveAuthSettings, auth_settings};
use crate::components::{CopyCommand, CsrfField, Failure, outcome};
use crate::types::{AuthMode, LDAP_SETTINGS, OIDC_SETTINGS, SettingInput, SettingView, SettingsIntent};

/// One item's input, named `items[<item>]` (the server function's map).
fn field(item: SettingView, label: &'static str, input: SettingInput, password_set: bool) -> impl IntoView {
    let name = format!("items[{}]", item.name);
    let disabled = !item.editable;
    let title = (!item.editable).then_some("Fixed by the server's configuration (WHARF_CONFIGURATIONS)");
    match input {
        SettingInput::Flag => view! {
            <label class="check" title=title>
                <input type="checkbox" name=name checked=item.value == "true" disabled=disabled />" "{label}
            </label>
        }
        .into_any(),
        SettingInput::Scope => {
            let options = [("0", "Base"), ("1", "One level"), ("2", "Subtree")]
                .into_iter()
                .map(|(v, l)| view! { <option value=v selected=item.value == v>{l}</option> })
                .collect_view();
            view! { <label title=title>{label}<select name=name disabled=disabled>{options}</select></label> }.into_any()
        }
        SettingInput::Multiline => view! {
            <label title=title>{label}<textarea name=name rows="4" disabled=disabled spellcheck="false">{item.value}</textarea></label>
        }
        .into_any(),
        SettingInput::Secret => {
            let placeholder = if password_set { "stored: leave empty to keep it" } else { "not set" };
            view! {
                <label title=title>{label}
                    <input type="password" name=name placeholder=placeholder autocomplete="new-password" disabled=disabled />
                </label>
            }
            .into_any()
        }
        SettingInput::Number => view! {
            <label title=title>{label}<input type="number" min="1" name=name value=item.value disabled=disabled /></label>
        }
        .into_any(),
        SettingInput::Text => view! {
            <label title=title>{label}<input name=name value=item.value disabled=disabled spellcheck="false" /></label>
        }
        .into_any(),
    }
}

/// `/admin/auth`
#[component]
pub fn AuthSettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveAuthSettings>::new();
    let settings = Resource::new_blocking(move || save.version().get(), |_| auth_settings());
    view! {
        <Title text="Authentication · Wharf" />
        <h1>"Authentication"</h1>
        {move || outcome(save.value().get())}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let s = match settings.await {
                    Ok(s) => s,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let modes = AuthMode::ALL
                    .into_iter()
                    .map(|m| view! { <option value=m.as_str() selected=m == s.mode>{m.label()}</option> })
                    .collect_view();
                let password_set = s.search_password_set;
                let fields = s
                    .ldap
                    .into_iter()
                    .zip(LDAP_SETTINGS)
                    .map(|(item, (_, label, input))| field(item, label, input, password_set))
                    .collect_view();
                let secret_set = s.client_secret_set;
                let oidc_fields = s
                    .oidc
                    .into_iter()
                    .zip(OIDC_SETTINGS)
                    .map(|(item, (_, label, input))| field(item, label, input, secret_set))
                    .collect_view();
                view! {
                    <ActionForm action=save attr:class="settings">
                        <CsrfField />
                        <section class="card">
                            <h2>"Sign-in"</h2>
                            <label>"Users sign in with"
                                <select name="items[auth_mode]" disabled=!s.mode_editable>{modes}</select>
                            </label>
                            {(!s.mode_editable).then(|| view! {
                                <p class="muted">"The mode can change only while admin is the only user: accounts belong to the mode that made them. The local admin always signs in with its own password."</p>
                            })}
                        </section>
                        <section class="card form-grid">
                            <h2>"LDAP"</h2>
                            {fields}
                            <div class="row">
                                <button type="submit" name="intent" value=SettingsIntent::TestLdap.as_str()>"Test LDAP connection"</button>
                            </div>
                        </section>
                        <section class="card form-grid">
                            <h2>"OIDC (single sign-on)"</h2>
                            <div class="wide">
                                <p class="muted">"Register Wharf with the provider as a confidential client with this redirect URI:"</p>
                                <CopyCommand text=s.redirect_uri.clone() />
                            </div>
                            {oidc_fields}
                            <div class="row">
                                <button type="submit" name="intent" value=SettingsIntent::TestOidc.as_str()>"Test OIDC provider"</button>
                            </div>
                        </section>
                        <div class="row">
                            <button type="submit" name="intent" value=SettingsIntent::Save.as_str() class="primary">"Save"</button>
                        </div>
                    </ActionForm>
                }
                    .into_any()
            })}
        </Suspense>
    }
}
