//! Upstream's `EventSourceObjectSpamFilter`: a token bucket per source and object (like
//! `golang.org/x/time/rate`'s, which starts full and refills continuously); events without a token
//! are skipped.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;

use super::keys::spam_key;
use super::lru::Lru;
use super::{SPAM_BURST, SPAM_REFILL_SECONDS};

/// One source and object's tokens.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Timestamp,
}

/// Limits how many events a source writes about one object.
#[derive(Debug)]
pub struct SpamFilter {
    cache: Lru<Bucket>,
    burst: f64,
    per_second: f64,
}

impl Default for SpamFilter {
    fn default() -> Self {
        SpamFilter::new(
            super::LRU_CACHE_ENTRIES,
            SPAM_BURST,
            1.0 / SPAM_REFILL_SECONDS,
        )
    }
}

impl SpamFilter {
    /// A filter remembering `entries` objects, allowing `burst` events at once and `per_second`
    /// more each second.
    pub fn new(entries: usize, burst: u32, per_second: f64) -> Self {
        SpamFilter {
            cache: Lru::new(entries),
            burst: f64::from(burst),
            per_second,
        }
    }

    /// Whether `event` at `now` is to be skipped (takes a token when it is not).
    pub fn skip(&mut self, event: &Event, now: Timestamp) -> bool {
        let key = spam_key(event);
        let burst = self.burst;
        let bucket = match self.cache.get_mut(&key) {
            Some(bucket) => *bucket,
            None => Bucket {
                tokens: burst,
                last: now,
            },
        };
        let elapsed = now.duration_since(bucket.last).as_secs_f64().max(0.0);
        let tokens = (bucket.tokens + elapsed * self.per_second).min(burst);
        let allowed = tokens >= 1.0;
        let bucket = if allowed {
            Bucket {
                tokens: tokens - 1.0,
                last: now.max(bucket.last),
            }
        } else {
            bucket
        };
        self.cache.insert(key, bucket);
        !allowed
    }
}
