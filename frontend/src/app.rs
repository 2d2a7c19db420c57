//! The document shell, the navigation bar and the routes.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::api::{SignOut, current_viewer};
use crate::pages::{
    AccountPage, ArtifactPage, GcPage, LoginPage, LogsPage, MembersPage, NotFound, ProjectPage, ProjectsPage,
    RepositoryPage, RetentionPage, RobotsPage, SettingsPage, UsersPage,
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

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
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
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The app: navigation and pages. Every page renders completely on the server before it is
/// sent (`SsrMode::PartiallyBlocked` with blocking resources), so it reads and works before the wasm arrives, or without it.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: the marker tells tests (and curious people) that the
    // page is hydrated and its buttons are live.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="wharf" href="/pkg/wharf.css" />
        <Title text="Wharf" />
        <Router>
            <NavBar />
            <main>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=ProjectsPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/projects") view=ProjectsPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/projects/:project") view=ProjectPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/projects/:project/retention") view=RetentionPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/projects/:project/members") view=MembersPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/projects/:project/robots") view=RobotsPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/projects/:project/logs") view=LogsPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/projects/:project/settings") view=SettingsPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/admin/users") view=UsersPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/repositories/*name") view=RepositoryPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/artifacts/*name") view=ArtifactPage ssr=SsrMode::PartiallyBlocked />
                    <Route path=path!("/admin/gc") view=GcPage ssr=SsrMode::PartiallyBlocked />
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn NavBar() -> impl IntoView {
    // Looked up again on every navigation: signing in or out navigates, and the bar follows.
    let location = leptos_router::hooks::use_location();
    let viewer = Resource::new_blocking(move || location.pathname.get(), |_| current_viewer());
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header class="nav">
            <a class="brand" href="/projects">"Wharf"</a>
            <nav>
                <a href="/projects">"Projects"</a>
                <Suspense>
                    {move || Suspend::new(async move {
                        match viewer.await {
                            Ok(v) if v.signed_in() => {
                                view! {
                                    {v.sysadmin.then(|| view! {
                                        <a href="/admin/users">"Users"</a>
                                        <a href="/admin/gc">"Garbage collection"</a>
                                    })}
                                    <a class="who" href="/account" title="Account">{v.name.clone()}</a>
                                    <ActionForm action=sign_out attr:class="inline">
                                        <button type="submit" class="link">"Sign out"</button>
                                    </ActionForm>
                                }
                                    .into_any()
                            }
                            _ => view! { <a href="/login">"Sign in"</a> }.into_any(),
                        }
                    })}
                </Suspense>
            </nav>
        </header>
    }
}
