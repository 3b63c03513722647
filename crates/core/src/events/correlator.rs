//! Upstream's `EventCorrelator`: aggregation, then deduplication, then the spam filter, for each
//! event a recorder is about to write.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Event;
use serde_json::Value;

use super::{Aggregator, Clock, Deduplicator, SpamFilter, SystemClock};

/// What to write for an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Correlated {
    /// Nothing: the source wrote too many events about the object lately.
    Skip,
    /// Create this event.
    Create(Event),
    /// Merge-patch the existing event (named in `event`) with `patch`; create `event` instead when
    /// it no longer exists.
    Patch {
        /// The event as it will be once patched.
        event: Event,
        /// The merge patch.
        patch: Value,
    },
}

/// Filters, aggregates and counts events before they are written.
pub struct Correlator {
    aggregator: Aggregator,
    dedup: Deduplicator,
    spam: SpamFilter,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Correlator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correlator").finish_non_exhaustive()
    }
}

impl Default for Correlator {
    fn default() -> Self {
        Correlator::new(Arc::new(SystemClock))
    }
}

impl Correlator {
    /// A correlator with upstream's settings and `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Correlator {
            aggregator: Aggregator::default(),
            dedup: Deduplicator::default(),
            spam: SpamFilter::default(),
            clock,
        }
    }

    /// What to write for `event` (upstream's `EventCorrelate`). Skipped events still count: the
    /// next one written carries their number.
    pub fn correlate(&mut self, event: Event) -> Correlated {
        let now = self.clock.now();
        let (event, key) = self.aggregator.aggregate(event, now);
        let (event, patch) = self.dedup.observe(event, &key);
        if self.spam.skip(&event, now) {
            return Correlated::Skip;
        }
        match patch {
            Some(patch) if event.count.unwrap_or(0) > 1 => Correlated::Patch { event, patch },
            _ => Correlated::Create(event),
        }
    }

    /// Takes the server's answer to a write (upstream's `UpdateState`).
    pub fn update_state(&mut self, event: &Event) {
        self.dedup.update_state(event);
    }
}
