//! Watching: exact, ordered events with previous values from any kept revision, only under the prefix,
//! continuing from history into live changes without a gap, to many watchers at once.

use kubers_store::{Event, Revision, Store};
use tokio::task::JoinSet;

use crate::harness::{Harness, WATCH_TIMEOUT, current};
use crate::model::{History, Model, assert_events};
use crate::stream::Watcher;

/// Writes a mix of creates, updates and deletes under `/w/` and next to it; returns the history and the
/// revision before the first write.
async fn mixed_writes(store: std::sync::Arc<dyn Store>) -> (History, Revision) {
    let start = current(&*store).await;
    let mut model = Model::new(store);
    model.create("/w/a", "a1").await;
    model.update("/w/a", "a2").await;
    model.create("/w", "outside").await;
    model.create("/wx/y", "outside").await;
    model.create("/w/b", "b1").await;
    model.create("/w/sub/c", "c1").await;
    model.delete("/w/a").await;
    model.update("/w/b", "b2").await;
    model.update("/w", "outside2").await;
    model.create("/w/a", "a3").await;
    model.delete("/w/sub/c").await;
    (model.into_history(), start)
}

pub async fn watch_from_revision_delivers_history(h: &mut Harness) {
    let store = h.store();
    let (history, start) = mixed_writes(store.clone()).await;
    let expected = history.events_after("/w/", start);
    assert_eq!(expected.len(), 8);
    let mut watcher = Watcher::start(&*store, "/w/", start).await;
    let events = watcher.events(expected.len()).await;
    assert_events(&events, &expected);
    watcher.assert_caught_up(history.last_revision()).await;
}

pub async fn watch_from_middle_revision(h: &mut Harness) {
    let store = h.store();
    let (history, start) = mixed_writes(store.clone()).await;
    for after in start..=history.last_revision() {
        let expected = history.events_after("/w/", after);
        let mut watcher = Watcher::start(&*store, "/w/", after).await;
        let events = watcher.events(expected.len()).await;
        assert_events(&events, &expected);
        watcher.assert_caught_up(history.last_revision()).await;
    }
}

pub async fn watch_after_zero_only_later_writes(h: &mut Harness) {
    let store = h.store();
    let mut model = Model::new(store.clone());
    model.create("/w/old", "1").await;
    model.update("/w/old", "2").await;
    let mut watcher = Watcher::start(&*store, "/w/", 0).await;
    let mark = model.history().last_revision();
    model.update("/w/old", "3").await;
    model.create("/w/new", "1").await;
    model.delete("/w/old").await;
    let expected = model.history().events_after("/w/", mark);
    let events = watcher.events(expected.len()).await;
    assert_events(&events, &expected);
    watcher
        .assert_caught_up(model.history().last_revision())
        .await;
}

pub async fn watch_filters_by_prefix(h: &mut Harness) {
    let store = h.store();
    let start = current(&*store).await;
    let mut narrow = Watcher::start(&*store, "/a/", 0).await;
    let mut nested = Watcher::start(&*store, "/a/b/", 0).await;
    let mut everything = Watcher::start(&*store, "/", 0).await;
    let mut model = Model::new(store.clone());
    for key in [
        "/a", "/ab", "/ab/c", "/a0", "/b/a", "/a/x", "/a/b/y", "/a/bc",
    ] {
        model.create(key, key).await;
    }
    let history = model.into_history();
    for (watcher, prefix) in [
        (&mut narrow, "/a/"),
        (&mut nested, "/a/b/"),
        (&mut everything, "/"),
    ] {
        let expected = history.events_after(prefix, start);
        let events = watcher.events(expected.len()).await;
        assert_events(&events, &expected);
        watcher.assert_caught_up(history.last_revision()).await;
    }
}

pub async fn watch_recreated_key(h: &mut Harness) {
    let store = h.store();
    let start = current(&*store).await;
    let mut watcher = Watcher::start(&*store, "/r/", 0).await;
    let mut model = Model::new(store.clone());
    model.create("/r/k", "first").await;
    model.update("/r/k", "first2").await;
    model.delete("/r/k").await;
    model.create("/r/k", "second").await;
    model.delete("/r/k").await;
    let expected = model.history().events_after("/r/", start);
    let events = watcher.events(expected.len()).await;
    assert_events(&events, &expected);
    assert_eq!(
        events[3].kv.create_revision, events[3].kv.mod_revision,
        "a recreated key has a new create revision"
    );
    assert_eq!(events[3].prev, None, "a recreate has no previous value");
}

pub async fn watch_replays_history_then_continues_live(h: &mut Harness) {
    const HISTORY: usize = 300;
    const LIVE: usize = 200;
    let store = h.store();
    let start = current(&*store).await;
    let mut model = Model::new(store.clone());
    for n in 0..HISTORY {
        churn(&mut model, n).await;
    }
    let live = tokio::spawn(async move {
        for n in HISTORY..HISTORY + LIVE {
            churn(&mut model, n).await;
        }
        model.into_history()
    });
    let mut watcher = Watcher::start(&*store, "/h/", start).await;
    let events = watcher.events(HISTORY + LIVE).await;
    let history = live.await.expect("live writer");
    assert_events(&events, &history.events_after("/h/", start));
    watcher.assert_caught_up(history.last_revision()).await;
}

/// The `n`th write of a churning workload on 40 keys under `/h/`: create, then updates, then a delete.
async fn churn(model: &mut Model, n: usize) {
    let key = format!("/h/{:02}", n % 40);
    let value = format!("v{n}");
    match (n / 40) % 4 {
        0 => model.create(&key, value).await,
        3 => model.delete(&key).await,
        _ => model.update(&key, value).await,
    };
}

pub async fn many_watchers_get_every_event(h: &mut Harness) {
    const WATCHERS: usize = 12;
    const WRITES: usize = 160;
    let store = h.store();
    let start = current(&*store).await;
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS / 2 {
        watchers.push(Watcher::start(&*store, "/h/", 0).await);
    }
    let mut model = Model::new(store.clone());
    let writer = tokio::spawn(async move {
        for n in 0..WRITES {
            churn(&mut model, n).await;
        }
        model.into_history()
    });
    for _ in 0..WATCHERS / 2 {
        watchers.push(Watcher::start(&*store, "/h/", start).await);
    }
    let mut readers = JoinSet::new();
    for (index, mut watcher) in watchers.into_iter().enumerate() {
        readers.spawn(async move { (index, watcher.events(WRITES).await, watcher) });
    }
    let history = writer.await.expect("writer");
    let expected: Vec<Event> = history.events_after("/h/", start);
    while let Some(done) = readers.join_next().await {
        let (index, events, mut watcher) = done.expect("reader task");
        eprintln!("checking watcher {index}");
        assert_events(&events, &expected);
        watcher.assert_caught_up(history.last_revision()).await;
    }
}

pub async fn slow_watchers_do_not_block_writers(h: &mut Harness) {
    const WATCHERS: usize = 8;
    const WRITES: usize = 1500;
    let store = h.store();
    let start = current(&*store).await;
    let mut idle = Vec::new();
    for _ in 0..WATCHERS {
        idle.push(Watcher::start(&*store, "/h/", 0).await);
    }
    let mut model = Model::new(store.clone());
    let writing = async {
        for n in 0..WRITES {
            churn(&mut model, n).await;
        }
    };
    let budget = std::time::Duration::from_secs(90);
    assert!(
        tokio::time::timeout(budget, writing).await.is_ok(),
        "{WRITES} writes did not finish within {budget:?} while {WATCHERS} watchers read nothing"
    );
    let history = model.into_history();
    let expected = history.events_after("/h/", start);
    for (index, watcher) in idle.iter_mut().enumerate() {
        eprintln!("reading watcher {index}");
        assert_events(&watcher.events(WRITES).await, &expected);
        watcher.assert_caught_up(history.last_revision()).await;
    }
}

pub async fn watch_ends_when_store_closes(h: &mut Harness) {
    let store = h.store();
    let mut watcher = Watcher::start(&*store, "/e/", 0).await;
    store
        .create("/e/a", crate::harness::b("x"))
        .await
        .expect("create");
    watcher.events(1).await;
    drop(store);
    h.reopen().await;
    let Ok(next) = watcher.try_next_raw().await else {
        panic!("the watch of a closed store neither ended nor failed within {WATCH_TIMEOUT:?}");
    };
    match next {
        None => {}
        Some(Err(error)) => {
            eprintln!("the watch ended with {error}");
            let after = watcher.next_raw().await;
            assert!(
                after.is_none(),
                "the watch went on after its error: {after:?}"
            );
        }
        Some(Ok(item)) => panic!("the watch of a closed store delivered {item:?}"),
    }
}
