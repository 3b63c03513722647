//! The watch cache (upstream's cacher): per resource, the current objects and a window of recent events,
//! kept current by one store watch, serving lists and watches without touching the store.
//!
//! - `object`: objects as JSON normalised once and rendered for any served version, shared by `Arc`.
//! - `window`: the bounded ring of recent events, addressed by ever-growing sequence numbers.
//! - `state`: objects + window + revision + generation, the pure data the other parts share.
//! - `feeder`: the loop that lists the store, then follows its watch; it relists when the watch ends or
//!   falls behind compaction.
//! - `watcher`: a watch served from the window.
//!
//! A cache starts on the first list or watch of its resource ([`Caches::get`]) and stays for the life of
//! the server; until its first list is in place it is not [`Cache::ready`] and requests go to the store.

mod feeder;
mod object;
mod state;
mod watcher;
mod window;

pub use object::{CachedObject, type_head};
pub use state::Listed;
pub use watcher::{CacheWatcher, Step};
pub use window::CachedEvent;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use kubers_core::field_labels::FieldLabel;
use kubers_store::{Revision, Store};
use tokio::sync::{Notify, watch};

use self::state::State;

/// A failure to read a stored object into the cache.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stored value is not JSON.
    #[error("cannot decode {key}: {source}")]
    Decode {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The stored value is JSON but not an object.
    #[error("the value of {key} is not a JSON object")]
    NotAnObject {
        /// The key.
        key: String,
    },
}

/// How caches behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// How many recent events each cache keeps for watches that start in the past.
    pub window: usize,
    /// How often an idle cache asks the store for progress, so its revision (and its watchers'
    /// bookmarks) stays near the store's.
    pub progress_interval: Duration,
    /// Objects per page when a cache lists the store.
    pub list_page: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            window: 4096,
            progress_interval: Duration::from_secs(10),
            list_page: 1000,
        }
    }
}

/// The caches of every resource used so far, by collection prefix.
pub struct Caches {
    store: Arc<dyn Store>,
    config: CacheConfig,
    caches: Mutex<HashMap<String, Arc<Cache>>>,
}

impl Caches {
    /// No caches yet; each starts on first use.
    pub fn new(store: Arc<dyn Store>, config: CacheConfig) -> Caches {
        Caches {
            store,
            config,
            caches: Mutex::new(HashMap::new()),
        }
    }

    /// The cache of the collection under `prefix` (e.g. `/registry/configmaps/`), whose objects can be
    /// selected by the fields `selectable`, started now if it is the first use. Must be called within
    /// the Tokio runtime.
    pub fn get(&self, prefix: &str, selectable: &'static [FieldLabel]) -> Arc<Cache> {
        let mut caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cache) = caches.get(prefix) {
            return Arc::clone(cache);
        }
        let cache = Arc::new(Cache::new(prefix, self.config.window, selectable));
        caches.insert(prefix.to_owned(), Arc::clone(&cache));
        tokio::spawn(feeder::run(
            Arc::clone(&cache),
            Arc::clone(&self.store),
            self.config.clone(),
        ));
        cache
    }
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The cache of one collection.
#[derive(Debug)]
pub struct Cache {
    prefix: String,
    /// The fields the collection's objects can be selected by.
    selectable: &'static [FieldLabel],
    state: RwLock<State>,
    /// Bumped whenever events were appended or the history restarted: wakes watchers.
    changed: watch::Sender<u64>,
    /// The revision the cache has reached: wakes readers waiting for freshness.
    revision: watch::Sender<Revision>,
    /// Asks the feeder for a progress notification from the store.
    progress: Notify,
    /// When the oldest unanswered progress request was made.
    progress_requested: Mutex<Option<Instant>>,
    /// How long the last requested progress notification took, in microseconds.
    progress_micros: AtomicU64,
}

impl Cache {
    fn new(prefix: &str, window: usize, selectable: &'static [FieldLabel]) -> Cache {
        Cache {
            prefix: prefix.to_owned(),
            selectable,
            state: RwLock::new(State::new(window)),
            changed: watch::Sender::new(0),
            revision: watch::Sender::new(0),
            progress: Notify::new(),
            progress_requested: Mutex::new(None),
            progress_micros: AtomicU64::new(0),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `change` on the state, then wakes watchers and readers waiting for a revision.
    fn update(&self, change: impl FnOnce(&mut State)) {
        let revision = {
            let mut state = self.write();
            change(&mut state);
            state.revision()
        };
        self.changed.send_modify(|count| *count += 1);
        self.revision.send_replace(revision);
    }

    /// Notes a progress notification: wakes readers waiting for a revision, not watchers.
    fn progressed(&self, revision: Revision) {
        let requested = self
            .progress_requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(requested) = requested {
            let micros = u64::try_from(requested.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.progress_micros.store(micros, Ordering::Relaxed);
        }
        let revision = {
            let mut state = self.write();
            state.advance(revision);
            state.revision()
        };
        self.revision.send_replace(revision);
    }

    /// The collection prefix this cache holds.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the cache holds a listed state that the store's watch keeps current.
    pub fn ready(&self) -> bool {
        self.read().ready()
    }

    /// The revision every change up to which the cache holds.
    pub fn revision(&self) -> Revision {
        self.read().revision()
    }

    /// Waits until the cache holds every change up to `revision`, asking the store for progress, at
    /// most `timeout`; whether it got there.
    pub async fn wait_for(&self, revision: Revision, timeout: Duration) -> bool {
        let mut reached = self.revision.subscribe();
        if *reached.borrow_and_update() >= revision && self.ready() {
            return true;
        }
        self.request_progress();
        let waited =
            tokio::time::timeout(timeout, reached.wait_for(|seen| *seen >= revision)).await;
        matches!(waited, Ok(Ok(_))) && self.ready()
    }

    /// Asks the store for a progress notification, timing how long it takes to come.
    pub fn request_progress(&self) {
        self.progress_requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(Instant::now);
        self.progress.notify_one();
    }

    /// How long the last requested progress notification took to come (zero before the first).
    pub fn progress_latency(&self) -> Duration {
        Duration::from_micros(self.progress_micros.load(Ordering::Relaxed))
    }

    /// The objects under `prefix` that `select` accepts, at most `limit` (0: all); `None` when the cache
    /// is not ready.
    pub fn list(
        &self,
        prefix: &str,
        select: &dyn Fn(&CachedObject) -> bool,
        limit: usize,
    ) -> Option<Listed> {
        let (objects, revision) = {
            let state = self.read();
            if !state.ready() {
                return None;
            }
            (state.objects_under(prefix), state.revision())
        };
        Some(Listed::select(objects, revision, select, limit))
    }

    /// A watcher of the changes under `prefix` after `revision`; `None` when the cache is not ready or
    /// no longer holds every change after `revision`.
    pub fn watch_after(self: &Arc<Self>, prefix: &str, revision: Revision) -> Option<CacheWatcher> {
        let state = self.read();
        if !state.ready() {
            return None;
        }
        let position = state.position_after(revision)?;
        Some(CacheWatcher::new(
            Arc::clone(self),
            prefix,
            state.generation(),
            position,
            revision,
        ))
    }

    /// The selected objects under `prefix` now, and a watcher of every change after them; `None` when
    /// the cache is not ready.
    pub fn list_and_watch(
        self: &Arc<Self>,
        prefix: &str,
        select: &dyn Fn(&CachedObject) -> bool,
    ) -> Option<(Listed, CacheWatcher)> {
        let (objects, watcher, revision) = {
            let state = self.read();
            if !state.ready() {
                return None;
            }
            let watcher = CacheWatcher::new(
                Arc::clone(self),
                prefix,
                state.generation(),
                state.end(),
                state.revision(),
            );
            (state.objects_under(prefix), watcher, state.revision())
        };
        Some((Listed::select(objects, revision, select, 0), watcher))
    }
}

#[cfg(test)]
mod tests;
