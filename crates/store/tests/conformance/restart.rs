//! Restart recovery: after the store is closed and opened again (etcd: killed and restarted), values,
//! the current revision, history and compaction are as they were, and new writes continue after them.

use kubers_store::{Error, ListRequest, WatchOptions};

use crate::harness::{Harness, b, current, list_at};
use crate::model::{Model, assert_events, assert_kvs};
use crate::stream::Watcher;

pub async fn restart_empty_store(h: &mut Harness) {
    h.restart().await;
    let store = h.store();
    assert_eq!(
        current(&*store).await,
        1,
        "a restarted empty store is still at revision 1"
    );
    let revision = store
        .create("/r/a", b("x"))
        .await
        .expect("create after restart");
    assert!(revision > 1);
}

/// Writes creates, updates and deletes under `/r/`; returns the model.
async fn writes(h: &Harness) -> Model {
    let mut model = Model::new(h.store());
    for n in 0..30 {
        model.create(&format!("/r/{n:02}"), format!("v{n}")).await;
    }
    for n in (0..30).step_by(2) {
        model.update(&format!("/r/{n:02}"), format!("w{n}")).await;
    }
    for n in (0..30).step_by(5) {
        model.delete(&format!("/r/{n:02}")).await;
    }
    model.create("/r/empty", "").await;
    model
}

pub async fn restart_recovers_values_and_revision(h: &mut Harness) {
    let model = writes(h).await;
    let before = list_at(&*h.store(), "/", 0).await;
    let history = model.into_history();
    let last = history.last_revision();
    assert_eq!(before.revision, last);

    h.restart().await;
    let store = h.store();
    assert_eq!(
        current(&*store).await,
        last,
        "the current revision after a restart"
    );
    let after = list_at(&*store, "/", 0).await;
    assert_eq!(after.revision, last);
    assert_kvs(&after.items, &before.items);
    for kv in &before.items {
        assert_eq!(store.get(&kv.key).await.expect("get").as_ref(), Some(kv));
    }
    assert_eq!(
        store.count("/r/").await.expect("count"),
        before.items.len() as u64
    );

    let kept = &before.items[0];
    let updated = store
        .update(&kept.key, b("after"), kept.mod_revision)
        .await
        .expect("update with a revision from before the restart");
    assert!(
        updated > last,
        "a write after the restart got {updated}, not after {last}"
    );
    let created = store.create("/r/new", b("x")).await.expect("create");
    assert!(created > updated);
    assert_eq!(
        store.get("/r/05").await.expect("get"),
        None,
        "a deleted key came back"
    );
}

pub async fn restart_keeps_history(h: &mut Harness) {
    let start = current(&*h.store()).await;
    let history = writes(h).await.into_history();
    h.restart().await;
    let store = h.store();
    for revision in (start..=history.last_revision()).step_by(7) {
        let list = list_at(&*store, "/r/", revision).await;
        assert_kvs(&list.items, &history.state_at("/r/", revision));
    }
    let expected = history.events_after("/r/", start);
    let mut watcher = Watcher::start(&*store, "/r/", start).await;
    assert_events(&watcher.events(expected.len()).await, &expected);
    watcher.assert_caught_up(history.last_revision()).await;
}

pub async fn restart_keeps_compaction(h: &mut Harness) {
    let history = writes(h).await.into_history();
    let target = history.revisions()[40];
    h.store().compact(target).await.expect("compact");
    h.restart().await;
    let store = h.store();
    let known = store
        .compacted_revision()
        .await
        .expect("compacted_revision");
    assert!(
        known == target || known == 0,
        "compacted_revision after a restart is {known}, neither the compaction {target} nor unknown"
    );
    let old = ListRequest {
        prefix: "/r/".to_owned(),
        revision: target - 1,
        ..ListRequest::default()
    };
    assert_err!(store.list(&old).await, Error::Compacted { .. });
    assert_err!(
        store
            .watch("/r/", target - 2, WatchOptions::default())
            .await,
        Error::Compacted { .. }
    );
    let list = list_at(&*store, "/r/", target).await;
    assert_kvs(&list.items, &history.state_at("/r/", target));
    store
        .compact(target - 1)
        .await
        .expect("compacting to an older revision again");
    let expected = history.events_after("/r/", target - 1);
    let mut watcher = Watcher::start(&*store, "/r/", target - 1).await;
    assert_events(&watcher.events(expected.len()).await, &expected);
}
