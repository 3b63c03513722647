//! `/openapi/v3` (the index), `/openapi/v3/<group version>` and `/openapi/v2` (JSON or gnostic
//! protobuf), rendered by `kubers_core::openapi`.
//!
//! Nothing is rendered before a client asks: each document is rendered on its first request, in a
//! blocking task, and only its serialized bytes are kept. The index needs every group version's hash,
//! so its first request renders each document once to hash it and keeps the hashes, not the bytes.
//! Caching headers are upstream's: an `ETag` (SHA-512 of the body) honoured in `If-None-Match`,
//! `Vary: Accept`, and for a v3 URL with the current `hash`, `Cache-Control: public, immutable` with an
//! `Expires` a year ahead (a stale hash is redirected to the current one).

use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kubers_core::openapi::{self, Documents};

use crate::errors::ApiError;

/// The protobuf v2 media type kubectl asks for.
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The same, as upstream labels its responses (a `@` does not belong in a media type).
const V2_PROTOBUF_RESPONSE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// A rendered document.
#[derive(Debug)]
struct Cached {
    body: Bytes,
    etag: String,
}

impl Cached {
    fn new(body: Vec<u8>) -> Cached {
        let etag = etag_of(&body);
        Cached {
            body: Bytes::from(body),
            etag,
        }
    }
}

/// One slot per group version, filled on first request.
static V3_DOCUMENTS: LazyLock<BTreeMap<String, OnceLock<Cached>>> = LazyLock::new(|| {
    openapi::v3_paths()
        .into_iter()
        .map(|path| (path, OnceLock::new()))
        .collect()
});
static V3_INDEX: OnceLock<Cached> = OnceLock::new();
static V2_JSON: OnceLock<Cached> = OnceLock::new();
static V2_PROTOBUF_DOCUMENT: OnceLock<Cached> = OnceLock::new();
/// When the documents were first rendered: their `Last-Modified`.
static RENDERED_AT: LazyLock<String> = LazyLock::new(|| http_date(chrono::Utc::now()));

/// `GET /openapi/v3`.
pub async fn index(headers: HeaderMap) -> Response {
    match render(&V3_INDEX, render_index).await {
        Ok(cached) => serve(&headers, cached, "application/json", None),
        Err(error) => error.into_response(),
    }
}

/// `GET /openapi/v3/<group version path>?hash=<etag>`.
pub async fn document(
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = path.trim_matches('/').to_owned();
    let Some(slot) = V3_DOCUMENTS.get(&path) else {
        return ApiError::no_such_path().into_response();
    };
    if !accepts(&headers, &["application/json"]) {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let owned = path.clone();
    let cached = match render(slot, move || render_v3(&owned)).await {
        Ok(cached) => cached,
        Err(error) => return error.into_response(),
    };
    let hash = query.as_deref().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("hash="))
            .map(str::to_owned)
    });
    if let Some(hash) = &hash
        && !hash.is_empty()
        && *hash != cached.etag
    {
        let location = format!("/openapi/v3/{path}?hash={}", cached.etag);
        return (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response();
    }
    serve(&headers, cached, "application/json", hash.as_deref())
}

/// `GET /openapi/v2`: protobuf when asked for, JSON otherwise (406 for anything else).
pub async fn v2(headers: HeaderMap) -> Response {
    let protobuf = [V2_PROTOBUF, V2_PROTOBUF_RESPONSE];
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("*/*");
    let chosen = accept.split(',').find_map(|clause| {
        let media = clause.split(';').next().unwrap_or("").trim();
        match media {
            "application/json" | "application/*" | "*/*" | "" => Some(false),
            media if protobuf.contains(&media) => Some(true),
            _ => None,
        }
    });
    let result = match chosen {
        Some(true) => render(&V2_PROTOBUF_DOCUMENT, || {
            Cached::new(Documents::new().v2_protobuf())
        })
        .await
        .map(|cached| (cached, V2_PROTOBUF_RESPONSE)),
        Some(false) => render(&V2_JSON, || {
            let mut body = Vec::new();
            // Writing to memory cannot fail.
            let _ = Documents::new().write_v2(&mut body);
            Cached::new(body)
        })
        .await
        .map(|cached| (cached, "application/json")),
        None => return StatusCode::NOT_ACCEPTABLE.into_response(),
    };
    match result {
        Ok((cached, content_type)) => serve(&headers, cached, content_type, None),
        Err(error) => error.into_response(),
    }
}

/// Fills `slot` once, off the async threads.
async fn render(
    slot: &'static OnceLock<Cached>,
    build: impl FnOnce() -> Cached + Send + 'static,
) -> Result<&'static Cached, ApiError> {
    if let Some(cached) = slot.get() {
        return Ok(cached);
    }
    tokio::task::spawn_blocking(move || slot.get_or_init(build))
        .await
        .map_err(|error| ApiError::internal(format!("rendering an OpenAPI document: {error}")))
}

fn render_index() -> Cached {
    let documents = Documents::new();
    let mut paths = serde_json::Map::new();
    for (path, slot) in V3_DOCUMENTS.iter() {
        let etag = match slot.get() {
            Some(cached) => cached.etag.clone(),
            None => {
                // Hashed as it is written: the document's bytes are never all held.
                let mut hasher = std::io::BufWriter::with_capacity(
                    64 * 1024,
                    Hasher(ring::digest::Context::new(&ring::digest::SHA512)),
                );
                let _ = documents.write_v3(path, &mut hasher);
                match hasher.into_inner() {
                    Ok(hasher) => hex(hasher.0.finish().as_ref()),
                    Err(_) => String::new(),
                }
            }
        };
        paths.insert(
            path.clone(),
            serde_json::json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={etag}")}),
        );
    }
    Cached::new(serde_json::json!({"paths": paths}).to_string().into_bytes())
}

fn render_v3(path: &str) -> Cached {
    let mut body = Vec::new();
    // Writing to memory cannot fail.
    let _ = Documents::new().write_v3(path, &mut body);
    Cached::new(body)
}

/// A SHA-512 that documents are written into.
struct Hasher(ring::digest::Context);

impl std::io::Write for Hasher {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The response for a rendered document, or 304 when the client has it.
fn serve(
    headers: &HeaderMap,
    cached: &Cached,
    content_type: &'static str,
    hash: Option<&str>,
) -> Response {
    let etag = format!("\"{}\"", cached.etag);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        cached.body.clone().into_response()
    };
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&RENDERED_AT) {
        out.insert(header::LAST_MODIFIED, value);
    }
    if hash.is_some_and(|hash| !hash.is_empty()) {
        out.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, immutable"),
        );
        let expires = http_date(chrono::Utc::now() + chrono::Duration::days(365));
        if let Ok(value) = HeaderValue::from_str(&expires) {
            out.insert(header::EXPIRES, value);
        }
    }
    response
}

/// Whether the `Accept` header allows one of `types` (no header allows everything).
fn accepts(headers: &HeaderMap, types: &[&str]) -> bool {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return true;
    };
    accept.split(',').any(|clause| {
        let media = clause.split(';').next().unwrap_or("").trim();
        media.is_empty() || media == "*/*" || media == "application/*" || types.contains(&media)
    })
}

/// Upstream's ETag: the SHA-512 of the body in upper-case hex.
fn etag_of(body: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA512, body).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

fn http_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
