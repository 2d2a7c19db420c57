//! The portal's pages, one module each, and the links between them.

mod account;
mod artifact;
mod auth;
mod dashboard;
mod gc;
mod groups;
mod immutability;
mod inspect;
mod labels;
mod login;
mod logs;
mod members;
mod project;
mod projects;
mod quotas;
mod registries;
mod replication;
mod repository;
mod retention;
mod robots;
mod search;
mod settings;
mod users;
mod webhooks;

pub use account::AccountPage;
pub use artifact::ArtifactPage;
pub use auth::AuthSettingsPage;
pub use dashboard::{DashboardPage, SummaryPage};
pub use gc::GcPage;
pub use groups::GroupsPage;
pub use immutability::ImmutabilityPage;
pub use inspect::{ComparePage, FilesystemPage, LayerPage};
pub use labels::LabelsPage;
use leptos::prelude::*;
pub use login::{LoginPage, OidcOnboardPage};
pub use logs::{AuditLogsPage, LogsPage};
pub use members::MembersPage;
pub use project::ProjectPage;
pub use projects::ProjectsPage;
pub use quotas::QuotasPage;
pub use registries::RegistriesPage;
pub use replication::{ReplicationPage, ReplicationRunPage};
pub use repository::RepositoryPage;
pub use retention::RetentionPage;
pub use robots::RobotsPage;
pub use search::SearchPage;
pub use settings::SettingsPage;
pub use users::UsersPage;
pub use webhooks::WebhooksPage;

use crate::components::encode;

/// The page of repository `name`.
pub fn repository_href(name: &str) -> String {
    format!("/repositories/{}", encode(name))
}

/// The page of an artifact of repository `name` by tag or digest.
pub fn artifact_href(name: &str, reference: &str) -> String {
    format!("/artifacts/{}?ref={}", encode(name), encode(reference))
}

/// The file list of layer `layer` of image `reference` in repository `name`.
pub fn layer_href(name: &str, reference: &str, layer: &str) -> String {
    format!("/layers/{}?ref={}&layer={}", encode(name), encode(reference), encode(layer))
}

/// Directory `path` of the merged filesystem of image `reference` in repository `name`.
pub fn filesystem_href(name: &str, reference: &str, path: &str) -> String {
    format!("/filesystem/{}?ref={}&path={}", encode(name), encode(reference), encode(path))
}

/// Images `a` and `b` of repository `name` compared.
pub fn compare_href(name: &str, a: &str, b: &str) -> String {
    format!("/compare/{}?ref={}&with={}", encode(name), encode(a), encode(b))
}

/// A page number from the query string (1 when absent or bad).
pub(crate) fn page_param(raw: Option<String>) -> i64 {
    raw.and_then(|p| p.parse().ok()).filter(|p: &i64| *p >= 1).unwrap_or(1)
}

/// What an unknown address shows.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
        r.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="empty">
            <h1>"Not found"</h1>
            <p>"There is nothing at this address. " <a href="/projects">"Go to the projects"</a> "."</p>
        </section>
    }
}
