//! The JSON API under `/api/v2.0`, in Harbor's paths and shapes. Handlers extract, make one
//! domain call and map the result; errors are [`error::ApiError`].

mod audit;
mod caller;
pub mod error;
mod gc;
mod health;
mod members;
pub mod openapi;
pub mod pagination;
mod projects;
mod repositories;
mod retention;
mod robots;
mod system;
pub mod types;
mod users;

use axum::Router;
use axum::routing::{get, put};

use crate::app::AppState;

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

/// The `/api/v2.0` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2.0/health", get(health::get_health))
        .route("/api/{*rest}", axum::routing::any(unknown_path))
        .route("/api/v2.0/systeminfo", get(system::system_info))
        .route("/api/v2.0/openapi.json", get(openapi::get_openapi))
        .route("/api/v2.0/audit-logs", get(audit::list_audit_logs))
        .route("/api/v2.0/projects/{project}/logs", get(audit::list_project_logs))
        .route("/api/v2.0/search", get(system::search))
        .route("/api/v2.0/system/gc", get(gc::list_runs))
        .route(
            "/api/v2.0/system/gc/schedule",
            get(gc::get_schedule).post(gc::create_schedule).put(gc::update_schedule),
        )
        .route("/api/v2.0/system/gc/{id}", get(gc::get_run).put(gc::stop_run))
        .route("/api/v2.0/system/gc/{id}/log", get(gc::get_log))
        .route(
            "/api/v2.0/projects",
            get(projects::list_projects).post(projects::create_project).head(projects::head_project),
        )
        .route(
            "/api/v2.0/projects/{project}",
            get(projects::get_project).put(projects::update_project).delete(projects::delete_project),
        )
        .route("/api/v2.0/projects/{project}/repositories", get(repositories::list_repositories))
        .route(
            "/api/v2.0/projects/{project}/repositories/{repo}",
            get(repositories::get_repository).delete(repositories::delete_repository),
        )
        .route(
            "/api/v2.0/projects/{project}/repositories/{repo}/artifacts",
            get(repositories::list_artifacts).post(repositories::copy_artifact),
        )
        .route(
            "/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{reference}",
            get(repositories::get_artifact).delete(repositories::delete_artifact),
        )
        .route(
            "/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{reference}/tags",
            get(repositories::list_tags).post(repositories::add_tag),
        )
        .route(
            "/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{reference}/tags/{tag}",
            axum::routing::delete(repositories::delete_tag),
        )
        .route("/api/v2.0/retentions", axum::routing::post(retention::create))
        .route("/api/v2.0/retentions/metadatas", get(retention::metadatas))
        .route(
            "/api/v2.0/retentions/{id}",
            get(retention::get).put(retention::update).delete(retention::delete),
        )
        .route("/api/v2.0/retentions/{id}/executions", get(retention::list_executions).post(retention::run))
        .route("/api/v2.0/retentions/{id}/executions/{eid}", axum::routing::patch(retention::operate))
        .route("/api/v2.0/retentions/{id}/executions/{eid}/tasks", get(retention::list_tasks))
        .route("/api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}", get(retention::task_log))
        .route("/api/v2.0/robots", get(robots::list_robots).post(robots::create_robot))
        .route(
            "/api/v2.0/robots/{robot_id}",
            get(robots::get_robot)
                .put(robots::update_robot)
                .patch(robots::refresh_secret)
                .delete(robots::delete_robot),
        )
        .route("/api/v2.0/users", get(users::list_users).post(users::create_user))
        .route("/api/v2.0/users/current", get(users::current_user))
        .route("/api/v2.0/users/{user_id}", get(users::get_user).put(users::update_user))
        .route("/api/v2.0/users/{user_id}/password", put(users::change_password))
        .route("/api/v2.0/users/{user_id}/sysadmin", put(users::set_sysadmin))
        .route("/api/v2.0/projects/{project}/members", get(members::list_members).post(members::add_member))
        .route(
            "/api/v2.0/projects/{project}/members/{mid}",
            get(members::get_member).put(members::update_member).delete(members::delete_member),
        )
}
