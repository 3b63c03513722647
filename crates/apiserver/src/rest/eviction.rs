//! `pods/eviction` (`policy/v1` Eviction, what `kubectl drain` sends), as upstream's eviction REST:
//! a pod that is finished, Pending or already being deleted is simply deleted; otherwise the one
//! PodDisruptionBudget that selects it must allow a disruption, which the eviction takes by
//! decrementing `status.disruptionsAllowed` and recording the pod in `status.disruptedPods` (a
//! compare-and-swap on the budget, retried on conflicts) before the pod is deleted. A budget that
//! allows none answers 429 `Cannot evict pod as it would violate the pod's disruption budget.` with
//! a `DisruptionBudget` cause; an unready pod may go without a disruption while the budget is met.
//! The eviction is admitted first as a CREATE of `pods/eviction` named by the pod (in a namespace
//! being terminated it is refused with the `NamespaceTerminating` cause `kubectl drain` looks for).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kubers_core::volumes::label_selector_matches;
use kubers_store::{Error as StoreError, ListRequest, Revision};
use serde_json::{Value, json};

use super::{ResourceRequest, decode_body, delete, object, update};
use crate::App;
use crate::admission::Operation;
use crate::errors::ApiError;

/// Upstream's `MaxDisruptedPodSize`: evictions the disruption controller has not confirmed yet.
const MAX_DISRUPTED_PODS: usize = 2000;
/// How often a budget update lost to a concurrent one is retried (upstream's `EvictionsRetry`).
const RETRIES: usize = 20;
/// Upstream's 429 message.
pub const VIOLATES_BUDGET: &str =
    "Cannot evict pod as it would violate the pod's disruption budget.";

/// A budget as stored.
struct Budget {
    key: String,
    revision: Revision,
    object: Value,
}

impl Budget {
    fn name(&self) -> &str {
        object::metadata_str(&self.object, "name").unwrap_or("")
    }

    fn number(&self, pointer: &str) -> i64 {
        self.object
            .pointer(pointer)
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }
}

/// `POST .../pods/<name>/eviction`.
pub async fn evict(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let mut eviction = decode_body(&request.headers, body)?;
    let name = request.target.name.as_deref().unwrap_or("");
    if eviction.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let mut options = eviction.get("deleteOptions").cloned().unwrap_or(json!({}));
    if !options.is_object() {
        options = json!({});
    }
    let body_dry_run = options
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|values| values.iter().any(|value| value == "All"));
    let dry_run_request;
    let request = if body_dry_run && !request.query.dry_run {
        dry_run_request = ResourceRequest {
            query: super::query::Query {
                dry_run: true,
                ..request.query.clone()
            },
            ..request.unpaged()
        };
        &dry_run_request
    } else {
        request
    };
    let dry_run = request.query.dry_run;
    let admission = request.admission(Operation::Create, name);
    app.admission
        .admit_and_validate(&app.reads(), &admission, &mut eviction, None)
        .await?;
    let client_version = options
        .pointer("/preconditions/resourceVersion")
        .is_some_and(|version| !version.is_null());

    let pod = update::read_current(app, request).await?.object;
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
    if matches!(phase, Some("Succeeded" | "Failed" | "Pending")) || deleting {
        // The pod is not counted by any budget (or already disrupted): delete it, making sure it
        // did not become Running meanwhile.
        let enforce = !matches!(phase, Some("Succeeded" | "Failed")) && !deleting;
        if enforce && !client_version {
            pin_version(&mut options, &pod);
        }
        return delete_pod(app, request, &options).await;
    }

    let budgets = budgets_of(app, request, &pod).await?;
    if budgets.len() > 1 {
        return Err(ApiError::status(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }
    let mut pinned = false;
    if let Some(budget) = budgets.into_iter().next() {
        let healthy_enough = budget.number("/status/currentHealthy")
            >= budget.number("/status/desiredHealthy")
            && budget.number("/status/desiredHealthy") > 0;
        let always_allow = budget
            .object
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str)
            == Some("AlwaysAllow");
        if !ready(&pod) && (always_allow || healthy_enough) {
            // An unhealthy pod does not count; it goes without taking a disruption.
            pinned = true;
        } else if let Some(refusal) = take_disruption(app, budget, name, dry_run).await? {
            return Ok(refusal);
        }
        if pinned && !client_version {
            pin_version(&mut options, &pod);
        }
    }
    match delete_pod(app, request, &options).await {
        Err(error) if pinned && !client_version && error.0.code == 409 => {
            // The pod changed (it may have become ready): let the client try again.
            Ok(still_processing(&budget_name_of(app, request, &pod).await))
        }
        other => other,
    }
}

/// Sets `preconditions.resourceVersion` to the pod's version.
fn pin_version(options: &mut Value, pod: &Value) {
    let version = object::metadata_str(pod, "resourceVersion").unwrap_or("");
    if let Some(fields) = options.as_object_mut() {
        fields.insert("preconditions".into(), json!({"resourceVersion": version}));
    }
}

/// Deletes the pod with the eviction's options; `201 Success` like upstream.
async fn delete_pod(
    app: &App,
    request: &ResourceRequest,
    options: &Value,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(options).map_err(ApiError::internal)?;
    // The pod's own DELETE (its attributes, not the eviction's).
    let pod_request = ResourceRequest {
        target: super::path::Target {
            subresource: None,
            ..request.target.clone()
        },
        ..request.unpaged()
    };
    delete::delete(app, &pod_request, &body).await?;
    let success = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(super::json_response(201, &success))
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|condition| condition["type"] == "Ready" && condition["status"] == "True")
        })
}

/// Whether the budget selects the pod (policy/v1: an empty selector selects every pod of the
/// namespace, a missing one none).
fn selects(budget: &Value, pod: &Value) -> bool {
    let Some(selector) = budget.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        return false;
    };
    let Ok(selector) = serde_json::from_value::<LabelSelector>(selector.clone()) else {
        return false;
    };
    let labels = pod
        .pointer("/metadata/labels")
        .and_then(|labels| serde_json::from_value(labels.clone()).ok());
    label_selector_matches(&selector, labels.as_ref())
}

/// The budgets of the pod's namespace that select it.
async fn budgets_of(
    app: &App,
    request: &ResourceRequest,
    pod: &Value,
) -> Result<Vec<Budget>, ApiError> {
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
        .filter_map(|kv| {
            Some(Budget {
                key: kv.key.clone(),
                revision: kv.mod_revision,
                object: object::from_stored(kv).ok()?,
            })
        })
        .filter(|budget| selects(&budget.object, pod))
        .collect())
}

async fn budget_name_of(app: &App, request: &ResourceRequest, pod: &Value) -> String {
    budgets_of(app, request, pod)
        .await
        .ok()
        .and_then(|budgets| budgets.into_iter().next())
        .map(|budget| budget.name().to_owned())
        .unwrap_or_default()
}

/// The 429 of a budget: `cause` is the `DisruptionBudget` cause's message; `retry_after` (seconds,
/// 0 for none) becomes `details.retryAfterSeconds` and the `Retry-After` header.
fn too_many_requests(cause: String, retry_after: u32) -> Response {
    let mut details = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
    if retry_after > 0 {
        details["retryAfterSeconds"] = json!(retry_after);
    }
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": VIOLATES_BUDGET,
        "reason": "TooManyRequests",
        "details": details,
        "code": 429,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if retry_after > 0 {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    }
    response
}

/// The 429 of a budget whose status is older than its spec (or a lost race): retry in 10 s.
fn still_processing(budget: &str) -> Response {
    too_many_requests(
        format!("The disruption budget {budget} is still being processed by the server."),
        10,
    )
}

/// Upstream's `checkAndDecrement`, retried against a fresh budget when another eviction or the
/// disruption controller wrote it meanwhile: `None` when the disruption was taken, the 429
/// response when the budget refuses it.
async fn take_disruption(
    app: &App,
    mut budget: Budget,
    pod: &str,
    dry_run: bool,
) -> Result<Option<Response>, ApiError> {
    for _ in 0..RETRIES {
        let name = budget.name().to_owned();
        if budget.number("/status/observedGeneration") < budget.number("/metadata/generation") {
            return Ok(Some(still_processing(&name)));
        }
        let allowed = budget.number("/status/disruptionsAllowed");
        if allowed < 0 {
            return Err(forbidden_budget(
                &name,
                "pdb disruptions allowed is negative",
            ));
        }
        let disrupted = budget
            .object
            .pointer("/status/disruptedPods")
            .and_then(Value::as_object)
            .map_or(0, serde_json::Map::len);
        if disrupted > MAX_DISRUPTED_PODS {
            return Err(forbidden_budget(
                &name,
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            ));
        }
        if allowed == 0 {
            let cause = format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                budget.number("/status/desiredHealthy"),
                budget.number("/status/currentHealthy"),
            );
            return Ok(Some(too_many_requests(cause, 0)));
        }
        if dry_run {
            return Ok(None);
        }
        let mut updated = budget.object.clone();
        let status = updated
            .as_object_mut()
            .map(|fields| fields.entry("status").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut);
        if let Some(status) = status {
            status.insert("disruptionsAllowed".into(), json!(allowed - 1));
            let disrupted = status.entry("disruptedPods").or_insert_with(|| json!({}));
            if !disrupted.is_object() {
                *disrupted = json!({});
            }
            if let Some(disrupted) = disrupted.as_object_mut() {
                disrupted.insert(pod.to_owned(), json!(object::now()));
            }
            if allowed - 1 == 0 {
                set_insufficient(status);
            }
        }
        match app
            .store
            .update(&budget.key, object::to_stored(&updated), budget.revision)
            .await
        {
            Ok(_) => return Ok(None),
            Err(StoreError::Conflict { .. }) => {
                let Some(fresh) = reread(app, &budget.key).await? else {
                    return Err(ApiError::not_found(
                        kubers_core::registry::GroupResource {
                            group: "policy",
                            resource: "poddisruptionbudgets",
                        },
                        &name,
                    ));
                };
                budget = fresh;
            }
            Err(error) => return Err(ApiError::unavailable(error)),
        }
    }
    let name = budget.name().to_owned();
    Err(ApiError::status(
        504,
        "Timeout",
        format!("couldn't update PodDisruptionBudget {name:?} due to conflicts"),
    ))
}

/// The budget's `DisruptionAllowed` condition once no disruption is left (upstream's
/// `UpdateDisruptionAllowedCondition`).
fn set_insufficient(status: &mut serde_json::Map<String, Value>) {
    let generation = status
        .get("observedGeneration")
        .cloned()
        .unwrap_or(json!(0));
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(conditions) = conditions.as_array_mut() else {
        return;
    };
    let condition = json!({
        "type": "DisruptionAllowed",
        "status": "False",
        "reason": "InsufficientPods",
        "message": "",
        "observedGeneration": generation,
        "lastTransitionTime": object::now(),
    });
    match conditions
        .iter_mut()
        .find(|existing| existing["type"] == "DisruptionAllowed")
    {
        Some(existing) => {
            let changed = existing["status"] != "False";
            let transition = existing.get("lastTransitionTime").cloned();
            *existing = condition;
            if !changed && let Some(transition) = transition {
                existing["lastTransitionTime"] = transition;
            }
        }
        None => conditions.push(condition),
    }
}

async fn reread(app: &App, key: &str) -> Result<Option<Budget>, ApiError> {
    let Some(kv) = app.store.get(key).await.map_err(ApiError::unavailable)? else {
        return Ok(None);
    };
    Ok(Some(Budget {
        key: key.to_owned(),
        revision: kv.mod_revision,
        object: object::from_stored(&kv).map_err(ApiError::internal)?,
    }))
}

/// 403 on the budget (`poddisruptionbudget "NAME" is forbidden: ...`, as upstream names it).
fn forbidden_budget(name: &str, message: &str) -> ApiError {
    crate::admission::forbidden_named(
        kubers_core::registry::GroupResource {
            group: "policy",
            resource: "poddisruptionbudget",
        },
        name,
        message,
        &[],
    )
}
