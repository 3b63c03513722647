//! GET of one object (and of its `status` subresource, which is the same object).

use axum::response::Response;

use super::{ResourceRequest, json_response, tables};
use crate::App;
use crate::errors::ApiError;

/// Reads the named object.
pub async fn get(app: &App, request: &ResourceRequest) -> Result<Response, ApiError> {
    let current = super::update::read_current(app, request).await?;
    let object = current.object;
    if request.wants_table() {
        let revision = current.revision.to_string();
        return Ok(json_response(
            200,
            &tables::table(request.info, &[object], &revision),
        ));
    }
    Ok(json_response(200, &object))
}
