//! Upstream's `eventLogger`: an event seen before is recorded by patching the first one with the
//! new count, last timestamp and message instead of creating another object.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value, json};

use super::keys::event_key;
use super::lru::Lru;

/// What is known about an event already written.
#[derive(Debug, Clone)]
struct Observation {
    /// How often it occurred.
    count: i32,
    /// When it first occurred.
    first: Option<Time>,
    /// The name of the object recording it.
    name: Option<String>,
    /// The object's resource version, as the server last returned it.
    resource_version: Option<String>,
}

/// Counts repeated events.
#[derive(Debug)]
pub struct Deduplicator {
    cache: Lru<Observation>,
}

impl Default for Deduplicator {
    fn default() -> Self {
        Deduplicator::new(super::LRU_CACHE_ENTRIES)
    }
}

impl Deduplicator {
    /// A deduplicator remembering `entries` events.
    pub fn new(entries: usize) -> Self {
        Deduplicator {
            cache: Lru::new(entries),
        }
    }

    /// Observes `event` under `key`: the first time it is returned as is; after that it takes the
    /// first occurrence's name, resource version and first timestamp and the next count, and comes
    /// with the merge patch that updates the existing object (`count`, `lastTimestamp` and
    /// `message`, what upstream's two-way patch against a zeroed copy contains).
    pub fn observe(&mut self, mut event: Event, key: &str) -> (Event, Option<Value>) {
        let mut patch = None;
        if let Some(last) = self.cache.get_mut(key).filter(|last| last.count > 0) {
            event.metadata.name = last.name.clone();
            event.metadata.resource_version = last.resource_version.clone();
            event.first_timestamp = last.first.clone();
            event.count = Some(last.count.saturating_add(1));
            let mut fields = Map::new();
            fields.insert("count".into(), json!(event.count));
            if let Some(last_timestamp) = &event.last_timestamp {
                fields.insert("lastTimestamp".into(), json!(last_timestamp));
            }
            if let Some(message) = event.message.as_ref().filter(|message| !message.is_empty()) {
                fields.insert("message".into(), json!(message));
            }
            patch = Some(Value::Object(fields));
        }
        self.remember(key.to_owned(), &event);
        (event, patch)
    }

    /// Takes what the server returned for a written event (its name, resource version and count).
    pub fn update_state(&mut self, event: &Event) {
        self.remember(event_key(event), event);
    }

    fn remember(&mut self, key: String, event: &Event) {
        self.cache.insert(
            key,
            Observation {
                count: event.count.unwrap_or(0),
                first: event.first_timestamp.clone(),
                name: event.metadata.name.clone(),
                resource_version: event.metadata.resource_version.clone(),
            },
        );
    }
}
