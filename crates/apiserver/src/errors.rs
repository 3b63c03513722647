//! Errors are responses: every failure becomes a Kubernetes `Status` (built by `kubers_core::status`)
//! with the right code and reason.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kubers_core::registry::{GroupKind, GroupResource};
use kubers_core::status::{self, Cause, StatusError};
use serde_json::json;

/// A failed request, as the `Status` object the client receives.
#[derive(Debug)]
pub struct ApiError(pub StatusError);

impl From<StatusError> for ApiError {
    fn from(error: StatusError) -> Self {
        ApiError(error)
    }
}

impl ApiError {
    /// A `Status` with any code and reason (for the few cases `kubers_core::status` has no builder for).
    pub fn status(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError(StatusError {
            code,
            body: json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message.into(),
                "reason": reason,
                "code": code,
            }),
        })
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl AsRef<str>) -> Self {
        status::bad_request(message.as_ref()).into()
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        status::unauthorized().into()
    }

    /// 404 for a URL that names no resource.
    pub fn no_such_path() -> Self {
        Self::status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 404 for a missing object: `pods "web" not found`.
    pub fn not_found(resource: GroupResource<'_>, name: &str) -> Self {
        status::not_found(resource, name).into()
    }

    /// 409 for a create of an existing object.
    pub fn already_exists(resource: GroupResource<'_>, name: &str) -> Self {
        status::already_exists(resource, name).into()
    }

    /// 409 for a lost optimistic-concurrency race, with upstream's message.
    pub fn conflict(resource: GroupResource<'_>, name: &str) -> Self {
        status::conflict(resource, name, status::OPTIMISTIC_LOCK).into()
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_supported(resource: GroupResource<'_>, verb: &str) -> Self {
        status::method_not_supported(resource, verb).into()
    }

    /// 410 Expired, for a continue token older than the kept history.
    pub fn expired(message: impl AsRef<str>) -> Self {
        status::expired(message.as_ref()).into()
    }

    /// 413 for a body over the store's limit.
    pub fn too_large(message: impl AsRef<str>) -> Self {
        status::too_large(message.as_ref()).into()
    }

    /// 415 for a body in a format the server does not read.
    pub fn unsupported_media_type() -> Self {
        status::unsupported_media_type(&[
            "application/json",
            "application/yaml",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
        ])
        .into()
    }

    /// 422 Invalid with field causes.
    pub fn invalid(kind: GroupKind<'_>, name: &str, causes: &[Cause]) -> Self {
        status::invalid(kind, name, causes).into()
    }

    /// 500, with the cause logged.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        let message = message.to_string();
        tracing::error!(%message, "internal error");
        status::internal(&message).into()
    }

    /// 503 while the store cannot be reached.
    pub fn unavailable(message: impl std::fmt::Display) -> Self {
        Self::status(503, "ServiceUnavailable", message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (code, self.0.body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}
