//! GET of one object (and of its `status` subresource, which is the same object).

use axum::response::Response;

use super::{ResourceRequest, json_response, object, store_error, tables};
use crate::App;
use crate::errors::ApiError;

/// Reads the named object.
pub async fn get(app: &App, request: &ResourceRequest) -> Result<Response, ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    let kv = app
        .store
        .get(&request.key())
        .await
        .map_err(|error| store_error(request, error))?
        .ok_or_else(|| ApiError::not_found(request.info.group_resource(), name))?;
    let object = object::from_stored(&kv).map_err(ApiError::internal)?;
    if request.wants_table() {
        let revision = kv.mod_revision.to_string();
        return Ok(json_response(
            200,
            &tables::table(request.info, &[object], &revision),
        ));
    }
    Ok(json_response(200, &object))
}
