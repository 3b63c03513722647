//! A watcher of a cache: a position in the window that it reads forward, woken when events arrive. It
//! holds no copies: every watcher reads the same shared events.

use std::sync::Arc;

use kubers_store::Revision;
use tokio::sync::watch;

use super::Cache;
use super::state::Read;
use super::window::CachedEvent;

/// How many events one step hands out at most.
const STEP_EVENTS: usize = 256;

/// What a watcher's next step found.
#[derive(Debug)]
pub enum Step {
    /// Events under the watcher's prefix, in revision order; never empty.
    Events(Vec<Arc<CachedEvent>>),
    /// The cache can no longer serve this watcher (it fell out of the window, or the cache's history
    /// restarted): every change up to `after` was delivered, the rest is to be read from the store.
    Lost {
        /// The revision every change up to which was delivered.
        after: Revision,
    },
}

/// One watch served from a cache.
pub struct CacheWatcher {
    cache: Arc<Cache>,
    /// Only events under this key prefix are delivered.
    prefix: String,
    generation: u64,
    position: u64,
    /// Events at or before this revision are skipped (a watch from a revision the cache had not reached).
    skip_through: Revision,
    /// Every change up to this revision has been delivered.
    delivered: Revision,
    changed: watch::Receiver<u64>,
}

impl CacheWatcher {
    pub(super) fn new(
        cache: Arc<Cache>,
        prefix: &str,
        generation: u64,
        position: u64,
        after: Revision,
    ) -> CacheWatcher {
        let changed = cache.changed.subscribe();
        CacheWatcher {
            cache,
            prefix: prefix.to_owned(),
            generation,
            position,
            skip_through: after,
            delivered: after,
            changed,
        }
    }

    /// Waits for the next events under the prefix, or for the cache to give up on this watcher.
    pub async fn next(&mut self) -> Step {
        loop {
            // Mark the current notification seen before reading, so none that follows is missed.
            self.changed.borrow_and_update();
            let read = {
                let state = self.cache.read();
                state.read(self.generation, self.position, STEP_EVENTS)
            };
            match read {
                Read::Lost => {
                    return Step::Lost {
                        after: self.delivered,
                    };
                }
                Read::Events(events) if events.is_empty() => {
                    if self.changed.changed().await.is_err() {
                        return Step::Lost {
                            after: self.delivered,
                        };
                    }
                }
                Read::Events(events) => {
                    self.position += events.len() as u64;
                    if let Some(last) = events.last() {
                        // Events outside the prefix count as delivered: this watcher has none of them.
                        self.delivered = self.delivered.max(last.revision);
                    }
                    let selected: Vec<_> = events
                        .into_iter()
                        .filter(|event| {
                            event.revision > self.skip_through
                                && event.object.key.starts_with(&self.prefix)
                        })
                        .collect();
                    if !selected.is_empty() {
                        return Step::Events(selected);
                    }
                }
            }
        }
    }

    /// The revision of a bookmark now: the cache's revision when this watcher has been handed every
    /// event the cache holds, else `None`.
    pub fn progress(&mut self) -> Option<Revision> {
        let state = self.cache.read();
        if state.generation() != self.generation || state.end() != self.position {
            return None;
        }
        self.delivered = self.delivered.max(state.revision());
        Some(self.delivered)
    }
}

impl std::fmt::Debug for CacheWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheWatcher")
            .field("prefix", &self.prefix)
            .field("position", &self.position)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}
