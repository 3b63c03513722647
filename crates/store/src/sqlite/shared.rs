//! State shared by the writer, the readers and the watches of one SQLite store.

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::{Event, Revision, StoreMetrics};

/// The events of one committed transaction, as the writer publishes them to watches.
#[derive(Debug)]
pub struct Batch {
    /// Every change of the transaction, in revision order (never empty).
    pub events: Vec<Event>,
    /// The revision of the last change.
    pub through: Revision,
}

/// What the writer tells everyone else.
#[derive(Debug)]
pub struct Shared {
    /// The revision of the last durable write; advanced only after its events were published.
    pub committed: AtomicI64,
    /// The revision of the last compaction.
    pub compacted: AtomicI64,
    /// Publication of committed events; `None` once the store is closing.
    pub events: Mutex<Option<broadcast::Sender<Arc<Batch>>>>,
    /// The store's metrics.
    pub metrics: StoreMetrics,
}

impl Shared {
    /// A receiver of every batch published from now on, or `None` when the store is closing.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Arc<Batch>>> {
        self.events
            .lock()
            .ok()?
            .as_ref()
            .map(broadcast::Sender::subscribe)
    }
}
