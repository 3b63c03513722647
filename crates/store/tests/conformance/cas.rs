//! Compare-and-swap under contention: concurrent writers never lose an update, and exactly one of many
//! racing creates or deletes wins.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use kubers_store::{Error, KeyValue, Revision, Store};
use tokio::task::JoinSet;

use crate::harness::{Harness, b, current};
use crate::stream::Watcher;

const WRITERS: usize = 16;
const INCREMENTS: usize = 25;
const COUNTER: &str = "/cas/counter";

fn counter_value(kv: &KeyValue) -> usize {
    std::str::from_utf8(&kv.value)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("counter holds {:?}, not a number", kv.value))
}

/// One writer's increments: read-modify-write, retrying with the value a conflict carries.
async fn increment(store: Arc<dyn Store>, times: usize) -> (Vec<Revision>, usize) {
    let mut kv = store
        .get(COUNTER)
        .await
        .expect("get counter")
        .expect("the counter exists");
    let mut revisions = Vec::with_capacity(times);
    let mut conflicts = 0;
    for _ in 0..times {
        loop {
            let next = Bytes::from((counter_value(&kv) + 1).to_string());
            match store.update(COUNTER, next.clone(), kv.mod_revision).await {
                Ok(revision) => {
                    revisions.push(revision);
                    kv = KeyValue {
                        value: next,
                        mod_revision: revision,
                        ..kv
                    };
                    break;
                }
                Err(Error::Conflict { current, .. }) => {
                    assert!(
                        current.mod_revision > kv.mod_revision,
                        "a conflict expecting {} carried the older revision {}",
                        kv.mod_revision,
                        current.mod_revision
                    );
                    kv = *current;
                    conflicts += 1;
                }
                Err(error) => panic!("increment: {error}"),
            }
        }
    }
    (revisions, conflicts)
}

pub async fn concurrent_increments_lose_no_update(h: &mut Harness) {
    let store = h.store();
    let created = store.create(COUNTER, b("0")).await.expect("create counter");
    let mut tasks = JoinSet::new();
    for _ in 0..WRITERS {
        tasks.spawn(increment(store.clone(), INCREMENTS));
    }
    let mut revisions = BTreeSet::new();
    let mut conflicts = 0;
    while let Some(done) = tasks.join_next().await {
        let (mine, theirs) = done.expect("writer task");
        conflicts += theirs;
        for revision in mine {
            assert!(
                revisions.insert(revision),
                "two successful updates returned revision {revision}"
            );
        }
    }
    let total = WRITERS * INCREMENTS;
    let kv = store
        .get(COUNTER)
        .await
        .expect("get")
        .expect("the counter exists");
    assert_eq!(
        counter_value(&kv),
        total,
        "lost updates ({conflicts} conflicts were retried)"
    );
    assert_eq!(revisions.len(), total);
    assert_eq!(kv.create_revision, created);
    assert_eq!(
        Some(&kv.mod_revision),
        revisions.last(),
        "the last update is the value's revision"
    );
}

pub async fn concurrent_creates_exactly_one_wins(h: &mut Harness) {
    let store = h.store();
    let mut tasks = JoinSet::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(async move {
            let value = b(&format!("writer-{writer}"));
            (value.clone(), store.create("/cas/race", value).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done.expect("creator task") {
            (value, Ok(revision)) => winners.push((value, revision)),
            (_, Err(Error::AlreadyExists { key })) => assert_eq!(key, "/cas/race"),
            (_, Err(error)) => panic!("racing create: expected Ok or AlreadyExists, got {error}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one racing create must win: {winners:?}"
    );
    let (value, revision) = winners.remove(0);
    let kv = store
        .get("/cas/race")
        .await
        .expect("get")
        .expect("the key exists");
    assert_eq!(
        kv,
        KeyValue {
            key: "/cas/race".to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        }
    );
    assert_eq!(
        current(&*store).await,
        revision,
        "losing creates took revisions"
    );
}

pub async fn concurrent_deletes_exactly_one_wins(h: &mut Harness) {
    let store = h.store();
    let created = store.create("/cas/doomed", b("x")).await.expect("create");
    let mut tasks = JoinSet::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        let expected = (writer % 2 == 0).then_some(created);
        tasks.spawn(async move { store.delete("/cas/doomed", expected).await });
    }
    let mut winners = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done.expect("deleter task") {
            Ok(deleted) => winners.push(deleted),
            Err(Error::NotFound { key }) => assert_eq!(key, "/cas/doomed"),
            Err(error) => panic!("racing delete: expected Ok or NotFound, got {error}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one racing delete must win: {winners:?}"
    );
    assert_eq!(winners[0].prev.mod_revision, created);
    assert_eq!(
        current(&*store).await,
        winners[0].revision,
        "losing deletes took revisions"
    );
}

pub async fn concurrent_writers_get_distinct_consecutive_revisions(h: &mut Harness) {
    const PER_WRITER: usize = 20;
    let store = h.store();
    let before = current(&*store).await;
    let mut tasks = JoinSet::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut written = Vec::new();
            for n in 0..PER_WRITER {
                let key = format!("/cas/w{writer:02}/{n:02}");
                let revision = store.create(&key, b(&key)).await.expect("create");
                written.push((revision, key));
            }
            written
        });
    }
    let mut written = Vec::new();
    while let Some(done) = tasks.join_next().await {
        written.extend(done.expect("writer task"));
    }
    written.sort();
    let revisions: Vec<Revision> = written.iter().map(|(r, _)| *r).collect();
    let total = (WRITERS * PER_WRITER) as Revision;
    assert_eq!(
        revisions,
        (before + 1..=before + total).collect::<Vec<_>>(),
        "concurrent writes must take distinct, consecutive revisions"
    );
    assert_eq!(current(&*store).await, before + total);
    let mut watcher = Watcher::start(&*store, "/cas/", before).await;
    let events = watcher.events(written.len()).await;
    let seen: Vec<(Revision, String)> = events
        .into_iter()
        .map(|e| (e.revision(), e.kv.key))
        .collect();
    assert_eq!(
        seen, written,
        "the watch replays the writes in revision order"
    );
}

pub async fn racing_creates_and_failures_share_commits(h: &mut Harness) {
    const KEYS: usize = 50;
    let store = h.store();
    let before = current(&*store).await;
    let mut tasks = JoinSet::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut won = Vec::new();
            for i in 0..KEYS {
                // Every writer tries every key, each starting at a different one.
                let key = format!("/g/{:02}", (i + writer * 7) % KEYS);
                match store.create(&key, b(&format!("{writer}"))).await {
                    Ok(revision) => won.push((revision, key, writer)),
                    Err(Error::AlreadyExists { .. }) => {}
                    Err(error) => panic!("create {key}: {error}"),
                }
            }
            won
        });
    }
    let mut won = Vec::new();
    while let Some(done) = tasks.join_next().await {
        won.extend(done.expect("writer task"));
    }
    won.sort();
    let revisions: Vec<Revision> = won.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(
        revisions,
        (before + 1..=before + KEYS as Revision).collect::<Vec<_>>(),
        "each key is created once, and failed creates take no revision"
    );
    for (revision, key, writer) in &won {
        let kv = store.get(key).await.expect("get").expect("the key exists");
        assert_eq!(
            (kv.value, kv.mod_revision),
            (b(&format!("{writer}")), *revision)
        );
    }
}
