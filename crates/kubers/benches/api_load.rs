//! API load: the workload of `kbench.py api` (16 concurrent clients, 2,000 ConfigMaps of 1 KiB:
//! CREATE, GET, LIST three ways, merge PATCH, DELETE) driven from Rust, so that the client is not the
//! limit the Python tool is on two cores. Prints ops/s and p50/p99 per verb, the server's CPU
//! seconds per phase and its RSS.
//!
//! `cargo bench -p kubers --bench api_load [-- --n 2000 --concurrency 16]`. Starts a release
//! `kubers server --disable-agent` (embedded SQLite) on 127.0.0.1. Requests are JSON over HTTPS,
//! HTTP/1.1 keep-alive, like kbench; bodies are read in full and not decoded.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use http::{Method, Request};
use kubers_testkit::process::{cpu_time, rss_kib};
use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::client_for;
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
    let client = client_for(&server.kubeconfig()).await?;
    let pid = server.pid();
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!("server RSS idle: {:.1} MiB", rss_kib(pid) as f64 / 1024.0);
    send(
        &client,
        Method::POST,
        "/api/v1/namespaces".to_owned(),
        Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})),
    )
    .await?;
    println!("{n} ConfigMaps of 1 KiB, {concurrency} concurrent requests");
    println!("| verb | ops/s | p50 ms | p99 ms | server CPU s |");
    println!("|---|---|---|---|---|");
    let base = format!("/api/v1/namespaces/{NAMESPACE}/configmaps");
    let payload = "x".repeat(1024);
    let creates = (0..n).map(|i| {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i:05}")}, "data": {"payload": payload}});
        (Method::POST, base.clone(), Some(body))
    });
    phase(&client, pid, "CREATE", concurrency, creates.collect()).await?;
    let gets = (0..n).map(|i| (Method::GET, format!("{base}/cm-{i:05}"), None));
    phase(&client, pid, "GET", concurrency, gets.collect()).await?;
    let lists = (0..LIST_REPS).map(|_| (Method::GET, base.clone(), None));
    phase(&client, pid, "LIST (all)", 1, lists.collect()).await?;
    let lists = (0..LIST_REPS).map(|_| (Method::GET, format!("{base}?resourceVersion=0"), None));
    phase(&client, pid, "LIST resourceVersion=0", 1, lists.collect()).await?;
    paged(&client, pid, &base).await?;
    let patches = (0..n).map(|i| {
        let body = json!({"metadata": {"labels": {"patched": "yes"}}});
        (Method::PATCH, format!("{base}/cm-{i:05}"), Some(body))
    });
    phase(
        &client,
        pid,
        "PATCH (merge)",
        concurrency,
        patches.collect(),
    )
    .await?;
    let deletes = (0..n).map(|i| (Method::DELETE, format!("{base}/cm-{i:05}"), None));
    phase(&client, pid, "DELETE", concurrency, deletes.collect()).await?;
    println!("server RSS after: {:.1} MiB", rss_kib(pid) as f64 / 1024.0);
    Ok(())
}

type Call = (Method, String, Option<serde_json::Value>);

/// Runs `calls` with `concurrency` in flight and prints the verb's row.
async fn phase(
    client: &kube::Client,
    pid: u32,
    verb: &str,
    concurrency: usize,
    calls: Vec<Call>,
) -> BenchResult {
    let count = calls.len();
    let cpu = cpu_time(pid).as_secs_f64();
    let started = Instant::now();
    let results: Vec<BenchResult<Duration>> = stream::iter(calls)
        .map(|(method, path, body)| async move {
            let sent = Instant::now();
            send(client, method, path, body).await?;
            Ok(sent.elapsed())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut latencies = results.into_iter().collect::<BenchResult<Vec<_>>>()?;
    print_row(
        verb,
        count,
        elapsed,
        &mut latencies,
        cpu_time(pid).as_secs_f64() - cpu,
    );
    Ok(())
}

/// The paged LIST: every page of `limit=500`, `LIST_REPS` times; latency per page.
async fn paged(client: &kube::Client, pid: u32, base: &str) -> BenchResult {
    let cpu = cpu_time(pid).as_secs_f64();
    let started = Instant::now();
    let mut latencies = Vec::new();
    for _ in 0..LIST_REPS {
        let mut token = String::new();
        loop {
            let path = format!("{base}?limit={PAGE_LIMIT}&continue={token}");
            let sent = Instant::now();
            let body = send(client, Method::GET, path, None).await?;
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
        cpu_time(pid).as_secs_f64() - cpu,
    );
    Ok(())
}

fn print_row(verb: &str, count: usize, elapsed: Duration, latencies: &mut [Duration], cpu: f64) {
    latencies.sort();
    let at = |fraction: f64| {
        let index = ((latencies.len() as f64 * fraction).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    println!(
        "| {verb} | {:.0} | {:.1} | {:.1} | {cpu:.2} |",
        count as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.99),
    );
}

/// Sends one request and reads the whole answer; anything but a 2xx is an error.
async fn send(
    client: &kube::Client,
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
) -> BenchResult<Vec<u8>> {
    let content_type = if method == Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let body = body
        .map(|value| value.to_string().into_bytes())
        .unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::ACCEPT, "application/json")
        .body(body)?;
    let response = client.send(request.map(kube::client::Body::from)).await?;
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)).into());
    }
    Ok(bytes.to_vec())
}
