//! The etcd backend's key prefix (kube-apiserver's `--etcd-prefix`): stores with different prefixes on
//! one etcd see only their own keys in every read, count and watch, and keys come back without it.

use std::time::Duration;

use bytes::Bytes;
use kubers_store::etcd::{EtcdConfig, EtcdStore};
use kubers_store::{EventKind, ListRequest, Store, WatchItem, WatchOptions};
use kubers_testkit::etcd::EtcdServer;

async fn connect(server: &EtcdServer, key_prefix: &str) -> EtcdStore {
    let config = EtcdConfig {
        key_prefix: key_prefix.to_owned(),
        ..EtcdConfig::new([server.endpoint()])
    };
    EtcdStore::connect(config)
        .await
        .unwrap_or_else(|error| panic!("connect with prefix {key_prefix:?}: {error}"))
}

async fn keys(store: &EtcdStore, prefix: &str) -> Vec<String> {
    let request = ListRequest {
        prefix: prefix.to_owned(),
        ..ListRequest::default()
    };
    let list = store.list(&request).await.expect("list");
    list.items.into_iter().map(|kv| kv.key).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn key_prefixes_isolate_stores() {
    let server = EtcdServer::start().unwrap_or_else(|error| {
        panic!("cannot start etcd: {error}; install etcd on PATH or point KUBERS_ETCD_BIN at it")
    });
    let p = connect(&server, "/p").await;
    let pq = connect(&server, "/pq").await;
    let raw = connect(&server, "").await;
    let mut watch = p
        .watch("/", 0, WatchOptions::default())
        .await
        .expect("watch");

    p.create("/x", Bytes::from_static(b"p"))
        .await
        .expect("create in /p");
    pq.create("/x", Bytes::from_static(b"pq"))
        .await
        .expect("create in /pq");
    pq.create("/y", Bytes::from_static(b"pq"))
        .await
        .expect("create in /pq");
    raw.create("/px", Bytes::from_static(b"raw"))
        .await
        .expect("create raw");
    let last = p
        .create("/z", Bytes::from_static(b"p"))
        .await
        .expect("create in /p");

    assert_eq!(keys(&p, "/").await, ["/x", "/z"]);
    assert_eq!(keys(&pq, "/").await, ["/x", "/y"]);
    assert_eq!(
        keys(&raw, "/").await,
        ["/p/x", "/p/z", "/pq/x", "/pq/y", "/px"]
    );
    assert_eq!(p.count("/").await.expect("count"), 2);
    assert_eq!(pq.count("/").await.expect("count"), 2);
    let got = p.get("/x").await.expect("get").expect("/x exists in /p");
    assert_eq!((got.key.as_str(), &got.value[..]), ("/x", &b"p"[..]));
    assert_eq!(pq.get("/z").await.expect("get"), None);

    let mut seen = Vec::new();
    while seen.last().map(|(_, revision)| *revision) != Some(last) {
        let item = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("the watch delivered nothing within 10 s")
            .expect("the watch ended")
            .expect("the watch failed");
        if let WatchItem::Events(events) = item {
            for event in events {
                assert_eq!(event.kind, EventKind::Create);
                seen.push((event.kv.key, event.kv.mod_revision));
            }
        }
    }
    let seen: Vec<&str> = seen.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        seen,
        ["/x", "/z"],
        "the watch of /p saw other prefixes' keys"
    );
    drop(watch);
}
