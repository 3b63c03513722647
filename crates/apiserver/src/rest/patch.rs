//! PATCH: JSON merge patch, JSON patch (`kubers_core::json_patch`) and strategic merge patch
//! (`kubers_core::strategic_merge`), then stored like an update.

use axum::response::Response;
use kubers_core::json_patch;
use serde_json::Value;

use super::{ResourceRequest, fields, update};
use crate::App;
use crate::errors::ApiError;

/// Applies the patch in `body` to the named object, then stores it like an update. A write that
/// lost a race with another writer is applied again to the new state, as upstream's guaranteed
/// update does, unless the patch carries its own `resourceVersion` precondition.
pub async fn patch(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match patch_once(app, request, body).await {
            Err(error)
                if error.0.code == 409 && attempts < 5 && !body_has_resource_version(body) =>
            {
                continue;
            }
            other => return other,
        }
    }
}

/// Whether the patch sets `metadata.resourceVersion` (a precondition of its own).
fn body_has_resource_version(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("resourceVersion")
}

async fn patch_once(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let content_type = super::media_type(&request.headers).to_owned();
    let patch: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("invalid patch: {error}")))?;
    let current = update::read_current(app, request).await?;
    let mut patched = match content_type.as_str() {
        "application/merge-patch+json" => json_patch::merge(current.object.clone(), &patch),
        "application/strategic-merge-patch+json" => {
            kubers_core::strategic_merge::apply(current.object.clone(), &patch)
        }
        "application/json-patch+json" => json_patch::json_patch(current.object.clone(), &patch)?,
        _ => return Err(ApiError::unsupported_media_type()),
    };
    let warnings = fields::check(request, fields::Source::Patch, &mut patched, body)?;
    fields::with_warnings(
        update::store_update(app, request, current, patched).await,
        &warnings,
    )
}
