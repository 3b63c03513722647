//! Namespace deletion, like upstream's namespace storage: the first DELETE only marks the namespace
//! Terminating (`deletionTimestamp`, `status.phase`, the `kubernetes` finalizer in its spec) so that
//! the namespace controller can empty it; the `finalize` subresource replaces the spec's finalizers,
//! and the namespace goes once neither its spec nor its metadata holds a finalizer.

use axum::response::Response;
use serde_json::{Value, json};

use super::delete::{DeleteOptions, gc_finalizers};
use super::update::{Current, read_current, store_update};
use super::{ResourceRequest, decode_body, json_response, object, store_error};
use crate::App;
use crate::errors::ApiError;

/// The finalizer the namespace controller removes once the namespace is empty.
const KUBERNETES: &str = "kubernetes";

/// DELETE of a namespace: marks it Terminating the first time; later deletes remove it only when no
/// spec finalizer is left (the metadata finalizers then apply as for any object).
pub(super) async fn delete(
    app: &App,
    request: &ResourceRequest,
    current: Current,
    options: &DeleteOptions,
) -> Result<Response, ApiError> {
    let marked = current
        .object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|at| !at.is_null());
    if marked {
        if spec_finalizers(&current.object).is_empty() {
            if request.query.dry_run {
                return Ok(json_response(200, &current.object));
            }
            let (object, _) =
                super::delete::delete_current(app, request, &request.key(), current, options, None)
                    .await?;
            return Ok(json_response(200, &object));
        }
        return Ok(json_response(200, &current.object));
    }
    let mut terminating = mark_terminating(&current.object);
    if let Some(finalizers) = gc_finalizers(request, &current.object, options)
        && let Some(metadata) = object::metadata_mut(&mut terminating)
    {
        if finalizers.is_empty() {
            metadata.remove("finalizers");
        } else {
            metadata.insert("finalizers".into(), Value::Array(finalizers));
        }
    }
    if request.query.dry_run {
        return Ok(json_response(200, &terminating));
    }
    let revision = app
        .store
        .update(
            &request.key(),
            object::to_stored(&terminating),
            current.revision,
        )
        .await
        .map_err(|error| store_error(request, error))?;
    object::set_resource_version(&mut terminating, revision);
    Ok(json_response(200, &terminating))
}

/// PUT `namespaces/NAME/finalize`: only `spec.finalizers` of the body is taken; a `resourceVersion`
/// in it is a precondition.
pub(super) async fn finalize(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    let incoming = decode_body(&request.headers, body)?;
    super::create::check_type(request, &incoming)?;
    match object::metadata_str(&incoming, "name") {
        Some(given) if given != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    let current = read_current(app, request).await?;
    let mut updated = current.object.clone();
    let finalizers = incoming
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or_else(|| json!([]));
    if let Some(fields) = updated.as_object_mut() {
        let spec = fields.entry("spec").or_insert_with(|| json!({}));
        if let Some(spec) = spec.as_object_mut() {
            spec.insert("finalizers".into(), finalizers);
        }
    }
    if let Some(metadata) = object::metadata_mut(&mut updated) {
        match object::metadata_str(&incoming, "resourceVersion") {
            Some(expected) => {
                metadata.insert("resourceVersion".into(), Value::from(expected));
            }
            None => {
                metadata.remove("resourceVersion");
            }
        }
    }
    store_update(app, request, current, updated).await
}

/// The namespace as upstream's first DELETE leaves it.
fn mark_terminating(namespace: &Value) -> Value {
    let mut terminating = namespace.clone();
    if let Some(metadata) = object::metadata_mut(&mut terminating) {
        metadata.insert("deletionTimestamp".into(), Value::String(object::now()));
    }
    if let Some(fields) = terminating.as_object_mut() {
        let status = fields.entry("status").or_insert_with(|| json!({}));
        if let Some(status) = status.as_object_mut() {
            status.insert("phase".into(), Value::from("Terminating"));
        }
        let spec = fields.entry("spec").or_insert_with(|| json!({}));
        if let Some(spec) = spec.as_object_mut() {
            let finalizers = spec.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(list) = finalizers.as_array_mut()
                && !list.iter().any(|f| f.as_str() == Some(KUBERNETES))
            {
                list.push(Value::from(KUBERNETES));
            }
        }
    }
    terminating
}

/// The namespace's `spec.finalizers`.
pub(super) fn spec_finalizers(namespace: &Value) -> Vec<&str> {
    namespace
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_delete_marks_a_namespace_terminating() {
        let active = json!({
            "metadata": {"name": "team"},
            "spec": {"finalizers": []},
            "status": {"phase": "Active"},
        });
        let terminating = mark_terminating(&active);
        assert_eq!(terminating["status"]["phase"], "Terminating");
        assert_eq!(spec_finalizers(&terminating), ["kubernetes"]);
        assert!(terminating["metadata"]["deletionTimestamp"].is_string());
        let again = mark_terminating(&terminating);
        assert_eq!(spec_finalizers(&again), ["kubernetes"]);
    }
}
