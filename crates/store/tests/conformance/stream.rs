//! Reading watches with a timeout on every wait, checking on the way what every watch must uphold:
//! batches are non-empty, events come in strictly increasing revision order, only under the prefix,
//! never at or below a revision already reported as progress.

use kubers_store::{Event, Result, Revision, Store, Watch, WatchItem, WatchOptions};

use crate::harness::WATCH_TIMEOUT;
use crate::model::show_event;

/// A watch under test.
pub struct Watcher {
    watch: Watch,
    prefix: String,
    /// The revision every next event must be above: the last event's, or the last progress.
    floor: Revision,
}

impl Watcher {
    /// Starts a watch of `prefix` after `after`, which must succeed.
    pub async fn start(store: &dyn Store, prefix: &str, after: Revision) -> Watcher {
        Watcher::start_with(store, prefix, after, WatchOptions::default()).await
    }

    /// Starts a watch with options, which must succeed.
    pub async fn start_with(
        store: &dyn Store,
        prefix: &str,
        after: Revision,
        options: WatchOptions,
    ) -> Watcher {
        let watch = tokio::time::timeout(WATCH_TIMEOUT, store.watch(prefix, after, options))
            .await
            .unwrap_or_else(|_| {
                panic!("watch({prefix:?}, {after}) did not return within {WATCH_TIMEOUT:?}")
            })
            .unwrap_or_else(|error| panic!("watch({prefix:?}, {after}): {error}"));
        Watcher {
            watch,
            prefix: prefix.to_owned(),
            floor: after,
        }
    }

    /// Asks the store for a progress notification.
    pub fn request_progress(&self) {
        self.watch.request_progress();
    }

    /// The next raw item, `None` when the watch ended, or `Err` when nothing came within
    /// [`WATCH_TIMEOUT`].
    pub async fn try_next_raw(
        &mut self,
    ) -> Result<Option<Result<WatchItem>>, tokio::time::error::Elapsed> {
        tokio::time::timeout(WATCH_TIMEOUT, self.watch.next()).await
    }

    /// The next raw item, or `None` when the watch ended; panics after [`WATCH_TIMEOUT`].
    pub async fn next_raw(&mut self) -> Option<Result<WatchItem>> {
        tokio::time::timeout(WATCH_TIMEOUT, self.watch.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "watch of {:?} delivered nothing within {WATCH_TIMEOUT:?} (last revision seen {})",
                    self.prefix, self.floor
                )
            })
    }

    /// The next item, checked. Panics on an error or the end of the watch.
    pub async fn next(&mut self) -> WatchItem {
        let item = match self.next_raw().await {
            Some(Ok(item)) => item,
            Some(Err(error)) => panic!("watch of {:?} failed: {error}", self.prefix),
            None => panic!("watch of {:?} ended unexpectedly", self.prefix),
        };
        self.check(&item);
        item
    }

    /// Checks the invariants of an item the store just delivered.
    pub fn check(&mut self, item: &WatchItem) {
        match item {
            WatchItem::Events(events) => {
                assert!(
                    !events.is_empty(),
                    "watch of {:?} delivered an empty batch",
                    self.prefix
                );
                for event in events {
                    assert!(
                        event.revision() > self.floor,
                        "watch of {:?} delivered {} at or below revision {} already seen",
                        self.prefix,
                        show_event(event),
                        self.floor
                    );
                    assert!(
                        event.kv.key.starts_with(&self.prefix),
                        "watch of {:?} delivered {} from outside its prefix",
                        self.prefix,
                        show_event(event)
                    );
                    self.floor = event.revision();
                }
            }
            WatchItem::Progress(revision) => self.floor = self.floor.max(*revision),
        }
    }

    /// Exactly the next `count` events, skipping progress notifications. Panics if the batch that
    /// completes them carries more.
    pub async fn events(&mut self, count: usize) -> Vec<Event> {
        let mut events = Vec::with_capacity(count);
        while events.len() < count {
            if let WatchItem::Events(batch) = self.next().await {
                events.extend(batch);
            }
        }
        if events.len() > count {
            let extra: Vec<String> = events[count..].iter().map(show_event).collect();
            panic!(
                "watch of {:?} delivered more than the {count} events expected; extra: {extra:#?}",
                self.prefix
            );
        }
        events
    }

    /// Requests progress until a notification at `revision` or later arrives; returns the events that
    /// came before it and the notified revision.
    pub async fn progress_at_least(&mut self, revision: Revision) -> (Vec<Event>, Revision) {
        let mut events = Vec::new();
        self.request_progress();
        loop {
            match self.next().await {
                WatchItem::Events(batch) => events.extend(batch),
                WatchItem::Progress(notified) if notified >= revision => {
                    return (events, notified);
                }
                // An earlier notification (periodic, or requested before the last write): ask again.
                WatchItem::Progress(_) => self.request_progress(),
            }
        }
    }

    /// Asserts that the watch has delivered every event up to `revision` and holds none.
    pub async fn assert_caught_up(&mut self, revision: Revision) {
        let (events, _) = self.progress_at_least(revision).await;
        if !events.is_empty() {
            let shown: Vec<String> = events.iter().map(show_event).collect();
            panic!(
                "watch of {:?} delivered unexpected events: {shown:#?}",
                self.prefix
            );
        }
    }
}
