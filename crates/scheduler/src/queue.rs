//! The scheduling queue, as upstream's `PriorityQueue`: an active heap ordered by priority (from the
//! PriorityClass) then creation time; a backoff heap for pods that failed recently (1 s doubling to
//! 10 s per attempt); and a set of unschedulable pods that wait for a cluster event that may help
//! them (a node added or changed, a pod deleted, ...) or for five minutes. Pods with scheduling
//! gates wait until their own update removes the gates. Time is passed in, so it is unit-tested
//! without sleeping.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::pod::PodInfo;

/// The first backoff (upstream's `podInitialBackoffDuration`).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest backoff (upstream's `podMaxBackoffDuration`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long an unschedulable pod waits without a helpful event before it is retried anyway
/// (upstream's `podMaxInUnschedulablePodsDuration`).
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    /// Popped and being scheduled or bound.
    InFlight,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<PodInfo>,
    place: Place,
    /// Scheduling attempts so far.
    attempts: u32,
    /// When the last attempt failed.
    failed_at: Option<Instant>,
    /// The events that may help, for an unschedulable pod.
    wakes_on: u32,
    /// Bumped on every push, so stale heap entries are recognised.
    generation: u64,
}

impl Entry {
    fn backoff_until(&self) -> Option<Instant> {
        let failed_at = self.failed_at?;
        let mut backoff = INITIAL_BACKOFF;
        for _ in 1..self.attempts {
            backoff *= 2;
            if backoff > MAX_BACKOFF {
                backoff = MAX_BACKOFF;
                break;
            }
        }
        Some(failed_at + backoff)
    }
}

/// A heap entry of the active queue: higher priority first, then older pods, then arrival order.
#[derive(Debug, PartialEq, Eq)]
struct Ranked {
    priority: i32,
    created_ms: i64,
    generation: u64,
    uid: String,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then(other.created_ms.cmp(&self.created_ms))
            .then(other.generation.cmp(&self.generation))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The queue of pods waiting for a node.
#[derive(Debug, Default)]
pub struct Queue {
    pods: HashMap<String, Entry>,
    active: BinaryHeap<Ranked>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    unschedulable_since: HashMap<String, Instant>,
    generation: u64,
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Queue {
        Queue::default()
    }

    /// How many pods are queued (in flight included).
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether no pod is queued.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Whether a pod is queued (in flight included).
    pub fn contains(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// Whether a pod is being scheduled or bound.
    pub fn in_flight(&self, uid: &str) -> bool {
        self.pods
            .get(uid)
            .is_some_and(|entry| entry.place == Place::InFlight)
    }

    /// Adds a pending pod, or records an update to one. An update that changes what scheduling
    /// reads retries an unschedulable pod; one that removes the last scheduling gate releases it.
    pub fn add(&mut self, pod: Arc<PodInfo>, now: Instant) {
        let uid = pod.uid.clone();
        match self.pods.get_mut(&uid) {
            None => {
                let place = if pod.spec.gated {
                    Place::Gated
                } else {
                    Place::Active
                };
                self.pods.insert(
                    uid.clone(),
                    Entry {
                        pod,
                        place,
                        attempts: 0,
                        failed_at: None,
                        wakes_on: 0,
                        generation: 0,
                    },
                );
                if place == Place::Active {
                    self.push_active(&uid);
                }
            }
            Some(entry) => {
                let changed = entry.pod.spec != pod.spec || entry.pod.labels != pod.labels;
                let reorder = entry.pod.priority != pod.priority;
                entry.pod = pod;
                match entry.place {
                    Place::InFlight => {}
                    Place::Gated if !entry.pod.spec.gated => self.release(&uid, now),
                    Place::Unschedulable if changed => self.release(&uid, now),
                    Place::Active if reorder => self.push_active(&uid),
                    _ => {}
                }
            }
        }
    }

    /// Removes a pod (deleted, or assigned by someone else).
    pub fn remove(&mut self, uid: &str) {
        self.pods.remove(uid);
        self.unschedulable_since.remove(uid);
    }

    /// Takes the next pod to schedule: backoffs that ended move to the active heap first.
    pub fn pop(&mut self, now: Instant) -> Option<Arc<PodInfo>> {
        self.flush_backoff(now);
        while let Some(ranked) = self.active.pop() {
            let Some(entry) = self.pods.get_mut(&ranked.uid) else {
                continue;
            };
            if entry.place != Place::Active || entry.generation != ranked.generation {
                continue;
            }
            entry.place = Place::InFlight;
            entry.attempts += 1;
            return Some(Arc::clone(&entry.pod));
        }
        None
    }

    /// The pod was bound: it leaves the queue.
    pub fn done(&mut self, uid: &str) {
        self.remove(uid);
    }

    /// No node fits: the pod waits for one of the `wakes_on` events (see [`crate::plugins::events`]).
    pub fn unschedulable(&mut self, uid: &str, wakes_on: u32, now: Instant) {
        if let Some(entry) = self.pods.get_mut(uid) {
            entry.place = Place::Unschedulable;
            entry.failed_at = Some(now);
            entry.wakes_on = wakes_on;
            self.unschedulable_since.insert(uid.to_owned(), now);
        }
    }

    /// Scheduling or binding failed for another reason: the pod backs off and retries.
    pub fn retry(&mut self, uid: &str, now: Instant) {
        if let Some(entry) = self.pods.get_mut(uid) {
            entry.failed_at = Some(now);
            entry.place = Place::Backoff;
            self.push_backoff(uid);
        }
    }

    /// A cluster event happened: unschedulable pods it may help move to the backoff or active
    /// queue. Returns how many moved.
    pub fn on_event(&mut self, event: u32, now: Instant) -> usize {
        let woken: Vec<String> = self
            .unschedulable_since
            .keys()
            .filter(|uid| {
                self.pods.get(*uid).is_some_and(|entry| {
                    entry.place == Place::Unschedulable && entry.wakes_on & event != 0
                })
            })
            .cloned()
            .collect();
        for uid in &woken {
            self.release(uid, now);
        }
        woken.len()
    }

    /// Retries pods that have been unschedulable for longer than [`MAX_UNSCHEDULABLE`].
    pub fn flush_unschedulable(&mut self, now: Instant) {
        let stale: Vec<String> = self
            .unschedulable_since
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= MAX_UNSCHEDULABLE)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in stale {
            self.release(&uid, now);
        }
    }

    /// When the queue next has work without an event: the earliest end of a backoff, or of an
    /// unschedulable pod's wait.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let backoff = self.backoff.iter().map(|Reverse((at, _, _))| *at).min();
        let unschedulable = self
            .unschedulable_since
            .values()
            .min()
            .map(|since| *since + MAX_UNSCHEDULABLE);
        match (backoff, unschedulable) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a pod is ready to pop now (without waiting for a backoff).
    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// Moves a waiting pod to the backoff queue if its backoff is still running, else to active.
    fn release(&mut self, uid: &str, now: Instant) {
        self.unschedulable_since.remove(uid);
        let Some(entry) = self.pods.get_mut(uid) else {
            return;
        };
        if entry.backoff_until().is_some_and(|until| until > now) {
            entry.place = Place::Backoff;
            self.push_backoff(uid);
        } else {
            entry.place = Place::Active;
            self.push_active(uid);
        }
    }

    fn flush_backoff(&mut self, now: Instant) {
        while let Some(Reverse((at, generation, uid))) = self.backoff.peek().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop();
            let current = self.pods.get(&uid).is_some_and(|entry| {
                entry.place == Place::Backoff && entry.generation == generation
            });
            if current {
                if let Some(entry) = self.pods.get_mut(&uid) {
                    entry.place = Place::Active;
                }
                self.push_active(&uid);
            }
        }
    }

    fn push_active(&mut self, uid: &str) {
        self.generation += 1;
        let Some(entry) = self.pods.get_mut(uid) else {
            return;
        };
        entry.generation = self.generation;
        self.active.push(Ranked {
            priority: entry.pod.priority,
            created_ms: entry.pod.created_ms,
            generation: self.generation,
            uid: uid.to_owned(),
        });
    }

    fn push_backoff(&mut self, uid: &str) {
        self.generation += 1;
        let Some(entry) = self.pods.get_mut(uid) else {
            return;
        };
        entry.generation = self.generation;
        let at = entry.backoff_until().unwrap_or_else(Instant::now);
        self.backoff
            .push(Reverse((at, self.generation, uid.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pod::build::pod;
    use crate::plugins::events;

    fn queued(name: &str, priority: i32, created_ms: i64) -> Arc<PodInfo> {
        let mut p = pod(name, 0, 0);
        p.priority = priority;
        p.created_ms = created_ms;
        Arc::new(p)
    }

    fn names(queue: &mut Queue, now: Instant) -> Vec<String> {
        std::iter::from_fn(|| queue.pop(now))
            .map(|p| p.name.clone())
            .collect()
    }

    #[test]
    fn priority_then_creation_time_then_arrival() {
        let now = Instant::now();
        let mut queue = Queue::new();
        queue.add(queued("late-low", 0, 20), now);
        queue.add(queued("early-low", 0, 10), now);
        queue.add(queued("high", 1000, 30), now);
        queue.add(queued("same-time", 0, 10), now);
        assert_eq!(
            names(&mut queue, now),
            vec!["high", "early-low", "same-time", "late-low"]
        );
        assert_eq!(queue.len(), 4, "popped pods stay until done");
        assert!(queue.in_flight("uid-high"));
    }

    #[test]
    fn unschedulable_pods_wait_for_a_helpful_event() {
        let now = Instant::now();
        let mut queue = Queue::new();
        queue.add(queued("p", 0, 0), now);
        let p = queue.pop(now).unwrap();
        queue.unschedulable(&p.uid, events::NODE_ADD, now);
        assert!(queue.pop(now + Duration::from_secs(60)).is_none());
        assert_eq!(queue.on_event(events::POD_DELETE, now), 0, "not helpful");
        // A helpful event during the backoff (1 s after the first attempt) goes through backoff.
        assert_eq!(queue.on_event(events::NODE_ADD, now), 1);
        assert!(queue.pop(now).is_none());
        assert_eq!(queue.next_wakeup(), Some(now + INITIAL_BACKOFF));
        assert_eq!(
            queue.pop(now + INITIAL_BACKOFF).map(|p| p.name.clone()),
            Some("p".into())
        );
        // Second failure: 2 s backoff; an event after it moves the pod straight to active.
        queue.unschedulable("uid-p", events::NODE_ADD, now);
        queue.on_event(events::NODE_ADD, now + Duration::from_secs(3));
        assert!(queue.pop(now + Duration::from_secs(3)).is_some());
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let now = Instant::now();
        let mut queue = Queue::new();
        queue.add(queued("p", 0, 0), now);
        let mut expected = Vec::new();
        for attempt in 1..=6 {
            queue.pop(now + Duration::from_secs(1000));
            queue.retry("uid-p", now);
            expected.push(attempt);
            let wait = queue.next_wakeup().map(|at| at.duration_since(now));
            let want = Duration::from_secs([1, 2, 4, 8, 10, 10][attempt - 1]);
            assert_eq!(wait, Some(want), "attempt {attempt}");
        }
    }

    #[test]
    fn stale_unschedulable_pods_are_retried_after_five_minutes() {
        let now = Instant::now();
        let mut queue = Queue::new();
        queue.add(queued("p", 0, 0), now);
        queue.pop(now);
        queue.unschedulable("uid-p", 0, now);
        assert_eq!(queue.next_wakeup(), Some(now + MAX_UNSCHEDULABLE));
        queue.flush_unschedulable(now + Duration::from_secs(299));
        assert!(queue.pop(now + Duration::from_secs(299)).is_none());
        queue.flush_unschedulable(now + MAX_UNSCHEDULABLE);
        assert!(queue.pop(now + MAX_UNSCHEDULABLE).is_some());
    }

    #[test]
    fn updates_release_unschedulable_and_gated_pods() {
        let now = Instant::now();
        let mut queue = Queue::new();
        let mut gated = pod("gated", 0, 0);
        gated.spec.gated = true;
        queue.add(Arc::new(gated.clone()), now);
        assert!(queue.pop(now).is_none());
        gated.spec.gated = false;
        queue.add(Arc::new(gated), now);
        assert_eq!(queue.pop(now).map(|p| p.name.clone()), Some("gated".into()));

        queue.add(queued("p", 0, 0), now);
        queue.pop(now);
        queue.unschedulable("uid-p", 0, now);
        queue.add(queued("p", 0, 0), now);
        assert!(
            queue.pop(now + Duration::from_secs(5)).is_none(),
            "nothing changed"
        );
        let mut changed = pod("p", 0, 0);
        changed.labels.insert("new".into(), "label".into());
        queue.add(Arc::new(changed), now + Duration::from_secs(5));
        assert!(queue.pop(now + Duration::from_secs(5)).is_some());
        queue.remove("uid-p");
        assert!(!queue.contains("uid-p"));
    }
}
