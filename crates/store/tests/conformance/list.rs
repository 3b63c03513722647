//! Listing: prefix ranges, key order, pagination with a limit and a continuation key, reads at older
//! revisions, and consistent pages while writes continue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kubers_store::{Error, ListRequest, ListResponse, Revision, Store};

use crate::harness::{Harness, b, current, list_at};
use crate::model::{Model, assert_kvs, keys};

async fn page(
    store: &dyn Store,
    prefix: &str,
    after: Option<&str>,
    revision: Revision,
    limit: usize,
) -> ListResponse {
    let request = ListRequest {
        prefix: prefix.to_owned(),
        after: after.map(str::to_owned),
        revision,
        limit,
    };
    store
        .list(&request)
        .await
        .unwrap_or_else(|error| panic!("{request:?}: {error}"))
}

/// Every page of `prefix` at `revision` (0: the first page's), `limit` keys at a time, with the revision
/// the pages were read at.
async fn all_pages(
    store: &dyn Store,
    prefix: &str,
    revision: Revision,
    limit: usize,
) -> (ListResponse, Revision) {
    let mut all = ListResponse::default();
    let mut after: Option<String> = None;
    let mut revision = revision;
    // (keys returned so far, remaining) after each page, checked against the total at the end.
    let mut progress = Vec::new();
    loop {
        let mut response = page(store, prefix, after.as_deref(), revision, limit).await;
        if revision == 0 {
            revision = response.revision;
        }
        assert_eq!(
            response.revision, revision,
            "a continuation must read the same revision"
        );
        assert!(
            response.items.len() <= limit,
            "a page holds more than its limit"
        );
        if response.more() {
            assert_eq!(
                response.items.len(),
                limit,
                "a page with more to come is not full"
            );
        }
        after = response.items.last().map(|kv| kv.key.clone());
        let more = response.more();
        all.items.append(&mut response.items);
        progress.push((all.items.len(), response.remaining));
        if !more {
            let total = all.items.len() as u64;
            for (returned, remaining) in progress {
                assert_eq!(
                    remaining,
                    total - returned as u64,
                    "remaining after {returned} of {total} keys at revision {revision}"
                );
            }
            return (all, revision);
        }
    }
}

pub async fn list_empty_prefix(h: &mut Harness) {
    let store = h.store();
    store.create("/other/x", b("x")).await.expect("create");
    let now = current(&*store).await;
    let list = list_at(&*store, "/none/", 0).await;
    assert_eq!(
        list,
        ListResponse {
            items: Vec::new(),
            revision: now,
            remaining: 0
        }
    );
    let list = page(&*store, "/none/", None, 0, 5).await;
    assert_eq!((list.items.len(), list.remaining), (0, 0));
}

pub async fn list_prefix_isolation(h: &mut Harness) {
    let store = h.store();
    for key in [
        "/a", "/a/1", "/a/2", "/a/b/3", "/a0", "/ab", "/ab/1", "/b/1",
    ] {
        store.create(key, b(key)).await.expect("create");
    }
    let list = list_at(&*store, "/a/", 0).await;
    assert_eq!(keys(&list.items), ["/a/1", "/a/2", "/a/b/3"]);
    assert!(list.items.iter().all(|kv| kv.value == kv.key.as_bytes()));
    let list = list_at(&*store, "/a/b/", 0).await;
    assert_eq!(keys(&list.items), ["/a/b/3"]);
    let list = list_at(&*store, "/a", 0).await;
    assert_eq!(
        keys(&list.items),
        ["/a", "/a/1", "/a/2", "/a/b/3", "/a0", "/ab", "/ab/1"],
        "a prefix matches bytes, not path segments"
    );
    let list = list_at(&*store, "/", 0).await;
    assert_eq!(list.items.len(), 8);
}

pub async fn list_key_order(h: &mut Harness) {
    let store = h.store();
    let mut inserted = vec![
        "/k/b",
        "/k/B",
        "/k/a",
        "/k/a/b",
        "/k/a-b",
        "/k/a.b",
        "/k/10",
        "/k/9",
        "/k/é",
        "/k/z",
        "/k/~",
        "/k/日本",
    ];
    for key in &inserted {
        store.create(key, b(key)).await.expect("create");
    }
    inserted.sort_unstable();
    let list = list_at(&*store, "/k/", 0).await;
    assert_eq!(keys(&list.items), inserted, "keys come in byte order");
    let (paged, _) = all_pages(&*store, "/k/", 0, 5).await;
    assert_eq!(keys(&paged.items), inserted, "pages come in byte order");
}

pub async fn list_items_carry_revisions(h: &mut Harness) {
    let store = h.store();
    let mut model = Model::new(store.clone());
    model.create("/i/a", "a1").await;
    model.create("/i/b", "b1").await;
    model.update("/i/a", "a2").await;
    model.create("/i/c", "c1").await;
    model.delete("/i/b").await;
    model.update("/i/a", "a3").await;
    let last = model.history().last_revision();
    let list = list_at(&*store, "/i/", 0).await;
    assert_eq!(
        list.revision, last,
        "a current list reads the current revision"
    );
    assert_kvs(&list.items, &model.history().state_at("/i/", last));
}

pub async fn list_limit_and_after_paginate(h: &mut Harness) {
    let store = h.store();
    let all: Vec<String> = (0..25).map(|n| format!("/p/{n:02}")).collect();
    for key in &all {
        store.create(key, b(key)).await.expect("create");
    }
    store.create("/q", b("outside")).await.expect("create");
    let now = current(&*store).await;

    let first = page(&*store, "/p/", None, 0, 10).await;
    assert_eq!(keys(&first.items), all[..10]);
    assert_eq!((first.revision, first.remaining), (now, 15));
    assert!(first.more());
    let second = page(&*store, "/p/", Some("/p/09"), first.revision, 10).await;
    assert_eq!(keys(&second.items), all[10..20]);
    assert_eq!((second.revision, second.remaining), (now, 5));
    let third = page(&*store, "/p/", Some("/p/19"), first.revision, 10).await;
    assert_eq!(keys(&third.items), all[20..]);
    assert_eq!((third.remaining, third.more()), (0, false));

    let exact = page(&*store, "/p/", None, 0, 25).await;
    assert_eq!(
        (exact.items.len(), exact.remaining),
        (25, 0),
        "a limit equal to the count"
    );
    let larger = page(&*store, "/p/", None, 0, 100).await;
    assert_eq!(
        (larger.items.len(), larger.remaining),
        (25, 0),
        "a limit over the count"
    );
    let unlimited = page(&*store, "/p/", None, 0, 0).await;
    assert_eq!(
        (unlimited.items.len(), unlimited.remaining),
        (25, 0),
        "limit 0 means all"
    );
    let one = page(&*store, "/p/", Some("/p/03"), 0, 1).await;
    assert_eq!((keys(&one.items), one.remaining), (vec!["/p/04"], 20));
    let rest = page(&*store, "/p/", Some("/p/03"), 0, 0).await;
    assert_eq!(
        (rest.items.len(), rest.remaining),
        (21, 0),
        "after without a limit"
    );
}

pub async fn list_after_key_between_keys(h: &mut Harness) {
    let store = h.store();
    for key in ["/p/a", "/p/c", "/p/e"] {
        store.create(key, b(key)).await.expect("create");
    }
    let list = page(&*store, "/p/", Some("/p/b"), 0, 0).await;
    assert_eq!(
        keys(&list.items),
        ["/p/c", "/p/e"],
        "after a key that does not exist"
    );
    let list = page(&*store, "/p/", Some("/p/e"), 0, 10).await;
    assert_eq!(
        (list.items.len(), list.remaining),
        (0, 0),
        "after the last key"
    );
    let list = page(&*store, "/p/", Some("/p/z"), 0, 10).await;
    assert_eq!(
        (list.items.len(), list.remaining),
        (0, 0),
        "after every key"
    );
}

pub async fn list_at_old_revision(h: &mut Harness) {
    let store = h.store();
    let mut model = Model::new(store.clone());
    model.create("/o/a", "a1").await;
    model.create("/o/b", "b1").await;
    model.create("/o/gone", "g1").await;
    model.update("/o/a", "a2").await;
    model.delete("/o/gone").await;
    model.create("/elsewhere", "x").await;
    model.update("/o/b", "b2").await;
    model.create("/o/c", "c1").await;
    model.delete("/o/a").await;
    model.create("/o/a", "a3").await;
    let history = model.history().clone();
    let start = history.revisions()[0] - 1;
    for revision in start..=history.last_revision() {
        let list = list_at(&*store, "/o/", revision.max(1)).await;
        assert_eq!(
            list.revision,
            revision.max(1),
            "a list at a revision reports that revision"
        );
        let expected = history.state_at("/o/", revision);
        if list.items != expected {
            eprintln!("listing /o/ at revision {revision}");
            assert_kvs(&list.items, &expected);
        }
        let (paged, _) = all_pages(&*store, "/o/", revision.max(1), 1).await;
        assert_kvs(&paged.items, &expected);
    }
}

pub async fn list_pages_at_fixed_revision_ignore_concurrent_writes(h: &mut Harness) {
    let store = h.store();
    for n in 0..60 {
        let key = format!("/s/{n:02}");
        store.create(&key, b("v0")).await.expect("create");
    }
    let snapshot = list_at(&*store, "/s/", 0).await;
    let first = page(&*store, "/s/", None, 0, 7).await;
    assert_eq!(
        first.revision, snapshot.revision,
        "no write happened between the two reads"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let store = store.clone();
        let stop = stop.clone();
        async move {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let victim = format!("/s/{:02}", (round * 7) % 60);
                if let Some(kv) = store.get(&victim).await.expect("get") {
                    if round % 3 == 0 {
                        store
                            .delete(&victim, Some(kv.mod_revision))
                            .await
                            .expect("delete");
                    } else {
                        let value = b(&format!("v{round}"));
                        store
                            .update(&victim, value, kv.mod_revision)
                            .await
                            .expect("update");
                    }
                }
                let newcomer = format!("/s/{:02}-new{round}", (round * 11) % 60);
                store.create(&newcomer, b("new")).await.expect("create");
            }
            round
        }
    });

    let mut items = first.items.clone();
    let mut after = items.last().map(|kv| kv.key.clone());
    let mut more = first.more();
    while more {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut next = page(&*store, "/s/", after.as_deref(), first.revision, 7).await;
        assert_eq!(next.revision, first.revision);
        after = next.items.last().map(|kv| kv.key.clone());
        more = next.more();
        items.append(&mut next.items);
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.await.expect("writer task");
    assert!(
        rounds > 0,
        "the writer made no write while the pages were read"
    );
    assert!(current(&*store).await > snapshot.revision);
    assert_kvs(&items, &snapshot.items);
    let (again, _) = all_pages(&*store, "/s/", snapshot.revision, 13).await;
    assert_kvs(&again.items, &snapshot.items);
}

pub async fn list_future_revision(h: &mut Harness) {
    let store = h.store();
    store.create("/f/a", b("x")).await.expect("create");
    let now = current(&*store).await;
    let request = ListRequest {
        prefix: "/f/".to_owned(),
        revision: now + 1,
        ..ListRequest::default()
    };
    match store.list(&request).await {
        Err(Error::FutureRevision { requested, current }) => {
            assert_eq!(requested, now + 1);
            assert!(
                current == now || current == 0,
                "FutureRevision reports current {current}, not {now}"
            );
        }
        other => panic!(
            "list at {} (current {now}): expected FutureRevision, got {other:?}",
            now + 1
        ),
    }
    assert_err!(
        store
            .list(&ListRequest {
                revision: now + 1000,
                ..request.clone()
            })
            .await,
        Error::FutureRevision { .. }
    );
    store.create("/f/b", b("x")).await.expect("create");
    let list = store.list(&request).await.expect("the revision exists now");
    assert_eq!(keys(&list.items), ["/f/a", "/f/b"]);
}

pub async fn prefixes_with_sql_wildcards_match_literally(h: &mut Harness) {
    let store = h.store();
    let keys_written = [
        "/a_b/1", "/axb/1", "/a%/1", "/abc/1", "/a*/1", "/a?/1", "/a[b]/1", "/ab/1", "/a\\/1",
        "/A_B/1",
    ];
    let mut model = Model::new(store.clone());
    for key in keys_written {
        model.create(key, key).await;
    }
    for (prefix, expected) in [
        ("/a_b/", vec!["/a_b/1"]),
        ("/a%/", vec!["/a%/1"]),
        ("/a*/", vec!["/a*/1"]),
        ("/a?/", vec!["/a?/1"]),
        ("/a[b]/", vec!["/a[b]/1"]),
        ("/a\\/", vec!["/a\\/1"]),
        ("/a%", vec!["/a%/1"]),
        ("/a_", vec!["/a_b/1"]),
    ] {
        let list = list_at(&*store, prefix, 0).await;
        assert_eq!(keys(&list.items), expected, "list of {prefix:?}");
        let count = store.count(prefix).await.expect("count");
        assert_eq!(count, expected.len() as u64, "count of {prefix:?}");
    }
    let start = current(&*store).await;
    for key in keys_written {
        model.update(key, "again").await;
    }
    let history = model.into_history();
    for prefix in ["/a_b/", "/a%/", "/a*/", "/a_"] {
        let mut watcher = crate::stream::Watcher::start(&*store, prefix, start).await;
        let expected = history.events_after(prefix, start);
        assert_eq!(expected.len(), 1);
        crate::model::assert_events(&watcher.events(1).await, &expected);
        watcher.assert_caught_up(history.last_revision()).await;
    }
}
