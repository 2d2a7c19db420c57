//! `GET`/`PUT /api/v2.0/configurations` (Harbor's system configuration; system administrators
//! only).

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::caller::{ApiCaller, ApiJson};
use super::error::ApiError;
use super::gc::admin_only;
use crate::configurations::ConfigurationError;
use crate::state::AppState;

impl From<ConfigurationError> for ApiError {
    fn from(e: ConfigurationError) -> Self {
        match e {
            ConfigurationError::Invalid(m) => Self::BadRequest(m),
            ConfigurationError::Sealed(_) => {
                tracing::error!(error = %e, "configuration");
                Self::Internal
            }
            ConfigurationError::Db(e) => e.into(),
        }
    }
}

/// Harbor's `ConfigurationsResponse`: each item as `{value, editable}`; secrets are never
/// answered.
#[utoipa::path(
    get,
    path = "/api/v2.0/configurations",
    tag = "configure",
    summary = "The system configuration (authentication mode, LDAP, OIDC)",
    responses(
        (status = 200, description = "Every item but the secrets, as {value, editable}", body = Object),
        (status = 401, description = "Not signed in", body = super::error::Errors),
        (status = 403, description = "Not a system administrator", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn get_configurations(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Json<Value>, ApiError> {
    admin_only(&who)?;
    Ok(Json(app.configurations.answer().await?))
}

/// Harbor's `Configurations`: the items named change, the others stay.
#[utoipa::path(
    put,
    path = "/api/v2.0/configurations",
    tag = "configure",
    summary = "Change configuration items",
    request_body(content = Object, description = "Harbor's Configurations: items to change"),
    responses(
        (status = 200, description = "Changed"),
        (status = 400, description = "An unknown, mistyped or fixed item, or auth_mode while other users exist", body = super::error::Errors),
        (status = 401, description = "Not signed in", body = super::error::Errors),
        (status = 403, description = "Not a system administrator", body = super::error::Errors),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn update_configurations(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(), ApiError> {
    admin_only(&who)?;
    app.configurations.update(&body).await?;
    Ok(())
}
