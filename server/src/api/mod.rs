//! The JSON API under `/api/v2.0`, in Harbor's paths and shapes.

mod health;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

/// The `/api/v2.0` routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v2.0/health", get(health::get_health))
}
