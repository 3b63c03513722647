//! Progress notifications (the API's watch bookmarks): on request and on an interval, never claiming a
//! revision whose events were not all delivered.

use std::time::Duration;

use kubers_store::{WatchItem, WatchOptions};

use crate::harness::{Harness, b, current};
use crate::model::{Model, assert_events, show_event};
use crate::stream::Watcher;

pub async fn request_progress_after_writes(h: &mut Harness) {
    let store = h.store();
    let start = current(&*store).await;
    let mut watcher = Watcher::start(&*store, "/p/", 0).await;
    let mut model = Model::new(store.clone());
    for n in 0..5 {
        model.create(&format!("/p/{n}"), "x").await;
    }
    let last = model.history().last_revision();
    watcher.request_progress();
    let mut events = Vec::new();
    let notified = loop {
        match watcher.next().await {
            WatchItem::Events(batch) => events.extend(batch),
            WatchItem::Progress(revision) => break revision,
        }
    };
    assert!(
        notified >= last,
        "the progress requested after the write at {last} reported only {notified}"
    );
    assert_events(&events, &model.history().events_after("/p/", start));
}

pub async fn request_progress_on_idle_prefix_covers_other_writes(h: &mut Harness) {
    let store = h.store();
    let mut watcher = Watcher::start(&*store, "/idle/", 0).await;
    for n in 0..5 {
        store
            .create(&format!("/busy/{n}"), b("x"))
            .await
            .expect("create");
    }
    let last = current(&*store).await;
    watcher.request_progress();
    match watcher.next().await {
        WatchItem::Progress(notified) => assert!(
            notified >= last,
            "a progress requested after writes elsewhere up to {last} reported only {notified}"
        ),
        WatchItem::Events(events) => {
            let shown: Vec<String> = events.iter().map(show_event).collect();
            panic!("an idle watch delivered {shown:?}")
        }
    }
}

pub async fn progress_interval_on_idle_watch(h: &mut Harness) {
    let store = h.store();
    store.create("/busy/0", b("x")).await.expect("create");
    let now = current(&*store).await;
    let options = WatchOptions {
        progress_interval: Some(Duration::from_millis(200)),
    };
    let mut watcher = Watcher::start_with(&*store, "/idle/", 0, options).await;
    for _ in 0..3 {
        match watcher.next().await {
            WatchItem::Progress(revision) => assert!(
                revision >= now,
                "a periodic progress reported {revision}, before the current revision {now}"
            ),
            WatchItem::Events(events) => panic!("an idle watch delivered {} events", events.len()),
        }
    }
    store.create("/busy/1", b("x")).await.expect("create");
    let later = current(&*store).await;
    let mut seen = Vec::new();
    for _ in 0..20 {
        match watcher.next().await {
            WatchItem::Progress(revision) if revision >= later => return,
            WatchItem::Progress(revision) => seen.push(revision),
            WatchItem::Events(events) => panic!("an idle watch delivered {} events", events.len()),
        }
    }
    panic!("20 periodic progress notifications never reached revision {later}: {seen:?}");
}

pub async fn progress_interleaved_with_events(h: &mut Harness) {
    const WRITES: usize = 300;
    let store = h.store();
    let start = current(&*store).await;
    let mut watcher = Watcher::start(&*store, "/p/", start).await;
    let writer = tokio::spawn({
        let mut model = Model::new(store.clone());
        async move {
            for n in 0..WRITES {
                model.create(&format!("/p/{n:04}"), "x").await;
                if n % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            model.into_history()
        }
    });
    let mut events = Vec::new();
    let mut notifications = 0;
    while events.len() < WRITES {
        watcher.request_progress();
        // `Watcher::next` checks that no event comes at or below a revision already notified.
        match watcher.next().await {
            WatchItem::Events(batch) => events.extend(batch),
            WatchItem::Progress(_) => notifications += 1,
        }
    }
    let history = writer.await.expect("writer");
    assert_events(&events, &history.events_after("/p/", start));
    eprintln!("{notifications} progress notifications among {WRITES} events");
    watcher.assert_caught_up(history.last_revision()).await;
}
