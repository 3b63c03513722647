//! The cache against a real SQLite store: filling, following, watching, consistent reads and the
//! resync after the store compacted events the cache had not read.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use kubers_store::{EventKind, Revision, Store};
use serde_json::json;

use super::{Cache, CacheConfig, CacheWatcher, CachedObject, Caches, Step};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const PREFIX: &str = "/registry/configmaps/";

fn value(name: &str, app: &str) -> Bytes {
    Bytes::from(
        json!({"metadata": {"name": name, "namespace": "ns", "labels": {"app": app}}}).to_string(),
    )
}

fn open() -> Result<(tempfile::TempDir, Arc<dyn Store>), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(SqliteConfig::new(dir.path().join("db")))?);
    Ok((dir, store))
}

/// Waits (bounded) until the cache is ready and has seen the store's current revision.
async fn caught_up(cache: &Cache, store: &dyn Store) -> TestResult {
    for _ in 0..500 {
        if cache.ready()
            && cache
                .wait_for(store.current_revision().await?, Duration::from_secs(5))
                .await
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("the cache never caught up".into())
}

async fn events(watcher: &mut CacheWatcher) -> Vec<(EventKind, String, Revision)> {
    match watcher.next().await {
        Step::Events(events) => events
            .iter()
            .map(|event| (event.kind, event.object.name().to_owned(), event.revision))
            .collect(),
        Step::Lost { after } => panic!("lost after {after}"),
    }
}

fn all(_: &CachedObject) -> bool {
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_lists_follows_and_serves_watchers() -> TestResult {
    let (_dir, store) = open()?;
    store
        .create("/registry/configmaps/ns/a", value("a", "web"))
        .await?;
    store
        .create("/registry/configmaps/other/b", value("b", "db"))
        .await?;
    let before = store
        .create("/registry/configmaps/ns/c", value("c", "web"))
        .await?;
    let caches = Caches::new(
        Arc::clone(&store),
        CacheConfig {
            window: 4,
            ..CacheConfig::default()
        },
    );
    let cache = caches.get(PREFIX, &[]);
    assert!(
        Arc::ptr_eq(&cache, &caches.get(PREFIX, &[])),
        "one cache per prefix"
    );
    caught_up(&cache, store.as_ref()).await?;
    let listed = cache.list(PREFIX, &all, 0).ok_or("ready")?;
    assert_eq!((listed.items.len(), listed.revision), (3, before));
    let web = |object: &CachedObject| object.label("app") == Some("web");
    let (initial, mut live) = cache
        .list_and_watch("/registry/configmaps/ns/", &web)
        .ok_or("ready")?;
    assert_eq!(
        initial.items.iter().map(|o| o.name()).collect::<Vec<_>>(),
        ["a", "c"]
    );
    let mut resumed = cache
        .watch_after("/registry/configmaps/ns/", before)
        .ok_or("in window")?;

    let a = store.get("/registry/configmaps/ns/a").await?.ok_or("a")?;
    let updated = store
        .update(
            "/registry/configmaps/ns/a",
            value("a", "db"),
            a.mod_revision,
        )
        .await?;
    store
        .create("/registry/configmaps/other/d", value("d", "web"))
        .await?;
    let deleted = store
        .delete("/registry/configmaps/ns/c", None)
        .await?
        .revision;
    let expected = vec![
        (EventKind::Update, "a".to_owned(), updated),
        (EventKind::Delete, "c".to_owned(), deleted),
    ];
    // Events outside the watcher's prefix are not delivered; steps may split the rest.
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        seen.extend(events(&mut live).await);
    }
    assert_eq!(seen, expected);
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        seen.extend(events(&mut resumed).await);
    }
    assert_eq!(seen, expected);
    // The update's previous object is shared with the list above, not copied.
    caught_up(&cache, store.as_ref()).await?;
    let from_before = cache.watch_after(PREFIX, before).ok_or("in window")?;
    drop(from_before);
    assert_eq!(live.progress(), Some(deleted));

    // Four more events push the first ones out of the window (capacity 4).
    for name in ["e", "f", "g", "h"] {
        store
            .create(
                &format!("/registry/configmaps/ns/{name}"),
                value(name, "web"),
            )
            .await?;
    }
    caught_up(&cache, store.as_ref()).await?;
    assert!(
        cache.watch_after(PREFIX, before).is_none(),
        "older than the window"
    );
    assert!(cache.watch_after(PREFIX, deleted).is_some());
    // A watcher that did not read while its events were evicted is lost where it stopped reading.
    let mut slow = cache
        .watch_after("/registry/configmaps/ns/", deleted)
        .ok_or("in window")?;
    for name in ["i", "j", "k", "l", "m"] {
        store
            .create(
                &format!("/registry/configmaps/ns/{name}"),
                value(name, "web"),
            )
            .await?;
    }
    caught_up(&cache, store.as_ref()).await?;
    match slow.next().await {
        Step::Lost { after } => assert_eq!(after, deleted),
        Step::Events(events) => panic!("expected lost, got {} events", events.len()),
    }
    Ok(())
}

/// Writes to another resource move the store's revision without an event for the cache; a consistent
/// read then needs the store's progress notification to know the cache is current.
async fn consistent_reads_wait_for_progress(store: Arc<dyn Store>) -> TestResult {
    let caches = Caches::new(Arc::clone(&store), CacheConfig::default());
    let cache = caches.get(PREFIX, &[]);
    caught_up(&cache, store.as_ref()).await?;
    let mut current = 0;
    for index in 0..5 {
        current = store
            .create(&format!("/registry/secrets/ns/s{index}"), value("s", "x"))
            .await?;
    }
    assert!(cache.revision() < current);
    for _ in 0..3 {
        // Each wait needs its own progress request: none may be lost or merged away.
        assert!(cache.wait_for(current, Duration::from_secs(30)).await);
        assert!(cache.revision() >= current);
        assert!(cache.list(PREFIX, &all, 0).ok_or("ready")?.revision >= current);
        current = store
            .create(&format!("/registry/secrets/ns/t{current}"), value("t", "x"))
            .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_reads_wait_for_the_stores_progress() -> TestResult {
    let (_dir, store) = open()?;
    consistent_reads_wait_for_progress(store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_reads_wait_for_etcds_progress() -> TestResult {
    let etcd = kubers_testkit::etcd::EtcdServer::start()?;
    let config = kubers_store::etcd::EtcdConfig::from_endpoint_list(&etcd.endpoint())?;
    let store: Arc<dyn Store> = Arc::new(kubers_store::etcd::EtcdStore::connect(config).await?);
    consistent_reads_wait_for_progress(store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::await_holding_lock,
    reason = "the test holds the cache's lock on purpose, to stall its feeder while the store moves on"
)]
async fn the_cache_relists_after_the_store_compacted_what_it_had_not_read() -> TestResult {
    let (_dir, store) = open()?;
    store
        .create("/registry/configmaps/ns/first", value("first", "web"))
        .await?;
    let caches = Caches::new(Arc::clone(&store), CacheConfig::default());
    let cache = caches.get(PREFIX, &[]);
    caught_up(&cache, store.as_ref()).await?;
    let start = cache.revision();
    let mut watcher = cache.watch_after(PREFIX, start).ok_or("in window")?;
    let mut last = start;
    {
        // Holding the state stalls the feeder at its next event: the store's watch of the cache falls
        // behind, past its buffers, and the events it missed are compacted away.
        let stalled = cache.read();
        for index in 0..1400 {
            last = store
                .create(
                    &format!("/registry/configmaps/ns/n{index:04}"),
                    value("n", "web"),
                )
                .await?;
        }
        store.compact(last).await?;
        drop(stalled);
    }
    caught_up(&cache, store.as_ref()).await?;
    let listed = cache.list(PREFIX, &all, 0).ok_or("ready")?;
    assert_eq!(listed.items.len(), 1401);
    assert!(listed.revision >= last);
    // The watcher's history restarted: it is handed back to the store where it stopped.
    loop {
        match watcher.next().await {
            Step::Events(_) => continue,
            Step::Lost { after } => {
                assert!(after >= start && after < last, "lost after {after}");
                break;
            }
        }
    }
    Ok(())
}
