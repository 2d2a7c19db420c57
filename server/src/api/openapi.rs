//! `GET /api/v2.0/openapi.json`: the API described in OpenAPI 3.1, generated from the handlers'
//! annotations and request and answer types (see [`super::document`]).

use axum::Json;

#[utoipa::path(
    get,
    path = "/api/v2.0/openapi.json",
    tag = "systeminfo",
    summary = "The OpenAPI document of this API",
    responses(
        (status = 200, description = "This document", body = Object),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
/// `GET /api/v2.0/openapi.json`
pub async fn get_openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(super::document())
}
