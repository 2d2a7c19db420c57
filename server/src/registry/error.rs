//! The OCI error table: every failure on `/v2` becomes one of these codes, with its HTTP status
//! and the spec's JSON body `{"errors":[{"code","message","detail"}]}`.
//!
//! Internal failures (database, storage) are logged with their detail and answered with a
//! generic message, never with the detail.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered on `/v2`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    /// The blob is unknown to the repository.
    #[error("blob unknown to registry")]
    BlobUnknown,
    /// The upload is invalid: bad body, size or state.
    #[error("blob upload invalid: {0}")]
    BlobUploadInvalid(String),
    /// A chunk does not start where the upload ends (416).
    #[error("blob upload out of order: {0}")]
    RangeInvalid(String),
    /// No such upload session.
    #[error("blob upload unknown to registry")]
    BlobUploadUnknown,
    /// The digest is malformed, missing or does not match the content.
    #[error("provided digest did not match uploaded content: {0}")]
    DigestInvalid(String),
    /// A manifest names a blob or manifest the repository lacks.
    #[error("manifest references a blob or manifest unknown to the repository: {0}")]
    ManifestBlobUnknown(String),
    /// The manifest is malformed.
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    /// A tag parameter is malformed or misplaced.
    #[error("manifest tag did not match URI: {0}")]
    TagInvalid(String),
    /// No such manifest.
    #[error("manifest unknown to registry: {0}")]
    ManifestUnknown(String),
    /// The repository name is malformed.
    #[error("invalid repository name: {0}")]
    NameInvalid(String),
    /// No such repository or project.
    #[error("repository name not known to registry: {0}")]
    NameUnknown(String),
    /// A size is wrong or over a limit.
    #[error("provided length did not match content length: {0}")]
    SizeInvalid(String),
    /// A body is over a limit (413).
    #[error("content too large: {0}")]
    TooLarge(String),
    /// Authentication is required or failed.
    #[error("authentication required")]
    Unauthorized,
    /// Authenticated, but not allowed.
    #[error("requested access to the resource is denied")]
    Denied,
    /// The operation is not supported.
    #[error("the operation is unsupported: {0}")]
    Unsupported(String),
    /// The request conflicts with stored state (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The `n` pagination parameter is not a non-negative number.
    #[error("invalid number of results requested: {0}")]
    PaginationInvalid(String),
    /// Too many requests.
    #[error("too many requests")]
    TooManyRequests,
    /// A token request names more scopes than one token may carry.
    #[error("a token request may name at most {0} scopes")]
    TooManyScopes(usize),
    /// The caller has as many upload sessions open as it may.
    #[error("{0} upload sessions are already in progress for this account: finish or cancel some first")]
    TooManyUploads(i64),
    /// A passing condition (a garbage collection is deleting the same blob); the client should
    /// retry. Answered 503 with `Retry-After`, which clients treat as retryable.
    #[error("{0}; retry shortly")]
    Unavailable(String),
    /// Blob storage is out of space; nothing was stored.
    #[error("the registry's storage is full; nothing was stored")]
    StorageFull,
    /// Blob storage failed (unreachable, refusing); the detail is logged only.
    #[error("blob storage is unavailable; retry shortly")]
    StorageUnavailable,
    /// A write to a proxy-cache project, which only its upstream fills.
    #[error(
        "project {0} is a proxy cache of {1}: it is read-only; push to the upstream or to another project"
    )]
    ProxyReadOnly(String, String),
    /// A write to a group project, whose content is its members'.
    #[error("project {0} is a group of other projects: it is read-only; push to one of its members")]
    GroupReadOnly(String),
    /// The upstream of a proxy-cache project failed and nothing cached answers the request.
    #[error("the upstream registry failed and nothing cached answers: {0}")]
    Upstream(String),
    /// A write that would move or delete an immutable tag (repository path, tag): Harbor's 412
    /// and words.
    #[error("Failed to process request due to '{0}:{1}' configured as immutable.")]
    Immutable(String, String),
    /// A write that would take the project over its storage quota: Harbor's words.
    #[error("{0}")]
    QuotaExceeded(String),
    /// An internal failure; the detail is logged only.
    #[error("internal error")]
    Internal,
}

impl RegistryError {
    /// The spec's code and the HTTP status it is answered with.
    pub fn code_and_status(&self) -> (&'static str, StatusCode) {
        use RegistryError::*;
        match self {
            BlobUnknown => ("BLOB_UNKNOWN", StatusCode::NOT_FOUND),
            BlobUploadInvalid(_) => ("BLOB_UPLOAD_INVALID", StatusCode::BAD_REQUEST),
            RangeInvalid(_) => ("BLOB_UPLOAD_INVALID", StatusCode::RANGE_NOT_SATISFIABLE),
            BlobUploadUnknown => ("BLOB_UPLOAD_UNKNOWN", StatusCode::NOT_FOUND),
            DigestInvalid(_) => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            ManifestBlobUnknown(_) => ("MANIFEST_BLOB_UNKNOWN", StatusCode::BAD_REQUEST),
            ManifestInvalid(_) => ("MANIFEST_INVALID", StatusCode::BAD_REQUEST),
            ManifestUnknown(_) => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            TagInvalid(_) => ("TAG_INVALID", StatusCode::BAD_REQUEST),
            NameInvalid(_) => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            NameUnknown(_) => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            SizeInvalid(_) => ("SIZE_INVALID", StatusCode::BAD_REQUEST),
            TooLarge(_) => ("SIZE_INVALID", StatusCode::PAYLOAD_TOO_LARGE),
            Unauthorized => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            Denied | ProxyReadOnly(..) | GroupReadOnly(_) | QuotaExceeded(_) => {
                ("DENIED", StatusCode::FORBIDDEN)
            }
            Immutable(..) => ("PRECONDITION", StatusCode::PRECONDITION_FAILED),
            Upstream(_) => ("UNAVAILABLE", StatusCode::BAD_GATEWAY),
            Unsupported(_) => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            Conflict(_) => ("DENIED", StatusCode::CONFLICT),
            PaginationInvalid(_) => ("PAGINATION_NUMBER_INVALID", StatusCode::BAD_REQUEST),
            TooManyScopes(_) => ("UNSUPPORTED", StatusCode::BAD_REQUEST),
            TooManyRequests | TooManyUploads(_) => ("TOOMANYREQUESTS", StatusCode::TOO_MANY_REQUESTS),
            Unavailable(_) | StorageUnavailable => ("UNAVAILABLE", StatusCode::SERVICE_UNAVAILABLE),
            StorageFull => ("UNKNOWN", StatusCode::INSUFFICIENT_STORAGE),
            Internal => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl From<crate::db::DbError> for RegistryError {
    fn from(e: crate::db::DbError) -> Self {
        if e.is_transient() {
            // Clients retry a 503 with Retry-After; nothing was written.
            tracing::warn!(error = %e, "database conflict; the client is asked to retry");
            return Self::Unavailable("the database was busy with a conflicting change; retry".into());
        }
        tracing::error!(error = %e, "database error");
        Self::Internal
    }
}

impl From<crate::storage::StorageError> for RegistryError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::NotFound(_) => Self::BlobUnknown,
            other if other.is_full() => {
                tracing::error!(error = %other, "blob storage is full");
                Self::StorageFull
            }
            other => {
                tracing::error!(error = %other, "storage error");
                Self::StorageUnavailable
            }
        }
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        let body = serde_json::json!({
            "errors": [{ "code": code, "message": self.to_string(), "detail": null }]
        });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<crate::oci::manifest::ManifestError> for RegistryError {
    fn from(e: crate::oci::manifest::ManifestError) -> Self {
        use crate::oci::manifest::ManifestError;
        match e {
            ManifestError::Invalid(m) => Self::ManifestInvalid(m),
            ManifestError::TooLarge(m) => Self::TooLarge(m),
            ManifestError::Unsupported(m) => Self::Unsupported(m),
        }
    }
}
