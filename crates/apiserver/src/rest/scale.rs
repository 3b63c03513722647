//! The `scale` subresource (deployments, replicasets, statefulsets, replicationcontrollers): an
//! `autoscaling/v1` Scale view of `spec.replicas`, read with GET and changed with PUT or PATCH
//! (`kubectl scale` sends a merge patch). A change is admitted as an UPDATE of the `scale`
//! subresource with the Scale as object and the old Scale as old object, as upstream's `ScaleREST`.

use axum::response::Response;
use serde_json::{Value, json};

use super::update;
use super::{ResourceRequest, decode_body, json_response, object, store_error};
use crate::App;
use crate::admission::Operation;
use crate::errors::ApiError;

/// `GET .../<name>/scale`.
pub async fn get(app: &App, request: &ResourceRequest) -> Result<Response, ApiError> {
    let current = update::read_current(app, request).await?;
    Ok(json_response(200, &scale_of(&current.object)))
}

/// `PUT` or `PATCH .../<name>/scale`: sets `spec.replicas` of the parent.
pub async fn change(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
    patching: bool,
) -> Result<Response, ApiError> {
    // A write that lost a race with another writer (a controller's status update) is made again
    // on the new state, unless the client set a resourceVersion precondition.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match change_once(app, request, body, patching).await {
            Err(error)
                if error.0.code == 409
                    && attempts < 5
                    && !String::from_utf8_lossy(body).contains("resourceVersion") =>
            {
                continue;
            }
            other => return other,
        }
    }
}

async fn change_once(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
    patching: bool,
) -> Result<Response, ApiError> {
    let current = update::read_current(app, request).await?;
    let old_scale = scale_of(&current.object);
    let scale = old_scale.clone();
    let mut wanted = if patching {
        let media = super::media_type(&request.headers).to_owned();
        let body: Value = serde_json::from_slice(body)
            .map_err(|error| ApiError::bad_request(format!("invalid patch: {error}")))?;
        match media.as_str() {
            "application/merge-patch+json" => kubers_core::json_patch::merge(scale, &body),
            "application/strategic-merge-patch+json" => {
                kubers_core::strategic_merge::apply(scale, &body)
            }
            _ => return Err(ApiError::unsupported_media_type()),
        }
    } else {
        decode_body(&request.headers, body)?
    };
    if let Some(expected) =
        object::metadata_str(&wanted, "resourceVersion").filter(|rv| !rv.is_empty())
        && expected != current.revision.to_string()
    {
        let name = request.target.name.as_deref().unwrap_or("");
        return Err(ApiError::conflict(request.info.group_resource(), name));
    }
    let name = request.target.name.as_deref().unwrap_or("");
    let admission = request.admission(Operation::Update, name);
    app.admission
        .admit(&app.reads(), &admission, &mut wanted, Some(&old_scale))
        .await?;
    let replicas = wanted
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid(
            kubers_core::registry::GroupKind {
                group: "autoscaling",
                kind: "Scale",
            },
            name,
            &[kubers_core::status::Cause::invalid(
                "spec.replicas",
                &json!(replicas),
                "must be greater than or equal to 0",
            )],
        ));
    }
    app.admission
        .validate(&app.reads(), &admission, &wanted, Some(&old_scale))
        .await?;
    let mut object = current.object.clone();
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("replicas".into(), json!(replicas));
    }
    if let Some(metadata) = object::metadata_mut(&mut object) {
        metadata.remove("resourceVersion");
    }
    super::managed::record(request, Some(&current.object), &mut object)?;
    let key = request.key();
    let revision = app
        .store
        .update(&key, object::to_stored(&object), current.revision)
        .await
        .map_err(|error| store_error(request, error))?;
    object::set_resource_version(&mut object, revision);
    Ok(json_response(200, &scale_of(&object)))
}

/// The Scale view of a workload.
fn scale_of(object: &Value) -> Value {
    let metadata = object.get("metadata").cloned().unwrap_or(json!({}));
    let mut view_metadata = json!({});
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(value) = metadata.get(field) {
            view_metadata[field] = value.clone();
        }
    }
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .or_else(|| {
            object
                .pointer("/spec/selector")
                .filter(|selector| selector.get("matchLabels").is_none())
        })
        .and_then(Value::as_object)
        .map(kubers_core::labels::selector_text)
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": view_metadata,
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": {
            "replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}
