//! Errors of the JSON API. The body carries Harbor's shape (`{"errors":[{"code","message"}]}`,
//! so Harbor clients read it) together with RFC 7807 problem-details fields (`type`, `title`,
//! `status`, `detail`). Internal failures are logged and answered generically.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered on `/api/v2.0`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Authentication is required or failed.
    #[error("unauthorized")]
    Unauthorized,
    /// Authenticated, but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// Refused by a rule, with the reason (a storage quota).
    #[error("{0}")]
    Denied(String),
    /// No such resource (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// The resource exists already.
    #[error("{0}")]
    Conflict(String),
    /// The resource is not in a state that allows this (e.g. a project that is not empty).
    #[error("{0}")]
    PreconditionFailed(String),
    /// Too many failed logins.
    #[error("too many requests")]
    TooManyRequests,
    /// The database or the storage is briefly unavailable: the client may retry.
    #[error("temporarily unavailable; try again")]
    Unavailable,
    /// An internal failure; the detail is logged only.
    #[error("internal server error")]
    Internal,
}

impl ApiError {
    fn code_and_status(&self) -> (&'static str, StatusCode) {
        match self {
            Self::BadRequest(_) => ("BAD_REQUEST", StatusCode::BAD_REQUEST),
            Self::Unauthorized => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            Self::Forbidden => ("FORBIDDEN", StatusCode::FORBIDDEN),
            Self::Denied(_) => ("DENIED", StatusCode::FORBIDDEN),
            Self::NotFound(_) => ("NOT_FOUND", StatusCode::NOT_FOUND),
            Self::Conflict(_) => ("CONFLICT", StatusCode::CONFLICT),
            Self::PreconditionFailed(_) => ("PRECONDITION", StatusCode::PRECONDITION_FAILED),
            Self::TooManyRequests => ("TOO_MANY_REQUEST", StatusCode::TOO_MANY_REQUESTS),
            Self::Unavailable => ("UNAVAILABLE", StatusCode::SERVICE_UNAVAILABLE),
            Self::Internal => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "database conflict; the client may retry");
            return Self::Unavailable;
        }
        tracing::error!(error = %e, "database error");
        Self::Internal
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError::*;
        match e {
            InvalidCredentials | Malformed | Token(_) | Refused(_) => Self::Unauthorized,
            Throttled => Self::TooManyRequests,
            // Logged where it happened; the caller may retry when the directory is back.
            Directory(_) => Self::Unavailable,
            other => {
                tracing::error!(error = %other, "authentication failed");
                Self::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        let message = self.to_string();
        let body = serde_json::json!({
            "errors": [{ "code": code, "message": message }],
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": message,
        });
        (status, axum::Json(body)).into_response()
    }
}

/// Harbor's error body, for the OpenAPI document (answers are built by [`ApiError`]).
#[derive(utoipa::ToSchema)]
pub struct Errors {
    /// The errors, usually one.
    #[expect(dead_code, reason = "describes the wire shape only")]
    errors: Vec<ErrorItem>,
}

/// One error of [`Errors`].
#[derive(utoipa::ToSchema)]
pub struct ErrorItem {
    /// `BAD_REQUEST`, `UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`, `CONFLICT`, …
    #[expect(dead_code, reason = "describes the wire shape only")]
    code: String,
    /// What went wrong, in a sentence.
    #[expect(dead_code, reason = "describes the wire shape only")]
    message: String,
}
