//! LIST of a collection: from the watch cache when upstream's rules allow (`resourceVersion=0`,
//! `NotOlderThan`, and consistent reads once the cache has seen the store's current revision), else one
//! consistent page from the store at a revision, with `limit` and `continue` like upstream.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kubers_core::registry;
use kubers_store::{ListRequest, Revision};
use serde_json::{Value, json};

use super::filter::Filter;
use super::query::Query;
use super::{ResourceRequest, json_response, object, store_error, tables};
use crate::App;
use crate::cache::{Cache, CachedObject, Listed};
use crate::errors::ApiError;

/// How long a read waits for the cache to reach the revision it needs (upstream's 3 s) before it goes
/// to the store.
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);
/// A consistent read waits for a cache that is behind only while the store answers progress requests
/// this fast (SQLite: microseconds; etcd before 3.4.24 and 3.5.8 holds them back 100 ms, and upstream
/// reads such etcds directly too).
const FAST_PROGRESS: Duration = Duration::from_millis(20);

/// Lists the collection the request names.
pub async fn list(app: &App, request: &ResourceRequest) -> Result<Response, ApiError> {
    let filter = Filter::new(&request.query)?;
    if let Source::Cache(freshness) = Source::of(&request.query)? {
        if let Some(cache) = fresh_cache(app, request, freshness).await? {
            // Upstream ignores the limit of a list at resourceVersion 0.
            let limit = match freshness {
                Freshness::Any => 0,
                Freshness::NotOlderThan(_) | Freshness::Consistent => request.query.limit,
            };
            let select = selector(&filter);
            if let Some(listed) = cache.list(&request.key(), &select, limit) {
                return Ok(cached_list(request, &listed));
            }
        }
    }
    let (mut items, revision, continue_token) = read_page(app, request).await?;
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

/// Where a read is answered from, by upstream's rules (`shouldDelegateList`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The store: exact revisions, continuations, and a legacy exact match (a limit with a
    /// resourceVersion other than 0 and no resourceVersionMatch).
    Store,
    /// The watch cache, once it is as fresh as this.
    Cache(Freshness),
}

/// How recent a cached answer must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Any state (`resourceVersion=0`).
    Any,
    /// At least this revision (`resourceVersion=N`, `NotOlderThan`).
    NotOlderThan(Revision),
    /// The store's current revision (no resourceVersion: a consistent read).
    Consistent,
}

impl Source {
    /// Where the read `query` asks for is answered from; a malformed resourceVersion is a 400.
    pub fn of(query: &Query) -> Result<Source, ApiError> {
        let version = query.resource_version.as_deref();
        match query.resource_version_match.as_deref() {
            None if query.limit > 0 && version.is_some_and(|text| text != "0") => {
                return Ok(Source::Store);
            }
            None | Some("NotOlderThan") => {}
            Some(_) => return Ok(Source::Store),
        }
        if query.continue_token.is_some() {
            return Ok(Source::Store);
        }
        Ok(Source::Cache(match version {
            None => Freshness::Consistent,
            Some("0") => Freshness::Any,
            Some(text) => Freshness::NotOlderThan(parse_revision(text)?),
        }))
    }
}

/// A resourceVersion as a revision; a 400 when it is not one.
pub fn parse_revision(text: &str) -> Result<Revision, ApiError> {
    text.parse::<Revision>()
        .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {text:?}")))
}

/// The cache of the request's resource once it is as fresh as `freshness` asks; `None` when the store
/// should answer instead (the cache is still filling, or did not catch up in time). A revision newer
/// than the store's is a 504, as upstream.
pub async fn fresh_cache(
    app: &App,
    request: &ResourceRequest,
    freshness: Freshness,
) -> Result<Option<Arc<Cache>>, ApiError> {
    let cache = app
        .caches
        .get(&registry::storage_key(request.info, None, None));
    if !cache.ready() {
        return Ok(None);
    }
    let wanted = match freshness {
        Freshness::Any => return Ok(Some(cache)),
        Freshness::NotOlderThan(revision) if cache.revision() >= revision => {
            return Ok(Some(cache));
        }
        Freshness::NotOlderThan(revision) => {
            let current = current_revision(app, request).await?;
            if revision > current {
                return Err(too_large(revision, current));
            }
            revision
        }
        Freshness::Consistent => {
            let current = current_revision(app, request).await?;
            if cache.revision() < current && cache.progress_latency() > FAST_PROGRESS {
                // The store answers this read sooner; the request keeps the latency measured.
                cache.request_progress();
                return Ok(None);
            }
            current
        }
    };
    Ok(cache
        .wait_for(wanted, FRESHNESS_WAIT)
        .await
        .then_some(cache))
}

async fn current_revision(app: &App, request: &ResourceRequest) -> Result<Revision, ApiError> {
    app.store
        .current_revision()
        .await
        .map_err(|error| store_error(request, error))
}

fn too_large(revision: Revision, current: Revision) -> ApiError {
    ApiError::status(
        504,
        "Timeout",
        format!("Too large resource version: {revision}, current: {current}"),
    )
}

/// The request's selectors as a test of cached objects.
pub fn selector(filter: &Filter) -> impl Fn(&CachedObject) -> bool + '_ {
    move |object: &CachedObject| matches(filter, object, object.revision)
}

/// Whether `filter` selects `object` (rendered at `revision` when a field outside the metadata is
/// needed).
pub fn matches(filter: &Filter, object: &CachedObject, revision: Revision) -> bool {
    if filter.is_empty() {
        return true;
    }
    if filter.fields_in_metadata() {
        return filter.matches_parts(
            |key| object.label(key),
            |path| match path {
                "metadata.name" => Some(object.name().to_owned()),
                "metadata.namespace" => object.namespace().map(str::to_owned),
                _ => None,
            },
        );
    }
    filter.matches(&object.to_value("", "", revision))
}

/// The response for a list read from the cache: the list's JSON assembled from the shared objects.
fn cached_list(request: &ResourceRequest, listed: &Listed) -> Response {
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
    let size: usize = listed.items.iter().map(|item| item.len() + 96).sum();
    let mut body = Vec::with_capacity(size + 256);
    body.extend_from_slice(b"{\"kind\":");
    push_json(&mut body, &format!("{kind}List"));
    body.extend_from_slice(b",\"apiVersion\":");
    push_json(&mut body, &api_version);
    body.extend_from_slice(b",\"metadata\":{\"resourceVersion\":");
    push_json(&mut body, &revision);
    if let Some(token) = continue_token {
        body.extend_from_slice(b",\"continue\":");
        push_json(&mut body, &token);
    }
    body.extend_from_slice(b"},\"items\":[");
    for (index, item) in listed.items.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        item.render(&mut body, &api_version, kind, item.revision);
    }
    body.extend_from_slice(b"]}");
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
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

/// Reads one page: its objects (each with `apiVersion` and `kind`), its revision and the token of the
/// next page.
pub async fn read_page(
    app: &App,
    request: &ResourceRequest,
) -> Result<(Vec<Value>, Revision, Option<String>), ApiError> {
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
    Ok((items, page.revision, continue_token))
}

/// The revision a first page is read at, from `resourceVersion` and `resourceVersionMatch`: `Exact`
/// reads that revision; otherwise ("0", unset, or `NotOlderThan`) the current state, which must not be
/// older than the given revision.
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
    fn reads_go_to_the_cache_by_upstreams_rules() {
        let source = |query: &str| Source::of(&Query::parse(query).expect("valid query"));
        let cache = |freshness| Ok(Source::Cache(freshness));
        for (query, expected) in [
            ("", cache(Freshness::Consistent)),
            ("limit=500", cache(Freshness::Consistent)),
            ("resourceVersion=0", cache(Freshness::Any)),
            ("resourceVersion=0&limit=500", cache(Freshness::Any)),
            ("resourceVersion=12", cache(Freshness::NotOlderThan(12))),
            (
                "resourceVersion=12&resourceVersionMatch=NotOlderThan&limit=5",
                cache(Freshness::NotOlderThan(12)),
            ),
            // A limit with a resourceVersion and no match is the legacy exact read.
            ("resourceVersion=12&limit=5", Ok(Source::Store)),
            (
                "resourceVersion=12&resourceVersionMatch=Exact",
                Ok(Source::Store),
            ),
            ("resourceVersionMatch=Other", Ok(Source::Store)),
            ("limit=5&continue=abc", Ok(Source::Store)),
        ] {
            assert_eq!(
                source(query).map_err(|_| ()),
                expected.map_err(|_: ()| ()),
                "{query}"
            );
        }
        assert!(source("resourceVersion=x").is_err());
    }

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
