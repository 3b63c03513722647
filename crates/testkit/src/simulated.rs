//! Simulated nodes, like KWOK: Nodes registered through the API with a chosen capacity, labels and
//! taints, whose Leases are renewed, and whose pods are marked `Running` (conditions, a fake pod IP,
//! running container statuses) without any container, and removed once deleted. This is how the
//! scheduler and the controllers are tested and measured at a scale no test machine could run.
//!
//! It scales to thousands of nodes: one watch over all pods serves every node, lease renewals are
//! spread over the renewal interval in small batches, and writes run with bounded concurrency.
//! [`Simulator`] runs inside a tokio runtime; [`SimulatedNodes`] owns one for synchronous tests.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The namespace of node Leases.
const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The label (and annotation) that marks a node as simulated.
pub const SIMULATED_LABEL: &str = "kubers.io/simulated";

/// One node to simulate.
#[derive(Debug, Clone)]
pub struct NodeTemplate {
    /// The node's name.
    pub name: String,
    /// CPU capacity (a quantity: `4`, `500m`).
    pub cpu: String,
    /// Memory capacity (a quantity: `16Gi`).
    pub memory: String,
    /// Pod slots.
    pub pods: u32,
    /// Labels beyond the standard ones (`kubernetes.io/hostname`, `kubernetes.io/os`, ...).
    pub labels: BTreeMap<String, String>,
    /// Taints as `(key, value, effect)`.
    pub taints: Vec<(String, String, String)>,
    /// Extended resources (`example.com/gpu` -> `2`).
    pub extended: BTreeMap<String, String>,
}

impl NodeTemplate {
    /// A node with 4 CPUs, 16 GiB and 110 pod slots.
    pub fn new(name: &str) -> NodeTemplate {
        NodeTemplate {
            name: name.to_owned(),
            cpu: "4".into(),
            memory: "16Gi".into(),
            pods: 110,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            extended: BTreeMap::new(),
        }
    }

    /// Sets the capacity.
    pub fn capacity(mut self, cpu: &str, memory: &str, pods: u32) -> NodeTemplate {
        self.cpu = cpu.into();
        self.memory = memory.into();
        self.pods = pods;
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> NodeTemplate {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a taint.
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> NodeTemplate {
        self.taints.push((key.into(), value.into(), effect.into()));
        self
    }

    /// Adds an extended resource.
    pub fn extended(mut self, name: &str, quantity: &str) -> NodeTemplate {
        self.extended.insert(name.into(), quantity.into());
        self
    }

    fn to_node(&self, address: Ipv4Addr) -> Result<Node, serde_json::Error> {
        let mut labels = BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), self.name.clone()),
            ("kubernetes.io/os".to_string(), "linux".to_string()),
            ("kubernetes.io/arch".to_string(), "amd64".to_string()),
            ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
            ("beta.kubernetes.io/arch".to_string(), "amd64".to_string()),
            ("type".to_string(), "kwok".to_string()),
            (SIMULATED_LABEL.to_string(), "true".to_string()),
        ]);
        labels.extend(self.labels.clone());
        let mut resources = json!({
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": self.pods.to_string(),
            "ephemeral-storage": "100Gi",
        });
        for (name, quantity) in &self.extended {
            resources[name] = json!(quantity);
        }
        let now = now();
        let condition = |kind: &str, status: &str, reason: &str, message: &str| {
            json!({"type": kind, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": now})
        };
        let taints: Vec<Value> = self
            .taints
            .iter()
            .map(|(key, value, effect)| json!({"key": key, "value": value, "effect": effect}))
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": labels,
                "annotations": {"node.alpha.kubernetes.io/ttl": "0", SIMULATED_LABEL: "true"},
            },
            "spec": {"taints": taints},
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [
                    condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                "addresses": [
                    {"type": "InternalIP", "address": address.to_string()},
                    {"type": "Hostname", "address": self.name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": "",
                    "containerRuntimeVersion": "simulated://1.0",
                    "kernelVersion": "simulated",
                    "kubeProxyVersion": "",
                    "kubeletVersion": "v1.34.0-simulated",
                    "machineID": "",
                    "operatingSystem": "linux",
                    "osImage": "simulated",
                    "systemUUID": "",
                },
            },
        }))
    }
}

/// Settings of the simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// How often each node's Lease is renewed (upstream kubelet: 10 s).
    pub lease_renew: Duration,
    /// The Leases' duration (upstream kubelet: 40 s).
    pub lease_duration_seconds: i32,
    /// How many API writes run at once.
    pub concurrency: usize,
    /// Whether pods bound to the nodes are marked running (and removed once deleted). Without it the
    /// nodes are bare Node objects, as in upstream's scheduler_perf.
    pub run_pods: bool,
}

impl Default for SimulatorConfig {
    fn default() -> SimulatorConfig {
        SimulatorConfig {
            lease_renew: Duration::from_secs(10),
            lease_duration_seconds: 40,
            concurrency: 16,
            run_pods: true,
        }
    }
}

/// Called with every pod the simulator's watch delivers (benchmarks follow pods through it rather
/// than with a watch of their own).
pub type Observer = Box<dyn Fn(&Pod) + Send + Sync>;

/// Simulated nodes and their state, shared by the tasks.
struct Shared {
    client: kube::Client,
    observer: Option<Observer>,
    config: SimulatorConfig,
    /// Node name -> its address.
    nodes: RwLock<BTreeMap<String, Ipv4Addr>>,
    /// Nodes whose Lease exists (and is renewed).
    leased: RwLock<Vec<String>>,
    /// Pods marked running or being removed, by uid.
    handled: std::sync::Mutex<HashSet<String>>,
    writes: Semaphore,
    next_ip: AtomicU32,
    next_node_ip: AtomicU32,
}

/// A running simulator (its tasks stop when the runtime stops or [`Simulator::stop`] is called).
pub struct Simulator {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Simulator {
    /// Starts the pod watch and the lease renewals (no nodes yet).
    pub fn start(client: kube::Client, config: SimulatorConfig) -> Simulator {
        Self::start_observed(client, config, None)
    }

    /// Like [`Simulator::start`], calling `observer` with every pod the watch delivers.
    pub fn start_observed(
        client: kube::Client,
        config: SimulatorConfig,
        observer: Option<Observer>,
    ) -> Simulator {
        let shared = Arc::new(Shared {
            client,
            observer,
            writes: Semaphore::new(config.concurrency.max(1)),
            config,
            nodes: RwLock::new(BTreeMap::new()),
            leased: RwLock::new(Vec::new()),
            handled: std::sync::Mutex::new(HashSet::new()),
            next_ip: AtomicU32::new(1),
            next_node_ip: AtomicU32::new(1),
        });
        let tasks = vec![
            tokio::spawn(watch_pods(Arc::clone(&shared))),
            tokio::spawn(renew_leases(Arc::clone(&shared))),
        ];
        Simulator { shared, tasks }
    }

    /// Registers nodes (Node with status, then its Lease) and returns once all exist.
    pub async fn add_nodes(&self, templates: Vec<NodeTemplate>) -> Result<(), kube::Error> {
        let shared = &self.shared;
        let results: Vec<Result<(), kube::Error>> = stream::iter(templates)
            .map(|template| async move { register(shared, &template).await })
            .buffer_unordered(shared.config.concurrency.max(1) * 2)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// How many nodes are simulated.
    pub fn node_count(&self) -> usize {
        self.shared
            .nodes
            .read()
            .map(|nodes| nodes.len())
            .unwrap_or(0)
    }

    /// Stops renewing leases and handling pods.
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Simulated nodes with their own runtime, for synchronous tests.
pub struct SimulatedNodes {
    simulator: Option<Simulator>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl SimulatedNodes {
    /// Connects with the kubeconfig and starts a simulator without nodes.
    pub fn start(kubeconfig: &Path) -> io::Result<SimulatedNodes> {
        Self::start_with(kubeconfig, SimulatorConfig::default())
    }

    /// Like [`SimulatedNodes::start`] with settings.
    pub fn start_with(kubeconfig: &Path, config: SimulatorConfig) -> io::Result<SimulatedNodes> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let client = runtime.block_on(client_for(kubeconfig))?;
        let simulator = runtime.block_on(async { Simulator::start(client, config) });
        Ok(SimulatedNodes {
            simulator: Some(simulator),
            runtime: Some(runtime),
        })
    }

    /// Adds nodes and waits until they are registered.
    pub fn add(&self, templates: Vec<NodeTemplate>) -> io::Result<()> {
        let (Some(runtime), Some(simulator)) = (&self.runtime, &self.simulator) else {
            return Err(io::Error::other("the simulator is stopped"));
        };
        runtime
            .block_on(simulator.add_nodes(templates))
            .map_err(|error| io::Error::other(format!("registering simulated nodes: {error}")))
    }
}

impl Drop for SimulatedNodes {
    fn drop(&mut self) {
        drop(self.simulator.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A client from a kubeconfig file.
pub async fn client_for(kubeconfig: &Path) -> io::Result<kube::Client> {
    let config = Kubeconfig::read_from(kubeconfig)
        .map_err(|error| io::Error::other(format!("reading {}: {error}", kubeconfig.display())))?;
    let config = kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
        .await
        .map_err(|error| {
            io::Error::other(format!("kubeconfig {}: {error}", kubeconfig.display()))
        })?;
    kube::Client::try_from(config).map_err(|error| io::Error::other(format!("client: {error}")))
}

/// The current time as the API writes it (`Time`: whole seconds).
fn now() -> Value {
    json!(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::now()
    ))
}

/// The current time with microseconds (`MicroTime`, for Leases).
fn now_micro() -> Value {
    json!(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        jiff::Timestamp::now()
    ))
}

async fn register(shared: &Shared, template: &NodeTemplate) -> Result<(), kube::Error> {
    let ordinal = shared.next_node_ip.fetch_add(1, Ordering::Relaxed);
    let address = Ipv4Addr::from(0xAC10_0000 | (ordinal & 0x000F_FFFF));
    let node = template.to_node(address).map_err(kube::Error::SerdeError)?;
    if let Ok(mut nodes) = shared.nodes.write() {
        nodes.insert(template.name.clone(), address);
    }
    let nodes: Api<Node> = Api::all(shared.client.clone());
    let created = {
        let _permit = shared.writes.acquire().await;
        match nodes.create(&PostParams::default(), &node).await {
            Ok(created) => created,
            Err(kube::Error::Api(status)) if status.code == 409 => {
                nodes.get(&template.name).await?
            }
            Err(error) => return Err(error),
        }
    };
    let leases: Api<Lease> = Api::namespaced(shared.client.clone(), LEASE_NAMESPACE);
    let lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": template.name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "Node",
                "name": template.name,
                "uid": created.metadata.uid.unwrap_or_default(),
            }],
        },
        "spec": {
            "holderIdentity": template.name,
            "leaseDurationSeconds": shared.config.lease_duration_seconds,
            "renewTime": now_micro(),
        },
    }))
    .map_err(kube::Error::SerdeError)?;
    let _permit = shared.writes.acquire().await;
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => return Err(error),
    }
    if let Ok(mut leased) = shared.leased.write() {
        leased.push(template.name.clone());
    }
    Ok(())
}

/// Renews every lease once per interval, a slice of the nodes at a time.
async fn renew_leases(shared: Arc<Shared>) {
    const SLICES: u32 = 50;
    let leases: Api<Lease> = Api::namespaced(shared.client.clone(), LEASE_NAMESPACE);
    let mut tick = tokio::time::interval(shared.config.lease_renew / SLICES);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut slice = 0u32;
    loop {
        tick.tick().await;
        let names: Vec<String> = match shared.leased.read() {
            Ok(nodes) => nodes
                .iter()
                .enumerate()
                .filter(|(index, _)| *index as u32 % SLICES == slice)
                .map(|(_, name)| name.clone())
                .collect(),
            Err(_) => return,
        };
        slice = (slice + 1) % SLICES;
        let leases = &leases;
        let shared = &shared;
        stream::iter(names)
            .for_each_concurrent(shared.config.concurrency, |name| async move {
                let patch = json!({"spec": {"renewTime": now_micro()}});
                let _permit = shared.writes.acquire().await;
                if let Err(error) = leases
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    eprintln!("simulated node {name}: renewing its lease failed: {error}");
                }
            })
            .await;
    }
}

/// Watches every pod; pods bound to a simulated node are marked running, and removed once deleted.
async fn watch_pods(shared: Arc<Shared>) {
    let pods: Api<Pod> = Api::all(shared.client.clone());
    let mut events = watcher(pods, watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        let pod = match event {
            Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => pod,
            Ok(watcher::Event::Delete(pod)) => {
                if let (Ok(mut handled), Some(uid)) = (shared.handled.lock(), pod.metadata.uid) {
                    handled.remove(&format!("{uid}/delete"));
                    handled.remove(&uid);
                }
                continue;
            }
            Ok(_) => continue,
            Err(error) => {
                eprintln!("simulated nodes: pod watch failed, retrying: {error}");
                continue;
            }
        };
        if let Some(observer) = &shared.observer {
            observer(&pod);
        }
        if !shared.config.run_pods {
            continue;
        }
        let Some(node) = pod.spec.as_ref().and_then(|spec| spec.node_name.clone()) else {
            continue;
        };
        let Some(node_ip) = shared
            .nodes
            .read()
            .ok()
            .and_then(|nodes| nodes.get(&node).copied())
        else {
            continue;
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let deleting = pod.metadata.deletion_timestamp.is_some();
        let phase = pod
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref());
        let key = if deleting {
            format!("{uid}/delete")
        } else {
            uid.clone()
        };
        if !deleting && matches!(phase, Some("Running" | "Succeeded" | "Failed")) {
            continue;
        }
        let fresh = shared
            .handled
            .lock()
            .map(|mut handled| handled.insert(key))
            .unwrap_or(false);
        if !fresh {
            continue;
        }
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _permit = shared.writes.acquire().await;
            let result = if deleting {
                remove(&shared.client, &pod).await
            } else {
                let ip = shared.next_ip.fetch_add(1, Ordering::Relaxed);
                mark_running(
                    &shared.client,
                    &pod,
                    node_ip,
                    Ipv4Addr::from(0x0A00_0000 | (ip & 0x00FF_FFFF)),
                )
                .await
            };
            if let Err(error) = result
                && !matches!(&error, kube::Error::Api(status) if status.code == 404 || status.code == 409)
            {
                eprintln!(
                    "simulated node {node}: pod {}: {error}",
                    pod.metadata.name.as_deref().unwrap_or("")
                );
            }
        });
    }
}

async fn remove(client: &kube::Client, pod: &Pod) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::namespaced(
        client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    pods.delete(pod.metadata.name.as_deref().unwrap_or(""), &params)
        .await
        .map(|_| ())
}

async fn mark_running(
    client: &kube::Client,
    pod: &Pod,
    node_ip: Ipv4Addr,
    pod_ip: Ipv4Addr,
) -> Result<(), kube::Error> {
    let now = now();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let container = |container: &k8s_openapi::api::core::v1::Container, init: bool| {
        let state = if init && container.restart_policy.as_deref() != Some("Always") {
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}})
        } else {
            json!({"running": {"startedAt": now}})
        };
        json!({
            "name": container.name,
            "image": container.image.clone().unwrap_or_default(),
            "imageID": "",
            "containerID": format!("simulated://{uid}-{}", container.name),
            "ready": !init || container.restart_policy.as_deref() == Some("Always"),
            "started": true,
            "restartCount": 0,
            "state": state,
        })
    };
    let mut status = json!({
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers"),
            condition("Initialized"),
            condition("Ready"),
            condition("ContainersReady"),
            condition("PodScheduled"),
        ],
        "hostIP": node_ip.to_string(),
        "hostIPs": [{"ip": node_ip.to_string()}],
        "podIP": pod_ip.to_string(),
        "podIPs": [{"ip": pod_ip.to_string()}],
        "startTime": now,
        "containerStatuses": spec.containers.iter().map(|c| container(c, false)).collect::<Vec<_>>(),
    });
    if let Some(init) = &spec.init_containers {
        status["initContainerStatuses"] =
            json!(init.iter().map(|c| container(c, true)).collect::<Vec<_>>());
    }
    let pods: Api<Pod> = Api::namespaced(
        client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    pods.patch_status(
        pod.metadata.name.as_deref().unwrap_or(""),
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": status})),
    )
    .await
    .map(|_| ())
}
