//! Durability under `kill -9`: every write a store acknowledged is there after the process holding the
//! data is killed mid-stream and the store is opened again.
//!
//! SQLite: the test runs its own binary again as a child ([`sqlite_kill9_child`]) that writes with many
//! concurrent writers, compacts all the while, and prints `ack <key>` after each acknowledged create;
//! the parent kills it with SIGKILL after enough acks, reopens the file and checks every acked key. etcd: writers in this process
//! write to a private etcd, which is killed with SIGKILL mid-stream, restarted and checked the same way.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kubers_store::etcd::{EtcdConfig, EtcdStore};
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use kubers_store::{ListRequest, Revision, Store};
use kubers_testkit::etcd::EtcdServer;

/// Tells the child test where its database is; without it the child does nothing.
const CHILD_DB_ENV: &str = "KUBERS_KILL9_SQLITE_DB";
/// The name of the child test, as libtest knows it.
const CHILD_TEST: &str = "sqlite_kill9_child";
const WRITERS: usize = 32;
/// Acknowledged writes to wait for before the kill.
const ACKS_BEFORE_KILL: usize = 2000;
/// The longest the writers may take to acknowledge [`ACKS_BEFORE_KILL`] writes.
const ACK_TIMEOUT: Duration = Duration::from_secs(120);

/// The key of writer `writer`'s `n`th create.
fn key(writer: usize, n: usize) -> String {
    format!("/kill9/w{writer:02}/{n:06}")
}

/// The value of writer `writer`'s `n`th create: 1 KiB naming its writer and sequence number.
fn value(writer: usize, n: usize) -> Bytes {
    let mut value = format!("writer {writer} write {n} ").into_bytes();
    value.resize(1024, b'.');
    Bytes::from(value)
}

/// The writer and sequence number of a key made by [`key`].
fn parse_key(key: &str) -> (usize, usize) {
    let parsed = key.strip_prefix("/kill9/w").and_then(|rest| {
        let (writer, n) = rest.split_once('/')?;
        Some((writer.parse().ok()?, n.parse().ok()?))
    });
    parsed.unwrap_or_else(|| panic!("{key:?} is not a key this test writes"))
}

/// Checks a store recovered after the kill: every acked key holds its value, each writer's keys are a
/// gap-free sequence that the acks cover (but for one last write that may have committed unacked),
/// since only creates were made the revision is exactly one per key, and the store is readable at its
/// compaction revision and writable.
async fn verify(store: &dyn Store, acked: &[String]) {
    for key in acked {
        let (writer, n) = parse_key(key);
        let got = store
            .get(key)
            .await
            .unwrap_or_else(|error| panic!("get acked {key:?} after kill -9: {error}"));
        match got {
            Some(kv) => assert!(
                kv.value == value(writer, n),
                "acked {key:?} holds a torn value"
            ),
            None => panic!(
                "acked write {key:?} was lost by kill -9 ({} acked)",
                acked.len()
            ),
        }
    }
    let all = store
        .list(&ListRequest {
            prefix: "/kill9/".to_owned(),
            ..ListRequest::default()
        })
        .await
        .expect("list after kill -9");
    let mut present: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for kv in &all.items {
        let (writer, n) = parse_key(&kv.key);
        assert!(
            kv.value == value(writer, n),
            "{:?} holds a torn value",
            kv.key
        );
        present.entry(writer).or_default().push(n);
    }
    let mut acked_per_writer: BTreeMap<usize, usize> = BTreeMap::new();
    for key in acked {
        *acked_per_writer.entry(parse_key(key).0).or_default() += 1;
    }
    for (writer, ns) in &present {
        let expected: Vec<usize> = (0..ns.len()).collect();
        assert_eq!(ns, &expected, "writer {writer}'s keys have a gap");
        let acks = acked_per_writer.get(writer).copied().unwrap_or(0);
        assert!(
            ns.len() == acks || ns.len() == acks + 1,
            "writer {writer} has {} keys for {acks} acks",
            ns.len()
        );
    }
    let revision = store.current_revision().await.expect("current_revision");
    assert_eq!(
        revision,
        1 + all.items.len() as Revision,
        "after {} creates the store is at revision {revision}",
        all.items.len()
    );
    let compacted = store
        .compacted_revision()
        .await
        .expect("compacted_revision");
    assert!(
        compacted <= revision,
        "compacted to {compacted}, past the current {revision}"
    );
    eprintln!("recovered at revision {revision}, compacted to {compacted}");
    let at_compaction = store
        .list(&ListRequest {
            prefix: "/kill9/".to_owned(),
            revision: compacted.max(1),
            ..ListRequest::default()
        })
        .await
        .unwrap_or_else(|error| panic!("list at the compaction revision {compacted}: {error}"));
    assert!(at_compaction.items.len() <= all.items.len());
    let next = store
        .create("/after-kill9", Bytes::from_static(b"x"))
        .await
        .expect("write after recovery");
    assert_eq!(next, revision + 1);
}

#[test]
#[ignore = "the child process of sqlite_acked_writes_survive_kill9; does nothing on its own"]
fn sqlite_kill9_child() {
    let Some(path) = std::env::var_os(CHILD_DB_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("build a runtime");
    runtime.block_on(async move {
        let store = Arc::new(SqliteStore::open(SqliteConfig::new(path)).expect("open the store"));
        let mut writers = tokio::task::JoinSet::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            writers.spawn(async move {
                for n in 0.. {
                    let key = key(writer, n);
                    store.create(&key, value(writer, n)).await.expect("create");
                    ack(&key);
                }
            });
        }
        // Compactions (and the checkpoints that follow them) run all the time, so the kill may hit one.
        writers.spawn(async move {
            loop {
                let now = store.current_revision().await.expect("current_revision");
                // A failed compaction is the conformance suite's business; this test is about the
                // writes, so it reports the failure and goes on.
                if now > 200
                    && let Err(error) = store.compact(now - 100).await
                {
                    eprintln!("kill9 child: compact({}) failed: {error}", now - 100);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        while let Some(done) = writers.join_next().await {
            done.expect("writer task");
        }
    });
}

/// Tells the parent that `key` was acknowledged; exits when the parent is gone.
fn ack(key: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "ack {key}")
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

#[test]
fn sqlite_acked_writes_survive_kill9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            CHILD_TEST,
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_DB_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child writer");
    let stdout = child.stdout.take().expect("the child's stdout");
    let (acks, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match stdout.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                // A line cut short by the kill was never a complete acknowledgement.
                Ok(_) if !line.ends_with('\n') => return,
                // libtest's "test sqlite_kill9_child ... " has no newline, so the first ack follows it.
                Ok(_) => {
                    if let Some(at) = line.find("ack /") {
                        let _ = acks.send(line[at + 4..].trim_end().to_owned());
                    }
                }
            }
        }
    });

    let mut acked = Vec::new();
    let deadline = Instant::now() + ACK_TIMEOUT;
    while acked.len() < ACKS_BEFORE_KILL {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(key) => acked.push(key),
            Err(error) => {
                let _ = child.kill();
                let status = child.wait().expect("reap the child");
                panic!(
                    "the child acknowledged {} writes, then {error} (child {status})",
                    acked.len()
                );
            }
        }
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert_eq!(
        status.signal(),
        Some(9),
        "the child ended on its own: {status}"
    );
    reader.join().expect("stdout reader");
    acked.extend(received.try_iter());
    eprintln!("{} writes acknowledged before SIGKILL", acked.len());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build a runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(SqliteConfig::new(&path)).expect("reopen after kill -9");
        verify(&store, &acked).await;
        tokio::task::spawn_blocking(move || drop(store))
            .await
            .expect("close the store");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_acked_writes_survive_kill9() {
    let mut server = EtcdServer::start().unwrap_or_else(|error| {
        panic!("cannot start etcd: {error}; install etcd on PATH or point KUBERS_ETCD_BIN at it")
    });
    let config = EtcdConfig {
        connect_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(3),
        ..EtcdConfig::new([server.endpoint()])
    };
    let store = Arc::new(EtcdStore::connect(config.clone()).await.expect("connect"));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (store, acked, stop, failures) =
            (store.clone(), acked.clone(), stop.clone(), failures.clone());
        writers.spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let key = key(writer, n);
                match store.create(&key, value(writer, n)).await {
                    Ok(revision) => acked.lock().expect("acks").push((key, revision)),
                    // The write may or may not have happened; either way it was not acknowledged.
                    Err(_) => {
                        failures.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                n += 1;
            }
        });
    }

    let deadline = Instant::now() + ACK_TIMEOUT;
    while acked.lock().expect("acks").len() < ACKS_BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "the writers did not reach {ACKS_BEFORE_KILL} acks"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server = tokio::task::spawn_blocking(move || {
        server.kill().expect("SIGKILL etcd");
        server
    })
    .await
    .expect("kill etcd");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    while let Some(done) = writers.join_next().await {
        done.expect("writer task");
    }
    assert!(
        failures.load(Ordering::SeqCst) > 0,
        "no write failed: etcd was not killed mid-stream"
    );
    drop(store);
    let acked: Vec<(String, Revision)> = std::mem::take(&mut *acked.lock().expect("acks"));
    eprintln!("{} writes acknowledged before SIGKILL", acked.len());

    let mut server = server;
    let server = tokio::task::spawn_blocking(move || {
        server.restart().expect("restart etcd");
        server
    })
    .await
    .expect("restart etcd");
    let store = EtcdStore::connect(EtcdConfig::new([server.endpoint()]))
        .await
        .expect("reconnect after kill -9");
    for (key, revision) in &acked {
        let got = store.get(key).await.expect("get").map(|kv| kv.mod_revision);
        assert_eq!(got, Some(*revision), "acked write {key:?} after kill -9");
    }
    let keys: Vec<String> = acked.into_iter().map(|(key, _)| key).collect();
    verify(&store, &keys).await;
}
