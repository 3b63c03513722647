//! A reference model: writes go to the store and into an in-memory history, from which the cases derive
//! the exact list a revision must show and the exact events a watch must deliver.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use kubers_store::{Event, EventKind, KeyValue, Revision, Store};

/// Every write a case made, in revision order.
#[derive(Clone, Debug, Default)]
pub struct History {
    events: Vec<Event>,
}

impl History {
    /// The histories of writers that ran concurrently on disjoint keys, as one.
    pub fn merge(histories: impl IntoIterator<Item = History>) -> History {
        let mut events: Vec<Event> = histories.into_iter().flat_map(|h| h.events).collect();
        events.sort_by_key(Event::revision);
        for pair in events.windows(2) {
            assert!(
                pair[0].revision() < pair[1].revision(),
                "two writes got revision {}: {} and {}",
                pair[1].revision(),
                show_event(&pair[0]),
                show_event(&pair[1])
            );
        }
        History { events }
    }

    /// The keys under `prefix` as they were at `revision`, in key order.
    pub fn state_at(&self, prefix: &str, revision: Revision) -> Vec<KeyValue> {
        let mut state = BTreeMap::new();
        for event in self.events.iter().take_while(|e| e.revision() <= revision) {
            if !event.kv.key.starts_with(prefix) {
                continue;
            }
            match event.kind {
                EventKind::Delete => state.remove(&event.kv.key),
                EventKind::Create | EventKind::Update => {
                    state.insert(event.kv.key.clone(), event.kv.clone())
                }
            };
        }
        state.into_values().collect()
    }

    /// The events under `prefix` with a revision greater than `after`.
    pub fn events_after(&self, prefix: &str, after: Revision) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| e.revision() > after && e.kv.key.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// The revision of the last write, or 0 before any.
    pub fn last_revision(&self) -> Revision {
        self.events.last().map_or(0, Event::revision)
    }

    /// The revisions of all writes, in order.
    pub fn revisions(&self) -> Vec<Revision> {
        self.events.iter().map(Event::revision).collect()
    }
}

/// A writer that checks each write's answer and records it in a [`History`].
pub struct Model {
    store: Arc<dyn Store>,
    live: BTreeMap<String, KeyValue>,
    history: History,
}

impl Model {
    /// A model of a store whose keys this model alone writes.
    pub fn new(store: Arc<dyn Store>) -> Model {
        Model {
            store,
            live: BTreeMap::new(),
            history: History::default(),
        }
    }

    /// Creates `key`, which must not exist.
    pub async fn create(&mut self, key: &str, value: impl Into<Bytes>) -> Revision {
        let value = value.into();
        let revision = self
            .store
            .create(key, value.clone())
            .await
            .unwrap_or_else(|error| panic!("create {key:?}: {error}"));
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        };
        self.record(EventKind::Create, kv, None);
        revision
    }

    /// Updates `key`, expecting the revision of the model's last write to it.
    pub async fn update(&mut self, key: &str, value: impl Into<Bytes>) -> Revision {
        let value = value.into();
        let prev = self.current(key);
        let revision = self
            .store
            .update(key, value.clone(), prev.mod_revision)
            .await
            .unwrap_or_else(|error| panic!("update {key:?}: {error}"));
        assert!(
            revision > prev.mod_revision,
            "update of {key:?} returned revision {revision}, not after {}",
            prev.mod_revision
        );
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: prev.create_revision,
            mod_revision: revision,
        };
        self.record(EventKind::Update, kv, Some(prev));
        revision
    }

    /// Deletes `key` unconditionally and checks the value it removed.
    pub async fn delete(&mut self, key: &str) -> Revision {
        let prev = self.current(key);
        let deleted = self
            .store
            .delete(key, None)
            .await
            .unwrap_or_else(|error| panic!("delete {key:?}: {error}"));
        assert_eq!(
            deleted.prev, prev,
            "delete of {key:?} reported the wrong previous value"
        );
        let kv = KeyValue {
            key: key.to_owned(),
            value: Bytes::new(),
            create_revision: 0,
            mod_revision: deleted.revision,
        };
        self.record(EventKind::Delete, kv, Some(prev));
        deleted.revision
    }

    /// The value the model holds for `key`; panics when the model has no such key.
    pub fn current(&self, key: &str) -> KeyValue {
        self.live
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("the model has no key {key:?}"))
    }

    /// Everything written so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Ends the model, keeping its history.
    pub fn into_history(self) -> History {
        self.history
    }

    fn record(&mut self, kind: EventKind, kv: KeyValue, prev: Option<KeyValue>) {
        let last = self.history.last_revision();
        assert!(
            kv.mod_revision > last,
            "write to {:?} got revision {}, not after this writer's previous write at {last}",
            kv.key,
            kv.mod_revision
        );
        match kind {
            EventKind::Delete => self.live.remove(&kv.key),
            EventKind::Create | EventKind::Update => self.live.insert(kv.key.clone(), kv.clone()),
        };
        self.history.events.push(Event { kind, kv, prev });
    }
}

/// Asserts that `actual` events are exactly `expected` (a delete's `kv.create_revision` is not compared).
pub fn assert_events(actual: &[Event], expected: &[Event]) {
    let normalize = |e: &Event| {
        let mut e = e.clone();
        if e.kind == EventKind::Delete {
            e.kv.create_revision = 0;
        }
        e
    };
    let actual: Vec<Event> = actual.iter().map(normalize).collect();
    let expected: Vec<Event> = expected.iter().map(normalize).collect();
    if actual != expected {
        panic!(
            "wrong events\n  expected:{}\n  actual:{}",
            show_list(&expected, show_event),
            show_list(&actual, show_event)
        );
    }
}

/// Asserts that `actual` key-values are exactly `expected`.
pub fn assert_kvs(actual: &[KeyValue], expected: &[KeyValue]) {
    if actual != expected {
        panic!(
            "wrong key-values\n  expected:{}\n  actual:{}",
            show_list(expected, show_kv),
            show_list(actual, show_kv)
        );
    }
}

/// The keys of `kvs`.
pub fn keys(kvs: &[KeyValue]) -> Vec<&str> {
    kvs.iter().map(|kv| kv.key.as_str()).collect()
}

fn show_list<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    let mut out = format!(" {} items", items.len());
    for item in items {
        let _ = write!(out, "\n    {}", show(item));
    }
    out
}

/// A one-line description of an event that keeps large values readable.
pub fn show_event(event: &Event) -> String {
    let prev = event.prev.as_ref().map_or("none".to_owned(), show_kv);
    format!("{:?} {} prev={prev}", event.kind, show_kv(&event.kv))
}

/// A one-line description of a key-value that keeps large values readable.
pub fn show_kv(kv: &KeyValue) -> String {
    let value = if kv.value.len() <= 32 {
        format!("{:?}", kv.value)
    } else {
        format!("<{} bytes {:?}..>", kv.value.len(), kv.value.slice(..16))
    };
    format!(
        "{:?}={value} create={} mod={}",
        kv.key, kv.create_revision, kv.mod_revision
    )
}
