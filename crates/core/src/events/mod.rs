//! Event correlation as client-go's `EventCorrelator` does it (`tools/record/events_cache.go`),
//! without I/O, so every component that records core/v1 Events (controllers, scheduler, kubelet)
//! writes the same, bounded number of objects:
//!
//! - [`Aggregator`]: once 10 events from one source about one object with the same type and reason
//!   but different messages are seen within 10 minutes, the next ones become one event whose message
//!   is `(combined from similar events): <message>`.
//! - [`Deduplicator`] (upstream's `eventLogger`): an event seen before is not created again; the
//!   existing one is patched with the new `count`, `lastTimestamp` and `message`.
//! - [`SpamFilter`] (upstream's `EventSourceObjectSpamFilter`): a token bucket per source and
//!   object, 25 events at once and one more every 5 minutes; events beyond are skipped.
//!
//! [`Correlator`] chains them like upstream's `EventCorrelate`; the recorders in the components run
//! it on one task per object, write what it returns and feed the server's answer back with
//! [`Correlator::update_state`]. Time comes from a [`Clock`] so tests can move it.

mod aggregator;
mod clock;
mod correlator;
mod dedup;
mod keys;
mod lru;
mod make;
mod spam;

#[cfg(test)]
mod tests;

pub use aggregator::Aggregator;
pub use clock::{Clock, FakeClock, SystemClock};
pub use correlator::{Correlated, Correlator};
pub use dedup::Deduplicator;
pub use keys::{aggregate_keys, event_key, spam_key};
pub use make::{Source, event_name, new_event, truncate_message};
pub use spam::SpamFilter;

/// Entries each of the correlator's caches keeps (upstream's `maxLruCacheEntries`).
pub const LRU_CACHE_ENTRIES: usize = 4096;
/// Similar events (differing only in message) before they are aggregated (`defaultAggregateMaxEvents`).
pub const AGGREGATE_MAX_EVENTS: usize = 10;
/// The window in which similar events count towards aggregation (`defaultAggregateIntervalInSeconds`).
pub const AGGREGATE_INTERVAL_SECONDS: i64 = 600;
/// Events a source may write about one object at once (`defaultSpamBurst`).
pub const SPAM_BURST: u32 = 25;
/// Seconds until the spam filter lets one more event through (`defaultSpamQPS` is 1/300).
pub const SPAM_REFILL_SECONDS: f64 = 300.0;
/// The prefix of aggregated events' messages (`EventAggregatorByReasonMessageFunc`).
pub const AGGREGATED_PREFIX: &str = "(combined from similar events): ";
/// `Normal` events.
pub const NORMAL: &str = "Normal";
/// `Warning` events.
pub const WARNING: &str = "Warning";
