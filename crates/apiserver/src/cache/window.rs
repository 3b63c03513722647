//! The window of recent events: a bounded ring in revision order, addressed by sequence numbers that
//! keep growing, so a watcher's position stays meaningful while old events are evicted.

use std::collections::VecDeque;
use std::sync::Arc;

use kubers_store::{EventKind, Revision};

use super::object::CachedObject;

/// One change, as the cache keeps and hands it to watchers.
#[derive(Debug)]
pub struct CachedEvent {
    /// What happened.
    pub kind: EventKind,
    /// The revision of the change.
    pub revision: Revision,
    /// The object after the change; for a delete, the object as it was just before.
    pub object: Arc<CachedObject>,
    /// For an update, the object just before it.
    pub prev: Option<Arc<CachedObject>>,
}

/// The most recent events, at most `capacity` of them.
#[derive(Debug)]
pub struct Window {
    events: VecDeque<Arc<CachedEvent>>,
    /// The sequence number of `events[0]`.
    first: u64,
    /// Every change after this revision is in the window: the revision the cache was listed at, or the
    /// revision of the last evicted event.
    start: Revision,
    capacity: usize,
}

impl Window {
    /// An empty window holding every change after `start`, keeping at most `capacity` (at least 1) events.
    pub fn new(capacity: usize, start: Revision) -> Window {
        Window {
            events: VecDeque::new(),
            first: 0,
            start,
            capacity: capacity.max(1),
        }
    }

    /// Appends an event (newer than every event in the window), evicting the oldest when full.
    pub fn push(&mut self, event: Arc<CachedEvent>) {
        if self.events.len() == self.capacity
            && let Some(evicted) = self.events.pop_front()
        {
            self.start = evicted.revision;
            self.first += 1;
        }
        self.events.push_back(event);
    }

    /// Forgets every event: the window then holds every change after `start` (a new list's revision).
    /// Sequence numbers keep growing.
    pub fn reset(&mut self, start: Revision) {
        self.first = self.end();
        self.events.clear();
        self.start = start;
    }

    /// The sequence number the next event will get.
    pub fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    /// The revision after which the window holds every change.
    #[cfg(test)]
    pub fn start(&self) -> Revision {
        self.start
    }

    /// How many events the window holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// The sequence number of the first event after `revision`, or `None` when the window no longer
    /// holds every change after it.
    pub fn position_after(&self, revision: Revision) -> Option<u64> {
        if revision < self.start {
            return None;
        }
        let index = self
            .events
            .partition_point(|event| event.revision <= revision);
        Some(self.first + index as u64)
    }

    /// Up to `max` events from sequence number `from` on; `None` when some of them were evicted.
    pub fn read(&self, from: u64, max: usize) -> Option<Vec<Arc<CachedEvent>>> {
        let skip = usize::try_from(from.checked_sub(self.first)?).ok()?;
        Some(self.events.iter().skip(skip).take(max).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::object::CachedObject;
    use bytes::Bytes;
    use kubers_store::KeyValue;

    pub(crate) fn event(revision: Revision) -> Arc<CachedEvent> {
        let kv = KeyValue {
            key: format!("/registry/things/t{revision}"),
            value: Bytes::from_static(b"{\"metadata\":{}}"),
            create_revision: revision,
            mod_revision: revision,
        };
        Arc::new(CachedEvent {
            kind: EventKind::Create,
            revision,
            object: Arc::new(CachedObject::from_kv(&kv, &[]).expect("object")),
            prev: None,
        })
    }

    fn revisions(events: Option<Vec<Arc<CachedEvent>>>) -> Option<Vec<Revision>> {
        events.map(|events| events.iter().map(|event| event.revision).collect())
    }

    #[test]
    fn the_window_evicts_the_oldest_and_knows_where_it_starts() {
        let mut window = Window::new(3, 10);
        assert_eq!(window.position_after(10), Some(0));
        assert_eq!(window.position_after(9), None);
        for revision in [12, 13, 15] {
            window.push(event(revision));
        }
        assert_eq!((window.len(), window.start(), window.end()), (3, 10, 3));
        assert_eq!(window.position_after(10), Some(0));
        assert_eq!(window.position_after(13), Some(2));
        assert_eq!(window.position_after(14), Some(2));
        assert_eq!(window.position_after(99), Some(3));
        window.push(event(16));
        window.push(event(20));
        // 12 and 13 were evicted: the window holds every change after 13 only.
        assert_eq!((window.len(), window.start(), window.end()), (3, 13, 5));
        assert_eq!(window.position_after(12), None);
        assert_eq!(window.position_after(13), Some(2));
        assert_eq!(revisions(window.read(2, 10)), Some(vec![15, 16, 20]));
        assert_eq!(revisions(window.read(3, 1)), Some(vec![16]));
        assert_eq!(revisions(window.read(5, 10)), Some(vec![]));
        assert_eq!(revisions(window.read(1, 10)), None);
    }

    #[test]
    fn a_reset_keeps_sequence_numbers_growing() {
        let mut window = Window::new(2, 1);
        window.push(event(2));
        window.push(event(3));
        window.reset(40);
        assert_eq!((window.len(), window.start(), window.end()), (0, 40, 2));
        assert_eq!(window.position_after(3), None);
        assert_eq!(window.position_after(40), Some(2));
        assert_eq!(revisions(window.read(0, 10)), None);
        window.push(event(41));
        assert_eq!(revisions(window.read(2, 10)), Some(vec![41]));
    }
}
