//! What one cache holds: the current objects in key order, the window of recent events, the revision it
//! has reached, and a generation that changes whenever its history restarts. Pure data, no I/O: the
//! feeder applies the store's events to it, readers list and watch from it.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use kubers_store::{Event, EventKind, Revision};

use super::object::CachedObject;
use super::window::{CachedEvent, Window};

/// A page of a cached collection.
#[derive(Debug)]
pub struct Listed {
    /// The selected objects, in key order.
    pub items: Vec<Arc<CachedObject>>,
    /// The revision the page shows.
    pub revision: Revision,
    /// Whether selected objects follow the page (a limit cut it short).
    pub more: bool,
}

impl Listed {
    /// The page of `objects` (at `revision`) that `select` accepts, at most `limit` (0: all).
    pub fn select(
        objects: Vec<Arc<CachedObject>>,
        revision: Revision,
        select: &dyn Fn(&CachedObject) -> bool,
        limit: usize,
    ) -> Listed {
        let mut items = Vec::new();
        let mut more = false;
        for object in objects {
            if !select(&object) {
                continue;
            }
            if limit > 0 && items.len() == limit {
                more = true;
                break;
            }
            items.push(object);
        }
        Listed {
            items,
            revision,
            more,
        }
    }
}

/// The state of one cache.
#[derive(Debug)]
pub struct State {
    /// Whether the objects are a listed state kept current by the store's watch.
    ready: bool,
    /// Changes whenever the window restarts (a new list), so watchers know their position is void.
    generation: u64,
    /// Every change up to this revision has been applied.
    revision: Revision,
    objects: BTreeMap<String, Arc<CachedObject>>,
    window: Window,
}

/// What a watcher's read found.
#[derive(Debug)]
pub enum Read {
    /// Events from the position on (empty when the watcher is at the end).
    Events(Vec<Arc<CachedEvent>>),
    /// The position is void: the events after it were evicted, or the history restarted.
    Lost,
}

impl State {
    /// An empty, not yet ready state whose window keeps `capacity` events.
    pub fn new(capacity: usize) -> State {
        State {
            ready: false,
            generation: 0,
            revision: 0,
            objects: BTreeMap::new(),
            window: Window::new(capacity, 0),
        }
    }

    /// Whether the state is listed and followed.
    pub fn ready(&self) -> bool {
        self.ready
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The revision every change up to which has been applied.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The revision after which the window holds every change.
    #[cfg(test)]
    pub fn window_start(&self) -> Revision {
        self.window.start()
    }

    /// Replaces everything with `objects` as listed at `revision`; starts a new generation.
    pub fn replace(&mut self, objects: Vec<Arc<CachedObject>>, revision: Revision) {
        self.objects = objects
            .into_iter()
            .map(|object| (object.key.clone(), object))
            .collect();
        self.revision = revision;
        self.window.reset(revision);
        self.generation += 1;
        self.ready = true;
    }

    /// Marks the state stale (the store's watch ended): readers go to the store and every watcher's
    /// position is void until the next [`State::replace`].
    pub fn invalidate(&mut self) {
        self.ready = false;
        self.generation += 1;
    }

    /// Notes that every change up to `revision` has been applied (a progress notification).
    pub fn advance(&mut self, revision: Revision) {
        self.revision = self.revision.max(revision);
    }

    /// Applies one event from the store; `decode` turns a key-value into an object, `None` for one that
    /// cannot be read, which is then treated as absent. Events at or before the state's revision are
    /// ignored.
    pub fn apply(
        &mut self,
        event: &Event,
        decode: impl Fn(&kubers_store::KeyValue) -> Option<CachedObject>,
    ) {
        let revision = event.revision();
        if revision <= self.revision {
            return;
        }
        self.revision = revision;
        let key = &event.kv.key;
        let (kind, object, prev) = match event.kind {
            EventKind::Create | EventKind::Update => match decode(&event.kv) {
                Some(object) => {
                    let object = Arc::new(object);
                    let prev = self.objects.insert(key.clone(), Arc::clone(&object));
                    let kind = if prev.is_some() {
                        EventKind::Update
                    } else {
                        EventKind::Create
                    };
                    (kind, object, prev)
                }
                // An unreadable new value: the object is gone for readers of the cache.
                None => match self.objects.remove(key) {
                    Some(prev) => (EventKind::Delete, prev, None),
                    None => return,
                },
            },
            EventKind::Delete => match self.objects.remove(key) {
                Some(prev) => (EventKind::Delete, prev, None),
                None => return,
            },
        };
        self.window.push(Arc::new(CachedEvent {
            kind,
            revision,
            object,
            prev,
        }));
    }

    /// The objects under `prefix` that `select` accepts, at most `limit` (0: all).
    #[cfg(test)]
    pub fn list(
        &self,
        prefix: &str,
        select: &dyn Fn(&CachedObject) -> bool,
        limit: usize,
    ) -> Listed {
        Listed::select(self.objects_under(prefix), self.revision, select, limit)
    }

    /// Every object under `prefix`, in key order: what a list selects from once the state is no longer
    /// locked (selectors that decode objects are slow).
    pub fn objects_under(&self, prefix: &str) -> Vec<Arc<CachedObject>> {
        self.objects
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, object)| Arc::clone(object))
            .collect()
    }

    /// The window position of the first event after `revision`; `None` when the window does not hold
    /// every change after it.
    pub fn position_after(&self, revision: Revision) -> Option<u64> {
        self.window.position_after(revision)
    }

    /// The window position after the newest event.
    pub fn end(&self) -> u64 {
        self.window.end()
    }

    /// Up to `max` events from `position` on, for a watcher of `generation`.
    pub fn read(&self, generation: u64, position: u64, max: usize) -> Read {
        if generation != self.generation {
            return Read::Lost;
        }
        match self.window.read(position, max) {
            Some(events) => Read::Events(events),
            None => Read::Lost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kubers_store::KeyValue;
    use serde_json::json;

    fn kv(key: &str, labels: serde_json::Value, revision: Revision) -> KeyValue {
        let name = key.rsplit('/').next().unwrap_or("");
        KeyValue {
            key: key.into(),
            value: Bytes::from(json!({"metadata": {"name": name, "labels": labels}}).to_string()),
            create_revision: revision,
            mod_revision: revision,
        }
    }

    fn decode(kv: &KeyValue) -> Option<CachedObject> {
        CachedObject::from_kv(kv, &[]).ok()
    }

    fn event(kind: EventKind, key: &str, revision: Revision) -> Event {
        let mut kv = kv(key, json!({"app": "web"}), revision);
        if kind == EventKind::Delete {
            kv.value = Bytes::new();
        }
        Event {
            kind,
            kv,
            prev: None,
        }
    }

    fn names(listed: &Listed) -> Vec<&str> {
        listed.items.iter().map(|object| object.name()).collect()
    }

    fn kinds(read: Read) -> Vec<(EventKind, Revision, Option<Revision>)> {
        match read {
            Read::Events(events) => events
                .iter()
                .map(|event| {
                    (
                        event.kind,
                        event.revision,
                        event.prev.as_ref().map(|prev| prev.revision),
                    )
                })
                .collect(),
            Read::Lost => panic!("lost"),
        }
    }

    fn listed_state() -> State {
        let mut state = State::new(3);
        let objects = [
            kv("/registry/cms/a/one", json!({"app": "web"}), 5),
            kv("/registry/cms/a/two", json!({"app": "db"}), 6),
            kv("/registry/cms/b/one", json!({"app": "web"}), 7),
        ]
        .iter()
        .filter_map(decode)
        .map(Arc::new)
        .collect();
        state.replace(objects, 10);
        state
    }

    #[test]
    fn lists_filter_by_prefix_and_selector_and_stop_at_the_limit() {
        let state = listed_state();
        let all = |_: &CachedObject| true;
        let web = |object: &CachedObject| object.label("app") == Some("web");
        assert_eq!(
            names(&state.list("/registry/cms/", &all, 0)),
            ["one", "two", "one"]
        );
        assert_eq!(
            names(&state.list("/registry/cms/a/", &all, 0)),
            ["one", "two"]
        );
        assert_eq!(
            names(&state.list("/registry/cms/", &web, 0)),
            ["one", "one"]
        );
        let page = state.list("/registry/cms/", &all, 2);
        assert_eq!(
            (names(&page), page.more, page.revision),
            (vec!["one", "two"], true, 10)
        );
        let page = state.list("/registry/cms/", &web, 2);
        assert_eq!((names(&page), page.more), (vec!["one", "one"], false));
        assert!(state.list("/registry/cms/c/", &all, 0).items.is_empty());
    }

    #[test]
    fn events_update_objects_and_fill_the_window() {
        let mut state = listed_state();
        let generation = state.generation();
        let start = state.position_after(10).expect("in window");
        state.apply(
            &event(EventKind::Create, "/registry/cms/a/three", 11),
            decode,
        );
        state.apply(&event(EventKind::Update, "/registry/cms/a/one", 12), decode);
        state.apply(&event(EventKind::Delete, "/registry/cms/a/two", 13), decode);
        // Old and repeated revisions change nothing.
        state.apply(&event(EventKind::Delete, "/registry/cms/a/one", 12), decode);
        // A delete of an unknown key is no event.
        state.apply(
            &event(EventKind::Delete, "/registry/cms/a/nothing", 14),
            decode,
        );
        assert_eq!(state.revision(), 14);
        assert_eq!(
            kinds(state.read(generation, start, 10)),
            [
                (EventKind::Create, 11, None),
                (EventKind::Update, 12, Some(5)),
                (EventKind::Delete, 13, None),
            ]
        );
        let all = |_: &CachedObject| true;
        let listed = state.list("/registry/cms/a/", &all, 0);
        assert_eq!(names(&listed), ["one", "three"]);
        assert_eq!(listed.items[0].revision, 12);
        // The deleted object is the event's object, as it was.
        if let Read::Events(events) = state.read(generation, start + 2, 1) {
            assert_eq!(
                (events[0].object.name(), events[0].object.revision),
                ("two", 6)
            );
        }
    }

    #[test]
    fn evicted_positions_and_old_revisions_are_lost() {
        let mut state = listed_state();
        let generation = state.generation();
        for revision in 11..=14 {
            state.apply(
                &event(
                    EventKind::Create,
                    &format!("/registry/cms/a/n{revision}"),
                    revision,
                ),
                decode,
            );
        }
        // Capacity 3: revision 11 was evicted.
        assert_eq!(state.window_start(), 11);
        assert!(state.position_after(10).is_none());
        assert!(matches!(state.read(generation, 0, 10), Read::Lost));
        let position = state.position_after(11).expect("in window");
        assert_eq!(kinds(state.read(generation, position, 10)).len(), 3);
        // A watcher of an older generation is lost even at a valid position.
        assert!(matches!(
            state.read(generation - 1, position, 10),
            Read::Lost
        ));
    }

    #[test]
    fn a_resync_replaces_objects_and_restarts_the_window() {
        let mut state = listed_state();
        let generation = state.generation();
        state.apply(
            &event(EventKind::Create, "/registry/cms/a/three", 11),
            decode,
        );
        state.invalidate();
        assert!(!state.ready());
        let position = state.end();
        assert!(matches!(state.read(generation, position, 10), Read::Lost));
        let objects = [kv("/registry/cms/z/new", json!({}), 30)]
            .iter()
            .filter_map(decode)
            .map(Arc::new)
            .collect();
        state.replace(objects, 40);
        assert!(state.ready());
        assert_eq!((state.revision(), state.window_start()), (40, 40));
        assert!(state.position_after(11).is_none());
        let all = |_: &CachedObject| true;
        assert_eq!(names(&state.list("/registry/cms/", &all, 0)), ["new"]);
        let generation = state.generation();
        assert!(kinds(state.read(generation, state.end(), 10)).is_empty());
        state.advance(45);
        assert_eq!(state.revision(), 45);
        state.advance(44);
        assert_eq!(state.revision(), 45);
    }

    #[test]
    fn unreadable_values_count_as_absent() {
        let mut state = listed_state();
        let generation = state.generation();
        let position = state.end();
        let mut broken = event(EventKind::Update, "/registry/cms/a/one", 11);
        broken.kv.value = Bytes::from_static(b"not json");
        state.apply(&broken, decode);
        let all = |_: &CachedObject| true;
        assert_eq!(names(&state.list("/registry/cms/a/", &all, 0)), ["two"]);
        assert_eq!(
            kinds(state.read(generation, position, 10)),
            [(EventKind::Delete, 11, None)]
        );
    }
}
