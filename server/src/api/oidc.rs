//! `POST /api/v2.0/system/oidc/ping` (Harbor API v2.0): tests an OpenID Provider's issuer URL
//! before it is saved.

use axum::extract::State;
use serde::Deserialize;

use super::caller::{ApiCaller, ApiJson};
use super::error::ApiError;
use super::gc::admin_only;
use crate::state::AppState;

/// The endpoint to test (Harbor's ping body).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct OidcPing {
    /// The provider's issuer URL.
    pub url: String,
    /// Verify the provider's certificate.
    #[serde(default = "yes")]
    pub verify_cert: bool,
}

fn yes() -> bool {
    true
}

/// Finds the provider's discovery document and signing keys at `url`: 200 when it is an OpenID
/// Provider Wharf can use, 400 with the reason otherwise.
#[utoipa::path(
    post,
    path = "/api/v2.0/system/oidc/ping",
    tag = "oidc",
    summary = "Test an OpenID Provider's endpoint (system administrators)",
    request_body = OidcPing,
    responses(
        (status = 200, description = "The provider answers as one"),
        (status = 400, description = "It does not: the reason", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn ping(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(req): ApiJson<OidcPing>,
) -> Result<(), ApiError> {
    admin_only(&who)?;
    app.auth
        .oidc()
        .discover(&req.url, req.verify_cert)
        .await
        .map(|_| ())
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}
