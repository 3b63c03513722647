//! Upstream's `EventAggregator`: similar events (same source, object, type and reason, different
//! messages) past a threshold within an interval become one combined event.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::keys::{aggregate_keys, event_key};
use super::lru::Lru;
use super::make::event_name;
use super::{AGGREGATE_INTERVAL_SECONDS, AGGREGATE_MAX_EVENTS, AGGREGATED_PREFIX};

/// What the aggregator knows about one group of similar events.
#[derive(Debug)]
struct Record {
    /// The distinct messages seen in the group (never more than the threshold).
    messages: BTreeSet<String>,
    /// When the group last saw an event.
    last: Timestamp,
}

/// Groups similar events and combines them once a group is large enough.
#[derive(Debug)]
pub struct Aggregator {
    cache: Lru<Record>,
    max_events: usize,
    max_interval: SignedDuration,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::new(
            super::LRU_CACHE_ENTRIES,
            AGGREGATE_MAX_EVENTS,
            SignedDuration::from_secs(AGGREGATE_INTERVAL_SECONDS),
        )
    }
}

impl Aggregator {
    /// An aggregator remembering `entries` groups, combining after `max_events` distinct messages
    /// seen no more than `max_interval` apart.
    pub fn new(entries: usize, max_events: usize, max_interval: SignedDuration) -> Self {
        Aggregator {
            cache: Lru::new(entries),
            max_events,
            max_interval,
        }
    }

    /// The event to record for `event` at `now` and its key for deduplication: the event itself
    /// with its exact key while the group is small, else a new combined event keyed by the group.
    pub fn aggregate(&mut self, event: Event, now: Timestamp) -> (Event, String) {
        let key = event_key(&event);
        let (group, message) = aggregate_keys(&event);
        let stale = self
            .cache
            .get_mut(&group)
            .is_none_or(|record| now.duration_since(record.last) > self.max_interval);
        if stale {
            let fresh = Record {
                messages: BTreeSet::new(),
                last: now,
            };
            self.cache.insert(group.clone(), fresh);
        }
        let Some(record) = self.cache.get_mut(&group) else {
            return (event, key);
        };
        record.messages.insert(message);
        record.last = now;
        if record.messages.len() < self.max_events {
            return (event, key);
        }
        // Upstream pops any one message so the set never grows past the threshold.
        record.messages.pop_first();
        let combined = Event {
            metadata: ObjectMeta {
                name: Some(event_name(
                    event.involved_object.name.as_deref().unwrap_or_default(),
                    now,
                )),
                namespace: event.metadata.namespace.clone(),
                ..ObjectMeta::default()
            },
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            message: Some(format!(
                "{AGGREGATED_PREFIX}{}",
                event.message.as_deref().unwrap_or_default()
            )),
            type_: event.type_.clone(),
            reason: event.reason.clone(),
            source: event.source.clone(),
            involved_object: event.involved_object,
            ..Event::default()
        };
        (combined, group)
    }
}
