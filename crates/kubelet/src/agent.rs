//! The agent's main sequence: runtime up (supervised containerd or a given CRI socket), images
//! imported, then at once the pod manager (static pods run without the API server, as upstream's
//! kubelet bootstraps control planes) and the kubelet endpoint, while the cluster side goes on in
//! the background: Node registered (retried until the API server answers), pod network configured
//! from the node's podCIDR, then the heartbeat and node status loops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::cni;
use crate::config::{AgentConfig, AgentPaths};
use crate::containerd;
use crate::cri::Cri;
use crate::error::{Error, Result};
use crate::events::Recorder;
use crate::images::{import, pause};
use crate::node::{lease, register, system::SystemInfo};
use crate::pods::services::ServiceCache;
use crate::pods::{NodeContext, manager, runtime};
use crate::probes::ProbeResults;
use crate::server;

/// How often the node status is recomputed.
const STATUS_INTERVAL: Duration = Duration::from_secs(10);
/// How often an unchanged node status is written anyway (upstream's nodeStatusReportFrequency).
const STATUS_REPORT_INTERVAL: Duration = Duration::from_secs(300);
/// First delay before registering the Node again after a failure (upstream's), doubled up to
/// [`REGISTER_RETRY_MAX`].
const REGISTER_RETRY_MIN: Duration = Duration::from_millis(100);
/// Longest delay between two registration attempts (upstream's).
const REGISTER_RETRY_MAX: Duration = Duration::from_secs(7);

/// Runs the node agent until it fails.
pub async fn run(config: AgentConfig) -> Result<()> {
    let paths = AgentPaths::new(&config.data_dir);
    for dir in [
        paths.root().to_path_buf(),
        paths.images(),
        paths.pod_manifests(),
        paths.cni_conf_dir(),
        paths.cni_ipam_dir(),
    ] {
        std::fs::create_dir_all(&dir)
            .map_err(|error| Error::io(format!("creating {}", dir.display()), error))?;
    }
    let (cri, socket) = match &config.runtime_endpoint {
        Some(endpoint) => (Cri::connect(endpoint)?, endpoint.clone()),
        None => (
            containerd::ensure_running(&paths, pause::PAUSE_IMAGE).await?,
            paths.containerd_socket(),
        ),
    };
    let (runtime_name, runtime_version) = cri.version().await?;
    tracing::info!(runtime = %runtime_name, version = %runtime_version, "container runtime is up");
    import_images(&cri, &socket, &paths).await?;

    // The client makes no request here: those made before the API server answers fail and are
    // retried by whoever made them.
    let client = kube::Client::try_from(config.kube.clone())?;
    let system = SystemInfo::read(&config.data_dir);
    let runtime_version = format!("{runtime_name}://{runtime_version}");
    let recorder = Recorder::new(client.clone(), config.node_name.clone());
    let context = Arc::new(NodeContext {
        cri,
        client: client.clone(),
        config,
        paths,
        system,
        recorder,
        probes: ProbeResults::default(),
        services: ServiceCache::start(client.clone()),
    });
    let endpoint = Arc::clone(&context);
    tokio::spawn(async move {
        if let Err(error) = server::run(endpoint).await {
            tracing::error!(%error, "the kubelet endpoint (logs, exec, port-forward) is not available");
        }
    });
    let (registered_tx, registered) = watch::channel(false);
    let cluster = async {
        match join_node(Arc::clone(&context), runtime_version, registered_tx).await {
            // The lease and status loops run on their own from here.
            Ok(()) => std::future::pending().await,
            Err(error) => error,
        }
    };
    tokio::select! {
        () = manager::run(Arc::clone(&context), registered) => {
            Err(Error::Runtime("the pod watch ended".to_string()))
        }
        error = cluster => Err(error),
    }
}

/// The cluster side of the node: registers the Node (until the API server answers), says so on
/// `registered`, waits for the podCIDR and writes the CNI configuration, then starts the lease
/// and node status loops.
async fn join_node(
    context: Arc<NodeContext>,
    runtime_version: String,
    registered: watch::Sender<bool>,
) -> Result<()> {
    let config = &context.config;
    let nodes: Api<Node> = Api::all(context.client.clone());
    let mut delay = REGISTER_RETRY_MIN;
    let node = loop {
        match register::register(&nodes, config, &context.system, &runtime_version).await {
            Ok(node) => break node,
            Err(error) => {
                tracing::info!(%error, retry = ?delay, "registering the node failed");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(REGISTER_RETRY_MAX);
            }
        }
    };
    registered.send_replace(true);

    let (pod_cidr, node) = wait_for_pod_cidr(&nodes, &config.node_name, node).await?;
    cni::write(&context.paths, &pod_cidr)?;
    tracing::info!(%pod_cidr, "pod network configured");

    tokio::spawn(lease::run(context.client.clone(), node));
    tokio::spawn(report_status(
        nodes,
        config.clone(),
        context.system.clone(),
        runtime_version,
    ));
    Ok(())
}

/// Imports the pause image (when missing) and every archive in `DIR/agent/images/`.
async fn import_images(cri: &Cri, socket: &std::path::Path, paths: &AgentPaths) -> Result<()> {
    if !runtime::image_present(cri, pause::PAUSE_IMAGE).await? {
        let archive =
            pause::pause_archive().map_err(|error| Error::io("building the pause image", error))?;
        import::import_bytes(socket, &paths.root().join("pause-image.tar"), &archive).await?;
        tracing::info!(image = pause::PAUSE_IMAGE, "imported the pause image");
    }
    for archive in import::archives_in(&paths.images()).await? {
        let started = Instant::now();
        import::import_archive(socket, &archive).await?;
        tracing::info!(archive = %archive.display(), elapsed = ?started.elapsed(), "imported images");
    }
    Ok(())
}

/// Waits until the control plane has assigned the node its pod CIDR; returns it and the Node.
async fn wait_for_pod_cidr(nodes: &Api<Node>, name: &str, node: Node) -> Result<(String, Node)> {
    if let Some(cidr) = pod_cidr(&node) {
        return Ok((cidr, node));
    }
    tracing::info!("waiting for the control plane to assign this node a pod CIDR");
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(nodes.clone(), config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let node = match event {
            Ok(watcher::Event::Apply(node) | watcher::Event::InitApply(node)) => node,
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(%error, "watching this node failed; retrying");
                continue;
            }
        };
        if let Some(cidr) = pod_cidr(&node) {
            return Ok((cidr, node));
        }
    }
    Err(Error::Runtime(
        "the node watch ended before a pod CIDR was assigned".to_string(),
    ))
}

fn pod_cidr(node: &Node) -> Option<String> {
    node.spec.as_ref().and_then(|spec| spec.pod_cidr.clone())
}

/// Recomputes the node status every 10 s and writes it when it changed, or every 5 minutes.
async fn report_status(
    nodes: Api<Node>,
    config: AgentConfig,
    system: SystemInfo,
    runtime_version: String,
) {
    let mut last_written: Option<(serde_json::Value, Instant)> = None;
    let mut interval = tokio::time::interval(STATUS_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let current = match nodes.get(&config.node_name).await {
            Ok(node) => node,
            Err(error) => {
                tracing::warn!(%error, "reading the node failed");
                continue;
            }
        };
        let status =
            register::desired_status(&config, &system, &runtime_version, current.status.as_ref());
        let mut comparable = serde_json::to_value(&status).unwrap_or_default();
        strip_heartbeats(&mut comparable);
        let due = match &last_written {
            Some((value, at)) => *value != comparable || at.elapsed() >= STATUS_REPORT_INTERVAL,
            None => true,
        };
        if !due {
            continue;
        }
        let patch = serde_json::json!({"status": status});
        match nodes
            .patch_status(
                &config.node_name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => last_written = Some((comparable, Instant::now())),
            Err(error) => tracing::warn!(%error, "writing the node status failed"),
        }
    }
}

fn strip_heartbeats(status: &mut serde_json::Value) {
    if let Some(conditions) = status
        .get_mut("conditions")
        .and_then(|value| value.as_array_mut())
    {
        for condition in conditions {
            if let Some(object) = condition.as_object_mut() {
                object.remove("lastHeartbeatTime");
            }
        }
    }
}
