//! The JSON API under `/api/v2.0`, in Harbor's paths and shapes. Handlers extract, make one
//! domain call and map the result; errors are [`error::ApiError`].

mod audit;
mod caller;
mod configurations;
pub mod error;
mod gc;
mod health;
mod immutable;
mod inspect;
mod labels;
mod ldap;
mod members;
mod metadatas;
mod oidc;
pub mod openapi;
pub mod pagination;
mod projects;
mod purge;
mod quotas;
mod registries;
mod replication;
mod repositories;
mod retention;
mod robots;
mod system;
pub mod types;
mod usergroups;
mod users;
mod webhooks;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// `201 Created` with `body`, pointing at the new resource.
fn created(location: &str, body: impl axum::response::IntoResponse) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let mut res = (StatusCode::CREATED, body).into_response();
    if let Ok(v) = header::HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Unknown API paths answer in the API's error format, not with the portal's page.
async fn unknown_path(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::NotFound(format!("no API at {}", uri.path()))
}

/// The document's frame: what the generated paths and schemas are filled into.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Wharf API",
        version = "2.0",
        description = "Harbor's API v2.0 paths and shapes, for what Wharf implements. Authenticate with HTTP \
            Basic (users and robot accounts); a signed-in portal session may read."
    ),
    components(schemas(error::Errors, error::ErrorItem))
)]
struct ApiDoc;

/// Every documented route, registered once: the router and the OpenAPI document both come from
/// the handlers' own `#[utoipa::path]` annotations, so neither can name a route the other lacks.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(health::get_health))
        .routes(routes!(health::ping))
        .routes(routes!(system::system_info))
        .routes(routes!(configurations::get_configurations, configurations::update_configurations))
        .routes(routes!(ldap::ping))
        .routes(routes!(ldap::search_users))
        .routes(routes!(ldap::import_users))
        .routes(routes!(ldap::search_groups))
        .routes(routes!(system::volumes))
        .routes(routes!(system::statistics))
        .routes(routes!(openapi::get_openapi))
        .routes(routes!(system::search))
        .routes(routes!(audit::list_audit_logs))
        .routes(routes!(audit::list_project_logs))
        .routes(routes!(gc::list_runs))
        .routes(routes!(purge::list_runs))
        .routes(routes!(purge::get_schedule, purge::create_schedule, purge::update_schedule))
        .routes(routes!(purge::get_run, purge::stop_run))
        .routes(routes!(purge::get_log))
        .routes(routes!(gc::get_schedule, gc::create_schedule, gc::update_schedule))
        .routes(routes!(gc::get_run, gc::stop_run))
        .routes(routes!(gc::get_log))
        .routes(routes!(projects::list_projects, projects::create_project, projects::head_project))
        .routes(routes!(projects::get_project, projects::update_project, projects::delete_project))
        .routes(routes!(metadatas::list_metadatas, metadatas::add_metadatas))
        .routes(routes!(metadatas::get_metadata, metadatas::update_metadata, metadatas::delete_metadata))
        .routes(routes!(repositories::list_repositories))
        .routes(routes!(repositories::get_repository, repositories::delete_repository))
        .routes(routes!(repositories::list_artifacts, repositories::copy_artifact))
        .routes(routes!(repositories::get_artifact, repositories::delete_artifact))
        .routes(routes!(inspect::list_layers))
        .routes(routes!(inspect::layer_files))
        .routes(routes!(inspect::filesystem))
        .routes(routes!(inspect::compare))
        .routes(routes!(repositories::list_tags, repositories::add_tag))
        .routes(routes!(repositories::delete_tag))
        .routes(routes!(quotas::list_quotas))
        .routes(routes!(quotas::get_quota, quotas::update_quota))
        .routes(routes!(quotas::project_summary))
        .routes(routes!(webhooks::list_policies, webhooks::create_policy))
        .routes(routes!(webhooks::get_policy, webhooks::update_policy, webhooks::delete_policy))
        .routes(routes!(webhooks::list_events))
        .routes(routes!(webhooks::list_executions))
        .routes(routes!(webhooks::list_tasks))
        .routes(routes!(webhooks::task_log))
        .routes(routes!(labels::list_labels, labels::create_label))
        .routes(routes!(labels::get_label, labels::update_label, labels::delete_label))
        .routes(routes!(labels::add_label))
        .routes(routes!(labels::remove_label))
        .routes(routes!(immutable::list_rules, immutable::create_rule))
        .routes(routes!(immutable::update_rule, immutable::delete_rule))
        .routes(routes!(retention::create))
        .routes(routes!(retention::metadatas))
        .routes(routes!(retention::get, retention::update, retention::delete))
        .routes(routes!(retention::list_executions, retention::run))
        .routes(routes!(retention::operate))
        .routes(routes!(retention::list_tasks))
        .routes(routes!(retention::task_log))
        .routes(routes!(robots::list_robots, robots::create_robot))
        .routes(routes!(
            robots::get_robot,
            robots::update_robot,
            robots::refresh_secret,
            robots::delete_robot
        ))
        .routes(routes!(registries::list_registries, registries::create_registry))
        .routes(routes!(registries::ping_registry))
        .routes(routes!(registries::get_registry, registries::update_registry, registries::delete_registry))
        .routes(routes!(registries::registry_info))
        .routes(routes!(registries::list_adapters))
        .routes(routes!(replication::list_policies, replication::create_policy))
        .routes(routes!(replication::get_policy, replication::update_policy, replication::delete_policy))
        .routes(routes!(replication::list_executions, replication::start_execution))
        .routes(routes!(replication::get_execution, replication::stop_execution))
        .routes(routes!(replication::list_tasks))
        .routes(routes!(replication::task_log))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::current_user))
        .routes(routes!(users::current_permissions))
        .routes(routes!(oidc::ping))
        .routes(routes!(usergroups::list_groups, usergroups::create_group))
        .routes(routes!(usergroups::search_groups))
        .routes(routes!(usergroups::get_group, usergroups::update_group, usergroups::delete_group))
        .routes(routes!(users::get_user, users::update_user))
        .routes(routes!(users::change_password))
        .routes(routes!(users::set_sysadmin))
        .routes(routes!(users::set_cli_secret))
        .routes(routes!(members::list_members, members::add_member))
        .routes(routes!(members::get_member, members::update_member, members::delete_member))
}

/// The `/api/v2.0` routes and their OpenAPI document, built once per process: building them
/// runs every handler's and schema's description code, which is most of what the router costs
/// at start (see [`crate::app::prepare`]).
fn built() -> &'static (Router<AppState>, utoipa::openapi::OpenApi) {
    static BUILT: std::sync::OnceLock<(Router<AppState>, utoipa::openapi::OpenApi)> =
        std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let (routes, doc) = documented().split_for_parts();
        (routes.route("/api/{*rest}", axum::routing::any(unknown_path)), doc)
    })
}

/// The OpenAPI document of every `/api/v2.0` route.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    &built().1
}

/// The `/api/v2.0` routes; unknown API paths answer in the API's error format.
pub fn router() -> Router<AppState> {
    built().0.clone()
}
