//! DELETE of one object, honouring a `resourceVersion` precondition in the DeleteOptions body.

use axum::response::Response;
use serde_json::Value;

use super::{ResourceRequest, json_response, object, store_error};
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
        let name = request.target.name.as_deref().unwrap_or("");
        let kv = app
            .store
            .get(&request.key())
            .await
            .map_err(|error| store_error(request, error))?
            .ok_or_else(|| ApiError::not_found(request.info.group_resource(), name))?;
        let current = object::from_stored(&kv).map_err(ApiError::internal)?;
        return Ok(json_response(200, &current));
    }
    let deleted = app
        .store
        .delete(&request.key(), expected)
        .await
        .map_err(|error| store_error(request, error))?;
    let mut object = object::from_stored(&deleted.prev).map_err(ApiError::internal)?;
    object::set_resource_version(&mut object, deleted.revision);
    Ok(json_response(200, &object))
}
