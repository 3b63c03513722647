//! Controller expectations, as upstream's `ControllerExpectations`: a controller that created or
//! deleted pods waits to see those changes in its cache before it counts pods again, so it never
//! overshoots. Expectations older than five minutes are considered met (a lost watch event must
//! not block a controller forever).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long unmet expectations hold.
const TTL: Duration = Duration::from_secs(300);

/// Pending creations and deletions per controller key.
#[derive(Default)]
pub struct Expectations {
    records: Mutex<HashMap<String, Record>>,
}

struct Record {
    creations: i64,
    deletions: HashSet<String>,
    set: Instant,
}

impl Expectations {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the controller `key` may count again.
    pub fn satisfied(&self, key: &str) -> bool {
        match self.records().get(key) {
            None => true,
            Some(record) => {
                (record.creations <= 0 && record.deletions.is_empty()) || record.set.elapsed() > TTL
            }
        }
    }

    /// Expects `count` pod creations.
    pub fn expect_creations(&self, key: &str, count: usize) {
        self.records().insert(
            key.to_owned(),
            Record {
                creations: i64::try_from(count).unwrap_or(i64::MAX),
                deletions: HashSet::new(),
                set: Instant::now(),
            },
        );
    }

    /// Expects the deletion of these pods (`namespace/name`).
    pub fn expect_deletions(&self, key: &str, pods: impl IntoIterator<Item = String>) {
        self.records().insert(
            key.to_owned(),
            Record {
                creations: 0,
                deletions: pods.into_iter().collect(),
                set: Instant::now(),
            },
        );
    }

    /// A creation was seen (or will never happen).
    pub fn creation_observed(&self, key: &str) {
        if let Some(record) = self.records().get_mut(key) {
            record.creations -= 1;
        }
    }

    /// The deletion of `pod` was seen (or will never happen).
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(record) = self.records().get_mut(key) {
            record.deletions.remove(pod);
        }
    }

    /// Forgets the controller `key`.
    pub fn forget(&self, key: &str) {
        self.records().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_hold_until_observed() {
        let expectations = Expectations::default();
        assert!(expectations.satisfied("ns/web"));
        expectations.expect_creations("ns/web", 2);
        assert!(!expectations.satisfied("ns/web"));
        expectations.creation_observed("ns/web");
        assert!(!expectations.satisfied("ns/web"));
        expectations.creation_observed("ns/web");
        assert!(expectations.satisfied("ns/web"));
        expectations.expect_deletions("ns/web", ["ns/web-a".to_owned()]);
        assert!(!expectations.satisfied("ns/web"));
        expectations.deletion_observed("ns/web", "ns/web-a");
        assert!(expectations.satisfied("ns/web"));
    }
}
