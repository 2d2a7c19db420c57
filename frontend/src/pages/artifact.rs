//! An artifact: pull commands, tags (add, delete), config, history, layers, platforms,
//! referrers and the manifest.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{artifact_href, filesystem_href, layer_href, repository_href};
use crate::api::{AddTag, DeleteArtifact, DeleteTag, LabelArtifact, UnlabelArtifact, get_artifact};
use crate::components::{
    CopyCommand, CsrfField, Failure, Label, When, encode, first_error, human_size, short_digest,
};

/// `/artifacts/<repository>?ref=<tag or digest>`
#[component]
pub fn ArtifactPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let reference = move || query.read().get("ref").unwrap_or_default();
    let delete_tag = ServerAction::<DeleteTag>::new();
    let add_tag = ServerAction::<AddTag>::new();
    let delete = ServerAction::<DeleteArtifact>::new();
    let label = ServerAction::<LabelArtifact>::new();
    let unlabel = ServerAction::<UnlabelArtifact>::new();
    // Reloaded after a tag or label changes (the action lands back on this same page).
    let artifact = Resource::new_blocking(
        move || {
            let changes = delete_tag.version().get() + add_tag.version().get();
            (name(), reference(), changes + label.version().get() + unlabel.version().get())
        },
        |(n, r, _)| get_artifact(n, r),
    );
    view! {
        <Title text=move || format!("{}@{} · Wharf", name(), short_digest(&reference())) />
        <Suspense fallback=|| view! { <p class="muted">"Loading artifact…"</p> }>
            {move || Suspend::new(async move {
                let a = match artifact.await {
                    Ok(a) => a,
                    Err(e) => return view! { <Failure error=e /> }.into_any(),
                };
                let repo = a.repository.clone();
                let digest = a.summary.digest.clone();
                let tag_pulls: Vec<String> = a.summary.tags.iter().map(|t| {
                    format!("{}:{t}", a.pull_by_digest.split('@').next().unwrap_or_default())
                }).collect();
                view! {
                    <p class="crumbs">
                        <a href="/projects">"Projects"</a> " / "
                        <a href=repository_href(&repo)>{repo.clone()}</a>
                    </p>
                    <h1 class="digest" title=digest.clone()>{format!("{repo}@{}", short_digest(&digest))}</h1>
                    <p class="muted">{format!("{} · {} · pushed ", a.summary.kind, human_size(a.summary.size))}<When at=a.summary.pushed.clone() /></p>

                    <h2>"Pull"</h2>
                    {tag_pulls.into_iter().map(|t| view! { <CopyCommand text=format!("docker pull {t}") /> }).collect_view()}
                    <CopyCommand text=format!("docker pull {}", a.pull_by_digest) />
                    <CopyCommand text=format!("podman pull {}", a.pull_by_digest) />

                    <h2>"Tags"</h2>
                    {if a.summary.tags.is_empty() { Some(view! { <p class="empty">"No tags: pull it by digest."</p> }) } else { None }}
                    <ul class="tags">
                        {a.summary.tags.iter().map(|t| {
                            let (repo, digest, t2) = (repo.clone(), digest.clone(), t.clone());
                            let locked = a.summary.immutable_tags.contains(t);
                            view! {
                                <li>
                                    <span class="tag" class:immutable=locked title=locked.then_some("immutable: cannot be pushed over or deleted")>{locked.then_some("🔒 ")}{t.clone()}</span>
                                    {(a.can_delete && !locked).then(|| view! {
                                        // A confirmation step that names the tag.
                                        <details class="confirm">
                                            <summary aria-label=format!("Delete tag {t2}…")>"Delete…"</summary>
                                            <ActionForm action=delete_tag attr:class="inline">
                                                <CsrfField />
                                                <input type="hidden" name="repository" value=repo.clone() />
                                                <input type="hidden" name="digest" value=digest.clone() />
                                                <input type="hidden" name="tag" value=t2.clone() />
                                                <button type="submit" class="danger small" aria-label=format!("Delete tag {t2}")>
                                                    {format!("Delete tag {t2}")}
                                                </button>
                                            </ActionForm>
                                        </details>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    {let (repo, digest) = (repo.clone(), digest.clone()); a.can_tag.then(move || view! {
                        <ActionForm action=add_tag attr:class="row">
                            <CsrfField />
                            <input type="hidden" name="repository" value=repo.clone() />
                            <input type="hidden" name="digest" value=digest.clone() />
                            <input name="tag" placeholder="new tag" required aria-label="New tag" />
                            <button type="submit">"Add tag"</button>
                        </ActionForm>
                    })}
                    {move || first_error([delete_tag.value().get(), add_tag.value().get(), delete.value().get()])}

                    <h2>"Labels"</h2>
                    {a.summary.labels.is_empty().then(|| view! { <p class="empty">"No labels."</p> })}
                    <ul class="labels">
                        {a.summary.labels.clone().into_iter().map(|l| {
                            let (repo, digest, id) = (repo.clone(), digest.clone(), l.id.to_string());
                            let (chip, aria) = (l.clone(), format!("Remove label {}", l.name));
                            view! {
                                <li>
                                    <Label label=chip />
                                    {a.can_tag.then(move || view! {
                                        <ActionForm action=unlabel attr:class="inline">
                                            <CsrfField />
                                            <input type="hidden" name="repository" value=repo />
                                            <input type="hidden" name="digest" value=digest />
                                            <input type="hidden" name="label" value=id />
                                            <button type="submit" class="small" aria-label=aria>"×"</button>
                                        </ActionForm>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    {let (repo, digest) = (repo.clone(), digest.clone());
                     let addable: Vec<_> = a.usable_labels.iter().filter(|u| !a.summary.labels.iter().any(|l| l.id == u.id)).cloned().collect();
                     (a.can_tag && !addable.is_empty()).then(move || view! {
                        <ActionForm action=label attr:class="row">
                            <CsrfField />
                            <input type="hidden" name="repository" value=repo.clone() />
                            <input type="hidden" name="digest" value=digest.clone() />
                            <select name="label" aria-label="Label">
                                {addable.into_iter().map(|l| view! { <option value=l.id.to_string()>{format!("{}{}", l.name, if l.global { " (global)" } else { "" })}</option> }).collect_view()}
                            </select>
                            <button type="submit">"Add label"</button>
                        </ActionForm>
                    })}
                    {move || first_error([label.value().get(), unlabel.value().get()])}

                    {(!a.config.is_empty()).then(|| view! {
                        <h2>"Configuration"</h2>
                        <dl class="config">
                            {a.config.iter().map(|(k, v)| view! { <dt>{k.clone()}</dt><dd><code>{v.clone()}</code></dd> }).collect_view()}
                        </dl>
                    })}
                    {(!a.layers.is_empty()).then(|| {
                        let (repo, digest) = (repo.clone(), digest.clone());
                        let browsable = a.layers.iter().all(|l| l.media_type.contains("tar"));
                        view! {
                            <h2>"Layers"</h2>
                            {browsable.then(|| view! {
                                <p class="row">
                                    <a class="button" href=filesystem_href(&repo, &digest, "/")>"Browse the filesystem"</a>
                                    <span class="muted">"what a container sees, largest first, with the layer each file came from"</span>
                                </p>
                            })}
                            <table class="list layers">
                                <thead><tr><th>"#"</th><th>"Digest"</th><th>"Build step"</th><th class="num">"Size"</th><th>"Media type"</th></tr></thead>
                                <tbody>
                                    {a.layers.iter().enumerate().map(|(i, l)| {
                                        let files = l.media_type.contains("tar").then(|| layer_href(&repo, &digest, &l.digest));
                                        view! {
                                            <tr>
                                                <td class="num">{i + 1}</td>
                                                <td class="digest" title=l.digest.clone()>
                                                    {match files {
                                                        Some(href) => view! { <a href=href title=format!("Files of layer {}", i + 1)>{short_digest(&l.digest)}</a> }.into_any(),
                                                        None => view! { <span>{short_digest(&l.digest)}</span> }.into_any(),
                                                    }}
                                                </td>
                                                <td>{l.created_by.clone().map(|s| view! { <code class="step">{s}</code> })}</td>
                                                <td class="num">{human_size(l.size)}</td>
                                                <td class="small">{l.media_type.clone()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {browsable.then(|| view! {
                                <form method="get" action=format!("/compare/{}", encode(&repo)) class="row compare-form">
                                    <input type="hidden" name="ref" value=digest.clone() />
                                    <input name="with" required placeholder="another tag or digest" aria-label="Compare with (tag or digest)" />
                                    <button type="submit">"Compare"</button>
                                </form>
                            })}
                        }
                    })}
                    {(!a.platforms.is_empty()).then(|| view! {
                        <h2>"Platforms"</h2>
                        <ul>
                            {a.platforms.iter().map(|p| view! {
                                <li><a href=artifact_href(&repo, &p.digest)>{p.platform.clone()}</a> " " <span class="muted">{short_digest(&p.digest)}</span></li>
                            }).collect_view()}
                        </ul>
                    })}
                    {(!a.history.is_empty()).then(|| view! {
                        <h2>"History"</h2>
                        <ol class="history">{a.history.iter().map(|h| view! { <li><code>{h.clone()}</code></li> }).collect_view()}</ol>
                    })}
                    {(!a.referrers.is_empty()).then(|| view! {
                        <h2>"Attached artifacts"</h2>
                        <ul>
                            {a.referrers.iter().map(|r| view! {
                                <li><a href=artifact_href(&repo, &r.digest)>{short_digest(&r.digest)}</a> " " {r.kind.to_string()}</li>
                            }).collect_view()}
                        </ul>
                    })}
                    <details>
                        <summary>{format!("Manifest ({})", a.media_type)}</summary>
                        <pre class="manifest">{a.manifest.clone()}</pre>
                    </details>
                    {let (repo, digest, tags) = (repo.clone(), digest.clone(), a.summary.tags.clone()); (a.can_delete && a.summary.immutable_tags.is_empty()).then(move || view! {
                        <section class="card danger-zone">
                            <h2>"Delete this artifact"</h2>
                            <p>{format!("Deletes {repo}@{digest} and its tags: {}.", if tags.is_empty() { "none".to_owned() } else { tags.join(", ") })}</p>
                            <ActionForm action=delete>
                                <CsrfField />
                                <input type="hidden" name="repository" value=repo.clone() />
                                <input type="hidden" name="digest" value=digest.clone() />
                                <label class="check"><input type="checkbox" required />" I understand this cannot be undone"</label>
                                <button type="submit" class="danger">"Delete artifact"</button>
                            </ActionForm>
                        </section>
                    })}
                }
                    .into_any()
            })}
        </Suspense>
    }
}
