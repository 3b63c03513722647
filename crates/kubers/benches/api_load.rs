//! API load: the workload of `kbench.py api` (16 concurrent clients, 2,000 ConfigMaps of 1 KiB:
//! CREATE, GET, LIST three ways, merge PATCH, DELETE, with kbench's names, labels and bodies) driven
//! from Rust, so that the client is not the limit the Python tool is on two cores. Prints ops/s and
//! p50/p99 per verb, the CPU seconds the server and this client used in each phase, and the server's
//! RSS.
//!
//! `cargo bench -p kubers --bench api_load [-- --n 2000 --concurrency 16]`. Starts a release
//! `kubers server --disable-agent` (embedded SQLite) on 127.0.0.1. Requests are JSON over HTTPS,
//! HTTP/1.1 keep-alive, one connection per concurrent client like kbench's pool; bodies are read in
//! full and not decoded.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use kubers_testkit::http1::{Connection, Target};
use kubers_testkit::process::{cpu_time, rss_kib};
use kubers_testkit::server::TestServer;
use serde_json::json;

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const NAMESPACE: &str = "load";
/// Repetitions of each LIST variant, as kbench's default.
const LIST_REPS: usize = 10;
/// The page size of the paged LIST, as kbench's default.
const PAGE_LIMIT: usize = 500;

fn main() -> BenchResult {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: usize| -> BenchResult<usize> {
        match args.iter().position(|arg| arg == name) {
            Some(index) => Ok(args.get(index + 1).ok_or(name.to_owned())?.parse()?),
            None => Ok(default),
        }
    };
    let n = flag("--n", 2000)?;
    let concurrency = flag("--concurrency", 16)?;
    let binary = Path::new(env!("CARGO_BIN_EXE_kubers"));
    let server = TestServer::start(binary)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(&server, n, concurrency))
}

async fn run(server: &TestServer, n: usize, concurrency: usize) -> BenchResult {
    let target = Target::admin_of(server)?;
    let pid = server.pid();
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!("server RSS idle: {:.1} MiB", rss_kib(pid) as f64 / 1024.0);
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    send(
        &mut target.connect().await?,
        Method::POST,
        "/api/v1/namespaces",
        Some(Bytes::from(namespace.to_string())),
    )
    .await?;
    println!("{n} ConfigMaps of 1 KiB, {concurrency} concurrent requests");
    println!("| verb | ops/s | p50 ms | p99 ms | server CPU s | client CPU s |");
    println!("|---|---|---|---|---|---|");
    let base = format!("/api/v1/namespaces/{NAMESPACE}/configmaps");
    let name = |i: usize| format!("cm-{i:06}");
    let payload = "x".repeat(1024);
    let creates = (0..n).map(|i| {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name(i), "labels": {"app": "kbench"}},
            "data": {"payload": payload}});
        (
            Method::POST,
            base.clone(),
            Some(Bytes::from(body.to_string())),
        )
    });
    phase(&target, pid, "CREATE", concurrency, creates.collect()).await?;
    let gets = (0..n).map(|i| (Method::GET, format!("{base}/{}", name(i)), None));
    phase(&target, pid, "GET", concurrency, gets.collect()).await?;
    let lists = (0..LIST_REPS).map(|_| (Method::GET, base.clone(), None));
    phase(&target, pid, "LIST (all)", 1, lists.collect()).await?;
    let lists = (0..LIST_REPS).map(|_| (Method::GET, format!("{base}?resourceVersion=0"), None));
    phase(&target, pid, "LIST resourceVersion=0", 1, lists.collect()).await?;
    paged(&target, pid, &base).await?;
    let patches = (0..n).map(|i| {
        let body = json!({"data": {"patched": i.to_string()}});
        let path = format!("{base}/{}", name(i));
        (Method::PATCH, path, Some(Bytes::from(body.to_string())))
    });
    phase(
        &target,
        pid,
        "PATCH (merge)",
        concurrency,
        patches.collect(),
    )
    .await?;
    let deletes = (0..n).map(|i| (Method::DELETE, format!("{base}/{}", name(i)), None));
    phase(&target, pid, "DELETE", concurrency, deletes.collect()).await?;
    println!("server RSS after: {:.1} MiB", rss_kib(pid) as f64 / 1024.0);
    Ok(())
}

type Call = (Method, String, Option<Bytes>);

/// Runs `calls` on `concurrency` connections, one request at a time on each, and prints the verb's
/// row.
async fn phase(
    target: &Target,
    pid: u32,
    verb: &str,
    concurrency: usize,
    calls: Vec<Call>,
) -> BenchResult {
    let count = calls.len();
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        connections.push(target.connect().await?);
    }
    let queue = Arc::new(Mutex::new(calls.into_iter()));
    let cpu = Cpu::now(pid);
    let started = Instant::now();
    let workers = connections.into_iter().map(|mut connection| {
        let queue = Arc::clone(&queue);
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().map_err(|_| "poisoned queue")?.next();
                let Some((method, path, body)) = next else {
                    return BenchResult::Ok(latencies);
                };
                let sent = Instant::now();
                send(&mut connection, method, &path, body).await?;
                latencies.push(sent.elapsed());
            }
        })
    });
    let mut latencies = Vec::with_capacity(count);
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker??);
    }
    print_row(verb, count, started.elapsed(), &mut latencies, cpu.since());
    Ok(())
}

/// CPU seconds used by the server and by this benchmark process.
struct Cpu {
    pid: u32,
    server: f64,
    client: f64,
}

impl Cpu {
    fn now(pid: u32) -> Cpu {
        Cpu {
            pid,
            server: cpu_time(pid).as_secs_f64(),
            client: cpu_time(std::process::id()).as_secs_f64(),
        }
    }

    /// (server, client) CPU seconds since `self`.
    fn since(&self) -> (f64, f64) {
        let now = Cpu::now(self.pid);
        (now.server - self.server, now.client - self.client)
    }
}

/// The paged LIST: every page of `limit=500`, `LIST_REPS` times; latency per page.
async fn paged(target: &Target, pid: u32, base: &str) -> BenchResult {
    let mut connection = target.connect().await?;
    let cpu = Cpu::now(pid);
    let started = Instant::now();
    let mut latencies = Vec::new();
    for _ in 0..LIST_REPS {
        let mut token = String::new();
        loop {
            let path = format!("{base}?limit={PAGE_LIMIT}&continue={token}");
            let sent = Instant::now();
            let body = send(&mut connection, Method::GET, &path, None).await?;
            latencies.push(sent.elapsed());
            let page: serde_json::Value = serde_json::from_slice(&body)?;
            match page["metadata"]["continue"].as_str() {
                Some(next) if !next.is_empty() => token = next.to_owned(),
                _ => break,
            }
        }
    }
    let count = latencies.len();
    print_row(
        "LIST limit=500, per page",
        count,
        started.elapsed(),
        &mut latencies,
        cpu.since(),
    );
    Ok(())
}

fn print_row(
    verb: &str,
    count: usize,
    elapsed: Duration,
    latencies: &mut [Duration],
    (server_cpu, client_cpu): (f64, f64),
) {
    latencies.sort();
    let at = |fraction: f64| {
        let index = ((latencies.len() as f64 * fraction).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    println!(
        "| {verb} | {:.0} | {:.1} | {:.1} | {server_cpu:.2} | {client_cpu:.2} |",
        count as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.99),
    );
}

/// Sends one request and reads the whole answer; anything but a 2xx is an error.
async fn send(
    connection: &mut Connection,
    method: Method,
    path: &str,
    body: Option<Bytes>,
) -> BenchResult<Bytes> {
    let content_type = if method == Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let (status, bytes) = connection
        .send(method, path, body.map(|body| (content_type, body)))
        .await?;
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)).into());
    }
    Ok(bytes)
}
