//! `GET /api/v2.0/health`: Harbor's overall health shape, with one component per dependency.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::state::AppState;

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
