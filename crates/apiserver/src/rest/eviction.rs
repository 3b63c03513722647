//! `pods/eviction` (`policy/v1` Eviction, what `kubectl drain` sends): deletes the pod like a DELETE
//! with the Eviction's DeleteOptions, unless a PodDisruptionBudget that selects the pod allows no
//! disruption now, which is a 429 as upstream answers.

use axum::response::Response;
use kubers_store::ListRequest;
use serde_json::{Value, json};

use super::{ResourceRequest, decode_body, delete, object, update};
use crate::App;
use crate::errors::ApiError;

/// `POST .../pods/<name>/eviction`.
pub async fn evict(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let eviction = decode_body(&request.headers, body)?;
    let pod = update::read_current(app, request).await?.object;
    let terminal = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !terminal {
        for budget in budgets(app, request).await? {
            if selects(&budget, &pod) && allowed(&budget) < 1 {
                let name = object::metadata_str(&budget, "name").unwrap_or("");
                return Err(ApiError::status(
                    429,
                    "TooManyRequests",
                    format!(
                        "Cannot evict pod as it would violate the pod's disruption budget. \
                         The disruption budget {name} needs {} healthy pods and has {} currently",
                        number(&budget, "/status/desiredHealthy"),
                        number(&budget, "/status/currentHealthy"),
                    ),
                ));
            }
        }
    }
    let options = eviction.get("deleteOptions").cloned().unwrap_or(json!({}));
    let body = serde_json::to_vec(&options).unwrap_or_default();
    delete::delete(app, request, &body).await?;
    let success = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(super::json_response(201, &success))
}

/// The PodDisruptionBudgets of the pod's namespace.
async fn budgets(app: &App, request: &ResourceRequest) -> Result<Vec<Value>, ApiError> {
    let Some(info) = kubers_core::registry::find("policy", "v1", "poddisruptionbudgets") else {
        return Ok(Vec::new());
    };
    let prefix =
        kubers_core::registry::storage_key(info, request.target.namespace.as_deref(), None);
    let page = app
        .store
        .list(&ListRequest {
            prefix,
            ..ListRequest::default()
        })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(page
        .items
        .iter()
        .filter_map(|kv| object::from_stored(kv).ok())
        .collect())
}

/// Whether the budget's selector picks the pod (an empty selector picks every pod, as in policy/v1).
fn selects(budget: &Value, pod: &Value) -> bool {
    let labels = pod.pointer("/metadata/labels").and_then(Value::as_object);
    let label = |key: &str| {
        labels
            .and_then(|labels| labels.get(key))
            .and_then(Value::as_str)
    };
    let selector = budget.pointer("/spec/selector");
    let match_labels = selector
        .and_then(|selector| selector.get("matchLabels"))
        .and_then(Value::as_object);
    let labels_match = match_labels.is_none_or(|wanted| {
        wanted
            .iter()
            .all(|(key, value)| label(key) == value.as_str())
    });
    let expressions = selector
        .and_then(|selector| selector.get("matchExpressions"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let expressions_match = expressions.iter().all(|expression| {
        let key = expression["key"].as_str().unwrap_or("");
        let values: Vec<&str> = expression["values"]
            .as_array()
            .map(|values| values.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match expression["operator"].as_str() {
            Some("In") => label(key).is_some_and(|value| values.contains(&value)),
            Some("NotIn") => label(key).is_none_or(|value| !values.contains(&value)),
            Some("Exists") => label(key).is_some(),
            Some("DoesNotExist") => label(key).is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}

/// Disruptions the budget allows now; 0 until the disruption controller has observed it.
fn allowed(budget: &Value) -> i64 {
    let generation = number(budget, "/metadata/generation");
    let observed = number(budget, "/status/observedGeneration");
    if observed < generation {
        return 0;
    }
    number(budget, "/status/disruptionsAllowed")
}

fn number(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}
