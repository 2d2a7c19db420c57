//! `GET /api/v2.0/health`: Harbor's overall health shape, with one component per dependency; and
//! `GET /api/v2.0/ping`, the liveness answer Harbor's clients and charts probe.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::state::AppState;

/// 200 `Pong` as text, without authentication and without asking the database or the blob store:
/// the API process is up (as Harbor's, whose probes and client libraries call it).
#[utoipa::path(
    get,
    path = "/api/v2.0/ping",
    tag = "ping",
    summary = "Ping Wharf to check that the API server is alive",
    responses(
        (status = 200, description = "The API server is alive", body = String, content_type = "text/plain"),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn ping() -> &'static str {
    "Pong"
}

/// 200 `{"status":"healthy",…}` when the database and the blob store answer, 503 otherwise (so
/// load balancers take an unhealthy replica out).
#[utoipa::path(
    get,
    path = "/api/v2.0/health",
    tag = "health",
    summary = "Health of Wharf and its dependencies",
    responses(
        (status = 200, description = "Health of Wharf and its components", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_health(State(app): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let (db, store) = tokio::join!(app.db.ping(), app.store.ping());
    let status = |ok: bool| if ok { "healthy" } else { "unhealthy" };
    if let Err(e) = &db {
        tracing::warn!(error = %e, "health: database");
    }
    if let Err(e) = &store {
        tracing::warn!(error = %e, "health: storage");
    }
    let healthy = db.is_ok() && store.is_ok();
    let body = json!({
        "status": status(healthy),
        "components": [
            { "name": "core", "status": "healthy" },
            { "name": "database", "status": status(db.is_ok()) },
            { "name": "storage", "status": status(store.is_ok()) },
        ]
    });
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}
