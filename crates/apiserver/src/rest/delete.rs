//! DELETE of one object, like upstream: a `resourceVersion` precondition in the DeleteOptions body; a
//! pod bound to a node is only marked (`deletionTimestamp` after its grace period) and its kubelet
//! removes it; an object with finalizers is marked and removed when the last finalizer goes (see
//! `update::store_update`); anything else goes at once.

use axum::response::Response;
use serde_json::Value;

use super::{ResourceRequest, allocator, json_response, object, store_error};
use crate::App;
use crate::admission::Operation;
use crate::errors::ApiError;

/// Deletes the named object and returns it as it was.
pub async fn delete(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let options: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|error| ApiError::bad_request(format!("invalid DeleteOptions: {error}")))?
    };
    let expected = match options
        .get("preconditions")
        .and_then(|preconditions| preconditions.get("resourceVersion"))
        .and_then(Value::as_str)
    {
        Some(revision) => Some(revision.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("invalid resourceVersion precondition {revision:?}"))
        })?),
        None => None,
    };
    let current = super::update::read_current(app, request).await?;
    let name = request.target.name.as_deref().unwrap_or("");
    let admission = request.admission(Operation::Delete, name);
    app.admission
        .admit(
            app.store.as_ref(),
            &admission,
            &mut Value::Null,
            Some(&current.object),
        )
        .await?;
    app.admission
        .validate(
            app.store.as_ref(),
            &admission,
            &Value::Null,
            Some(&current.object),
        )
        .await?;
    if request.query.dry_run {
        return Ok(json_response(200, &current.object));
    }
    let grace = request
        .query
        .grace_period_seconds
        .or_else(|| options.get("gracePeriodSeconds").and_then(Value::as_i64));
    if let Some(marked) = mark_for_deletion(request, &current.object, grace) {
        if expected.is_some_and(|expected| expected != current.revision) {
            let name = request.target.name.as_deref().unwrap_or("");
            return Err(ApiError::conflict(request.info.group_resource(), name));
        }
        let mut marked = marked;
        if marked != current.object {
            let revision = app
                .store
                .update(&request.key(), object::to_stored(&marked), current.revision)
                .await
                .map_err(|error| store_error(request, error))?;
            object::set_resource_version(&mut marked, revision);
        }
        return Ok(json_response(200, &marked));
    }
    let deleted = app
        .store
        .delete(&request.key(), expected)
        .await
        .map_err(|error| store_error(request, error))?;
    let mut object = object::from_stored(&deleted.prev).map_err(ApiError::internal)?;
    object::set_resource_version(&mut object, deleted.revision);
    if is_service(request) {
        allocator::release_service(app.store.as_ref(), &object).await;
    }
    Ok(json_response(200, &object))
}

/// Deletes every object of the collection that the selectors pick, and returns them as a list.
pub async fn delete_collection(app: &App, request: &ResourceRequest) -> Result<Response, ApiError> {
    let filter = super::filter::Filter::new(&request.query)?;
    let unpaged = request.unpaged();
    let (items, revision, _) = super::list::read_page(app, &unpaged).await?;
    let mut deleted = Vec::new();
    for item in items.into_iter().filter(|item| filter.matches(item)) {
        let (Some(name), namespace) = (
            object::metadata_str(&item, "name"),
            object::metadata_str(&item, "namespace"),
        ) else {
            continue;
        };
        if request.query.dry_run {
            deleted.push(item);
            continue;
        }
        let key = kubers_core::registry::storage_key(request.info, namespace, Some(name));
        match app.store.delete(&key, None).await {
            Ok(_) => {
                if is_service(request) {
                    allocator::release_service(app.store.as_ref(), &item).await;
                }
                deleted.push(item);
            }
            // Deleted meanwhile by someone else: nothing left to do.
            Err(kubers_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(store_error(request, error)),
        }
    }
    let list = serde_json::json!({
        "kind": format!("{}List", request.info.kind),
        "apiVersion": super::list::api_version(request),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": deleted,
    });
    Ok(json_response(200, &list))
}

fn is_service(request: &ResourceRequest) -> bool {
    request.info.group.is_empty() && request.info.resource == "services"
}

/// The object marked for a deletion that has to wait (a bound pod's grace period, or finalizers), or
/// `None` when it can go at once.
fn mark_for_deletion(
    request: &ResourceRequest,
    current: &Value,
    grace: Option<i64>,
) -> Option<Value> {
    let finalizers = current
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|finalizers| !finalizers.is_empty());
    let is_pod = request.info.group.is_empty() && request.info.resource == "pods";
    let bound = current
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|node| !node.is_empty());
    let terminal = matches!(
        current.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    let grace = grace
        .or_else(|| {
            current
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0);
    let graceful = is_pod && bound && !terminal && grace > 0;
    if !graceful && !finalizers {
        return None;
    }
    let mut marked = current.clone();
    let metadata = object::metadata_mut(&mut marked)?;
    let seconds = if graceful { grace } else { 0 };
    let previous = metadata
        .get("deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    // A second delete may shorten the grace period, never lengthen it.
    if metadata.get("deletionTimestamp").is_none()
        || previous.is_some_and(|previous| seconds < previous)
    {
        let at = chrono::Utc::now() + chrono::TimeDelta::seconds(seconds);
        metadata.insert(
            "deletionTimestamp".into(),
            Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        metadata.insert("deletionGracePeriodSeconds".into(), Value::from(seconds));
    }
    Some(marked)
}
