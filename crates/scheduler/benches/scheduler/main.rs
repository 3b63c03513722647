//! Scheduler benchmark: scheduling throughput on simulated nodes, as upstream's scheduler_perf
//! `SchedulingBasic` (pods requesting 100m CPU and 500 MiB on nodes of 4 CPUs and 16 GiB).
//!
//! `cargo build --release -p kubers && cargo bench -p kubers-scheduler --bench scheduler` starts a
//! release `kubers server --disable-agent` (embedded SQLite) per run, registers 1,000 and then 5,000
//! simulated nodes (the testkit's simulator, in this process), creates 10,000 pods with 64 requests
//! in flight (64 keep-alive HTTP/1.1 connections) and reports pods/s from the first create to the last binding seen by a watch, the time
//! until every pod runs, CPU time per process and memory.
//!
//! Three placements of the scheduler: `in-process` (inside `kubers server`, as shipped), `process`
//! (`kubers server --disable-scheduler` plus the scheduler alone in a child process, so its memory
//! and CPU can be read apart) and `backlog` (that child started only once every pod exists: how
//! fast a backlog drains, from the scheduler's start to the last binding). Options:
//! `--nodes 1000,5000`, `--pods 10000`, `--mode in-process|process|backlog|all`; `KUBERS_BIN` names
//! another server binary. `--nodes-only` sets the nodes up as upstream's scheduler_perf does: Node
//! objects whose Leases are written once and not renewed, and pods that are never marked running.
//!
//! `--deployment REPLICAS` (with `--nodes`, default 100, and `--linger SECONDS`) measures the
//! controllers instead: see [`deployment`].

mod deployment;
mod proc;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use kubers_testkit::http1::{Connection, Target};
use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::{NodeTemplate, Simulator, SimulatorConfig, client_for};
use serde_json::json;

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const NAMESPACE: &str = "bench";
const CREATES_IN_FLIGHT: usize = 64;
const DEADLINE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Inside `kubers server`, as shipped.
    InProcess,
    /// In a process of its own beside `kubers server --disable-scheduler`.
    Process,
    /// In a process of its own started once every pod exists: the drain rate of a backlog,
    /// measured from the scheduler's start.
    Backlog,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::InProcess => "in-process",
            Mode::Process => "process",
            Mode::Backlog => "backlog (from its start)",
        }
    }
}

struct Options {
    nodes: Vec<usize>,
    /// Whether `--nodes` was given.
    nodes_given: bool,
    pods: usize,
    modes: Vec<Mode>,
    /// `--nodes-only`: bare Node objects, as upstream's scheduler_perf.
    nodes_only: bool,
}

fn options() -> BenchResult<Options> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|index| args.get(index + 1).cloned())
    };
    let nodes_given = value("--nodes").is_some();
    let nodes = match value("--nodes") {
        Some(list) => list
            .split(',')
            .map(|n| n.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![1000, 5000],
    };
    let pods = value("--pods")
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let modes = match value("--mode").as_deref() {
        None | Some("all") => vec![Mode::InProcess, Mode::Process, Mode::Backlog],
        Some("in-process") => vec![Mode::InProcess],
        Some("process") => vec![Mode::Process],
        Some("backlog") => vec![Mode::Backlog],
        Some(other) => return Err(format!("unknown --mode {other}").into()),
    };
    Ok(Options {
        nodes,
        nodes_given,
        pods,
        modes,
        nodes_only: args.iter().any(|arg| arg == "--nodes-only"),
    })
}

fn main() -> BenchResult {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(index) = args.iter().position(|arg| arg == "--scheduler-process") {
        let kubeconfig = PathBuf::from(
            args.get(index + 1)
                .ok_or("--scheduler-process KUBECONFIG")?,
        );
        return runtime.block_on(scheduler_process(&kubeconfig));
    }
    let options = options()?;
    let binary = std::env::var_os("KUBERS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/kubers")
        });
    if !binary.exists() {
        return Err(format!(
            "{} is missing: run `cargo build --release -p kubers` first (or set KUBERS_BIN)",
            binary.display()
        )
        .into());
    }
    if let Some(replicas) = deployment_replicas(&args)? {
        let nodes = options
            .nodes_given
            .then_some(options.nodes)
            .unwrap_or(vec![100]);
        let linger = args
            .iter()
            .position(|arg| arg == "--linger")
            .and_then(|index| args.get(index + 1))
            .map(|seconds| seconds.parse::<u64>().map(Duration::from_secs))
            .transpose()?;
        println!("load average at start: {}", load_average());
        println!("{}", deployment::header());
        for nodes in nodes {
            let row = runtime.block_on(deployment::run(&binary, nodes, replicas, linger))?;
            println!("{row}");
        }
        println!("load average at end: {}", load_average());
        return Ok(());
    }
    println!(
        "| nodes | scheduler | register nodes (s) | create {} pods (s) | first create -> last bind (s) | pods/s | all running (s) | CPU s: server / scheduler / bench | RSS MiB: server peak / scheduler idle / scheduler peak |",
        options.pods
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &nodes in &options.nodes {
        for &mode in &options.modes {
            let row =
                runtime.block_on(run(&binary, nodes, options.pods, mode, options.nodes_only))?;
            println!("{row}");
        }
    }
    Ok(())
}

/// `--deployment REPLICAS`, if given.
fn deployment_replicas(args: &[String]) -> BenchResult<Option<usize>> {
    args.iter()
        .position(|arg| arg == "--deployment")
        .map(|index| {
            args.get(index + 1)
                .ok_or("--deployment REPLICAS")?
                .parse::<usize>()
                .map_err(BenchError::from)
        })
        .transpose()
}

/// The 1, 5 and 15 minute load averages (the machine is shared).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The scheduler alone, for the `process` placement.
async fn scheduler_process(kubeconfig: &Path) -> BenchResult {
    let client = client_for(kubeconfig).await?;
    kubers_scheduler::run(client, kubers_scheduler::SchedulerConfig::new("bench")).await;
    Ok(())
}

/// Kills the child it owns when dropped.
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Default)]
struct Progress {
    bound: HashSet<String>,
    running: HashSet<String>,
    last_bind: Option<Instant>,
    last_running: Option<Instant>,
}

async fn run(
    binary: &Path,
    nodes: usize,
    pods: usize,
    mode: Mode,
    nodes_only: bool,
) -> BenchResult<String> {
    let mut flags = vec!["--cluster-cidr", "10.0.0.0/8"];
    if mode != Mode::InProcess {
        flags.push("--disable-scheduler");
    }
    let server = tokio::task::block_in_place(|| TestServer::start_with(binary, &flags))?;
    let start_scheduler = || -> BenchResult<Owned> {
        Ok(Owned(
            Command::new(std::env::current_exe()?)
                .arg("--scheduler-process")
                .arg(server.kubeconfig())
                .env("KUBERS_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()?,
        ))
    };
    let mut scheduler = match mode {
        Mode::Process => Some(start_scheduler()?),
        Mode::InProcess | Mode::Backlog => None,
    };
    let mut scheduler_pid = scheduler.as_ref().map(|child| child.0.id());
    let client = client_for(&server.kubeconfig()).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await?;

    let progress = Arc::new(Mutex::new(Progress::default()));
    let observed = Arc::clone(&progress);
    let config = if nodes_only {
        SimulatorConfig {
            lease_renew: Duration::from_secs(3600),
            run_pods: false,
            ..SimulatorConfig::default()
        }
    } else {
        SimulatorConfig::default()
    };
    let simulator = Simulator::start_observed(
        client.clone(),
        config,
        Some(Box::new(move |pod: &Pod| observe(&observed, pod))),
    );
    let started = Instant::now();
    simulator
        .add_nodes(
            (0..nodes)
                .map(|i| NodeTemplate::new(&format!("sim-{i:05}")))
                .collect(),
        )
        .await?;
    let registered = started.elapsed();
    // Let node IPAM and the scheduler's informers catch up with the new nodes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let scheduler_idle = scheduler_pid.map(proc::rss_mib).unwrap_or(0.0);

    let cpu_before = cpu_times(server.pid(), scheduler_pid);
    let target = Target::admin_of(&server)?;
    let mut connections = Vec::with_capacity(CREATES_IN_FLIGHT);
    for _ in 0..CREATES_IN_FLIGHT {
        connections.push(target.connect().await?);
    }
    let first_create = Instant::now();
    create_pods(connections, pods).await?;
    let created = first_create.elapsed();
    let mut scheduler_started = first_create;
    if mode == Mode::Backlog {
        scheduler_started = Instant::now();
        let child = start_scheduler()?;
        scheduler_pid = Some(child.0.id());
        scheduler = Some(child);
    }
    let last_bind = wait_for(&progress, pods, |p| (p.bound.len(), p.last_bind)).await?;
    let last_running = if nodes_only {
        None
    } else {
        Some(wait_for(&progress, pods, |p| (p.running.len(), p.last_running)).await?)
    };
    let cpu_after = cpu_times(server.pid(), scheduler_pid);
    simulator.stop();
    let scheduler_peak = scheduler_pid.map(proc::peak_rss_mib).unwrap_or(0.0);
    drop(scheduler);

    let to_bind = last_bind.duration_since(scheduler_started);
    let rate = pods as f64 / to_bind.as_secs_f64();
    let cpu = |i: usize| (cpu_after[i] - cpu_before[i]).as_secs_f64();
    let scheduler_cpu = match mode {
        Mode::InProcess => "(in server)".to_string(),
        Mode::Process => format!("{:.1}", cpu(1)),
        Mode::Backlog => format!("{:.1}", cpu_after[1].as_secs_f64()),
    };
    let scheduler_memory = match mode {
        Mode::InProcess => "(in server)".to_string(),
        Mode::Process => format!("{scheduler_idle:.0} / {scheduler_peak:.0}"),
        Mode::Backlog => format!("- / {scheduler_peak:.0}"),
    };
    Ok(format!(
        "| {nodes} | {} | {:.1} | {:.1} | {:.2} | {rate:.0} | {} | {:.1} / {scheduler_cpu} / {:.1} | {:.0} / {scheduler_memory} |",
        mode.name(),
        registered.as_secs_f64(),
        created.as_secs_f64(),
        to_bind.as_secs_f64(),
        last_running.map_or("-".to_owned(), |last| format!(
            "{:.1}",
            last.duration_since(first_create).as_secs_f64()
        )),
        cpu(0),
        cpu(2),
        proc::peak_rss_mib(server.pid()),
    ))
}

type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// Creates pods `0..count`, one request at a time on each of `connections` (the testkit's lean
/// HTTP/1.1 client, so that the load generator takes little of the server's CPU).
async fn create_pods(connections: Vec<Connection>, count: usize) -> BenchResult {
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    let next = Arc::new(AtomicUsize::new(0));
    let workers = connections.into_iter().map(|mut connection| {
        let (path, next) = (path.clone(), Arc::clone(&next));
        tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return BenchResult::Ok(());
                }
                let body = Bytes::from(serde_json::to_vec(&pod(index)?)?);
                let (status, answer) = connection
                    .send(Method::POST, &path, Some(("application/json", body)))
                    .await?;
                if !status.is_success() {
                    let answer = String::from_utf8_lossy(&answer);
                    return Err(format!("creating pod {index}: {status} {answer}").into());
                }
            }
        })
    });
    for worker in futures::future::join_all(workers).await {
        worker??;
    }
    Ok(())
}

fn cpu_times(server: u32, scheduler: Option<u32>) -> [Duration; 3] {
    [
        proc::cpu_time(server),
        scheduler.map(proc::cpu_time).unwrap_or_default(),
        proc::cpu_time(std::process::id()),
    ]
}

/// A pod like scheduler_perf's default: 100m CPU and 500 MiB requested.
fn pod(index: usize) -> Result<Pod, serde_json::Error> {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("pod-{index:05}"), "namespace": NAMESPACE},
        "spec": {"containers": [{
            "name": "pause",
            "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}},
        }]},
    }))
}

/// Records when a benchmark pod is first seen bound and running (from the simulator's pod watch, so
/// measuring adds no watch of its own).
fn observe(progress: &Mutex<Progress>, pod: &Pod) {
    if pod.metadata.namespace.as_deref() != Some(NAMESPACE) {
        return;
    }
    let now = Instant::now();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let Ok(mut progress) = progress.lock() else {
        return;
    };
    if pod
        .spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_ref())
        .is_some()
        && progress.bound.insert(uid.clone())
    {
        progress.last_bind = Some(now);
    }
    if pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        == Some("Running")
        && progress.running.insert(uid)
    {
        progress.last_running = Some(now);
    }
}

/// Waits until `count` reaches `total`; returns when the last one was seen.
async fn wait_for(
    progress: &Mutex<Progress>,
    total: usize,
    read: impl Fn(&Progress) -> (usize, Option<Instant>),
) -> BenchResult<Instant> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (count, last) = match progress.lock() {
            Ok(progress) => read(&progress),
            Err(_) => return Err("progress lock poisoned".into()),
        };
        if count >= total
            && let Some(last) = last
        {
            return Ok(last);
        }
        if Instant::now() > deadline {
            return Err(format!("only {count} of {total} pods after {DEADLINE:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
