//! Compaction with etcd's semantics: `compact(R)` discards what only revisions before `R` needed and keeps
//! `R` itself readable and watchable; the current state, and every key's latest value, survive it.

use kubers_store::{Error, ListRequest, Revision, Store, WatchItem, WatchOptions};

use crate::harness::{Harness, b, current, list_at};
use crate::model::{History, Model, assert_events, assert_kvs, show_event};
use crate::stream::Watcher;

async fn compact(store: &dyn Store, revision: Revision) {
    store
        .compact(revision)
        .await
        .unwrap_or_else(|error| panic!("compact({revision}): {error}"));
}

async fn compacted(store: &dyn Store) -> Revision {
    store
        .compacted_revision()
        .await
        .expect("compacted_revision")
}

/// Writes under `/c/` and returns the model and the revision of each write, in order.
async fn writes(store: std::sync::Arc<dyn Store>) -> (Model, Vec<Revision>) {
    let mut model = Model::new(store);
    let revisions = vec![
        model.create("/c/a", "a1").await,
        model.update("/c/a", "a2").await,
        model.create("/c/b", "b1").await,
        model.update("/c/a", "a3").await,
        model.delete("/c/b").await,
        model.create("/c/d", "d1").await,
    ];
    (model, revisions)
}

pub async fn compacted_revisions_are_gone_from_list(h: &mut Harness) {
    let store = h.store();
    let (model, r) = writes(store.clone()).await;
    let history = model.into_history();
    let target = r[2];
    compact(&*store, target).await;
    assert_eq!(compacted(&*store).await, target);
    for old in [1, r[0], r[1]] {
        let request = ListRequest {
            prefix: "/c/".to_owned(),
            revision: old,
            ..ListRequest::default()
        };
        match store.list(&request).await {
            Err(Error::Compacted { requested }) => assert_eq!(requested, old),
            other => {
                panic!("list at {old} after compact({target}): expected Compacted, got {other:?}")
            }
        }
    }
    for revision in target..=history.last_revision() {
        let list = list_at(&*store, "/c/", revision).await;
        assert_kvs(&list.items, &history.state_at("/c/", revision));
    }
    assert_kvs(
        &list_at(&*store, "/c/", 0).await.items,
        &history.state_at("/c/", r[5]),
    );
}

pub async fn compacted_list_continuation_fails(h: &mut Harness) {
    let store = h.store();
    for n in 0..10 {
        store
            .create(&format!("/c/{n}"), b("x"))
            .await
            .expect("create");
    }
    let request = ListRequest {
        prefix: "/c/".to_owned(),
        limit: 3,
        ..ListRequest::default()
    };
    let first = store.list(&request).await.expect("first page");
    store.create("/c/new", b("x")).await.expect("create");
    compact(&*store, current(&*store).await).await;
    let next = ListRequest {
        after: first.items.last().map(|kv| kv.key.clone()),
        revision: first.revision,
        ..request
    };
    assert_err!(
        store.list(&next).await,
        Error::Compacted { requested } if requested == first.revision
    );
    assert_eq!(list_at(&*store, "/c/", 0).await.items.len(), 11);
}

pub async fn watch_before_compaction_fails(h: &mut Harness) {
    let store = h.store();
    let (_model, r) = writes(store.clone()).await;
    let target = r[3];
    compact(&*store, target).await;
    for after in [1, r[0], target - 2] {
        assert_err!(
            store.watch("/c/", after, WatchOptions::default()).await,
            Error::Compacted { .. }
        );
        assert_err!(
            store.watch("/", after, WatchOptions::default()).await,
            Error::Compacted { .. }
        );
    }
}

pub async fn watch_at_compaction_boundary_works(h: &mut Harness) {
    let store = h.store();
    let (mut model, r) = writes(store.clone()).await;
    // The write at the compaction revision is an update whose previous value is older than it: the
    // event at `target` must still carry it.
    let target = r[3];
    compact(&*store, target).await;
    for after in [target - 1, target, r[5]] {
        let expected = model.history().events_after("/c/", after);
        let mut watcher = Watcher::start(&*store, "/c/", after).await;
        let events = watcher.events(expected.len()).await;
        assert_events(&events, &expected);
        watcher.assert_caught_up(r[5]).await;
    }
    let mut watcher = Watcher::start(&*store, "/c/", 0).await;
    let mark = model.history().last_revision();
    model.update("/c/a", "a4").await;
    let expected = model.history().events_after("/c/", mark);
    assert_events(&watcher.events(1).await, &expected);
}

pub async fn compact_older_revision_is_a_noop(h: &mut Harness) {
    let store = h.store();
    let (_model, r) = writes(store.clone()).await;
    compact(&*store, r[3]).await;
    for again in [r[3], r[2], r[0], 1] {
        compact(&*store, again).await;
        assert_eq!(
            compacted(&*store).await,
            r[3],
            "compact({again}) moved the compaction"
        );
    }
    list_at(&*store, "/c/", r[3]).await;
    assert_err!(
        store
            .list(&ListRequest {
                prefix: "/c/".to_owned(),
                revision: r[2],
                ..ListRequest::default()
            })
            .await,
        Error::Compacted { .. }
    );
    compact(&*store, r[5]).await;
    assert_eq!(compacted(&*store).await, r[5]);
}

pub async fn compaction_keeps_current_state(h: &mut Harness) {
    let store = h.store();
    let mut model = Model::new(store.clone());
    for n in 0..20 {
        model.create(&format!("/c/{n:02}"), format!("v{n}")).await;
    }
    for n in (0..20).step_by(3) {
        model.update(&format!("/c/{n:02}"), format!("w{n}")).await;
    }
    for n in (1..20).step_by(4) {
        model.delete(&format!("/c/{n:02}")).await;
    }
    let last = model.history().last_revision();
    compact(&*store, last).await;
    let expected = model.history().state_at("/c/", last);
    assert_kvs(&list_at(&*store, "/c/", 0).await.items, &expected);
    assert_kvs(&list_at(&*store, "/c/", last).await.items, &expected);
    assert_eq!(
        store.count("/c/").await.expect("count"),
        expected.len() as u64
    );
    for kv in &expected {
        assert_eq!(store.get(&kv.key).await.expect("get").as_ref(), Some(kv));
    }
    assert_eq!(store.get("/c/01").await.expect("get"), None);

    let mut watcher = Watcher::start(&*store, "/c/", last).await;
    model.update("/c/02", "after").await;
    model.delete("/c/04").await;
    model.create("/c/01", "again").await;
    let events = watcher.events(3).await;
    assert_events(&events, &model.history().events_after("/c/", last));
}

pub async fn lagging_watcher_never_skips_events(h: &mut Harness) {
    const WRITES: usize = 600;
    let store = h.store();
    let start = current(&*store).await;
    let mut watcher = Watcher::start(&*store, "/l/", start).await;
    let mut model = Model::new(store.clone());
    for n in 0..WRITES {
        let key = format!("/l/{:02}", n % 20);
        if n < 20 {
            model.create(&key, format!("v{n}")).await;
        } else {
            model.update(&key, format!("v{n}")).await;
        }
    }
    let last = model.history().last_revision();
    compact(&*store, last).await;
    let expected = model.history().events_after("/l/", start);
    let mut events = Vec::new();
    while events.len() < expected.len() {
        match watcher.next_raw().await {
            Some(Ok(item)) => {
                watcher.check(&item);
                if let WatchItem::Events(batch) = item {
                    events.extend(batch);
                }
            }
            Some(Err(Error::Compacted { .. })) => {
                let after = watcher.next_raw().await;
                assert!(
                    after.is_none(),
                    "the watch went on after Compacted: {after:?}"
                );
                break;
            }
            Some(Err(error)) => panic!("lagging watch failed with {error}, not Compacted"),
            None => panic!(
                "the lagging watch ended after {} events without an error",
                events.len()
            ),
        }
    }
    if events.len() > expected.len() {
        panic!("extra event {}", show_event(&events[expected.len()]));
    }
    assert_events(&events, &expected[..events.len()]);
}

pub async fn compaction_of_long_history(h: &mut Harness) {
    const WRITES: usize = 1500;
    let store = h.store();
    let start = current(&*store).await;
    let mut model = Model::new(store.clone());
    for n in 0..WRITES {
        let key = format!("/c/{:02}", n % 60);
        match (n / 60) % 5 {
            0 => model.create(&key, format!("v{n}")).await,
            4 => model.delete(&key).await,
            _ => model.update(&key, format!("v{n}")).await,
        };
    }
    let history = model.into_history();
    let revisions = history.revisions();
    for target in [revisions[WRITES / 2 + 7], revisions[WRITES * 3 / 4 + 31]] {
        compact(&*store, target).await;
        assert_eq!(compacted(&*store).await, target);
        assert_err!(
            store
                .list(&ListRequest {
                    prefix: "/c/".to_owned(),
                    revision: target - 1,
                    ..ListRequest::default()
                })
                .await,
            Error::Compacted { .. }
        );
        for revision in (target..=history.last_revision()).step_by(37) {
            let list = list_at(&*store, "/c/", revision).await;
            assert_kvs(&list.items, &history.state_at("/c/", revision));
        }
        let expected = history.events_after("/c/", target);
        let mut watcher = Watcher::start(&*store, "/c/", target).await;
        assert_events(&watcher.events(expected.len()).await, &expected);
        watcher.assert_caught_up(history.last_revision()).await;
    }
    assert!(start < history.last_revision());
}

pub async fn compaction_during_writes_keeps_live_watchers_whole(h: &mut Harness) {
    const WRITERS: usize = 16;
    const PER_WRITER: usize = 60;
    const WRITES: usize = WRITERS * PER_WRITER;
    let store = h.store();
    let start = current(&*store).await;
    let mut watcher = Watcher::start(&*store, "/c/", start).await;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let mut model = Model::new(store.clone());
        writers.spawn(async move {
            for n in 0..PER_WRITER {
                let key = format!("/c/w{writer:02}/{:02}", n % 5);
                if n < 5 {
                    model.create(&key, format!("v{n}")).await;
                } else {
                    model.update(&key, format!("v{n}")).await;
                }
            }
            model.into_history()
        });
    }
    let compactor = tokio::spawn({
        let store = store.clone();
        async move {
            let mut compactions = 0;
            loop {
                let now = current(&*store).await;
                // Far enough behind the writes that a watcher keeping up is never compacted away.
                if now > start + 150 {
                    compact(&*store, now - 100).await;
                    compactions += 1;
                }
                if now >= start + WRITES as Revision {
                    return compactions;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    });
    let events = watcher.events(WRITES).await;
    let mut histories = Vec::new();
    while let Some(done) = writers.join_next().await {
        histories.push(done.expect("writer task"));
    }
    let history = History::merge(histories);
    let compactions = compactor.await.expect("compactor");
    assert!(compactions > 0, "no compaction ran during the writes");
    assert_events(&events, &history.events_after("/c/", start));
    let last = history.last_revision();
    assert_kvs(
        &list_at(&*store, "/c/", 0).await.items,
        &history.state_at("/c/", last),
    );
}
