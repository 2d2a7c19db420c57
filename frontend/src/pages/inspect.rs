//! Inside an image: one layer's files, the merged filesystem (where the size went), and two
//! images compared. Every view is a plain page with links and GET forms, so it reads and pages
//! without scripts.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{artifact_href, compare_href, filesystem_href, layer_href, page_param, repository_href};
use crate::api::{compare, filesystem, list_layer_files};
use crate::components::{Failure, Pager, file_mode, human_size, short_digest};
use crate::types::{ChangeKind, Comparison, FileKind, LayerFiles, LayerView, TreeEntry, TreeListing};

/// Bytes as the pages show them (sizes of files never exceed `i64`).
fn size(bytes: u64) -> String {
    human_size(i64::try_from(bytes).unwrap_or(i64::MAX))
}

/// "Projects / repo / artifact" above an inspection page.
#[component]
fn Crumbs(repository: String, reference: String) -> impl IntoView {
    view! {
        <p class="crumbs">
            <a href="/projects">"Projects"</a> " / "
            <a href=repository_href(&repository)>{repository.clone()}</a> " / "
            <a href=artifact_href(&repository, &reference) class="digest">{short_digest(&reference)}</a>
        </p>
    }
}

/// A layer's build step, or a note that the image does not say.
fn step(layer: &LayerView) -> impl IntoView + use<> {
    match layer.created_by.clone() {
        Some(s) => view! { <code class="step">{s}</code> }.into_any(),
        None => view! { <span class="muted">"(no build step recorded)"</span> }.into_any(),
    }
}

/// `/layers/<repository>?ref=<image>&layer=<digest>&q=&page=`
#[component]
pub fn LayerPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let reference = move || query.read().get("ref").unwrap_or_default();
    let layer = move || query.read().get("layer").unwrap_or_default();
    let filter = move || query.read().get("q").unwrap_or_default();
    let page = move || page_param(query.read().get("page"));
    let files = Resource::new_blocking(
        move || (name(), reference(), layer(), filter(), page()),
        |(n, r, l, q, p)| list_layer_files(n, r, l, q, p),
    );
    view! {
        <Title text=move || format!("Layer {} of {} · Wharf", short_digest(&layer()), name()) />
        <Crumbs repository=name() reference=reference() />
        <Suspense fallback=|| view! { <p class="muted">"Reading the layer…"</p> }>
            {move || Suspend::new(async move {
                match files.await {
                    Err(e) => view! { <h1>"Layer"</h1> <Failure error=e /> }.into_any(),
                    Ok(f) => layer_view(f, filter()).into_any(),
                }
            })}
        </Suspense>
    }
}

fn layer_view(f: LayerFiles, filter: String) -> impl IntoView {
    let pages = ((f.total + f.page_size - 1) / f.page_size.max(1)).max(1);
    let (repo, art, digest) = (f.repository.clone(), f.artifact.clone(), f.layer.digest.clone());
    let here = layer_href(&repo, &art, &digest);
    let pager_filter = filter.clone();
    let rows = f
        .files
        .into_iter()
        .map(|e| {
            let deleted = e.kind.is_deletion();
            let target = e.target.clone().map(|t| view! { <span class="muted">" → " {t}</span> });
            view! {
                <tr class:removed=deleted>
                    <td class="path"><code>{e.path.clone()}</code>{target}</td>
                    <td>{e.kind.label()}</td>
                    <td><code>{file_mode(e.kind, e.mode)}</code></td>
                    <td class="num">{(e.kind == FileKind::File).then(|| size(e.size))}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h1>{format!("Layer {} of {}", f.index, f.layer_count)} " " <span class="digest muted" title=digest.clone()>{short_digest(&digest)}</span></h1>
        <p>{step(&f.layer)}</p>
        <p class="muted">
            {format!("{} entries · {} unpacked · {} compressed · {}", f.entries, size(f.unpacked_size), human_size(f.layer.size), f.layer.media_type)}
        </p>
        {f.truncated.then(|| view! { <p class="warning">{format!("This layer has more entries than Wharf lists; the first {} are shown.", f.entries)}</p> })}
        <p>
            <a href=filesystem_href(&repo, &art, "/")>"Browse the image's merged filesystem"</a>
            {(f.index > 1).then(|| view! { " · " <span class="muted">"entries marked deleted remove files of the layers below"</span> })}
        </p>
        <form method="get" action=format!("/layers/{}", crate::components::encode(&repo)) class="row" role="search">
            <input type="hidden" name="ref" value=art.clone() />
            <input type="hidden" name="layer" value=digest.clone() />
            <input type="search" name="q" value=filter.clone() placeholder="Filter by path" aria-label="Filter by path" />
            <button type="submit">"Filter"</button>
        </form>
        {if f.total == 0 {
            view! { <p class="empty">{if filter.is_empty() { "This layer is empty.".to_owned() } else { format!("No path contains “{filter}”.") }}</p> }.into_any()
        } else {
            view! {
                <table class="list files">
                    <thead><tr><th>"Path"</th><th>"Kind"</th><th>"Mode"</th><th class="num">"Size"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                <Pager page=f.page pages total=f.total href=move |p| format!("{here}&q={}&page={p}", crate::components::encode(&pager_filter)) />
            }.into_any()
        }}
    }
}

/// `/filesystem/<repository>?ref=<image>&path=<dir>&page=`
#[component]
pub fn FilesystemPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let reference = move || query.read().get("ref").unwrap_or_default();
    let path = move || query.read().get("path").unwrap_or_else(|| "/".into());
    let page = move || page_param(query.read().get("page"));
    let listing = Resource::new_blocking(
        move || (name(), reference(), path(), page()),
        |(n, r, d, p)| filesystem(n, r, d, p),
    );
    view! {
        <Title text=move || format!("{} in {} · Wharf", path(), name()) />
        <Crumbs repository=name() reference=reference() />
        <Suspense fallback=|| view! { <p class="muted">"Reading the layers…"</p> }>
            {move || Suspend::new(async move {
                match listing.await {
                    Err(e) => view! { <h1>"Filesystem"</h1> <Failure error=e /> }.into_any(),
                    Ok(t) => tree_view(t).into_any(),
                }
            })}
        </Suspense>
    }
}

/// The path's parts as links, root first.
fn path_links(repo: &str, art: &str, path: &str) -> impl IntoView + use<> {
    let mut at = String::new();
    let mut links = vec![view! { <a href=filesystem_href(repo, art, "/")>"/"</a> }.into_any()];
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at = format!("{at}/{part}");
        links.push(view! { <a href=filesystem_href(repo, art, &at)>{part.to_owned()}</a> " / " }.into_any());
    }
    view! { <h1 class="path-links">{links}</h1> }
}

fn tree_view(t: TreeListing) -> impl IntoView {
    let (repo, art) = (t.repository.clone(), t.artifact.clone());
    let pages = ((t.total + t.page_size - 1) / t.page_size.max(1)).max(1);
    let layer_title = |layers: &[LayerView], n: usize| {
        layers
            .get(n.wrapping_sub(1))
            .and_then(|l| l.created_by.clone())
            .unwrap_or_else(|| format!("layer {n}"))
    };
    // Bars are relative to the largest entry, so the biggest stands out at a glance.
    let widest = t.entries.iter().filter(|e| !e.kind.is_deletion()).map(|e| e.size).max().unwrap_or(0).max(1);
    let row = |e: TreeEntry, layers: &[LayerView]| {
        let removed = e.kind.is_deletion();
        let name = if e.kind == FileKind::Dir {
            view! { <a href=filesystem_href(&repo, &art, &e.path)>{format!("{}/", e.name)}</a> }.into_any()
        } else {
            view! { <span>{e.name.clone()}</span> }.into_any()
        };
        let percent = if removed { 0 } else { e.size.saturating_mul(100) / widest };
        let what = if removed {
            format!("removed in layer {} ({} before)", e.layer, size(e.size))
        } else if e.kind == FileKind::Dir {
            if e.files == 1 { "1 file".to_owned() } else { format!("{} files", e.files) }
        } else {
            e.kind.label().to_owned()
        };
        view! {
            <tr class:removed=removed>
                <td class="path">{name}{e.target.clone().map(|t| view! { <span class="muted">" → " {t}</span> })}</td>
                <td class="num">{(!removed).then(|| size(e.size))}</td>
                // An SVG bar: its width is an attribute, which the page's Content-Security-Policy
                // allows where an inline style would not be.
                <td class="bar-cell" aria-hidden="true">
                    <svg class="size-bar" viewBox="0 0 100 10" preserveAspectRatio="none" width="100%" height="10">
                        <rect x="0" y="0" width=percent.max(u64::from(!removed && e.size > 0)).to_string() height="10" rx="2" />
                    </svg>
                </td>
                <td>{what}</td>
                <td class="num"><span title=layer_title(layers, e.layer)>{e.layer}</span></td>
                <td><code>{file_mode(e.kind, e.mode)}</code></td>
            </tr>
        }
    };
    let layers = t.layers.clone();
    let rows: Vec<_> = t.entries.into_iter().map(|e| row(e, &layers)).collect();
    let here = filesystem_href(&repo, &art, &t.path);
    let largest = t.largest.clone();
    view! {
        {path_links(&repo, &art, &t.path)}
        <p class="muted">{format!("{} in {} files · what a container of this image sees, all {} layers applied", size(t.dir.size), t.dir.files, t.layers.len())}</p>
        {t.truncated.then(|| view! { <p class="warning">"A layer of this image has more entries than Wharf lists: this view may be incomplete."</p> })}
        {if t.total == 0 {
            view! { <p class="empty">"This directory is empty."</p> }.into_any()
        } else {
            view! {
                <table class="list tree">
                    <caption class="sr-only">{format!("Entries of {}, largest first", t.path)}</caption>
                    <thead><tr><th>"Name"</th><th class="num">"Size"</th><th><span class="sr-only">"Share"</span></th><th>"What"</th><th class="num">"Layer"</th><th>"Mode"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                <Pager page=t.page pages total=t.total href=move |p| format!("{here}&page={p}") />
            }.into_any()
        }}
        {(!largest.is_empty()).then(|| view! {
            <h2>"Largest files here"</h2>
            <ol class="largest">
                {largest.into_iter().map(|e| view! {
                    <li><code>{e.path.clone()}</code> " " <span class="num">{size(e.size)}</span> " " <span class="muted">{format!("layer {}", e.layer)}</span></li>
                }).collect_view()}
            </ol>
        })}
        <h2>"Layers"</h2>
        <ol class="layers-legend">
            {t.layers.into_iter().map(|l| {
                let href = layer_href(&repo, &art, &l.digest);
                view! { <li><a href=href class="digest">{short_digest(&l.digest)}</a> " " <span class="num">{human_size(l.size)}</span> " " {step(&l)}</li> }
            }).collect_view()}
        </ol>
    }
}

/// `/compare/<repository>?ref=<image>&with=<image>`
#[component]
pub fn ComparePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let reference = move || query.read().get("ref").unwrap_or_default();
    let with = move || query.read().get("with").unwrap_or_default();
    let result = Resource::new_blocking(move || (name(), reference(), with()), |(n, a, b)| compare(n, a, b));
    view! {
        <Title text=move || format!("{} vs {} · Wharf", short_digest(&reference()), short_digest(&with())) />
        <Crumbs repository=name() reference=reference() />
        <h1>"Compare"</h1>
        <form method="get" action=move || format!("/compare/{}", crate::components::encode(&name())) class="row">
            <label>"First " <input name="ref" value=reference required /></label>
            <label>"Second " <input name="with" value=with required placeholder="tag or digest" /></label>
            <button type="submit">"Compare"</button>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Comparing…"</p> }>
            {move || Suspend::new(async move {
                match result.await {
                    Err(e) => view! { <Failure error=e /> }.into_any(),
                    Ok(c) => comparison_view(c).into_any(),
                }
            })}
        </Suspense>
    }
}

/// Files listed on the page at most (the API gives more).
const SHOWN_CHANGES: usize = 1000;

fn comparison_view(c: Comparison) -> impl IntoView {
    let label = |digest: &str, tags: &[String]| {
        if tags.is_empty() {
            short_digest(digest)
        } else {
            format!("{} ({})", tags.join(", "), short_digest(digest))
        }
    };
    let (a, b) = (label(&c.base, &c.base_tags), label(&c.other, &c.other_tags));
    let delta = c.other_size - c.base_size;
    let delta_text =
        if delta >= 0 { format!("+{}", human_size(delta)) } else { format!("−{}", human_size(-delta)) };
    let layer_rows = |layers: Vec<LayerView>, class: &'static str, what: &'static str| {
        layers
            .into_iter()
            .map(move |l| {
                view! {
                    <tr class=class>
                        <td>{what}</td>
                        <td class="digest">{short_digest(&l.digest)}</td>
                        <td class="num">{human_size(l.size)}</td>
                        <td>{step(&l)}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let shown: Vec<_> = c.files.iter().take(SHOWN_CHANGES).cloned().collect();
    let more = c.files.len() > SHOWN_CHANGES || c.files_truncated;
    let (repo, base, other) = (c.repository.clone(), c.base.clone(), c.other.clone());
    view! {
        <table class="list compare-summary">
            <thead><tr><th></th><th>"First"</th><th>"Second"</th></tr></thead>
            <tbody>
                <tr><th scope="row">"Image"</th>
                    <td><a href=artifact_href(&repo, &base)>{a}</a></td>
                    <td><a href=artifact_href(&repo, &other)>{b}</a></td></tr>
                <tr><th scope="row">"Size"</th>
                    <td class="num">{human_size(c.base_size)}</td>
                    <td class="num">{human_size(c.other_size)} " " <span class="muted">{delta_text}</span></td></tr>
            </tbody>
        </table>
        <p class="stat-line">
            <span class="added">{format!("{} added", c.added)}</span> " · "
            <span class="removed">{format!("{} removed", c.removed)}</span> " · "
            <span class="changed">{format!("{} changed", c.changed)}</span> " files · "
            {format!("{} layers shared, {} only in the first, {} only in the second", c.shared_layers.len(), c.base_layers.len(), c.other_layers.len())}
        </p>
        <p><a href=compare_href(&repo, &other, &base)>"Swap"</a></p>
        <h2>"Layers"</h2>
        <table class="list layers">
            <thead><tr><th>""</th><th>"Digest"</th><th class="num">"Size"</th><th>"Build step"</th></tr></thead>
            <tbody>
                {layer_rows(c.shared_layers, "", "shared")}
                {layer_rows(c.base_layers, "removed", "only first")}
                {layer_rows(c.other_layers, "added", "only second")}
            </tbody>
        </table>
        <h2>"Configuration"</h2>
        {if c.config.is_empty() {
            view! { <p class="empty">"The configurations are the same."</p> }.into_any()
        } else {
            view! {
                <table class="list config-diff">
                    <thead><tr><th>"Field"</th><th>"First"</th><th>"Second"</th></tr></thead>
                    <tbody>
                        {c.config.into_iter().map(|d| view! {
                            <tr>
                                <td>{d.field}</td>
                                <td><code>{d.before.unwrap_or_else(|| "—".into())}</code></td>
                                <td><code>{d.after.unwrap_or_else(|| "—".into())}</code></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <h2>"Files"</h2>
        {if shown.is_empty() {
            view! { <p class="empty">"The filesystems are the same."</p> }.into_any()
        } else {
            view! {
                <table class="list file-changes">
                    <thead><tr><th>"Path"</th><th>"Change"</th><th class="num">"First"</th><th class="num">"Second"</th></tr></thead>
                    <tbody>
                        {shown.into_iter().map(|f| {
                            let class = match f.change { ChangeKind::Added => "added", ChangeKind::Removed => "removed", ChangeKind::Changed => "changed" };
                            view! {
                                <tr class=class>
                                    <td class="path"><code>{f.path}</code></td>
                                    <td>{f.change.label()}</td>
                                    <td class="num">{f.before.map(size)}</td>
                                    <td class="num">{f.after.map(size)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                {more.then(|| view! { <p class="muted">{format!("The first {} differing files are shown.", SHOWN_CHANGES.min(c.files.len()))}</p> })}
            }.into_any()
        }}
    }
}
