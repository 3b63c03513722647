//! `/openapi/v3` and its per-group-version documents, generated once from the registry by
//! `kubers_core::openapi` and served from memory.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;

/// The serialized index and documents (keyed by `api/v1`, `apis/apps/v1`, ...).
static DOCUMENTS: LazyLock<(String, HashMap<String, String>)> = LazyLock::new(|| {
    let index = kubers_core::openapi::index();
    let documents = index["paths"]
        .as_object()
        .map(|paths| {
            paths
                .keys()
                .filter_map(|path| {
                    let document = kubers_core::openapi::document_at(path)?;
                    Some((path.clone(), document.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    (index.to_string(), documents)
});

/// `GET /openapi/v3`.
pub async fn index() -> Response {
    json(DOCUMENTS.0.clone())
}

/// `GET /openapi/v3/<group version path>` (the `hash` query parameter only busts caches).
pub async fn document(Path(path): Path<String>) -> Response {
    match DOCUMENTS.1.get(path.trim_matches('/')) {
        Some(document) => json(document.clone()),
        None => ApiError::no_such_path().into_response(),
    }
}

fn json(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
