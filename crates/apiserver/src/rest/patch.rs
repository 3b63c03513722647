//! PATCH: JSON merge patch, JSON patch (`kubers_core::json_patch`) and strategic merge patch
//! (`kubers_core::strategic_merge`), then stored like an update; and server-side apply
//! (`application/apply-patch+yaml`, `kubers_core::field_manager`), which also creates the object when it
//! does not exist.

use axum::response::Response;
use kubers_core::field_manager;
use kubers_core::json_patch;
use kubers_core::status::Cause;
use serde_json::Value;

use super::managed::{self, APPLY_PATCH};
use super::{ResourceRequest, create, fields, object, update};
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
    if content_type == APPLY_PATCH {
        return apply(app, request, body).await;
    }
    if request.query.force.is_some() {
        return Err(managed::invalid_options(
            "PatchOptions",
            Cause::forbidden("force", "may not be specified for non-apply patch"),
        ));
    }
    let patch: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("invalid patch: {error}")))?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = update::read_current(app, request).await?;
        let revision = current.revision;
        let mut patched = match content_type.as_str() {
            "application/merge-patch+json" => json_patch::merge(current.object.clone(), &patch),
            "application/strategic-merge-patch+json" => {
                kubers_core::strategic_merge::apply(current.object.clone(), &patch)
            }
            "application/json-patch+json" => {
                json_patch::json_patch(current.object.clone(), &patch)?
            }
            _ => return Err(ApiError::unsupported_media_type()),
        };
        let warnings = fields::check(request, fields::Source::Patch, &mut patched, body)?;
        let pinned = pins_other_version(&patched, revision);
        let result = update::store_update(app, request, current, patched).await;
        if !lost_race(&result, pinned, attempt) {
            return fields::with_warnings(result, &warnings);
        }
    }
}

/// How often a patch is applied again to a fresh copy when another write got in first (upstream
/// retries until the request times out).
const ATTEMPTS: usize = 8;

/// Whether `object` asks for another `resourceVersion` than `revision`: a precondition, not a race.
fn pins_other_version(object: &Value, revision: kubers_store::Revision) -> bool {
    object::metadata_str(object, "resourceVersion")
        .is_some_and(|given| !given.is_empty() && given != revision.to_string())
}

/// Whether a write failed only because another write changed the object since it was read, and may
/// be tried again.
fn lost_race(result: &Result<Response, ApiError>, pinned: bool, attempt: usize) -> bool {
    !pinned && attempt < ATTEMPTS && matches!(result, Err(error) if error.0.code == 409)
}

/// Server-side apply: merges the configuration in `body` (YAML or JSON) for the request's
/// `fieldManager`, with `force` taking fields other managers own.
async fn apply(app: &App, request: &ResourceRequest, body: &[u8]) -> Result<Response, ApiError> {
    if request.query.field_manager.is_empty() {
        return Err(managed::invalid_options(
            "PatchOptions",
            Cause::required("fieldManager", "is required for apply patch"),
        ));
    }
    managed::check_manager(request, "PatchOptions")?;
    let config: Value = serde_yaml::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("error decoding YAML: {error}")))?;
    let mut config = match config {
        Value::Object(_) => config,
        _ => {
            return Err(ApiError::bad_request(
                "error decoding YAML: the configuration must be an object",
            ));
        }
    };
    let warnings = fields::check(request, fields::Source::Patch, &mut config, body)?;
    if let Some(kind) = config.get("kind").and_then(Value::as_str)
        && kind != request.info.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            request.info.kind
        )));
    }
    let manager = managed::manager(request);
    let api_version = super::list::api_version(request);
    let force = request.query.force.unwrap_or(false);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = match update::read_current(app, request).await {
            Ok(current) => Some(current),
            Err(error) if error.0.code == 404 && request.target.subresource.is_none() => None,
            Err(error) => return Err(error),
        };
        let now = object::now();
        let context = managed::request_context(request, &manager, &api_version, &now);
        let applied = field_manager::apply(
            current.as_ref().map(|current| &current.object),
            &config,
            request.info.kind,
            &context,
            force,
        )
        .map_err(|error| ApiError::from(error.to_status()))?;
        check_name(request, &applied)?;
        let pinned = current
            .as_ref()
            .is_some_and(|current| pins_other_version(&applied, current.revision));
        let result = match current {
            // Nothing changed, not even ownership: no write, as upstream.
            Some(current) if current.object == applied => Ok(super::json_response(200, &applied)),
            Some(current) => update::store_update(app, request, current, applied).await,
            None => {
                let body = serde_json::to_vec(&applied).map_err(ApiError::internal)?;
                create::create(app, request, &body).await
            }
        };
        if !lost_race(&result, pinned, attempt) {
            return fields::with_warnings(result, &warnings);
        }
    }
}

/// The applied object must name the URL's object, as upstream's `checkName`.
fn check_name(request: &ResourceRequest, applied: &Value) -> Result<(), ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    let given = object::metadata_str(applied, "name").unwrap_or("");
    if given != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(namespace), Some(given)) = (
        request.target.namespace.as_deref(),
        object::metadata_str(applied, "namespace").filter(|given| !given.is_empty()),
    ) && given != namespace
    {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({given}) does not match the namespace on the request ({namespace})"
        )));
    }
    Ok(())
}
