//! `pods/binding`: the scheduler's `POST` that assigns a pod to a node (`spec.nodeName`), refused when
//! the pod is already assigned, being deleted, or the target is not a Node.

use axum::response::Response;
use serde_json::{Value, json};

use super::{ResourceRequest, decode_body, json_response, object, store_error, update};
use crate::App;
use crate::errors::ApiError;

/// `POST .../pods/<name>/binding`.
pub async fn bind(app: &App, request: &ResourceRequest, body: &[u8]) -> Result<Response, ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    let binding = decode_body(&request.headers, body)?;
    let target = binding.get("target").cloned().unwrap_or(Value::Null);
    let node = target.get("name").and_then(Value::as_str).unwrap_or("");
    let kind = target.get("kind").and_then(Value::as_str).unwrap_or("Node");
    if node.is_empty() || kind != "Node" {
        return Err(ApiError::invalid(
            kubers_core::registry::GroupKind {
                group: "",
                kind: "Binding",
            },
            name,
            &[kubers_core::status::Cause::required(
                "target.name",
                "a Node to bind to",
            )],
        ));
    }
    let current = update::read_current(app, request).await?;
    let conflict = |message: String| {
        ApiError::status(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on pods/binding \"{name}\": {message}"),
        )
    };
    if let Some(assigned) = current
        .object
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|node| !node.is_empty())
    {
        return Err(conflict(format!(
            "pod {name} is already assigned to node \"{assigned}\""
        )));
    }
    if current
        .object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|at| !at.is_null())
    {
        return Err(conflict(format!(
            "pod {name} is being deleted, cannot be assigned to a host"
        )));
    }
    let mut pod = current.object;
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("nodeName".into(), json!(node));
    }
    if let Some(metadata) = object::metadata_mut(&mut pod) {
        metadata.remove("resourceVersion");
    }
    app.store
        .update(&request.key(), object::to_stored(&pod), current.revision)
        .await
        .map_err(|error| store_error(request, error))?;
    let success = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(json_response(201, &success))
}
