//! `managedFields` on every write: the hooks create, update, patch and the scale subresource call
//! before storing, over `kubers_core::field_manager`. The manager is the request's `fieldManager`, or
//! the user agent up to its first `/` (as upstream); applies record their own entry in `patch`.

use axum::http::header;
use kubers_core::field_manager::{self, Request};
use kubers_core::registry::GroupKind;
use kubers_core::status::Cause;
use serde_json::Value;

use super::{ResourceRequest, media_type, object};
use crate::errors::ApiError;

/// The media type of server-side apply.
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// Whether the request is a server-side apply.
pub fn is_apply(request: &ResourceRequest) -> bool {
    media_type(&request.headers) == APPLY_PATCH
}

/// The manager of the request: `fieldManager`, else the user agent's prefix.
pub fn manager(request: &ResourceRequest) -> String {
    if !request.query.field_manager.is_empty() {
        return request.query.field_manager.clone();
    }
    let agent = request
        .headers
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .unwrap_or("");
    field_manager::manager_from_user_agent(agent)
}

/// Checks `fieldManager` as upstream validates `<options_kind>` (`CreateOptions`, ...).
pub fn check_manager(request: &ResourceRequest, options_kind: &str) -> Result<(), ApiError> {
    match field_manager::check_field_manager(&request.query.field_manager) {
        None => Ok(()),
        Some(message) => Err(invalid_options(
            options_kind,
            Cause::new(
                if message.starts_with("Too long") {
                    "FieldValueTooLong"
                } else {
                    "FieldValueInvalid"
                },
                &message,
                "fieldManager",
            ),
        )),
    }
}

/// 422 for bad request options: `PatchOptions.meta.k8s.io "" is invalid: ...`.
pub fn invalid_options(options_kind: &str, cause: Cause) -> ApiError {
    ApiError::invalid(
        GroupKind {
            group: "meta.k8s.io",
            kind: options_kind,
        },
        "",
        &[cause],
    )
}

/// The field manager's view of the request.
pub fn request_context<'a>(
    request: &'a ResourceRequest,
    manager: &'a str,
    api_version: &'a str,
    now: &'a str,
) -> Request<'a> {
    let has_status = request
        .info
        .subresources
        .iter()
        .any(|sub| sub.name == "status");
    Request::new(
        manager,
        api_version,
        request.target.subresource.as_deref().unwrap_or(""),
        has_status,
        now,
    )
}

/// Records the write of `new` over `live` (absent on create) in `new`'s `managedFields`. Applies are
/// recorded by the apply itself.
pub fn record(
    request: &ResourceRequest,
    live: Option<&Value>,
    new: &mut Value,
) -> Result<(), ApiError> {
    if is_apply(request) {
        return Ok(());
    }
    let options_kind = match (live, media_type(&request.headers).ends_with("patch+json")) {
        (_, true) => "PatchOptions",
        (Some(_), false) => "UpdateOptions",
        (None, false) => "CreateOptions",
    };
    check_manager(request, options_kind)?;
    let manager = manager(request);
    let api_version = super::list::api_version(request);
    let now = object::now();
    let context = request_context(request, &manager, &api_version, &now);
    field_manager::update(live, new, &context);
    Ok(())
}
