//! SQLite-specific checks: what the conformance suite cannot see from outside (rows really removed by
//! compaction, the log truncated when writes pause, the revision recovered from the file).

use std::time::Duration;

use bytes::Bytes;
use rusqlite::Connection;

use super::{SqliteConfig, SqliteStore};
use crate::{EventKind, ListRequest, Store, WatchItem, WatchOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn rows(path: &std::path::Path) -> rusqlite::Result<i64> {
    Connection::open(path)?.query_row("SELECT count(*) FROM kv", [], |row| row.get(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn compaction_removes_superseded_rows_and_tombstones() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(SqliteConfig::new(&path))?;
    let mut revision = store.create("/k/a", Bytes::from("0")).await?;
    for i in 1..100 {
        revision = store
            .update("/k/a", Bytes::from(i.to_string()), revision)
            .await?;
    }
    store.create("/k/b", Bytes::from("b")).await?;
    let deleted = store.delete("/k/b", None).await?;
    assert_eq!(rows(&path)?, 102);
    store.compact(deleted.revision).await?;
    // Kept: the newest row of /k/a, and the delete at the compaction revision with the row it replaced
    // (a watch may start right before the compaction revision and needs both).
    assert_eq!(rows(&path)?, 3);
    let last = store.create("/k/c", Bytes::from("c")).await?;
    store.compact(last).await?;
    assert_eq!(rows(&path)?, 2, "tombstone before the target removed");
    let list = store
        .list(&ListRequest {
            prefix: "/k/".into(),
            ..ListRequest::default()
        })
        .await?;
    let keys: Vec<_> = list.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/k/a", "/k/c"]);
    assert_eq!(list.items[0].value, Bytes::from("99"));
    assert_eq!(store.metrics().compacted_entries.get(), 101);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn write_ahead_log_is_truncated_when_writes_pause() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(SqliteConfig::new(&path))?;
    for i in 0..200 {
        store
            .create(&format!("/k/{i}"), Bytes::from(vec![7; 4096]))
            .await?;
    }
    let wal = dir.path().join("state.db-wal");
    assert!(std::fs::metadata(&wal)?.len() > 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // The checkpoint thread truncates the log, then records the checkpoint and the database's size:
    // wait for all three.
    let metrics = store.metrics();
    while std::fs::metadata(&wal)?.len() > 0
        || metrics.wal_checkpoints.get() < 1
        || metrics.db_size_bytes.get() <= 200 * 4096
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "log never truncated (log {} bytes, {} checkpoints, database {} bytes)",
            std::fs::metadata(&wal)?.len(),
            metrics.wal_checkpoints.get(),
            metrics.db_size_bytes.get()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(store.metrics().wal_checkpoints.get() >= 1);
    assert!(store.metrics().db_size_bytes.get() > 200 * 4096);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn revision_survives_reopen_even_when_the_newest_row_was_compacted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let last = {
        let store = SqliteStore::open(SqliteConfig::new(&path))?;
        store.create("/k/a", Bytes::from("a")).await?;
        let deleted = store.delete("/k/a", None).await?;
        let last = store.create("/k/b", Bytes::from("b")).await?;
        store.delete("/k/b", None).await?;
        store.compact(deleted.revision + 1).await?;
        last + 1
    };
    let store = SqliteStore::open(SqliteConfig::new(&path))?;
    assert_eq!(store.current_revision().await?, last);
    assert_eq!(store.compacted_revision().await?, last - 1);
    let next = store.create("/k/c", Bytes::from("c")).await?;
    assert_eq!(next, last + 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_watcher_catches_up_from_the_database() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(SqliteConfig::new(dir.path().join("state.db")))?;
    let mut watch = store.watch("/k/", 0, WatchOptions::default()).await?;
    // Far more batches than the live buffer holds, while the watcher reads nothing.
    for i in 0..3000 {
        store
            .create(&format!("/k/{i:05}"), Bytes::from("v"))
            .await?;
    }
    let mut seen = Vec::new();
    while seen.len() < 3000 {
        match tokio::time::timeout(Duration::from_secs(10), watch.next()).await? {
            Some(Ok(WatchItem::Events(events))) => {
                for event in events {
                    assert_eq!(event.kind, EventKind::Create);
                    seen.push(event.revision());
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        seen.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "gap or duplicate"
    );
    Ok(())
}
