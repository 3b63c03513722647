//! Tests of the etcd backend: unreachable endpoints always, the rest against a live etcd named by
//! `KUBERS_TEST_ETCD` (a `--datastore-endpoint` style list), each skipping when it is unset.
//!
//! Every live test works under its own key prefix, so tests run in parallel on one etcd. The full
//! semantics are checked by the conformance suite in `tests/`; these cover what is etcd specific.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{EtcdConfig, EtcdStore};
use crate::{
    Error, EventKind, ListRequest, MAX_KEY_BYTES, MAX_VALUE_BYTES, Store, WatchItem, WatchOptions,
};

/// Compaction is cluster wide, so tests that compact run alone and the others, which may read old
/// revisions, run together.
static COMPACTION: RwLock<()> = RwLock::const_new(());

/// A test's hold on [`COMPACTION`].
#[allow(dead_code, reason = "held only to be dropped at the end of the test")]
enum Turn {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

/// A store under a fresh key prefix, or `None` (after saying so) when no test etcd is configured.
async fn live_store(test: &str) -> Option<(EtcdStore, Turn)> {
    let turn = Turn::Shared(COMPACTION.read().await);
    live_store_with(test, turn).await
}

/// Like [`live_store`], for a test that compacts.
async fn compacting_store(test: &str) -> Option<(EtcdStore, Turn)> {
    let turn = Turn::Exclusive(COMPACTION.write().await);
    live_store_with(test, turn).await
}

async fn live_store_with(test: &str, turn: Turn) -> Option<(EtcdStore, Turn)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let Ok(endpoints) = std::env::var("KUBERS_TEST_ETCD") else {
        eprintln!("skipping {test}: KUBERS_TEST_ETCD is not set");
        return None;
    };
    let mut config = EtcdConfig::from_endpoint_list(&endpoints).expect("KUBERS_TEST_ETCD parses");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    config.key_prefix = format!(
        "/kubers-test/{}-{nanos}-{}/{test}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let store = EtcdStore::connect(config).await.expect("test etcd answers");
    Some((store, turn))
}

/// The next watch item, failing the test after five seconds.
async fn next(watch: &mut crate::Watch) -> crate::Result<WatchItem> {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("watch item within 5s")
        .expect("watch still open")
}

#[tokio::test]
async fn refused_connection_is_unavailable_naming_the_endpoint() {
    let mut config = EtcdConfig::new(["http://127.0.0.1:1"]);
    config.connect_timeout = Duration::from_secs(2);
    let started = Instant::now();
    let result = EtcdStore::connect(config).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    match result {
        Err(Error::Unavailable { message }) => {
            assert!(message.contains("http://127.0.0.1:1"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn silent_endpoint_times_out_as_unavailable() {
    // A listener that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let address = listener.local_addr().expect("local address");
    let endpoint = format!("http://{address}");
    let mut config = EtcdConfig::new([endpoint.clone()]);
    config.connect_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let result = EtcdStore::connect(config).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    match result {
        Err(Error::Unavailable { message }) => assert!(message.contains(&endpoint), "{message}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    drop(listener);
}

#[tokio::test]
async fn writes_follow_compare_and_swap_rules() {
    let Some((store, _turn)) = live_store("cas").await else {
        return;
    };
    assert_eq!(store.get("/a").await.expect("get"), None);
    let created = store.create("/a", Bytes::from("1")).await.expect("create");
    assert!(matches!(
        store.create("/a", Bytes::from("2")).await,
        Err(Error::AlreadyExists { key }) if key == "/a"
    ));
    let kv = store.get("/a").await.expect("get").expect("exists");
    assert_eq!((kv.key.as_str(), &kv.value[..]), ("/a", &b"1"[..]));
    assert_eq!((kv.create_revision, kv.mod_revision), (created, created));

    // Expecting 0 never creates a missing key nor overwrites an existing one.
    assert!(matches!(
        store.update("/missing", Bytes::from("x"), 0).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(store.get("/missing").await.expect("get"), None);
    assert!(matches!(
        store.update("/a", Bytes::from("x"), 0).await,
        Err(Error::Conflict { expected: 0, .. })
    ));

    let updated = store
        .update("/a", Bytes::from("2"), created)
        .await
        .expect("update");
    assert!(updated > created);
    match store.update("/a", Bytes::from("3"), created).await {
        Err(Error::Conflict {
            key,
            expected,
            current,
        }) => {
            assert_eq!((key.as_str(), expected), ("/a", created));
            assert_eq!(
                (current.key.as_str(), current.mod_revision),
                ("/a", updated)
            );
            assert_eq!(&current.value[..], b"2");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    assert!(matches!(
        store.delete("/a", Some(created)).await,
        Err(Error::Conflict { .. })
    ));
    let deleted = store.delete("/a", Some(updated)).await.expect("delete");
    assert!(deleted.revision > updated);
    assert_eq!(
        (deleted.prev.key.as_str(), deleted.prev.mod_revision),
        ("/a", updated)
    );
    assert!(matches!(
        store.delete("/a", None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.delete("/a", Some(0)).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.get("bad").await,
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(
        store
            .create("/big", Bytes::from(vec![0; MAX_VALUE_BYTES + 1]))
            .await,
        Err(Error::TooLarge { .. })
    ));
}

#[tokio::test]
async fn lists_page_through_one_snapshot() {
    let Some((store, _turn)) = live_store("list").await else {
        return;
    };
    for name in ["a", "b", "c", "d"] {
        store
            .create(&format!("/items/{name}"), Bytes::from(name))
            .await
            .expect("create");
    }
    store.create("/other", Bytes::new()).await.expect("create");
    let first = store
        .list(&ListRequest {
            prefix: "/items/".into(),
            limit: 3,
            ..ListRequest::default()
        })
        .await
        .expect("list");
    let keys: Vec<_> = first.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/items/a", "/items/b", "/items/c"]);
    assert_eq!(first.remaining, 1);
    store.delete("/items/d", None).await.expect("delete");
    store
        .create("/items/e", Bytes::new())
        .await
        .expect("create");

    let second = store
        .list(&ListRequest {
            prefix: "/items/".into(),
            after: Some("/items/c".into()),
            revision: first.revision,
            limit: 3,
        })
        .await
        .expect("list");
    let keys: Vec<_> = second.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/items/d"]);
    assert_eq!((second.revision, second.remaining), (first.revision, 0));
    assert_eq!(store.count("/items/").await.expect("count"), 4);

    // A page after the end of the range, or before its start, stays inside the prefix.
    let past = store
        .list(&ListRequest {
            prefix: "/items/".into(),
            after: Some("/items0".into()),
            ..ListRequest::default()
        })
        .await
        .expect("list");
    assert!(past.items.is_empty() && past.remaining == 0, "{past:?}");
    let before = store
        .list(&ListRequest {
            prefix: "/items/".into(),
            after: Some("/a".into()),
            ..ListRequest::default()
        })
        .await
        .expect("list");
    assert_eq!(before.items.len(), 4);

    let current = store.current_revision().await.expect("revision");
    match store
        .list(&ListRequest {
            prefix: "/items/".into(),
            revision: current + 100,
            ..ListRequest::default()
        })
        .await
    {
        Err(Error::FutureRevision {
            requested,
            current: now,
        }) => {
            assert_eq!(requested, current + 100);
            assert!(now >= current);
        }
        other => panic!("expected a future revision, got {other:?}"),
    }
}

#[tokio::test]
async fn compaction_is_reported_by_reads_and_watches() {
    let Some((store, _turn)) = compacting_store("compact").await else {
        return;
    };
    let first = store
        .create("/c/a", Bytes::from("1"))
        .await
        .expect("create");
    let second = store
        .update("/c/a", Bytes::from("2"), first)
        .await
        .expect("update");
    store.compact(second).await.expect("compact");
    assert!(store.compacted_revision().await.expect("compacted") >= second);
    // Compacting again, or to an older revision, does nothing.
    store.compact(second).await.expect("compact again");
    store.compact(first).await.expect("compact older");
    assert!(matches!(
        store.compact(second + 1_000_000).await,
        Err(Error::FutureRevision { .. })
    ));
    assert!(matches!(
        store
            .list(&ListRequest {
                prefix: "/c/".into(),
                revision: first,
                ..ListRequest::default()
            })
            .await,
        Err(Error::Compacted { requested }) if requested == first
    ));
    assert!(matches!(
        store.watch("/c/", first - 1, WatchOptions::default()).await,
        Err(Error::Compacted { requested }) if requested == first - 1
    ));
    // The first revision still kept can be watched after.
    let mut watch = store
        .watch("/c/", second - 1, WatchOptions::default())
        .await
        .expect("watch");
    match next(&mut watch).await.expect("events") {
        WatchItem::Events(events) => assert_eq!(events[0].revision(), second),
        other => panic!("expected events, got {other:?}"),
    }
}

#[tokio::test]
async fn the_event_at_the_compaction_keeps_its_previous_value() {
    let Some((store, _turn)) = compacting_store("boundary").await else {
        return;
    };
    let first = store
        .create("/b/a", Bytes::from("1"))
        .await
        .expect("create");
    let second = store
        .update("/b/a", Bytes::from("2"), first)
        .await
        .expect("update");
    store.compact(second).await.expect("compact");
    let mut watch = store
        .watch("/b/", second - 1, WatchOptions::default())
        .await
        .expect("watch from the compaction");
    match next(&mut watch).await.expect("events") {
        WatchItem::Events(events) => {
            assert_eq!(events[0].revision(), second);
            assert_eq!(
                events[0].prev.as_ref().map(|prev| prev.mod_revision),
                Some(first)
            );
        }
        other => panic!("expected events, got {other:?}"),
    }
    assert!(matches!(
        store
            .watch("/b/", second - 2, WatchOptions::default())
            .await,
        Err(Error::Compacted { .. })
    ));

    // Another instance learns the compaction from etcd.
    let config = EtcdConfig {
        key_prefix: String::new(),
        ..EtcdConfig::from_endpoint_list(&store.endpoints).expect("endpoints parse")
    };
    let other = EtcdStore::connect(config).await.expect("connect");
    assert_eq!(other.compacted_revision().await.expect("compacted"), second);
    assert!(matches!(
        other
            .list(&ListRequest {
                prefix: "/".into(),
                revision: second - 1,
                ..ListRequest::default()
            })
            .await,
        Err(Error::Compacted { .. })
    ));
}

#[tokio::test]
async fn a_watch_whose_history_is_compacted_ends_with_compacted() {
    let Some((store, _turn)) = compacting_store("compacted-watch").await else {
        return;
    };
    let first = store
        .create("/c/a", Bytes::from("1"))
        .await
        .expect("create");
    let second = store
        .update("/c/a", Bytes::from("2"), first)
        .await
        .expect("update");
    let third = store
        .update("/c/a", Bytes::from("3"), second)
        .await
        .expect("update");
    store.compact(third).await.expect("compact");
    // Skip the eager check, as if the compaction came between it and the etcd watch: etcd cancels
    // a watch from before its compaction, and sends the first event after it without its
    // previous value.
    for after in [first - 1, first] {
        let mut watch = store
            .start_watch("/c/", after, WatchOptions::default())
            .await
            .expect("watch");
        assert!(matches!(
            next(&mut watch).await,
            Err(Error::Compacted { requested }) if requested == after
        ));
        assert!(watch.next().await.is_none());
    }
    assert!(store.compacted_revision().await.expect("compacted") >= third);
}

#[tokio::test]
async fn watches_deliver_events_and_progress() {
    let Some((store, _turn)) = live_store("watch").await else {
        return;
    };
    let before = store
        .create("/w/a", Bytes::from("1"))
        .await
        .expect("create");
    let mut watch = store
        .watch("/w/", before, WatchOptions::default())
        .await
        .expect("watch");
    let updated = store
        .update("/w/a", Bytes::from("2"), before)
        .await
        .expect("update");
    store
        .create("/x", Bytes::new())
        .await
        .expect("create outside");
    let deleted = store.delete("/w/a", None).await.expect("delete");

    let mut events = Vec::new();
    while events.len() < 2 {
        match next(&mut watch).await.expect("item") {
            WatchItem::Events(batch) => events.extend(batch),
            WatchItem::Progress(_) => {}
        }
    }
    assert_eq!(events[0].kind, EventKind::Update);
    assert_eq!(events[0].kv.mod_revision, updated);
    assert_eq!(
        events[0].prev.as_ref().map(|kv| kv.mod_revision),
        Some(before)
    );
    assert_eq!(events[1].kind, EventKind::Delete);
    assert_eq!(events[1].kv.key, "/w/a");
    assert!(events[1].kv.value.is_empty());
    assert_eq!(
        (events[1].kv.create_revision, events[1].kv.mod_revision),
        (0, deleted.revision)
    );
    assert_eq!(
        events[1].prev.as_ref().map(|kv| kv.mod_revision),
        Some(updated)
    );

    watch.request_progress();
    let current = store.current_revision().await.expect("revision");
    match next(&mut watch).await.expect("progress") {
        WatchItem::Progress(revision) => assert!(revision >= deleted.revision, "{revision}"),
        other => panic!("expected progress, got {other:?}"),
    }

    // From now on: only later writes, starting with a create.
    let mut fresh = store
        .watch("/w/", 0, WatchOptions::default())
        .await
        .expect("watch");
    let created = store
        .create("/w/b", Bytes::from("b"))
        .await
        .expect("create");
    match next(&mut fresh).await.expect("events") {
        WatchItem::Events(batch) => {
            assert_eq!(batch.len(), 1);
            assert_eq!(batch[0].kind, EventKind::Create);
            assert_eq!(
                (batch[0].kv.key.as_str(), batch[0].revision()),
                ("/w/b", created)
            );
            assert_eq!(batch[0].prev, None);
        }
        other => panic!("expected events, got {other:?}"),
    }
    assert!(created > current);
}

#[tokio::test]
async fn progress_interval_sends_bookmarks_when_quiet() {
    let Some((store, _turn)) = live_store("interval").await else {
        return;
    };
    let revision = store.create("/i/a", Bytes::new()).await.expect("create");
    let options = WatchOptions {
        progress_interval: Some(Duration::from_millis(200)),
    };
    let mut watch = store.watch("/i/", revision, options).await.expect("watch");
    for _ in 0..3 {
        match next(&mut watch).await.expect("progress") {
            WatchItem::Progress(at) => assert!(at >= revision),
            other => panic!("expected progress, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn progress_never_overtakes_events() {
    let Some((store, _turn)) = live_store("order").await else {
        return;
    };
    let mut watch = store
        .watch("/o/", 0, WatchOptions::default())
        .await
        .expect("watch");
    let mut delivered = 0;
    for round in 0..20 {
        let mut written = Vec::new();
        for i in 0..5 {
            let revision = store
                .create(&format!("/o/{round}-{i}"), Bytes::new())
                .await
                .expect("create");
            written.push(revision);
        }
        let last_written = written[written.len() - 1];
        watch.request_progress();
        loop {
            match next(&mut watch).await.expect("item") {
                WatchItem::Events(batch) => {
                    delivered = batch.last().map_or(delivered, |event| event.revision());
                }
                WatchItem::Progress(revision) => {
                    let undelivered = written.iter().find(|&&w| w > delivered);
                    assert!(
                        undelivered.is_none_or(|&first| revision < first),
                        "round {round}: progress {revision} before event {undelivered:?}"
                    );
                    if revision >= last_written {
                        break;
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn dropped_watches_are_canceled() {
    let Some((store, _turn)) = live_store("drop").await else {
        return;
    };
    for _ in 0..20 {
        let watch = store
            .watch("/d/", 0, WatchOptions::default())
            .await
            .expect("watch");
        drop(watch);
    }
    store.create("/d/a", Bytes::new()).await.expect("create");
}

#[tokio::test]
async fn largest_value_fits_etcd_request_limit() {
    let Some((store, _turn)) = live_store("large").await else {
        return;
    };
    // The longest key, which the update transaction names three times.
    let prefix = "/registry/configmaps/default/";
    let key = format!("{prefix}{}", "k".repeat(MAX_KEY_BYTES - prefix.len()));
    let value = Bytes::from(vec![b'x'; MAX_VALUE_BYTES]);
    let created = store.create(&key, value.clone()).await.expect("create");
    let updated = store
        .update(&key, value.clone(), created)
        .await
        .expect("update of the largest value");
    let deleted = store.delete(&key, Some(updated)).await.expect("delete");
    assert_eq!(deleted.prev.value.len(), MAX_VALUE_BYTES);

    // Pages and watch batches over gRPC's default 4 MiB message limit.
    let mut watch = store
        .watch("/big/", deleted.revision, WatchOptions::default())
        .await
        .expect("watch");
    for name in ["a", "b", "c", "d"] {
        store
            .create(&format!("/big/{name}"), value.clone())
            .await
            .expect("create");
    }
    let page = store
        .list(&ListRequest {
            prefix: "/big/".into(),
            ..ListRequest::default()
        })
        .await
        .expect("list of 6 MiB");
    assert_eq!(page.items.len(), 4);
    let mut seen = 0;
    while seen < 4 {
        match next(&mut watch).await.expect("events") {
            WatchItem::Events(events) => seen += events.len(),
            WatchItem::Progress(_) => {}
        }
    }
    // A watch that starts behind gets them as one catch-up batch.
    let mut behind = store
        .watch("/big/", deleted.revision, WatchOptions::default())
        .await
        .expect("watch");
    let mut seen = 0;
    while seen < 4 {
        match next(&mut behind).await.expect("events") {
            WatchItem::Events(events) => seen += events.len(),
            WatchItem::Progress(_) => {}
        }
    }
}
