//! WATCH: a chunked stream of `{"type": ..., "object": ...}` lines, one per change, like upstream.
//!
//! Without a resourceVersion (or with "0") the stream starts with the current objects as ADDED events;
//! `sendInitialEvents=true` does the same and then sends the `k8s.io/initial-events-end` bookmark that
//! kubectl 1.35 waits for. Bookmarks follow the store's progress notifications when
//! `allowWatchBookmarks=true`. A resourceVersion older than the kept history gives an ERROR event with
//! a 410 Status.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kubers_store::{Event, EventKind, Revision, WatchItem, WatchOptions};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::filter::Filter;
use super::list::{api_version, read_page};
use super::{ResourceRequest, object, tables};
use crate::App;
use crate::errors::ApiError;

/// How often an idle watch with bookmarks asks the store for progress.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// Upstream's default watch timeout range tops out at 30 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Starts a watch and returns the streaming response.
pub async fn watch(app: &App, request: &ResourceRequest) -> Result<Response, ApiError> {
    let filter = Filter::new(&request.query)?;
    let requested = match request.query.resource_version.as_deref() {
        None | Some("0") => None,
        Some(text) => Some(
            text.parse::<Revision>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {text:?}")))?,
        ),
    };
    let initial = requested.is_none() || request.query.send_initial_events;
    let mut lines: Vec<Bytes> = Vec::new();
    let mut start = requested.unwrap_or(0);
    let shape = Shape::of(request);
    if initial {
        let unpaged = request.unpaged();
        let (items, revision, _) = read_page(app, &unpaged).await?;
        for item in items.into_iter().filter(|item| filter.matches(item)) {
            lines.push(shape.line("ADDED", item));
        }
        start = revision;
        if request.query.send_initial_events {
            lines.push(shape.bookmark(revision, true));
        }
    }
    let options = WatchOptions {
        progress_interval: request
            .query
            .allow_watch_bookmarks
            .then_some(BOOKMARK_INTERVAL),
    };
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    match app.store.watch(&request.key(), start, options).await {
        Ok(mut stream) => {
            let timeout = request
                .query
                .timeout_seconds
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
            let bookmarks = request.query.allow_watch_bookmarks;
            tokio::spawn(async move {
                for line in lines {
                    if sender.send(Ok(line)).await.is_err() {
                        return;
                    }
                }
                let deadline = tokio::time::sleep(timeout);
                tokio::pin!(deadline);
                loop {
                    let item = tokio::select! {
                        () = &mut deadline => return,
                        () = sender.closed() => return,
                        item = stream.next() => item,
                    };
                    let out = match item {
                        None => return,
                        Some(Ok(WatchItem::Events(events))) => events
                            .into_iter()
                            .filter_map(|event| shape.event(event, &filter))
                            .collect(),
                        Some(Ok(WatchItem::Progress(revision))) if bookmarks => {
                            vec![shape.bookmark(revision, false)]
                        }
                        Some(Ok(WatchItem::Progress(_))) => Vec::new(),
                        Some(Err(error)) => vec![error_line(&error)],
                    };
                    for line in out {
                        if sender.send(Ok(line)).await.is_err() {
                            return;
                        }
                    }
                }
            });
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
        let filter = Filter::new(&Query {
            label_selector: Some("app=web".into()),
            ..Query::default()
        })
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
        let everything = Filter::new(&Query::default()).expect("valid");
        assert!(everything.is_empty());
        assert!(
            shape
                .event(update(json!({}), json!({})), &everything)
                .is_some()
        );
    }
}
