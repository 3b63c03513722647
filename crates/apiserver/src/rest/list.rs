//! LIST of a collection: from the watch cache when upstream's rules allow (`resourceVersion=0`,
//! `NotOlderThan`, and consistent reads once the cache has seen the store's current revision), else one
//! consistent page from the store at a revision, with `limit` and `continue` like upstream.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kubers_store::{KeyValue, ListRequest, Revision};
use serde_json::{Value, json};

use super::cached::{Freshness, Source, fresh_cache, parse_revision, selector, too_large};
use super::filter::Filter;
use super::list_body::ListDocument;
use super::stored_json;
use super::{ResourceRequest, json_response, object, store_error, tables};
use crate::App;
use crate::cache::{Listed, type_head};
use crate::errors::ApiError;

/// Lists the collection the request names.
pub async fn list(app: &App, request: &ResourceRequest) -> Result<Response, ApiError> {
    let filter = Filter::new(&request.query, request.info)?;
    if let Source::Cache(freshness) = Source::of(&request.query)? {
        if let Some(cache) = fresh_cache(app, request, freshness).await? {
            // Upstream ignores the limit of a list at resourceVersion 0.
            let limit = match freshness {
                Freshness::Any => 0,
                Freshness::NotOlderThan(_) | Freshness::Consistent => request.query.limit,
            };
            let select = selector(&filter);
            if let Some(listed) = cache.list(&request.key(), &select, limit) {
                return Ok(cached_list(request, listed));
            }
        }
    }
    let page = read_store_page(app, request).await?;
    if filter.is_empty() && !request.wants_table() {
        return stored_list(request, page);
    }
    let (mut items, revision, continue_token) = decode_page(request, page)?;
    items.retain(|item| filter.matches(item));
    if request.wants_table() {
        return Ok(json_response(
            200,
            &tables::table(request.info, &items, &revision.to_string()),
        ));
    }
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = Value::String(token);
    }
    let list = json!({
        "kind": format!("{}List", request.info.kind),
        "apiVersion": api_version(request),
        "metadata": metadata,
        "items": items,
    });
    Ok(json_response(200, &list))
}

/// A page read from the store, written without decoding its objects.
fn stored_list(request: &ResourceRequest, page: StorePage) -> Result<Response, ApiError> {
    let api_version = api_version(request);
    let kind = request.info.kind;
    let head = type_head(&api_version, kind);
    let size: usize = page.items.iter().map(|kv| kv.value.len() + 96).sum();
    let mut body = list_head(
        kind,
        &api_version,
        &page.revision.to_string(),
        page.continue_token.as_deref(),
    );
    body.reserve(size + 2);
    for (index, kv) in page.items.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        stored_json::render(&mut body, &kv.value, &head, kv.mod_revision)
            .map_err(|error| ApiError::internal(format!("{}: {error}", kv.key)))?;
    }
    body.extend_from_slice(b"]}");
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response())
}

/// The response for a list read from the cache: the list's JSON streamed from the shared objects.
fn cached_list(request: &ResourceRequest, listed: Listed) -> Response {
    let api_version = api_version(request);
    let kind = request.info.kind;
    let revision = listed.revision.to_string();
    if request.wants_table() {
        let items: Vec<Value> = listed
            .items
            .iter()
            .map(|item| item.to_value(&api_version, kind, item.revision))
            .collect();
        return json_response(200, &tables::table(request.info, &items, &revision));
    }
    let prefix = request.key();
    let continue_token = listed.items.last().filter(|_| listed.more).map(|last| {
        encode_continue(
            last.key.strip_prefix(&prefix).unwrap_or(&last.key),
            listed.revision,
        )
    });
    let head = list_head(kind, &api_version, &revision, continue_token.as_deref());
    let document = ListDocument {
        head,
        type_head: type_head(&api_version, kind),
        items: listed.items,
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(document.into_stream()),
    )
        .into_response()
}

/// A list document up to its first item: kind, apiVersion, metadata and `"items":[`.
fn list_head(
    kind: &str,
    api_version: &str,
    revision: &str,
    continue_token: Option<&str>,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"{\"kind\":");
    push_json(&mut head, &format!("{kind}List"));
    head.extend_from_slice(b",\"apiVersion\":");
    push_json(&mut head, api_version);
    head.extend_from_slice(b",\"metadata\":{\"resourceVersion\":");
    push_json(&mut head, revision);
    if let Some(token) = continue_token {
        head.extend_from_slice(b",\"continue\":");
        push_json(&mut head, token);
    }
    head.extend_from_slice(b"},\"items\":[");
    head
}

/// Writes `text` as a JSON string; writing to a `Vec` cannot fail.
fn push_json(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(out, text);
}

/// `v1` or `<group>/<version>`.
pub fn api_version(request: &ResourceRequest) -> String {
    if request.info.group.is_empty() {
        request.info.version.to_owned()
    } else {
        format!("{}/{}", request.info.group, request.info.version)
    }
}

/// A page of objects read from the store.
struct StorePage {
    /// The objects as stored.
    items: Vec<KeyValue>,
    /// The revision the page was read at.
    revision: Revision,
    /// The token of the next page, when the limit cut this one short.
    continue_token: Option<String>,
}

/// Reads one page: its objects (each with `apiVersion` and `kind`), its revision and the token of the
/// next page.
pub async fn read_page(
    app: &App,
    request: &ResourceRequest,
) -> Result<(Vec<Value>, Revision, Option<String>), ApiError> {
    let page = read_store_page(app, request).await?;
    decode_page(request, page)
}

/// The page's objects decoded, with the served apiVersion and kind.
fn decode_page(
    request: &ResourceRequest,
    page: StorePage,
) -> Result<(Vec<Value>, Revision, Option<String>), ApiError> {
    let api_version = api_version(request);
    let mut items = Vec::with_capacity(page.items.len());
    for kv in &page.items {
        let mut item = object::from_stored(kv).map_err(ApiError::internal)?;
        if let Some(fields) = item.as_object_mut() {
            fields.insert("apiVersion".into(), Value::String(api_version.clone()));
            fields.insert("kind".into(), Value::String(request.info.kind.to_owned()));
        }
        items.push(item);
    }
    Ok((items, page.revision, page.continue_token))
}

/// The request's page of objects from the store, as stored: at the continue token's revision, or
/// the one its resourceVersion asks for.
async fn read_store_page(app: &App, request: &ResourceRequest) -> Result<StorePage, ApiError> {
    let prefix = request.key();
    let (after, revision) = match &request.query.continue_token {
        Some(token) => {
            let (after, revision) = decode_continue(token)?;
            (Some(format!("{prefix}{after}")), revision)
        }
        None => (None, read_revision(app, request).await?),
    };
    let page = app
        .store
        .list(&ListRequest {
            prefix: prefix.clone(),
            after,
            revision,
            limit: request.query.limit,
        })
        .await
        .map_err(|error| match error {
            kubers_store::Error::Compacted { .. } if request.query.continue_token.is_some() => {
                ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter, or use the continue token \
                     in this response to retrieve the remainder of the results. Continuing with the \
                     provided token results in an inconsistent list - objects that were created, \
                     modified, or deleted between the time the first chunk was returned and now may \
                     show up in the list.",
                )
            }
            other => store_error(request, other),
        })?;
    let continue_token = match page.items.last() {
        Some(last) if page.more() => Some(encode_continue(
            last.key.strip_prefix(&prefix).unwrap_or(&last.key),
            page.revision,
        )),
        _ => None,
    };
    Ok(StorePage {
        items: page.items,
        revision: page.revision,
        continue_token,
    })
}

async fn read_revision(app: &App, request: &ResourceRequest) -> Result<Revision, ApiError> {
    let given = match request.query.resource_version.as_deref() {
        None | Some("0") => None,
        Some(text) => Some(parse_revision(text)?),
    };
    match (given, request.query.resource_version_match.as_deref()) {
        (None, Some("Exact")) => Err(ApiError::bad_request(
            "resourceVersionMatch \"Exact\" requires a resourceVersion greater than 0",
        )),
        (Some(revision), Some("Exact")) => Ok(revision),
        (Some(revision), None | Some("NotOlderThan")) => {
            let current = app
                .store
                .current_revision()
                .await
                .map_err(|error| store_error(request, error))?;
            if revision > current {
                return Err(too_large(revision, current));
            }
            Ok(0)
        }
        (None, None | Some("NotOlderThan")) => Ok(0),
        (_, Some(other)) => Err(ApiError::bad_request(format!(
            "unsupported resourceVersionMatch {other:?}: must be Exact or NotOlderThan"
        ))),
    }
}

/// Upstream's continue token: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after prefix>"}`,
/// where the next page starts after `start`.
fn encode_continue(last: &str, revision: Revision) -> String {
    STANDARD.encode(
        json!({"v": "meta.k8s.io/v1", "rv": revision, "start": format!("{last}\u{0}")}).to_string(),
    )
}

fn decode_continue(token: &str) -> Result<(String, Revision), ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = STANDARD.decode(token).map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let revision = value
        .get("rv")
        .and_then(Value::as_i64)
        .filter(|rv| *rv > 0)
        .ok_or_else(invalid)?;
    let start = value
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    let last = start.strip_suffix('\u{0}').unwrap_or(start);
    if last.is_empty() || last.contains('/') && last.starts_with('/') {
        return Err(invalid());
    }
    Ok((last.to_owned(), revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue("default/web-7", 42);
        assert_eq!(
            decode_continue(&token).expect("valid"),
            ("default/web-7".to_owned(), 42)
        );
        assert!(decode_continue("garbage").is_err());
    }
}
