//! The input rules both backends share: the largest value and key go through every path intact, one byte
//! more is refused, and malformed keys and prefixes are refused by every method.

use bytes::Bytes;
use kubers_store::{Error, ListRequest, MAX_KEY_BYTES, MAX_VALUE_BYTES, WatchOptions};

use crate::harness::{Harness, b, current, list_at};
use crate::model::{Model, assert_events, assert_kvs, show_kv};
use crate::stream::Watcher;

/// A value of `len` bytes whose content depends on `seed` and on every position.
fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(37))
        .collect()
}

fn assert_same_value(what: &str, actual: &Bytes, expected: &Bytes) {
    if actual != expected {
        let first = actual.iter().zip(expected.iter()).position(|(a, e)| a != e);
        panic!(
            "{what}: read back {} bytes, wrote {}; first difference at {first:?}",
            actual.len(),
            expected.len()
        );
    }
}

pub async fn max_value_round_trips(h: &mut Harness) {
    let store = h.store();
    let first = pattern(MAX_VALUE_BYTES, 1);
    let created = store
        .create("/big/a", first.clone())
        .await
        .expect("create a max-size value");
    let got = store
        .get("/big/a")
        .await
        .expect("get")
        .expect("the key exists");
    assert_same_value("get after create", &got.value, &first);
    let second = pattern(MAX_VALUE_BYTES, 2);
    let updated = store
        .update("/big/a", second.clone(), created)
        .await
        .expect("update with a max-size value");
    let got = store
        .get("/big/a")
        .await
        .expect("get")
        .expect("the key exists");
    assert_same_value("get after update", &got.value, &second);
    assert_eq!((got.create_revision, got.mod_revision), (created, updated));
    let deleted = store.delete("/big/a", None).await.expect("delete");
    assert_same_value("the deleted value", &deleted.prev.value, &second);
}

pub async fn value_over_max_is_too_large(h: &mut Harness) {
    let store = h.store();
    let huge = pattern(MAX_VALUE_BYTES + 1, 3);
    assert_err!(
        store.create("/big/a", huge.clone()).await,
        Error::TooLarge { key, size, limit }
            if key == "/big/a" && size == MAX_VALUE_BYTES + 1 && limit == MAX_VALUE_BYTES
    );
    assert_eq!(store.get("/big/a").await.expect("get"), None);
    let created = store.create("/big/a", b("small")).await.expect("create");
    assert_err!(
        store.update("/big/a", huge, created).await,
        Error::TooLarge { size, .. } if size == MAX_VALUE_BYTES + 1
    );
    let got = store
        .get("/big/a")
        .await
        .expect("get")
        .expect("the key exists");
    assert_eq!((got.value, got.mod_revision), (b("small"), created));
    assert_eq!(
        current(&*store).await,
        created,
        "a refused write took a revision"
    );
}

pub async fn max_values_in_list_and_watch(h: &mut Harness) {
    let store = h.store();
    let start = current(&*store).await;
    let mut model = Model::new(store.clone());
    for n in 0..3u8 {
        model
            .create(&format!("/big/{n}"), pattern(MAX_VALUE_BYTES, n))
            .await;
    }
    model.update("/big/0", pattern(MAX_VALUE_BYTES, 9)).await;
    model.delete("/big/1").await;
    model.create("/big/1", pattern(MAX_VALUE_BYTES, 10)).await;
    let history = model.into_history();
    let last = history.last_revision();

    let list = list_at(&*store, "/big/", 0).await;
    assert_kvs(&list.items, &history.state_at("/big/", last));
    let third = history.revisions()[2];
    let old = list_at(&*store, "/big/", third).await;
    assert_kvs(&old.items, &history.state_at("/big/", third));
    let request = ListRequest {
        prefix: "/big/".to_owned(),
        limit: 1,
        ..ListRequest::default()
    };
    let page = store.list(&request).await.expect("list one max-size value");
    assert_eq!(page.remaining, 2);
    assert_eq!(
        page.items.iter().map(show_kv).collect::<Vec<_>>(),
        [show_kv(&list.items[0])]
    );

    let mut watcher = Watcher::start(&*store, "/big/", start).await;
    let expected = history.events_after("/big/", start);
    let events = watcher.events(expected.len()).await;
    assert_events(&events, &expected);
    watcher.assert_caught_up(last).await;
}

pub async fn longest_key_round_trips(h: &mut Harness) {
    let store = h.store();
    let longest = format!("/{}", "k".repeat(MAX_KEY_BYTES - 1));
    let revision = store
        .create(&longest, b("x"))
        .await
        .expect("create the longest key");
    let got = store
        .get(&longest)
        .await
        .expect("get")
        .expect("the key exists");
    assert_eq!((got.key.len(), got.mod_revision), (MAX_KEY_BYTES, revision));
    let list = list_at(&*store, "/kkk", 0).await;
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].key, longest);
    let too_long = format!("{longest}k");
    assert_err!(
        store.create(&too_long, b("x")).await,
        Error::InvalidKey { .. }
    );
    assert_err!(store.get(&too_long).await, Error::InvalidKey { .. });
    store
        .delete(&longest, Some(revision))
        .await
        .expect("delete the longest key");
}

pub async fn invalid_keys_are_refused_by_every_method(h: &mut Harness) {
    let store = h.store();
    for bad in ["", "no-slash", "/trailing/", "/nul\0", "/new\nline"] {
        assert_err!(store.get(bad).await, Error::InvalidKey { .. });
        assert_err!(store.create(bad, b("x")).await, Error::InvalidKey { .. });
        assert_err!(store.update(bad, b("x"), 1).await, Error::InvalidKey { .. });
        assert_err!(store.delete(bad, None).await, Error::InvalidKey { .. });
        assert_err!(store.delete(bad, Some(1)).await, Error::InvalidKey { .. });
    }
    assert_eq!(current(&*store).await, 1, "a refused write took a revision");
    assert_eq!(store.count("/").await.expect("count"), 0);
}

pub async fn invalid_prefixes_are_refused(h: &mut Harness) {
    let store = h.store();
    for bad in ["", "no-slash", "/nul\0"] {
        let request = ListRequest {
            prefix: bad.to_owned(),
            ..ListRequest::default()
        };
        assert_err!(store.list(&request).await, Error::InvalidKey { .. });
        assert_err!(store.count(bad).await, Error::InvalidKey { .. });
        assert_err!(
            store.watch(bad, 0, WatchOptions::default()).await,
            Error::InvalidKey { .. }
        );
    }
    store.create("/trailing/x", b("x")).await.expect("create");
    let list = list_at(&*store, "/trailing/", 0).await;
    assert_eq!(list.items.len(), 1, "a prefix may end with '/'");
    assert_eq!(store.count("/trailing/").await.expect("count"), 1);
}
