//! Discovery: legacy documents (`APIVersions`, `APIGroupList`, `APIResourceList`) or aggregated v2
//! (`APIGroupDiscoveryList`), chosen from the Accept header with `Vary: Accept`, built by
//! `kubers_core::discovery`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kubers_core::discovery::{self, AggregatedVersion};
use serde::Serialize;

use crate::App;
use crate::errors::ApiError;

/// `GET /api`.
pub async fn core_versions(State(app): State<App>, headers: HeaderMap) -> Response {
    match aggregated(&headers) {
        Some(version) => respond(&discovery::aggregated_core(version), version.content_type()),
        None => respond(
            &discovery::api_versions(&app.advertise_address),
            discovery::JSON,
        ),
    }
}

/// `GET /apis`.
pub async fn groups(headers: HeaderMap) -> Response {
    match aggregated(&headers) {
        Some(version) => respond(&discovery::aggregated_apis(version), version.content_type()),
        None => respond(&discovery::api_group_list(), discovery::JSON),
    }
}

/// `GET /api/v1`.
pub async fn core_resources() -> Response {
    resource_list("", "v1")
}

/// `GET /apis/<group>`.
pub async fn group(Path(group): Path<String>) -> Response {
    match discovery::api_group(&group) {
        Some(document) => respond(&document, discovery::JSON),
        None => ApiError::no_such_path().into_response(),
    }
}

/// `GET /apis/<group>/<version>`.
pub async fn group_resources(Path((group, version)): Path<(String, String)>) -> Response {
    resource_list(&group, &version)
}

fn resource_list(group: &str, version: &str) -> Response {
    match discovery::api_resource_list(group, version) {
        Some(document) => respond(&document, discovery::JSON),
        None => ApiError::no_such_path().into_response(),
    }
}

fn aggregated(headers: &HeaderMap) -> Option<AggregatedVersion> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    discovery::wants_aggregated(accept)
}

fn respond(document: &impl Serialize, content_type: &'static str) -> Response {
    let body = match serde_json::to_string(document) {
        Ok(body) => body,
        Err(error) => return ApiError::internal(error).into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}
