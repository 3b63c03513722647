//! A rate-limited work queue with client-go's semantics: a key is queued at most once, a key being
//! processed is never handed to a second worker (it is queued again when done if it was added
//! meanwhile), and failed keys come back after a per-key exponential backoff (5 ms doubling to
//! 1000 s) bounded by an overall token bucket (10 per second, bursts of 100).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// First retry delay of a failing key.
const BASE_DELAY: Duration = Duration::from_millis(5);
/// Longest retry delay of a failing key.
const MAX_DELAY: Duration = Duration::from_secs(1000);
/// Overall retries per second.
const BUCKET_RATE: f64 = 10.0;
/// Overall burst of retries.
const BUCKET_BURST: f64 = 100.0;

/// A de-duplicating queue of keys for a pool of workers.
pub struct WorkQueue<T> {
    state: Mutex<State<T>>,
    ready: Notify,
}

struct State<T> {
    queue: VecDeque<T>,
    dirty: HashSet<T>,
    processing: HashSet<T>,
    failures: HashMap<T, u32>,
    /// Items waiting for a delayed add, with when they are due (the earliest request wins).
    waiting: HashMap<T, Instant>,
    bucket: Bucket,
}

/// The token bucket that bounds all retries together.
struct Bucket {
    tokens: f64,
    updated: Instant,
    /// When the last handed-out token (possibly in the future) becomes available.
    reserved_until: Instant,
}

impl Bucket {
    /// Takes a token; returns how long the caller has to wait for it.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * BUCKET_RATE).min(BUCKET_BURST);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Duration::ZERO;
        }
        let next = self.reserved_until.max(now) + Duration::from_secs_f64(1.0 / BUCKET_RATE);
        self.reserved_until = next;
        next - now
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> WorkQueue<T> {
    /// An empty queue.
    pub fn new() -> Arc<Self> {
        let now = Instant::now();
        Arc::new(WorkQueue {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                failures: HashMap::new(),
                waiting: HashMap::new(),
                bucket: Bucket {
                    tokens: BUCKET_BURST,
                    updated: now,
                    reserved_until: now,
                },
            }),
            ready: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A poisoned lock only means a worker panicked; the state itself stays consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `item` unless it is already waiting.
    pub fn add(&self, item: T) {
        let mut state = self.lock();
        if !state.dirty.insert(item.clone()) {
            return;
        }
        if state.processing.contains(&item) {
            return;
        }
        state.queue.push_back(item);
        drop(state);
        self.ready.notify_one();
    }

    /// Queues `item` after `delay`. An item already waiting for an earlier time is left as it is
    /// (one timer per item, like client-go's delaying queue), so frequent re-scheduling, such as one
    /// per heartbeat, costs no extra tasks.
    pub fn add_after(self: &Arc<Self>, item: T, delay: Duration) {
        if delay.is_zero() {
            self.add(item);
            return;
        }
        let due = Instant::now() + delay;
        {
            let mut state = self.lock();
            match state.waiting.get(&item) {
                Some(existing) if *existing <= due => return,
                _ => {
                    state.waiting.insert(item.clone(), due);
                }
            }
        }
        let queue = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            let current = {
                let mut state = queue.lock();
                // A later request for an earlier time replaced this timer: it is stale.
                if state.waiting.get(&item) == Some(&due) {
                    state.waiting.remove(&item);
                    true
                } else {
                    false
                }
            };
            if current {
                queue.add(item);
            }
        });
    }

    /// Queues a failed `item` again after its backoff.
    pub fn add_rate_limited(self: &Arc<Self>, item: T) {
        let delay = {
            let mut state = self.lock();
            let failures = state.failures.entry(item.clone()).or_insert(0);
            let exponent = (*failures).min(30);
            *failures += 1;
            let backoff = BASE_DELAY.saturating_mul(1 << exponent).min(MAX_DELAY);
            backoff.max(state.bucket.take(Instant::now()))
        };
        self.add_after(item, delay);
    }

    /// Forgets the failures of `item` (it succeeded).
    pub fn forget(&self, item: &T) {
        self.lock().failures.remove(item);
    }

    /// How often `item` failed in a row.
    pub fn failures(&self, item: &T) -> u32 {
        self.lock().failures.get(item).copied().unwrap_or(0)
    }

    /// Waits for the next key; the caller must call [`WorkQueue::done`] with it.
    pub async fn get(&self) -> T {
        loop {
            {
                let mut state = self.lock();
                if let Some(item) = state.queue.pop_front() {
                    state.dirty.remove(&item);
                    state.processing.insert(item.clone());
                    if !state.queue.is_empty() {
                        self.ready.notify_one();
                    }
                    return item;
                }
            }
            self.ready.notified().await;
        }
    }

    /// Marks `item` processed; queues it again if it was added meanwhile.
    pub fn done(&self, item: &T) {
        let mut state = self.lock();
        state.processing.remove(item);
        if state.dirty.contains(item) {
            state.queue.push_back(item.clone());
            drop(state);
            self.ready.notify_one();
        }
    }

    /// Number of keys waiting.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs `workers` workers that take keys from `queue` and `sync` them forever: a key whose sync
/// fails is retried with backoff, one that succeeds is forgotten.
pub fn run_workers<T, F, Fut>(name: &'static str, queue: Arc<WorkQueue<T>>, workers: usize, sync: F)
where
    T: Clone + Eq + Hash + Send + Sync + std::fmt::Debug + 'static,
    F: Fn(T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = crate::error::Result<()>> + Send + 'static,
{
    for _ in 0..workers {
        let queue = Arc::clone(&queue);
        let sync = sync.clone();
        tokio::spawn(async move {
            loop {
                let key = queue.get().await;
                match sync(key.clone()).await {
                    Ok(()) => queue.forget(&key),
                    Err(error) => {
                        tracing::warn!(controller = name, ?key, %error, "sync failed; retrying");
                        queue.add_rate_limited(key.clone());
                    }
                }
                queue.done(&key);
            }
        });
    }
}

/// The queue key of a namespaced object: `namespace/name`.
pub fn key_of(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_deduplicated_and_never_processed_twice_at_once() {
        let queue = WorkQueue::new();
        queue.add("a");
        queue.add("b");
        queue.add("a");
        assert_eq!(queue.len(), 2);
        let first = queue.get().await;
        assert_eq!(first, "a");
        // Added while processing: waits until done.
        queue.add("a");
        assert_eq!(queue.get().await, "b");
        assert!(queue.is_empty());
        queue.done(&"a");
        assert_eq!(queue.get().await, "a");
        queue.done(&"a");
        queue.done(&"b");
        assert!(queue.is_empty());
    }

    #[test]
    fn the_bucket_allows_a_burst_then_spaces_tokens() {
        let now = Instant::now();
        let mut bucket = Bucket {
            tokens: BUCKET_BURST,
            updated: now,
            reserved_until: now,
        };
        for _ in 0..100 {
            assert_eq!(bucket.take(now), Duration::ZERO);
        }
        assert_eq!(bucket.take(now), Duration::from_millis(100));
        assert_eq!(bucket.take(now), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_adds_keep_the_earliest_time() {
        let queue = WorkQueue::new();
        queue.add_after("a", Duration::from_secs(10));
        queue.add_after("a", Duration::from_secs(30));
        queue.add_after("a", Duration::from_secs(5));
        assert_eq!(queue.lock().waiting.len(), 1);
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.get().await, "a");
        queue.done(&"a");
        tokio::time::sleep(Duration::from_secs(30)).await;
        // The stale timers did not add it again.
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn failures_count_until_forgotten() {
        let queue = WorkQueue::new();
        queue.add_rate_limited("a");
        queue.add_rate_limited("a");
        assert_eq!(queue.failures(&"a"), 2);
        queue.forget(&"a");
        assert_eq!(queue.failures(&"a"), 0);
    }
}
