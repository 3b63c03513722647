//! `pods/binding`: the scheduler's `POST` that assigns a pod to a node, as upstream's `BindingREST`:
//! refused when the pod is already assigned, being deleted, gated, or the target is not a Node; on
//! success `spec.nodeName` is set, the binding's annotations are merged into the pod's and the
//! `PodScheduled` condition becomes `True`. A write that lost a race is applied again to the new state,
//! as upstream's guaranteed update does. The binding is admitted as a CREATE of `pods/binding` named
//! by the pod (so no pod is bound in a namespace being terminated).

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ResourceRequest, decode_body, json_response, object, store_error, update};
use crate::App;
use crate::admission::Operation;
use crate::errors::ApiError;

/// How often a binding is tried again after losing a write race.
const WRITE_ATTEMPTS: usize = 5;

/// `POST .../pods/<name>/binding`.
pub async fn bind(app: &App, request: &ResourceRequest, body: &[u8]) -> Result<Response, ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    let mut binding = decode_body(&request.headers, body)?;
    let admission = request.admission(Operation::Create, name);
    app.admission
        .admit(&app.reads(), &admission, &mut binding, None)
        .await?;
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
    app.admission
        .validate(&app.reads(), &admission, &binding, None)
        .await?;
    let annotations = binding
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = update::read_current(app, request).await?;
        let mut pod = current.object;
        assign(&mut pod, name, node, &annotations, &object::now())?;
        if let Some(metadata) = object::metadata_mut(&mut pod) {
            metadata.remove("resourceVersion");
        }
        match app
            .store
            .update(&request.key(), object::to_stored(&pod), current.revision)
            .await
        {
            Ok(_) => break,
            Err(kubers_store::Error::Conflict { .. }) if attempts < WRITE_ATTEMPTS => continue,
            Err(error) => return Err(store_error(request, error)),
        }
    }
    let success = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(json_response(201, &success))
}

/// Assigns `pod` to `node` as upstream's `setPodNodeAndMetadata`, or says why it cannot be.
fn assign(
    pod: &mut Value,
    name: &str,
    node: &str,
    annotations: &Map<String, Value>,
    now: &str,
) -> Result<(), ApiError> {
    let conflict = |message: String| {
        ApiError::status(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on pods/binding \"{name}\": {message}"),
        )
    };
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|at| !at.is_null())
    {
        return Err(conflict(format!(
            "pod {name} is being deleted, cannot be assigned to a host"
        )));
    }
    if let Some(assigned) = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|node| !node.is_empty())
    {
        return Err(conflict(format!(
            "pod {name} is already assigned to node \"{assigned}\""
        )));
    }
    if pod
        .pointer("/spec/schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|gates| !gates.is_empty())
    {
        return Err(conflict(format!(
            "pod {name} has non-empty .spec.schedulingGates"
        )));
    }
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("nodeName".into(), json!(node));
    }
    if !annotations.is_empty()
        && let Some(metadata) = object::metadata_mut(pod)
    {
        let merged = metadata.entry("annotations").or_insert_with(|| json!({}));
        if let Some(merged) = merged.as_object_mut() {
            merged.extend(annotations.clone());
        }
    }
    set_scheduled(pod, now);
    Ok(())
}

/// Sets the `PodScheduled` condition to `True` as upstream's `UpdatePodCondition`: the transition
/// time moves only when the status changes, and reason and message are cleared.
fn set_scheduled(pod: &mut Value, now: &str) {
    let Some(root) = pod.as_object_mut() else {
        return;
    };
    let status = root.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(conditions) = conditions.as_array_mut() else {
        return;
    };
    let fresh = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    match conditions
        .iter_mut()
        .find(|condition| condition.get("type").and_then(Value::as_str) == Some("PodScheduled"))
    {
        Some(existing) => {
            let was_true = existing.get("status").and_then(Value::as_str) == Some("True");
            let transition = existing.get("lastTransitionTime").cloned();
            *existing = fresh;
            if was_true
                && let (Some(transition), Some(map)) = (transition, existing.as_object_mut())
            {
                map.insert("lastTransitionTime".into(), transition);
            }
        }
        None => conditions.push(fresh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_sets_node_annotations_and_scheduled_condition() {
        let mut pod = json!({
            "metadata": {"name": "p", "annotations": {"a": "1"}},
            "spec": {"containers": []},
            "status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
        });
        let annotations = json!({"b": "2"}).as_object().cloned().unwrap_or_default();
        assign(&mut pod, "p", "n1", &annotations, "2026-01-01T00:00:00Z").expect("assigned");
        assert_eq!(pod["spec"]["nodeName"], "n1");
        assert_eq!(pod["metadata"]["annotations"], json!({"a": "1", "b": "2"}));
        assert_eq!(
            pod["status"]["conditions"],
            json!([{"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                "lastTransitionTime": "2026-01-01T00:00:00Z"}])
        );
    }

    #[test]
    fn binding_is_refused_for_assigned_deleted_and_gated_pods() {
        let none = Map::new();
        let mut assigned = json!({"spec": {"nodeName": "n0"}});
        let error = assign(&mut assigned, "p", "n1", &none, "now").expect_err("refused");
        assert!(
            error.0.body["message"]
                .as_str()
                .unwrap_or("")
                .contains("already assigned to node \"n0\"")
        );
        let mut deleted = json!({"metadata": {"deletionTimestamp": "x"}, "spec": {}});
        let error = assign(&mut deleted, "p", "n1", &none, "now").expect_err("refused");
        assert!(
            error.0.body["message"]
                .as_str()
                .unwrap_or("")
                .contains("is being deleted")
        );
        let mut gated = json!({"spec": {"schedulingGates": [{"name": "g"}]}});
        let error = assign(&mut gated, "p", "n1", &none, "now").expect_err("refused");
        assert!(
            error.0.body["message"]
                .as_str()
                .unwrap_or("")
                .contains("non-empty .spec.schedulingGates")
        );
    }
}
