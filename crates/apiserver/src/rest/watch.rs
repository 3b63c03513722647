//! WATCH: a chunked stream of `{"type": ..., "object": ...}` lines, one per change, like upstream.
//!
//! Without a resourceVersion (or with "0") the stream starts with the current objects as ADDED events;
//! `sendInitialEvents=true` does the same and then sends the `k8s.io/initial-events-end` bookmark that
//! kubectl 1.35 waits for. Watches are served from the watch cache when it is ready and holds every
//! change after the requested revision; otherwise, and when a cached watcher falls out of the cache's
//! window, from the store's own watch, resuming where the cache left off. Bookmarks come once a minute
//! when `allowWatchBookmarks=true`. A resourceVersion older than the kept history gives an ERROR event
//! with a 410 Status.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kubers_store::{Event, EventKind, Revision, Store, WatchItem, WatchOptions};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_stream::wrappers::ReceiverStream;

use super::cached::{Freshness, fresh_cache, matches, parse_revision, selector};
use super::filter::Filter;
use super::list::{api_version, read_page};
use super::{ResourceRequest, object, tables};
use crate::App;
use crate::cache::{CacheWatcher, CachedEvent, CachedObject, Step};
use crate::errors::ApiError;

/// How often a watch with bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// Upstream's default watch timeout range tops out at 30 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Where a watch's changes come from.
enum Feed {
    /// The watch cache's window: shared events, no store reads.
    Cache(CacheWatcher),
    /// The store's own watch (the cache was not ready, the revision is older than its window, or the
    /// cached watcher fell behind).
    Store(kubers_store::Watch),
}

/// Starts a watch and returns the streaming response.
pub async fn watch(app: &App, request: &ResourceRequest) -> Result<Response, ApiError> {
    let filter = Filter::new(&request.query, request.info)?;
    let requested = match request.query.resource_version.as_deref() {
        None | Some("0") => None,
        Some(text) => Some(parse_revision(text)?),
    };
    let initial = requested.is_none() || request.query.send_initial_events;
    let shape = Shape::of(request);
    let options = WatchOptions {
        progress_interval: request
            .query
            .allow_watch_bookmarks
            .then_some(BOOKMARK_INTERVAL),
    };
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let mut lines: Vec<Bytes> = Vec::new();
    let feed = match from_cache(app, request, &filter, requested, &shape, &mut lines).await? {
        Some(watcher) => Ok(Feed::Cache(watcher)),
        None => {
            let mut start = requested.unwrap_or(0);
            if initial {
                let (items, revision, _) = read_page(app, &request.unpaged()).await?;
                for item in items.into_iter().filter(|item| filter.matches(item)) {
                    lines.push(shape.line("ADDED", item));
                }
                start = revision;
                if request.query.send_initial_events {
                    lines.push(shape.bookmark(revision, true));
                }
            }
            app.store
                .watch(&request.key(), start, options.clone())
                .await
                .map(Feed::Store)
        }
    };
    match feed {
        Ok(feed) => {
            let stream = Stream {
                feed,
                store: Arc::clone(&app.store),
                prefix: request.key(),
                options,
                shape,
                filter,
                sender,
                bookmarks: request.query.allow_watch_bookmarks,
            };
            let timeout = request
                .query
                .timeout_seconds
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
            tokio::spawn(stream.run(lines, timeout));
        }
        Err(error) => {
            // Upstream answers 200 and reports a too-old resourceVersion as an ERROR event.
            let _ = sender.try_send(Ok(error_line(&error)));
        }
    }
    let body = Body::from_stream(ReceiverStream::new(receiver));
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        body,
    )
        .into_response())
}

/// A cached watcher for the request, with its initial lines added to `lines`; `None` when the store
/// should serve the watch.
///
/// Initial events need the cache at least as fresh as the request asks (no resourceVersion: the store's
/// current revision; "0": any; N: N). A watch from revision N needs a window that still holds every
/// change after N.
async fn from_cache(
    app: &App,
    request: &ResourceRequest,
    filter: &Filter,
    requested: Option<Revision>,
    shape: &Shape,
    lines: &mut Vec<Bytes>,
) -> Result<Option<CacheWatcher>, ApiError> {
    let send_initial = request.query.send_initial_events;
    if let (Some(revision), false) = (requested, send_initial) {
        let Some(cache) = fresh_cache(app, request, Freshness::Any).await? else {
            return Ok(None);
        };
        return Ok(cache.watch_after(&request.key(), revision));
    }
    let freshness = match (requested, request.query.resource_version.as_deref()) {
        (Some(revision), _) => Freshness::NotOlderThan(revision),
        (None, Some("0")) => Freshness::Any,
        (None, _) => Freshness::Consistent,
    };
    let Some(cache) = fresh_cache(app, request, freshness).await? else {
        return Ok(None);
    };
    let select = selector(filter);
    let Some((listed, watcher)) = cache.list_and_watch(&request.key(), &select) else {
        return Ok(None);
    };
    for item in &listed.items {
        lines.push(shape.cached_line("ADDED", item, item.revision));
    }
    if send_initial {
        lines.push(shape.bookmark(listed.revision, true));
    }
    Ok(Some(watcher))
}

/// One running watch: its feed and where its lines go.
struct Stream {
    feed: Feed,
    store: Arc<dyn Store>,
    prefix: String,
    options: WatchOptions,
    shape: Shape,
    filter: Filter,
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    bookmarks: bool,
}

impl Stream {
    /// Sends `initial`, then every change until `timeout`, the client leaving, or the feed ending.
    async fn run(mut self, initial: Vec<Bytes>, timeout: Duration) {
        if !self.send(initial).await {
            return;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticks = self.bookmarks.then(|| {
            let mut ticks =
                tokio::time::interval_at(Instant::now() + BOOKMARK_INTERVAL, BOOKMARK_INTERVAL);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        loop {
            let next = tokio::select! {
                () = &mut deadline => return,
                () = self.sender.closed() => return,
                next = next(&mut self.feed, &mut ticks) => next,
            };
            let out = match next {
                Next::Cached(Step::Events(events)) => events
                    .iter()
                    .filter_map(|event| self.shape.cached_event(event, &self.filter))
                    .collect(),
                Next::Cached(Step::Lost { after }) => {
                    match self
                        .store
                        .watch(&self.prefix, after, self.options.clone())
                        .await
                    {
                        Ok(watch) => {
                            self.feed = Feed::Store(watch);
                            Vec::new()
                        }
                        Err(error) => {
                            let _ = self.sender.send(Ok(error_line(&error))).await;
                            return;
                        }
                    }
                }
                Next::Stored(None) => return,
                Next::Stored(Some(Ok(WatchItem::Events(events)))) => events
                    .into_iter()
                    .filter_map(|event| self.shape.event(event, &self.filter))
                    .collect(),
                Next::Stored(Some(Ok(WatchItem::Progress(revision)))) if self.bookmarks => {
                    vec![self.shape.bookmark(revision, false)]
                }
                Next::Stored(Some(Ok(WatchItem::Progress(_)))) => Vec::new(),
                Next::Stored(Some(Err(error))) => {
                    let _ = self.sender.send(Ok(error_line(&error))).await;
                    return;
                }
                Next::Bookmark => match &mut self.feed {
                    Feed::Cache(watcher) => watcher
                        .progress()
                        .map(|revision| self.shape.bookmark(revision, false))
                        .into_iter()
                        .collect(),
                    Feed::Store(_) => Vec::new(),
                },
            };
            if !self.send(out).await {
                return;
            }
        }
    }

    /// Sends lines; false when the client is gone.
    async fn send(&self, lines: Vec<Bytes>) -> bool {
        for line in lines {
            if self.sender.send(Ok(line)).await.is_err() {
                return false;
            }
        }
        true
    }
}

/// What a feed produced next.
enum Next {
    /// A step of the cached watcher.
    Cached(Step),
    /// An item of the store's watch (`None`: it ended).
    Stored(Option<kubers_store::Result<WatchItem>>),
    /// A cached watch's bookmark is due (store watches get theirs as progress notifications).
    Bookmark,
}

/// Waits for the feed's next item or, for a cached watch with bookmarks, the next bookmark time.
async fn next(feed: &mut Feed, ticks: &mut Option<Interval>) -> Next {
    match feed {
        Feed::Cache(watcher) => tokio::select! {
            step = watcher.next() => Next::Cached(step),
            () = tick(ticks) => Next::Bookmark,
        },
        Feed::Store(watch) => Next::Stored(watch.next().await),
    }
}

/// The next tick, or never without bookmarks.
async fn tick(ticks: &mut Option<Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// How this watch renders objects: plain, or as one-row Tables for `kubectl get -w`.
#[derive(Clone)]
struct Shape {
    info: &'static kubers_core::registry::ResourceInfo,
    api_version: String,
    table: bool,
}

impl Shape {
    fn of(request: &ResourceRequest) -> Shape {
        Shape {
            info: request.info,
            api_version: api_version(request),
            table: request.wants_table(),
        }
    }

    fn line(&self, kind: &str, mut object: Value) -> Bytes {
        if let Some(fields) = object.as_object_mut() {
            fields.insert("apiVersion".into(), Value::String(self.api_version.clone()));
            fields.insert("kind".into(), Value::String(self.info.kind.to_owned()));
        }
        let object = if self.table {
            let revision = object::metadata_str(&object, "resourceVersion")
                .unwrap_or("")
                .to_owned();
            tables::table(self.info, &[object], &revision)
        } else {
            object
        };
        let mut line = json!({"type": kind, "object": object}).to_string();
        line.push('\n');
        Bytes::from(line)
    }

    /// A line for a cached object at `revision` (its own, or a delete's).
    fn cached_line(&self, kind: &str, object: &CachedObject, revision: Revision) -> Bytes {
        if self.table {
            return self.line(
                kind,
                object.to_value(&self.api_version, self.info.kind, revision),
            );
        }
        let mut line = Vec::with_capacity(object.len() + 128);
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(kind.as_bytes());
        line.extend_from_slice(b"\",\"object\":");
        object.render(&mut line, &self.api_version, self.info.kind, revision);
        line.extend_from_slice(b"}\n");
        Bytes::from(line)
    }

    /// The line a cached event gives this watcher, if any: like [`Shape::event`].
    fn cached_event(&self, event: &CachedEvent, filter: &Filter) -> Option<Bytes> {
        let kind = match event.kind {
            EventKind::Create => "ADDED",
            EventKind::Update => "MODIFIED",
            EventKind::Delete => "DELETED",
        };
        let revision = event.revision;
        if filter.is_empty() {
            return Some(self.cached_line(kind, &event.object, revision));
        }
        let selected = matches(filter, &event.object);
        let selected_before = match (event.kind, &event.prev) {
            (EventKind::Update, Some(prev)) => Some(matches(filter, prev)),
            _ => None,
        };
        let kind = match (selected, selected_before) {
            (false, Some(true)) => "DELETED",
            (false, _) => return None,
            (true, Some(false)) => "ADDED",
            (true, _) => kind,
        };
        Some(self.cached_line(kind, &event.object, revision))
    }

    fn event(&self, event: Event, filter: &Filter) -> Option<Bytes> {
        let (kind, kv, revision) = match event.kind {
            EventKind::Create => ("ADDED", &event.kv, event.kv.mod_revision),
            EventKind::Update => ("MODIFIED", &event.kv, event.kv.mod_revision),
            EventKind::Delete => ("DELETED", event.prev.as_ref()?, event.kv.mod_revision),
        };
        let mut object = object::from_stored(kv).ok()?;
        object::set_resource_version(&mut object, revision);
        if filter.is_empty() {
            return Some(self.line(kind, object));
        }
        let matches = filter.matches(&object);
        // An update that moves an object out of the selection is a deletion for this watcher, and one
        // that moves it in an addition: only then is the previous value read.
        let matched_before = match (event.kind, &event.prev) {
            (EventKind::Update, Some(prev)) => object::from_stored(prev)
                .ok()
                .map(|was| filter.matches(&was)),
            _ => None,
        };
        let kind = match (matches, matched_before) {
            (false, Some(true)) => "DELETED",
            (false, _) => return None,
            (true, Some(false)) => "ADDED",
            (true, _) => kind,
        };
        Some(self.line(kind, object))
    }

    fn bookmark(&self, revision: Revision, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object =
            json!({"kind": self.info.kind, "apiVersion": self.api_version, "metadata": metadata});
        let mut line = json!({"type": "BOOKMARK", "object": object}).to_string();
        line.push('\n');
        Bytes::from(line)
    }
}

fn error_line(error: &kubers_store::Error) -> Bytes {
    let status = match error {
        kubers_store::Error::Compacted { requested } => ApiError::status(
            410,
            "Expired",
            format!("too old resource version: {requested}"),
        ),
        other => ApiError::internal(other),
    };
    let mut line = json!({"type": "ERROR", "object": status.0.body}).to_string();
    line.push('\n');
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kubers_store::{Event, EventKind, KeyValue};
    use serde_json::{Value, json};

    use super::super::query::Query;
    use super::{Filter, Shape};

    fn kv(labels: Value, revision: i64) -> KeyValue {
        KeyValue {
            key: "/registry/configmaps/default/c".into(),
            value: Bytes::from(json!({"metadata": {"name": "c", "labels": labels}}).to_string()),
            create_revision: 2,
            mod_revision: revision,
        }
    }

    #[test]
    fn selected_watches_see_objects_move_in_and_out() {
        let shape = Shape {
            info: kubers_core::registry::find("", "v1", "configmaps").expect("configmaps"),
            api_version: "v1".into(),
            table: false,
        };
        let filter = Filter::new(
            &Query {
                label_selector: Some("app=web".into()),
                ..Query::default()
            },
            shape.info,
        )
        .expect("valid");
        let update = |before: Value, after: Value| Event {
            kind: EventKind::Update,
            kv: kv(after, 4),
            prev: Some(kv(before, 3)),
        };
        let kind = |event: Event| {
            shape.event(event, &filter).map(|line| {
                serde_json::from_slice::<Value>(&line).expect("json")["type"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
        };
        assert_eq!(
            kind(update(json!({"app": "web"}), json!({"app": "db"}))).as_deref(),
            Some("DELETED")
        );
        assert_eq!(
            kind(update(json!({"app": "db"}), json!({"app": "web"}))).as_deref(),
            Some("ADDED")
        );
        assert_eq!(
            kind(update(
                json!({"app": "web"}),
                json!({"app": "web", "x": "y"})
            ))
            .as_deref(),
            Some("MODIFIED")
        );
        assert_eq!(
            kind(update(json!({"app": "db"}), json!({"app": "api"}))),
            None
        );
        let everything = Filter::new(&Query::default(), shape.info).expect("valid");
        assert!(everything.is_empty());
        assert!(
            shape
                .event(update(json!({}), json!({})), &everything)
                .is_some()
        );
    }

    #[test]
    fn cached_events_render_like_stored_ones_and_honour_selectors() {
        use std::sync::Arc;

        use crate::cache::{CachedEvent, CachedObject};

        let shape = Shape {
            info: kubers_core::registry::find("", "v1", "configmaps").expect("configmaps"),
            api_version: "v1".into(),
            table: false,
        };
        // Read with pods' selectable fields (a superset of a ConfigMap's), so pod selectors apply too.
        let selectable = kubers_core::field_labels::field_labels("", "pods");
        let object = |labels: Value, revision| {
            Arc::new(CachedObject::from_kv(&kv(labels, revision), selectable).expect("object"))
        };
        let line = |event: &CachedEvent, filter: &Filter| {
            shape.cached_event(event, filter).map(|line| {
                let value: Value = serde_json::from_slice(&line).expect("json");
                (
                    value["type"].as_str().unwrap_or("").to_owned(),
                    value["object"]["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    value["object"]["kind"].as_str().unwrap_or("").to_owned(),
                )
            })
        };
        let web = Filter::new(
            &Query {
                label_selector: Some("app=web".into()),
                ..Query::default()
            },
            shape.info,
        )
        .expect("valid");
        let everything = Filter::new(&Query::default(), shape.info).expect("valid");
        let update = |before: Value, after: Value| CachedEvent {
            kind: EventKind::Update,
            revision: 4,
            object: object(after, 4),
            prev: Some(object(before, 3)),
        };
        let expect = |kind: &str, revision: &str| {
            Some((kind.to_owned(), revision.to_owned(), "ConfigMap".to_owned()))
        };
        assert_eq!(
            line(&update(json!({"app": "web"}), json!({"app": "db"})), &web),
            expect("DELETED", "4")
        );
        assert_eq!(
            line(&update(json!({"app": "db"}), json!({"app": "web"})), &web),
            expect("ADDED", "4")
        );
        assert_eq!(
            line(&update(json!({"app": "web"}), json!({"app": "web"})), &web),
            expect("MODIFIED", "4")
        );
        assert_eq!(line(&update(json!({"app": "db"}), json!({})), &web), None);
        // A delete shows the object as it was, at the delete's revision.
        let delete = CachedEvent {
            kind: EventKind::Delete,
            revision: 9,
            object: object(json!({"app": "web"}), 5),
            prev: None,
        };
        assert_eq!(line(&delete, &web), expect("DELETED", "9"));
        assert_eq!(line(&delete, &everything), expect("DELETED", "9"));
        let by_field_of = |selector: &str, info| {
            Filter::new(
                &Query {
                    field_selector: Some(selector.into()),
                    ..Query::default()
                },
                info,
            )
        };
        let by_field = |selector: &str| by_field_of(selector, shape.info).expect("valid");
        assert!(line(&delete, &by_field("metadata.name=c")).is_some());
        assert!(line(&delete, &by_field("metadata.name=d")).is_none());
        // Fields outside the metadata are read from the object itself (an unset one is empty), and
        // only the resource's selectable fields are accepted.
        let pods = kubers_core::registry::find("", "v1", "pods").expect("pods");
        let by_pod_field = |selector: &str| by_field_of(selector, pods).expect("valid");
        assert!(line(&delete, &by_pod_field("status.phase=")).is_some());
        assert!(line(&delete, &by_pod_field("status.phase=Running")).is_none());
        assert!(by_field_of("metadata.labels.app=web", shape.info).is_err());
    }
}
