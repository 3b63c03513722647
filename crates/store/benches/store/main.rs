//! Store benchmark: the SQLite backend and etcd side by side on this machine, in one run.
//!
//! `cargo bench -p kubers-store --bench store` prints a Markdown table: durable writes/s with p50/p99
//! latency for 1, 16 and 64 concurrent writers (1 KiB values), reads/s, a paginated list of 10,000 keys,
//! watch delivery latency with 100 watchers, memory against live data, and idle CPU. etcd is Debian's,
//! started privately by the testkit on 127.0.0.1 with a temporary data directory.

mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kubers_store::etcd::{EtcdConfig, EtcdStore};
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use kubers_store::{ListRequest, Store, WatchItem, WatchOptions};
use kubers_testkit::etcd::EtcdServer;

use kubers_testkit::process::cpu_time;
use stats::{Latencies, rss_mib};

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How long each write phase runs.
const WRITE_PHASE: Duration = Duration::from_secs(4);
const VALUE_BYTES: usize = 1024;
const LIST_KEYS: usize = 10_000;
const WATCHERS: usize = 100;
const WATCHED_WRITES: usize = 2_000;

/// One row of the results table.
struct Row {
    metric: String,
    sqlite: String,
    etcd: String,
}

#[tokio::main]
async fn main() -> BenchResult {
    // `cargo bench` passes `--bench`; `--sqlite-only` skips etcd (for quick comparisons while tuning).
    let sqlite_only = std::env::args().any(|arg| arg == "--sqlite-only");
    let dir = tempfile::tempdir()?;
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(SqliteConfig::new(
        dir.path().join("state.db"),
    ))?);
    let etcd = if sqlite_only {
        None
    } else {
        let server = EtcdServer::start()?;
        let store = EtcdStore::connect(EtcdConfig::new([server.endpoint()])).await?;
        Some((server, Arc::new(store) as Arc<dyn Store>))
    };
    let etcd_store = etcd.as_ref().map(|(_, store)| Arc::clone(store));
    let etcd_pid = etcd.as_ref().map(|(server, _)| server.pid());
    let own_pid = std::process::id();

    let mut rows = Vec::new();
    for writers in [1, 16, 64] {
        rows.push(Row {
            metric: format!("durable writes/s, {writers} writer(s) (p50 / p99 ms)"),
            sqlite: writes(&sqlite, writers, "s").await?,
            etcd: maybe(&etcd_store, |store| writes(store, writers, "e")).await?,
        });
    }
    rows.push(Row {
        metric: "reads/s, 16 readers (p50 / p99 ms)".into(),
        sqlite: reads(&sqlite, "s").await?,
        etcd: maybe(&etcd_store, |store| reads(store, "e")).await?,
    });
    fill(&sqlite, "/bench/list/").await?;
    if let Some(store) = &etcd_store {
        fill(store, "/bench/list/").await?;
    }
    rows.push(Row {
        metric: format!("paginated list of {LIST_KEYS} keys, pages of 500 (ms total)"),
        sqlite: list_all(&sqlite).await?,
        etcd: maybe(&etcd_store, list_all).await?,
    });
    rows.push(Row {
        metric: format!(
            "watch: {WATCHERS} watchers x {WATCHED_WRITES} writes, ack -> event (p50 / p99 ms)"
        ),
        sqlite: watch_latency(&sqlite, "s").await?,
        etcd: maybe(&etcd_store, |store| watch_latency(store, "e")).await?,
    });
    let live_keys = sqlite.count("/bench/").await?;
    let live_mib = live_keys as f64 * (VALUE_BYTES + 24) as f64 / (1024.0 * 1024.0);
    rows.push(Row {
        metric: format!(
            "memory: RSS with {live_keys} live keys, {live_mib:.0} MiB of live data (MiB)"
        ),
        sqlite: format!(
            "{:.0} (benchmark process, store included)",
            rss_mib(own_pid)
        ),
        etcd: etcd_pid.map_or("-".into(), |pid| {
            format!("{:.0} (etcd process)", rss_mib(pid))
        }),
    });
    let idle = idle_cpu(own_pid, etcd_pid).await;
    rows.push(Row {
        metric: "idle CPU over 10 s (ms of CPU)".into(),
        sqlite: format!("{} (whole benchmark process)", idle.0.as_millis()),
        etcd: idle.1.map_or("-".into(), |cpu| {
            format!("{} (etcd process)", cpu.as_millis())
        }),
    });

    println!("| metric | SQLite (kubers) | etcd 3.4 |");
    println!("|---|---|---|");
    for row in rows {
        println!("| {} | {} | {} |", row.metric, row.sqlite, row.etcd);
    }
    Ok(())
}

/// Runs `phase` against etcd when it is part of this run; "-" otherwise.
async fn maybe<'a, F, Fut>(store: &'a Option<Arc<dyn Store>>, phase: F) -> BenchResult<String>
where
    F: FnOnce(&'a Arc<dyn Store>) -> Fut,
    Fut: Future<Output = BenchResult<String>>,
{
    match store {
        Some(store) => phase(store).await,
        None => Ok("-".into()),
    }
}

fn value() -> Bytes {
    Bytes::from(vec![b'x'; VALUE_BYTES])
}

/// `writers` tasks creating keys for [`WRITE_PHASE`]; "ops/s (p50 / p99)".
async fn writes(store: &Arc<dyn Store>, writers: usize, tag: &str) -> BenchResult<String> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = Arc::clone(store);
            let prefix = format!("/bench/w{writers}/{tag}{writer}/");
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut i = 0u64;
                while started.elapsed() < WRITE_PHASE {
                    let begun = Instant::now();
                    store.create(&format!("{prefix}{i}"), value()).await?;
                    latencies.push(begun.elapsed());
                    i += 1;
                }
                BenchResult::Ok(latencies)
            })
        })
        .collect();
    let mut all = Latencies::default();
    for task in tasks {
        all.extend(task.await??);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    Ok(format!(
        "{rate:.0} ({:.2} / {:.2})",
        all.percentile_ms(50.0),
        all.percentile_ms(99.0)
    ))
}

/// 16 tasks reading random existing keys for two seconds.
async fn reads(store: &Arc<dyn Store>, tag: &str) -> BenchResult<String> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|reader| {
            let store = Arc::clone(store);
            let prefix = format!("/bench/w16/{tag}{reader}/");
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut i = 0u64;
                while started.elapsed() < Duration::from_secs(2) {
                    let begun = Instant::now();
                    let found = store.get(&format!("{prefix}{}", i % 100)).await?;
                    latencies.push(begun.elapsed());
                    if found.is_none() {
                        return Err("benchmark key missing".into());
                    }
                    i += 1;
                }
                BenchResult::Ok(latencies)
            })
        })
        .collect();
    let mut all = Latencies::default();
    for task in tasks {
        all.extend(task.await??);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    Ok(format!(
        "{rate:.0} ({:.2} / {:.2})",
        all.percentile_ms(50.0),
        all.percentile_ms(99.0)
    ))
}

/// Creates [`LIST_KEYS`] keys under `prefix` with 64 writers.
async fn fill(store: &Arc<dyn Store>, prefix: &str) -> BenchResult {
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (store, next, prefix) = (Arc::clone(store), Arc::clone(&next), prefix.to_owned());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= LIST_KEYS as u64 {
                        return BenchResult::Ok(());
                    }
                    store.create(&format!("{prefix}{i:06}"), value()).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Reads every key under the list prefix in pages of 500 at one revision, five times; the mean.
async fn list_all(store: &Arc<dyn Store>) -> BenchResult<String> {
    let rounds = 5;
    let started = Instant::now();
    for _ in 0..rounds {
        let mut request = ListRequest {
            prefix: "/bench/list/".into(),
            limit: 500,
            ..ListRequest::default()
        };
        let mut seen = 0;
        loop {
            let page = store.list(&request).await?;
            seen += page.items.len();
            if !page.more() {
                break;
            }
            request.revision = page.revision;
            request.after = page.items.last().map(|kv| kv.key.clone());
        }
        if seen != LIST_KEYS {
            return Err(format!("listed {seen} keys, expected {LIST_KEYS}").into());
        }
    }
    let per_list = started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds);
    Ok(format!("{per_list:.1}"))
}

/// [`WATCHERS`] watchers on one prefix while 16 writers make [`WATCHED_WRITES`] writes; latency from the
/// writer's acknowledgement to each watcher's receipt (0 when the event arrived first).
async fn watch_latency(store: &Arc<dyn Store>, tag: &str) -> BenchResult<String> {
    let prefix = format!("/bench/watch/{tag}/");
    let base = store.current_revision().await?;
    let epoch = Instant::now();
    // Acknowledgement times (µs since epoch, +1 so 0 means "not acknowledged yet"), by revision - base.
    let acks: Arc<Vec<AtomicU64>> =
        Arc::new((0..WATCHED_WRITES * 2).map(|_| AtomicU64::new(0)).collect());
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let mut watch = store.watch(&prefix, base, WatchOptions::default()).await?;
        let acks = Arc::clone(&acks);
        watchers.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            while latencies.len() < WATCHED_WRITES {
                let item = tokio::time::timeout(Duration::from_secs(30), watch.next())
                    .await
                    .map_err(|_| "watch timed out")?
                    .ok_or("watch ended")??;
                if let WatchItem::Events(events) = item {
                    let now = epoch.elapsed().as_micros() as u64 + 1;
                    for event in events {
                        let slot = usize::try_from(event.revision() - base - 1)?;
                        let acked = acks.get(slot).map_or(0, |ack| ack.load(Ordering::SeqCst));
                        let micros = if acked == 0 {
                            0
                        } else {
                            now.saturating_sub(acked)
                        };
                        latencies.push(Duration::from_micros(micros));
                    }
                }
            }
            BenchResult::Ok(latencies)
        }));
    }
    let next = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let (store, next, acks, prefix) = (
                Arc::clone(store),
                Arc::clone(&next),
                Arc::clone(&acks),
                prefix.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= WATCHED_WRITES as u64 {
                        return BenchResult::Ok(());
                    }
                    let revision = store.create(&format!("{prefix}{i}"), value()).await?;
                    let slot = usize::try_from(revision - base - 1)?;
                    if let Some(ack) = acks.get(slot) {
                        ack.store(epoch.elapsed().as_micros() as u64 + 1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await??;
    }
    let mut all = Latencies::default();
    for watcher in watchers {
        all.extend(watcher.await??);
    }
    Ok(format!(
        "{:.2} / {:.2} ({} events delivered)",
        all.percentile_ms(50.0),
        all.percentile_ms(99.0),
        all.len()
    ))
}

/// CPU time used over ten idle seconds by this process (which holds the SQLite store) and by etcd.
async fn idle_cpu(own_pid: u32, etcd_pid: Option<u32>) -> (Duration, Option<Duration>) {
    // Let the SQLite writer's post-write checkpoint run first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = (cpu_time(own_pid), etcd_pid.map(cpu_time));
    tokio::time::sleep(Duration::from_secs(10)).await;
    (
        cpu_time(own_pid).saturating_sub(before.0),
        etcd_pid
            .zip(before.1)
            .map(|(pid, before)| cpu_time(pid).saturating_sub(before)),
    )
}
