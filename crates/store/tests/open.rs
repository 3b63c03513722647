//! Opening a store that cannot be used: SQLite files that are corrupt, belong to another application or
//! come from a newer kubers are refused with `Error::Database` and left untouched; an etcd that cannot be
//! reached, or goes away, gives `Error::Unavailable` within its timeouts.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kubers_store::etcd::{EtcdConfig, EtcdStore};
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use kubers_store::{Error, Result, Store};
use kubers_testkit::etcd::EtcdServer;

/// Opens a SQLite store at `path` and expects `Error::Database` naming the file; returns its message.
fn refused(path: &Path) -> String {
    match SqliteStore::open(SqliteConfig::new(path)) {
        Err(Error::Database {
            path: reported,
            message,
        }) => {
            assert!(
                reported.contains(&path.display().to_string()),
                "the error names {reported:?}, not {}",
                path.display()
            );
            message
        }
        Err(other) => panic!(
            "open {}: expected Error::Database, got {other:?}",
            path.display()
        ),
        Ok(_) => panic!(
            "open {}: expected Error::Database, the store opened",
            path.display()
        ),
    }
}

/// Bytes from a fixed-seed xorshift generator.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_corrupt_file_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let random = dir.path().join("random.db");
    let bytes = noise(64 * 1024, 0x9e37_79b9_7f4a_7c15);
    std::fs::write(&random, &bytes).expect("write random bytes");
    let message = refused(&random);
    assert!(!message.is_empty());
    assert_eq!(
        std::fs::read(&random).expect("read back"),
        bytes,
        "the store changed the file"
    );

    let mut header = b"SQLite format 3\0".to_vec();
    header.extend(noise(8 * 1024, 42));
    let torn = dir.path().join("torn.db");
    std::fs::write(&torn, &header).expect("write a torn file");
    refused(&torn);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_foreign_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other-app.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("create a foreign database");
        conn.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO users (name) VALUES ('alice'), ('bob');",
        )
        .expect("fill the foreign database");
    }
    refused(&path);
    let conn = rusqlite::Connection::open(&path).expect("reopen the foreign database");
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master ORDER BY name")
        .expect("prepare");
    let objects: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("read sqlite_master");
    assert_eq!(
        objects,
        ["users"],
        "the store added objects to a foreign database"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(SqliteConfig::new(&path)).expect("create a store");
    store
        .create("/a", Bytes::from_static(b"x"))
        .await
        .expect("create");
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .expect("close the store");
    {
        let conn = rusqlite::Connection::open(&path).expect("open the store's file");
        conn.pragma_update(None, "user_version", 999)
            .expect("set user_version");
    }
    let message = refused(&path);
    assert!(
        message.contains("999"),
        "the message does not name version 999: {message:?}"
    );
    let conn = rusqlite::Connection::open(&path).expect("open the store's file");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("read user_version");
    assert_eq!(
        version, 999,
        "the store rewrote the version of a newer database"
    );
}

/// Expects `Error::Unavailable` from `result`, which took `elapsed`.
fn assert_unavailable<T: std::fmt::Debug>(what: &str, result: Result<T>, elapsed: Duration) {
    match result {
        Err(Error::Unavailable { message }) => {
            assert!(!message.is_empty());
            assert!(
                elapsed < Duration::from_secs(8),
                "{what} took {elapsed:?} to fail"
            );
        }
        other => panic!("{what}: expected Error::Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd_unreachable_is_unavailable() {
    let started = Instant::now();
    let connecting = EtcdStore::connect(EtcdConfig::new(["http://127.0.0.1:1"]));
    let result = tokio::time::timeout(Duration::from_secs(30), connecting)
        .await
        .expect("connect to an unreachable etcd did not return within 30 s");
    assert_unavailable(
        "connect to 127.0.0.1:1",
        result.map(|_| ()),
        started.elapsed(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd_down_is_unavailable_then_recovers() {
    let mut server = EtcdServer::start().unwrap_or_else(|error| {
        panic!("cannot start etcd: {error}; install etcd on PATH or point KUBERS_ETCD_BIN at it")
    });
    let config = EtcdConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..EtcdConfig::new([server.endpoint()])
    };
    let store = EtcdStore::connect(config).await.expect("connect");
    let revision = store
        .create("/a", Bytes::from_static(b"x"))
        .await
        .expect("create");

    server.kill().expect("kill etcd");
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), store.get("/a"))
        .await
        .expect("get from a dead etcd did not return within 30 s");
    assert_unavailable("get from a killed etcd", result, started.elapsed());
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), store.create("/b", Bytes::new()))
        .await
        .expect("create on a dead etcd did not return within 30 s");
    assert_unavailable("create on a killed etcd", result, started.elapsed());

    server.restart().expect("restart etcd");
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = loop {
        match store.get("/a").await {
            Ok(got) => break got,
            Err(Error::Unavailable { message }) if Instant::now() < deadline => {
                eprintln!("etcd not back yet: {message}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("the store did not recover after etcd restarted: {error:?}"),
        }
    };
    assert_eq!(got.map(|kv| kv.mod_revision), Some(revision));
}
