//! DELETE of one object, honouring a `resourceVersion` precondition in the DeleteOptions body.

use axum::response::Response;
use serde_json::Value;

use super::{ResourceRequest, allocator, json_response, object, store_error};
use crate::App;
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
    if request.query.dry_run {
        let current = super::update::read_current(app, request).await?;
        return Ok(json_response(200, &current.object));
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
