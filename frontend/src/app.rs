//! The document shell, the navigation bar and the routes.

use leptos::prelude::*;

use crate::components::{CsrfField, CsrfToken};
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::api::{SignOut, current_viewer};
use crate::pages::{
    AccountPage, ArtifactPage, AuditLogsPage, AuthSettingsPage, ComparePage, DashboardPage, FilesystemPage,
    GcPage, GroupsPage, ImmutabilityPage, LabelsPage, LayerPage, LoginPage, LogsPage, MembersPage, NotFound,
    OidcOnboardPage, ProjectPage, ProjectsPage, QuotasPage, RegistriesPage, ReplicationPage,
    ReplicationRunPage, RepositoryPage, RetentionPage, RobotsPage, SearchPage, SettingsPage, SummaryPage,
    UsersPage, WebhooksPage,
};

/// The Content-Security-Policy of a page: only Wharf's own scripts, styles and wasm, plus the
/// inline bootstrap scripts Leptos writes, which carry this response's nonce.
#[cfg(feature = "ssr")]
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
}

/// The browser assets a page loads, by the names the server serves them under (content-hashed
/// when embedded in the binary). The server provides them as context to [`shell`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assets {
    /// The stylesheet's URL path.
    pub stylesheet: String,
    /// The bundle's JS glue and wasm, when the binary carries them.
    pub bundle: Option<(String, String)>,
}

/// The script that loads the bundle and hydrates the page (what `HydrationScripts` writes, with
/// the asset paths the server names). Both paths are server-chosen asset names, never input.
#[cfg(feature = "ssr")]
fn hydration_script(js: &str, wasm: &str) -> String {
    format!("import('{js}').then(m => m.default({{module_or_path: '{wasm}'}}).then(() => m.hydrate()));")
}

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let assets = use_context::<Assets>().unwrap_or_default();
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) =
        (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
        && let Ok(csp) = http::HeaderValue::from_str(&page_csp(&nonce.to_string()))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, csp);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                <link rel="stylesheet" href=assets.stylesheet.clone() />
                {hydration(assets.bundle)}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The bundle's preload hints and its start script, when the binary carries a bundle.
fn hydration(bundle: Option<(String, String)>) -> impl IntoView {
    bundle.map(|(js, wasm)| {
        #[cfg(feature = "ssr")]
        let script = hydration_script(&js, &wasm);
        #[cfg(not(feature = "ssr"))]
        let script = String::new();
        let nonce = leptos::nonce::use_nonce();
        view! {
            <link rel="modulepreload" href=js />
            <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin="" />
            <script type="module" nonce=nonce>{script}</script>
        }
    })
}

/// A page title as the served `<title>` may carry it: escaped on the server (where Leptos
/// writes it as raw HTML), unchanged in the browser (where it sets `document.title`).
fn escape_on_server(title: String) -> String {
    if cfg!(feature = "ssr") { crate::components::escape_html(&title) } else { title }
}

/// The app: navigation and pages. Every page renders completely on the server before it is
/// sent (`SsrMode::PartiallyBlocked` with blocking resources), so it reads and works before the wasm arrives, or without it.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    CsrfToken::provide();
    // Effects run only in the browser: the marker tells tests (and curious people) that the
    // page is hydrated and its buttons are live.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        // Leptos' `<Title>` writes its text into the served head unescaped: every page title
        // (often built from a name in the URL) is escaped here, once, on the server.
        <Title formatter=escape_on_server text="Wharf" />
        <Router>
            <Shell />
        </Router>
    }
}

/// Who is looking, looked up again on every navigation (signing in or out navigates): one
/// lookup the navigation bar and the pages share.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<crate::types::Viewer, crate::types::PortalError>>);

#[component]
fn Shell() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let viewer = Resource::new_blocking(move || location.pathname.get(), |_| current_viewer());
    provide_context(ViewerResource(viewer));
    view! {
            // The navigation's show/hide switch: a checkbox, so it works without scripts and
            // from the keyboard (it is focusable; its label is the ☰ button).
            <input type="checkbox" id="nav-toggle" class="nav-toggle sr-only" aria-label="Show or hide the navigation" />
            <TopBar viewer />
            <div class="layout">
                <SideNav viewer />
                <main>
                    <Routes fallback=|| view! { <NotFound /> }>
                        <Route path=path!("/") view=ProjectsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/login") view=LoginPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/oidc-onboard") view=OidcOnboardPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/search") view=SearchPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/logs") view=AuditLogsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects") view=ProjectsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project") view=ProjectPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project/summary") view=SummaryPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project/retention") view=RetentionPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project/immutability") view=ImmutabilityPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project/webhooks") view=WebhooksPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project/members") view=MembersPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project/robots") view=RobotsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project/logs") view=LogsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/projects/:project/settings") view=SettingsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/account") view=AccountPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin") view=DashboardPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/labels") view=LabelsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/quotas") view=QuotasPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/users") view=UsersPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/groups") view=GroupsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/auth") view=AuthSettingsPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/repositories/*name") view=RepositoryPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/artifacts/*name") view=ArtifactPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/layers/*name") view=LayerPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/filesystem/*name") view=FilesystemPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/compare/*name") view=ComparePage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/gc") view=GcPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/registries") view=RegistriesPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/replication") view=ReplicationPage ssr=SsrMode::PartiallyBlocked />
                        <Route path=path!("/admin/replication/:execution") view=ReplicationRunPage ssr=SsrMode::PartiallyBlocked />
                    </Routes>
                </main>
            </div>
    }
}

/// The bar across the top: the navigation switch, the name, the search box and who is signed in.
#[component]
fn TopBar(viewer: Resource<Result<crate::types::Viewer, crate::types::PortalError>>) -> impl IntoView {
    // Signing in or out through a hydrated form changes the viewer without a page load: the
    // forms' token follows.
    if let Some(CsrfToken(token)) = use_context::<CsrfToken>() {
        Effect::new(move |_| {
            if let Some(Ok(v)) = viewer.get() {
                token.set(v.csrf);
            }
        });
    }
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header class="top">
            <label for="nav-toggle" class="nav-button" title="Show or hide the navigation" aria-hidden="true">"☰"</label>
            <a class="brand" href="/projects">"Wharf"</a>
            <SearchBox />
            <div class="account">
                <Suspense>
                    {move || Suspend::new(async move {
                        match viewer.await {
                            Ok(v) if v.signed_in() => {
                                view! {
                                    <a class="who" href="/account" title="Account">{v.name.clone()}</a>
                                    <ActionForm action=sign_out attr:class="inline">
                                        <CsrfField />
                                        <button type="submit" class="link">"Sign out"</button>
                                    </ActionForm>
                                }
                                    .into_any()
                            }
                            _ => view! { <a href="/login">"Sign in"</a> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </header>
    }
}

/// The header's search box: a GET form to `/search`; once hydrated, the results follow the
/// typing.
#[component]
fn SearchBox() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let query = leptos_router::hooks::use_query_map();
    let navigate = leptos_router::hooks::use_navigate();
    let current = move || {
        if location.pathname.get() == "/search" {
            query.read().get("q").unwrap_or_default()
        } else {
            String::new()
        }
    };
    let on_input = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        // Typing on the results page replaces its history entry instead of adding one per key.
        let replace = location.pathname.get_untracked() == "/search";
        let options = leptos_router::NavigateOptions { replace, ..Default::default() };
        navigate(&format!("/search?q={}", crate::components::encode(&text)), options);
    };
    view! {
        <form method="get" action="/search" role="search" class="top-search">
            <input type="search" name="q" prop:value=current value=current autocomplete="off"
                placeholder="Search projects, repositories, tags, digests" aria-label="Search" on:input=on_input />
        </form>
    }
}

/// The navigation down the left: projects for everyone; the log and an administration section
/// for system administrators, with an entry for each feature that has a page.
#[component]
fn SideNav(viewer: Resource<Result<crate::types::Viewer, crate::types::PortalError>>) -> impl IntoView {
    view! {
        <nav class="side" aria-label="Main">
            <A href="/projects">"Projects"</A>
            <Suspense>
                {move || Suspend::new(async move {
                    let admin = matches!(viewer.await, Ok(v) if v.sysadmin);
                    admin.then(|| view! {
                        <A href="/logs">"Logs"</A>
                        <details class="admin" open>
                            <summary>"Administration"</summary>
                            <A href="/admin" exact=true>"Dashboard"</A>
                            <A href="/admin/users">"Users"</A>
                            <A href="/admin/groups">"Groups"</A>
                            <A href="/admin/registries">"Registries"</A>
                            <A href="/admin/replication">"Replications"</A>
                            <A href="/admin/labels">"Labels"</A>
                            <A href="/admin/quotas">"Quotas"</A>
                            <A href="/admin/auth">"Configuration"</A>
                            <A href="/admin/gc">"Garbage collection"</A>
                            <a href="/admin/gc#audit">"Audit purge"</a>
                        </details>
                    })
                })}
            </Suspense>
        </nav>
    }
}
