//! Single-key reads and writes: create, get, compare-and-swap update and delete, and the revisions they
//! take.

use bytes::Bytes;
use kubers_store::{Deleted, Error, KeyValue};

use crate::harness::{Harness, b, current, list_at};

const KEY: &str = "/registry/pods/default/a";

fn kv(key: &str, value: &str, create_revision: i64, mod_revision: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: b(value),
        create_revision,
        mod_revision,
    }
}

pub async fn new_store_is_empty_at_revision_one(h: &mut Harness) {
    let store = h.store();
    assert_eq!(
        current(&*store).await,
        1,
        "a new store starts at revision 1"
    );
    assert_eq!(
        store
            .compacted_revision()
            .await
            .expect("compacted_revision"),
        0
    );
    assert_eq!(store.count("/").await.expect("count"), 0);
    let list = list_at(&*store, "/", 0).await;
    assert!(list.items.is_empty(), "a new store lists {:?}", list.items);
    assert_eq!((list.revision, list.remaining), (1, 0));
}

pub async fn get_missing_is_none(h: &mut Harness) {
    let store = h.store();
    assert_eq!(store.get(KEY).await.expect("get"), None);
    store
        .create("/registry/pods/default/ab", b("x"))
        .await
        .expect("create");
    store
        .create("/registry/pods/default", b("x"))
        .await
        .expect("create");
    assert_eq!(
        store.get(KEY).await.expect("get"),
        None,
        "get must match the key exactly, not a prefix or an extension of it"
    );
}

pub async fn create_then_get(h: &mut Harness) {
    let store = h.store();
    let before = current(&*store).await;
    let revision = store.create(KEY, b("v1")).await.expect("create");
    assert!(
        revision > before,
        "create returned {revision}, not after {before}"
    );
    assert_eq!(current(&*store).await, revision);
    let got = store.get(KEY).await.expect("get");
    assert_eq!(got, Some(kv(KEY, "v1", revision, revision)));
}

pub async fn create_existing_is_already_exists(h: &mut Harness) {
    let store = h.store();
    let revision = store.create(KEY, b("v1")).await.expect("create");
    assert_err!(
        store.create(KEY, b("v2")).await,
        Error::AlreadyExists { key } if key == KEY
    );
    assert_eq!(
        store.get(KEY).await.expect("get"),
        Some(kv(KEY, "v1", revision, revision))
    );
    assert_eq!(
        current(&*store).await,
        revision,
        "a failed create took a revision"
    );
}

pub async fn empty_and_binary_values_round_trip(h: &mut Harness) {
    let store = h.store();
    let empty = store
        .create("/v/empty", Bytes::new())
        .await
        .expect("create empty");
    let binary: Bytes = (0..=255u8).chain((0..=255u8).rev()).collect();
    let bin = store
        .create("/v/binary", binary.clone())
        .await
        .expect("create binary");
    let got = store.get("/v/empty").await.expect("get empty");
    assert_eq!(
        got,
        Some(KeyValue {
            key: "/v/empty".to_owned(),
            value: Bytes::new(),
            create_revision: empty,
            mod_revision: empty,
        }),
        "an empty value is a value, not a missing key"
    );
    let got = store.get("/v/binary").await.expect("get binary");
    assert_eq!(got.map(|kv| kv.value), Some(binary.clone()));
    let emptied = store
        .update("/v/binary", Bytes::new(), bin)
        .await
        .expect("update to empty");
    let got = store.get("/v/binary").await.expect("get emptied");
    assert_eq!(
        got.map(|kv| (kv.value, kv.mod_revision)),
        Some((Bytes::new(), emptied))
    );
    let list = list_at(&*store, "/v/", 0).await;
    assert_eq!(
        list.items.len(),
        2,
        "both keys with empty values are listed"
    );
    assert!(list.items.iter().all(|kv| kv.value.is_empty()));
}

pub async fn update_with_expected_revision(h: &mut Harness) {
    let store = h.store();
    let r1 = store.create(KEY, b("v1")).await.expect("create");
    let r2 = store.update(KEY, b("v2"), r1).await.expect("update");
    assert!(r2 > r1, "update returned {r2}, not after {r1}");
    assert_eq!(
        store.get(KEY).await.expect("get"),
        Some(kv(KEY, "v2", r1, r2))
    );
    let r3 = store.update(KEY, b("v3"), r2).await.expect("second update");
    assert!(r3 > r2, "update returned {r3}, not after {r2}");
    assert_eq!(
        store.get(KEY).await.expect("get"),
        Some(kv(KEY, "v3", r1, r3))
    );
    assert_eq!(current(&*store).await, r3);
}

pub async fn update_with_stale_revision_is_conflict(h: &mut Harness) {
    let store = h.store();
    let r1 = store.create(KEY, b("v1")).await.expect("create");
    let r2 = store.update(KEY, b("v2"), r1).await.expect("update");
    for stale in [r1, r2 + 100] {
        match store.update(KEY, b("lost"), stale).await {
            Err(Error::Conflict {
                key,
                expected,
                current,
            }) => {
                assert_eq!(key, KEY);
                assert_eq!(expected, stale);
                assert_eq!(
                    *current,
                    kv(KEY, "v2", r1, r2),
                    "a conflict carries the current value"
                );
            }
            other => {
                panic!("update expecting {stale} (current {r2}): expected Conflict, got {other:?}")
            }
        }
    }
    assert_eq!(
        store.get(KEY).await.expect("get"),
        Some(kv(KEY, "v2", r1, r2))
    );
    assert_eq!(
        current(&*store).await,
        r2,
        "a failed update took a revision"
    );
    let r3 = store
        .update(KEY, b("v3"), r2)
        .await
        .expect("retry with the current revision");
    assert!(r3 > r2);
}

pub async fn update_missing_is_not_found(h: &mut Harness) {
    let store = h.store();
    let now = current(&*store).await;
    assert_err!(
        store.update(KEY, b("v"), now).await,
        Error::NotFound { key } if key == KEY
    );
    let created = store.create(KEY, b("v1")).await.expect("create");
    store.delete(KEY, None).await.expect("delete");
    assert_err!(
        store.update(KEY, b("v"), created).await,
        Error::NotFound { key } if key == KEY
    );
    assert_eq!(
        store.get(KEY).await.expect("get"),
        None,
        "a failed update created the key"
    );
}

pub async fn delete_without_expected(h: &mut Harness) {
    let store = h.store();
    let r1 = store.create(KEY, b("v1")).await.expect("create");
    let r2 = store.update(KEY, b("v2"), r1).await.expect("update");
    let deleted = store.delete(KEY, None).await.expect("delete");
    assert!(
        deleted.revision > r2,
        "delete returned {}, not after {r2}",
        deleted.revision
    );
    assert_eq!(
        deleted,
        Deleted {
            revision: deleted.revision,
            prev: kv(KEY, "v2", r1, r2),
        }
    );
    assert_eq!(store.get(KEY).await.expect("get"), None);
    assert_eq!(current(&*store).await, deleted.revision);
    assert_eq!(store.count("/").await.expect("count"), 0);
}

pub async fn delete_with_expected(h: &mut Harness) {
    let store = h.store();
    let r1 = store.create(KEY, b("v1")).await.expect("create");
    let deleted = store.delete(KEY, Some(r1)).await.expect("delete");
    assert!(deleted.revision > r1);
    assert_eq!(deleted.prev, kv(KEY, "v1", r1, r1));
    assert_eq!(store.get(KEY).await.expect("get"), None);
}

pub async fn delete_with_stale_revision_is_conflict(h: &mut Harness) {
    let store = h.store();
    let r1 = store.create(KEY, b("v1")).await.expect("create");
    let r2 = store.update(KEY, b("v2"), r1).await.expect("update");
    match store.delete(KEY, Some(r1)).await {
        Err(Error::Conflict {
            key,
            expected,
            current,
        }) => {
            assert_eq!(key, KEY);
            assert_eq!(expected, r1);
            assert_eq!(
                *current,
                kv(KEY, "v2", r1, r2),
                "a conflict carries the current value"
            );
        }
        other => panic!("delete expecting {r1} (current {r2}): expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.get(KEY).await.expect("get"),
        Some(kv(KEY, "v2", r1, r2))
    );
    assert_eq!(
        current(&*store).await,
        r2,
        "a failed delete took a revision"
    );
    let deleted = store
        .delete(KEY, Some(r2))
        .await
        .expect("delete with the current revision");
    assert_eq!(deleted.prev, kv(KEY, "v2", r1, r2));
}

pub async fn delete_missing_is_not_found(h: &mut Harness) {
    let store = h.store();
    let before = current(&*store).await;
    assert_err!(store.delete(KEY, None).await, Error::NotFound { key } if key == KEY);
    assert_err!(store.delete(KEY, Some(1)).await, Error::NotFound { key } if key == KEY);
    let created = store.create(KEY, b("v1")).await.expect("create");
    store.delete(KEY, None).await.expect("delete");
    let after = current(&*store).await;
    assert_err!(store.delete(KEY, None).await, Error::NotFound { key } if key == KEY);
    assert_err!(
        store.delete(KEY, Some(created)).await,
        Error::NotFound { key } if key == KEY
    );
    assert!(after > before);
    assert_eq!(
        current(&*store).await,
        after,
        "a failed delete took a revision"
    );
}

pub async fn recreate_after_delete_gets_new_create_revision(h: &mut Harness) {
    let store = h.store();
    let r1 = store.create(KEY, b("v1")).await.expect("create");
    let deleted = store.delete(KEY, None).await.expect("delete");
    let r3 = store.create(KEY, b("v3")).await.expect("create again");
    assert!(r3 > deleted.revision);
    assert_eq!(
        store.get(KEY).await.expect("get"),
        Some(kv(KEY, "v3", r3, r3))
    );
    match store.update(KEY, b("lost"), r1).await {
        Err(Error::Conflict { current, .. }) => assert_eq!(*current, kv(KEY, "v3", r3, r3)),
        other => panic!(
            "update expecting the first incarnation's {r1}: expected Conflict, got {other:?}"
        ),
    }
    let r4 = store.update(KEY, b("v4"), r3).await.expect("update");
    assert_eq!(
        store.get(KEY).await.expect("get"),
        Some(kv(KEY, "v4", r3, r4))
    );
}

pub async fn writes_take_consecutive_revisions(h: &mut Harness) {
    let store = h.store();
    let before = current(&*store).await;
    let r1 = store.create("/r/a", b("1")).await.expect("create a");
    let r2 = store.create("/r/b", b("1")).await.expect("create b");
    let r3 = store.update("/r/a", b("2"), r1).await.expect("update a");
    let r4 = store
        .delete("/r/b", Some(r2))
        .await
        .expect("delete b")
        .revision;
    let r5 = store
        .create("/elsewhere", b("1"))
        .await
        .expect("create elsewhere");
    assert_eq!(
        vec![r1, r2, r3, r4, r5],
        (before + 1..=before + 5).collect::<Vec<_>>(),
        "each successful write takes the next revision"
    );
    assert_eq!(current(&*store).await, r5);
}

pub async fn failed_writes_take_no_revision(h: &mut Harness) {
    let store = h.store();
    let created = store.create(KEY, b("v1")).await.expect("create");
    let updated = store.update(KEY, b("v2"), created).await.expect("update");
    assert!(store.create(KEY, b("x")).await.is_err());
    assert!(store.update(KEY, b("x"), created).await.is_err());
    assert!(store.update("/missing", b("x"), updated).await.is_err());
    assert!(store.delete(KEY, Some(created)).await.is_err());
    assert!(store.delete("/missing", None).await.is_err());
    assert!(store.create("bad", b("x")).await.is_err());
    let huge = Bytes::from(vec![0u8; kubers_store::MAX_VALUE_BYTES + 1]);
    assert!(store.create("/huge", huge).await.is_err());
    assert_eq!(
        current(&*store).await,
        updated,
        "failed writes took revisions"
    );
    let next = store
        .create("/next", b("x"))
        .await
        .expect("create after failures");
    assert_eq!(
        next,
        updated + 1,
        "the next successful write takes the next revision"
    );
}

pub async fn count_by_prefix(h: &mut Harness) {
    let store = h.store();
    for key in [
        "/c/a/1", "/c/a/2", "/c/a/x/3", "/c/ab", "/c/ab/1", "/c/b/1", "/d",
    ] {
        store.create(key, b("x")).await.expect("create");
    }
    let count = |prefix: &'static str| {
        let store = store.clone();
        async move { store.count(prefix).await.expect("count") }
    };
    assert_eq!(count("/c/a/").await, 3);
    assert_eq!(
        count("/c/a").await,
        5,
        "a prefix matches bytes, not path segments"
    );
    assert_eq!(count("/c/").await, 6);
    assert_eq!(count("/").await, 7);
    assert_eq!(count("/none/").await, 0);
    store.delete("/c/a/1", None).await.expect("delete");
    assert_eq!(count("/c/a/").await, 2);
    assert_eq!(count("/").await, 6);
}

pub async fn update_with_same_value_takes_a_revision(h: &mut Harness) {
    let store = h.store();
    let r1 = store.create(KEY, b("same")).await.expect("create");
    let r2 = store
        .update(KEY, b("same"), r1)
        .await
        .expect("update with the same value");
    assert_eq!(
        r2,
        r1 + 1,
        "an update that changes nothing is still a write"
    );
    assert_eq!(
        store.get(KEY).await.expect("get"),
        Some(kv(KEY, "same", r1, r2))
    );
    assert_err!(
        store.update(KEY, b("same"), r1).await,
        Error::Conflict { .. }
    );
}
