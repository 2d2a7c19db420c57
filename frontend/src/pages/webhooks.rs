//! A project's Webhooks tab: the policies (where events go, in which format), switched on and
//! off, added and deleted by project administrators; and the latest deliveries with their
//! attempts, so a receiver that is failing shows here before anyone asks.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::project::{ProjectFrame, project_resource};
use crate::api::{AddWebhook, DeleteWebhook, SwitchWebhook, webhooks_page};
use crate::components::{CsrfField, Failure, When};
use crate::types::{NotifyType, PayloadFormat, WebhookEvent};

/// `/projects/:project/webhooks`
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("project").unwrap_or_default();
    let add = ServerAction::<AddWebhook>::new();
    let switch = ServerAction::<SwitchWebhook>::new();
    let remove = ServerAction::<DeleteWebhook>::new();
    let versions = move || add.version().get() + switch.version().get() + remove.version().get();
    let data = Resource::new_blocking(move || (name(), versions()), |(n, _)| webhooks_page(n));
    view! {
        <ProjectFrame current="webhooks" project=project_resource() />
        <p class="muted">
            "Webhooks tell other systems what happens in this project: a POST to their URL for each event, retried until it is received (for a day), every attempt listed below."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let project = name();
                let can_manage = v.can_manage;
                let p_add = project.clone();
                view! {
                    <section class="card">
                        <h2>"Policies"</h2>
                        {if v.policies.is_empty() {
                            view! { <p class="empty">"No webhooks: nothing is told about this project's events. Add one below."</p> }.into_any()
                        } else {
                            view! {
                                <table class="list">
                                    <thead><tr><th>"Name"</th><th>"Sends to"</th><th>"Events"</th><th>"State"</th><th></th></tr></thead>
                                    <tbody>
                                        {v.policies.into_iter().map(|p| {
                                            let (p1, p2) = (project.clone(), project.clone());
                                            let (id1, id2) = (p.id.to_string(), p.id.to_string());
                                            view! {
                                                <tr class:muted=!p.enabled>
                                                    <td>{p.name.clone()}</td>
                                                    <td>
                                                        <code>{p.address.clone()}</code>
                                                        <span class="muted small">{format!(" {} · {}", p.kind.as_str(), p.format.as_str())}{p.has_auth_header.then_some(" · with auth header")}</span>
                                                    </td>
                                                    <td>{p.events.iter().map(|e| view! { <span class="tag">{e.label()}</span> }).collect_view()}</td>
                                                    <td><span class=if p.enabled { "badge public" } else { "badge" }>{if p.enabled { "enabled" } else { "disabled" }}</span></td>
                                                    <td>
                                                        {can_manage.then(|| view! {
                                                            <ActionForm action=switch attr:class="inline">
                                                                <CsrfField />
                                                                <input type="hidden" name="project" value=p1 />
                                                                <input type="hidden" name="id" value=id1 />
                                                                {(!p.enabled).then_some(view! { <input type="hidden" name="on" value="on" /> })}
                                                                <button type="submit" class="small">{if p.enabled { "Disable" } else { "Enable" }}</button>
                                                            </ActionForm>
                                                            <ActionForm action=remove attr:class="inline">
                                                                <CsrfField />
                                                                <input type="hidden" name="project" value=p2 />
                                                                <input type="hidden" name="id" value=id2 />
                                                                <button type="submit" class="danger small" aria-label=format!("Delete webhook {}", p.name)>"Delete"</button>
                                                            </ActionForm>
                                                        })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                        {can_manage.then(|| view! {
                            <h3>"Add a webhook"</h3>
                            <ActionForm action=add attr:class="rule-form">
                                <CsrfField />
                                <input type="hidden" name="project" value=p_add />
                                <label>"Name " <input name="name" required aria-label="Name" /></label>
                                <label>"URL " <input name="address" type="url" required placeholder="https://ci.example.com/hooks/registry" aria-label="URL" /></label>
                                <label>"Type "
                                    <select name="kind" aria-label="Type">
                                        <option value=NotifyType::Http.as_str() selected=true>"HTTP"</option>
                                        <option value=NotifyType::Slack.as_str()>"Slack"</option>
                                    </select>
                                </label>
                                <label>"Payload "
                                    <select name="format" aria-label="Payload format">
                                        <option value=PayloadFormat::Default.as_str() selected=true>"Harbor (Default)"</option>
                                        <option value=PayloadFormat::CloudEvents.as_str()>"CloudEvents"</option>
                                    </select>
                                </label>
                                <label>"Auth header " <input name="auth_header" type="password" autocomplete="off" placeholder="Bearer …" aria-label="Auth header" /></label>
                                <label class="check"><input type="checkbox" name="skip_cert_verify" />" skip TLS verification"</label>
                                <fieldset class="events">
                                    <legend>"Events"</legend>
                                    {WebhookEvent::ALL.into_iter().map(|e| view! {
                                        <label class="check"><input type="checkbox" name=e.as_str() checked=e == WebhookEvent::PushArtifact />{format!(" {}", e.label())}</label>
                                    }).collect_view()}
                                </fieldset>
                                <button type="submit" class="primary">"Add webhook"</button>
                            </ActionForm>
                            {move || add.value().get().and_then(|r| r.err()).map(|e| view! { <Failure error=e /> })}
                        })}
                    </section>
                    <h2>"Latest deliveries"</h2>
                    {if v.deliveries.is_empty() {
                        view! { <p class="empty">"Nothing sent yet: events appear here as they happen."</p> }.into_any()
                    } else {
                        view! {
                            <table class="list">
                                <thead><tr><th>"When"</th><th>"Event"</th><th>"Webhook"</th><th>"Status"</th><th>"Attempts"</th><th>"Last answer"</th></tr></thead>
                                <tbody>
                                    {v.deliveries.into_iter().map(|d| view! {
                                        <tr>
                                            <td><When at=d.at /></td>
                                            <td>{d.event}</td>
                                            <td>{d.policy}</td>
                                            <td><span class=format!("status {}", d.status.to_lowercase())>{if d.status == "Running" { "retrying".to_owned() } else { d.status.clone() }}</span></td>
                                            <td class="num">{d.attempts}</td>
                                            <td class="muted small">{d.message}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                }
                    .into_any()
            })}
        </Suspense>
    }
}
