//! Controller latency: one Deployment of many replicas on simulated nodes, timed from its create
//! until every pod exists (ReplicaSet controller), every pod is bound (scheduler), every pod runs
//! (the simulator's kubelet) and the Deployment reports them all available (ReplicaSet and
//! Deployment status); plus the server's memory idle, with the nodes, and after the run.
//!
//! `cargo build --release -p kubers && cargo bench -p kubers-scheduler --bench scheduler --
//! --deployment 1000 --nodes 100 [--linger SECONDS]`; `--linger` reads the server's memory and open
//! files once more after that long (idle connections close after 90 s).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::{NodeTemplate, Simulator, SimulatorConfig, client_for};
use serde_json::json;

use crate::{BenchResult, proc};

const NAMESPACE: &str = "bench";
const NAME: &str = "bench";
const DEADLINE: Duration = Duration::from_secs(600);
/// How long the idle server is left alone before its memory is read.
const SETTLE: Duration = Duration::from_secs(10);

/// What the simulator's pod watch and the Deployment watch have seen, with when.
#[derive(Default)]
struct Progress {
    created: HashSet<String>,
    bound: HashSet<String>,
    running: HashSet<String>,
    /// When the 1st, 10th, 100th, ... pod was first seen (the ReplicaSet controller's pace).
    milestones: Vec<(usize, Instant)>,
    last_created: Option<Instant>,
    last_bound: Option<Instant>,
    last_running: Option<Instant>,
    available: Option<Instant>,
}

/// The header of the table [`run`] prints rows of.
pub fn header() -> &'static str {
    "| nodes | replicas | pods exist (s) | pods bound (s) | pods running (s) | Deployment available (s) | pods seen at 1 / 10 / 100 / 500 (s) | CPU s: server / bench | RSS MiB: idle / with nodes / after (anonymous) / peak | Events written | server fds: idle / after |\n|---|---|---|---|---|---|---|---|---|---|---|"
}

/// One run on a fresh server; returns a table row.
pub async fn run(
    binary: &Path,
    nodes: usize,
    replicas: usize,
    linger: Option<Duration>,
) -> BenchResult<String> {
    let server = tokio::task::block_in_place(|| {
        TestServer::start_with(binary, &["--cluster-cidr", "10.0.0.0/8"])
    })?;
    tokio::time::sleep(SETTLE).await;
    let idle = proc::rss_mib(server.pid());
    let idle_files = proc::open_files(server.pid());

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
    let simulator = Simulator::start_observed(
        client.clone(),
        SimulatorConfig::default(),
        Some(Box::new(move |pod: &Pod| observe(&observed, pod))),
    );
    simulator
        .add_nodes(
            (0..nodes)
                .map(|i| NodeTemplate::new(&format!("sim-{i:05}")))
                .collect(),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let with_nodes = proc::rss_mib(server.pid());

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let watched = Arc::clone(&progress);
    let watch = tokio::spawn(watch_deployment(deployments.clone(), replicas, watched));
    let cpu_before = [
        proc::cpu_time(server.pid()),
        proc::cpu_time(std::process::id()),
    ];
    let start = Instant::now();
    deployments
        .create(&PostParams::default(), &deployment(replicas)?)
        .await?;
    let created = wait_for(&progress, "pods to exist", |p| {
        (p.created.len() >= replicas)
            .then_some(p.last_created)
            .flatten()
    })
    .await?;
    let bound = wait_for(&progress, "pods to be bound", |p| {
        (p.bound.len() >= replicas)
            .then_some(p.last_bound)
            .flatten()
    })
    .await?;
    let running = wait_for(&progress, "pods to run", |p| {
        (p.running.len() >= replicas)
            .then_some(p.last_running)
            .flatten()
    })
    .await?;
    let available = wait_for(&progress, "the Deployment to be available", |p| p.available).await?;
    let cpu_after = [
        proc::cpu_time(server.pid()),
        proc::cpu_time(std::process::id()),
    ];
    watch.abort();
    // Let the last status writes land before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = proc::rss_mib(server.pid());
    let after_anon = proc::rss_anon_mib(server.pid());
    let after_files = proc::open_files(server.pid());
    let peak = proc::peak_rss_mib(server.pid());
    let lingered = match linger {
        Some(linger) => {
            tokio::time::sleep(linger).await;
            format!(
                " ({} s later: RSS {:.1} MiB, anonymous {:.1} MiB, {} fds)",
                linger.as_secs(),
                proc::rss_mib(server.pid()),
                proc::rss_anon_mib(server.pid()),
                proc::open_files(server.pid())
            )
        }
        None => String::new(),
    };
    simulator.stop();
    // Every write the run cost beyond the pods themselves shows up here first.
    let events: Api<Event> = Api::namespaced(client.clone(), NAMESPACE);
    let events = events
        .list_metadata(&ListParams::default())
        .await?
        .items
        .len();

    let seconds = |at: Instant| at.duration_since(start).as_secs_f64();
    let milestones = match progress.lock() {
        Ok(progress) => progress
            .milestones
            .iter()
            .filter(|(count, _)| *count < replicas)
            .map(|(_, at)| format!("{:.2}", seconds(*at)))
            .collect::<Vec<_>>()
            .join(" / "),
        Err(_) => return Err("progress lock poisoned".into()),
    };
    let cpu = |i: usize| (cpu_after[i] - cpu_before[i]).as_secs_f64();
    Ok(format!(
        "| {nodes} | {replicas} | {:.2} | {:.2} | {:.2} | {:.2} | {milestones} | {:.1} / {:.1} | {idle:.1} / {with_nodes:.1} / {after:.1} ({after_anon:.1}) / {peak:.1} | {events} | {idle_files} / {after_files} |{lingered}",
        seconds(created),
        seconds(bound),
        seconds(running),
        seconds(available),
        cpu(0),
        cpu(1),
    ))
}

/// A Deployment whose pods request what scheduler_perf's do (100m CPU, 500 MiB).
fn deployment(replicas: usize) -> Result<Deployment, serde_json::Error> {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {"containers": [{
                    "name": "pause",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}},
                }]},
            },
        },
    }))
}

/// Records the first time the Deployment reports `replicas` available.
async fn watch_deployment(api: Api<Deployment>, replicas: usize, progress: Arc<Mutex<Progress>>) {
    let config = watcher::Config::default().fields(&format!("metadata.name={NAME}"));
    let mut events = watcher(api, config).boxed();
    while let Some(event) = events.next().await {
        let (Ok(watcher::Event::Apply(deployment)) | Ok(watcher::Event::InitApply(deployment))) =
            event
        else {
            continue;
        };
        let available = deployment
            .status
            .as_ref()
            .and_then(|status| status.available_replicas)
            .unwrap_or(0);
        if usize::try_from(available).unwrap_or(0) >= replicas
            && let Ok(mut progress) = progress.lock()
        {
            progress.available.get_or_insert_with(Instant::now);
        }
    }
}

/// Records when each benchmark pod is first seen, bound and running (from the simulator's pod watch).
fn observe(progress: &Mutex<Progress>, pod: &Pod) {
    if pod.metadata.namespace.as_deref() != Some(NAMESPACE) {
        return;
    }
    let now = Instant::now();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let Ok(mut progress) = progress.lock() else {
        return;
    };
    if progress.created.insert(uid.clone()) {
        progress.last_created = Some(now);
        let count = progress.created.len();
        if matches!(count, 1 | 10 | 100 | 500) {
            progress.milestones.push((count, now));
        }
    }
    if pod
        .spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_ref())
        .is_some()
        && progress.bound.insert(uid.clone())
    {
        progress.last_bound = Some(now);
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

/// Waits until `done` reads a time from the progress.
async fn wait_for(
    progress: &Mutex<Progress>,
    what: &str,
    done: impl Fn(&Progress) -> Option<Instant>,
) -> BenchResult<Instant> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match progress.lock() {
            Ok(progress) => {
                if let Some(at) = done(&progress) {
                    return Ok(at);
                }
            }
            Err(_) => return Err("progress lock poisoned".into()),
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {DEADLINE:?} waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
