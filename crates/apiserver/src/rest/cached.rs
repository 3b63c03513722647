//! Reads from the watch cache: where a list or watch is answered from by upstream's rules, waiting for
//! the cache to be fresh enough, and selectors applied to cached objects.

use std::sync::Arc;
use std::time::Duration;

use kubers_core::field_labels::field_labels;
use kubers_core::registry;
use kubers_store::Revision;

use super::filter::Filter;
use super::query::Query;
use super::{ResourceRequest, store_error};
use crate::App;
use crate::cache::{Cache, CachedObject};
use crate::errors::ApiError;

/// How long a read waits for the cache to reach the revision it needs (upstream's 3 s) before it goes
/// to the store.
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);
/// A consistent read waits for a cache that is behind only while the store answers progress requests
/// this fast (SQLite: microseconds; etcd before 3.4.24 and 3.5.8 holds them back 100 ms, and upstream
/// reads such etcds directly too).
const FAST_PROGRESS: Duration = Duration::from_millis(20);

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
    let cache = app.caches.get(
        &registry::storage_key(request.info, None, None),
        field_labels(request.info.group, request.info.resource),
    );
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

pub fn too_large(revision: Revision, current: Revision) -> ApiError {
    ApiError::status(
        504,
        "Timeout",
        format!("Too large resource version: {revision}, current: {current}"),
    )
}

/// The request's selectors as a test of cached objects.
pub fn selector(filter: &Filter) -> impl Fn(&CachedObject) -> bool + '_ {
    move |object: &CachedObject| matches(filter, object)
}

/// Whether `filter` selects `object`, from the labels and selectable fields the cache read once.
pub fn matches(filter: &Filter, object: &CachedObject) -> bool {
    filter.is_empty()
        || filter.matches_parts(
            |key| object.label(key),
            |path| object.field(path).map(str::to_owned),
        )
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
    fn cached_objects_are_selected_like_the_objects_they_hold() {
        use bytes::Bytes;
        use kubers_store::KeyValue;
        use serde_json::json;

        let pods = registry::find("", "v1", "pods").expect("pods are served");
        let selectable = field_labels(pods.group, pods.resource);
        let stored = [
            json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web"}},
                   "spec": {"nodeName": "n1", "hostNetwork": true}, "status": {"phase": "Running"}}),
            json!({"metadata": {"name": "b", "namespace": "other"}, "spec": {}}),
            json!({"metadata": {"name": "c", "namespace": "ns"}, "spec": {"restartPolicy": "Never",
                   "schedulerName": "custom"}, "status": {"phase": "Failed", "podIP": "10.0.0.5"}}),
        ];
        for fields in [
            "",
            "spec.nodeName=",
            "spec.nodeName=n1",
            "spec.nodeName!=,status.phase!=Failed",
            "status.phase!=Succeeded,status.phase!=Failed",
            "spec.hostNetwork=false",
            "spec.restartPolicy=Always",
            "spec.schedulerName=default-scheduler",
            "status.podIP=10.0.0.5",
            "metadata.namespace=ns,metadata.name=c",
        ] {
            for labels in ["", "app=web", "!app"] {
                let filter = Filter::new(
                    &Query {
                        label_selector: Some(labels.to_owned()),
                        field_selector: Some(fields.to_owned()),
                        ..Query::default()
                    },
                    pods,
                )
                .expect("valid selectors");
                for (index, object) in stored.iter().enumerate() {
                    let kv = KeyValue {
                        key: format!("/registry/pods/x/{index}"),
                        value: Bytes::from(object.to_string()),
                        create_revision: 1,
                        mod_revision: 1,
                    };
                    let cached = CachedObject::from_kv(&kv, selectable).expect("object");
                    assert_eq!(
                        matches(&filter, &cached),
                        filter.matches(object),
                        "{fields} / {labels} / {object}"
                    );
                }
            }
        }
    }
}
