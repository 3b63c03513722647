//! The pod manager: watches the Pods bound to this node, keeps one worker per pod, wakes workers when
//! CRI state of their pod changes (a relist every second, as upstream's generic PLEG does: containerd
//! 1.6 has no CRI event stream), and removes sandboxes of pods the API no longer has.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::NodeContext;
use super::labels;
use super::static_pods;
use super::worker;

/// How often CRI is relisted for container state changes.
const RELIST_INTERVAL: Duration = Duration::from_secs(1);

struct WorkerHandle {
    desired: watch::Sender<Option<Arc<Pod>>>,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

/// Runs the pod manager forever.
pub async fn run(context: Arc<NodeContext>) {
    let pods: Api<Pod> = Api::all(context.client.clone());
    let config =
        watcher::Config::default().fields(&format!("spec.nodeName={}", context.config.node_name));
    let mut events = watcher(pods, config).boxed();
    let (changed_tx, mut changed_rx) = mpsc::channel::<String>(1024);
    tokio::spawn(relist(context.clone(), changed_tx));

    let (static_tx, mut static_rx) = mpsc::channel::<Vec<Pod>>(4);
    tokio::spawn(static_pods::watch(
        context.paths.pod_manifests(),
        context.config.node_name.clone(),
        static_tx,
    ));
    let mut static_set: HashMap<String, Pod> = HashMap::new();

    let mut workers: HashMap<String, WorkerHandle> = HashMap::new();
    let mut listing: Option<HashSet<String>> = None;
    loop {
        tokio::select! {
            Some(pods) = static_rx.recv() => {
                let previous = std::mem::take(&mut static_set);
                for pod in &pods {
                    if let Some(uid) = pod.metadata.uid.clone() {
                        static_set.insert(uid, pod.clone());
                    }
                    apply(&context, &mut workers, pod.clone());
                }
                for uid in previous.keys() {
                    if !static_set.contains_key(uid) {
                        if let Some(handle) = workers.get(uid) {
                            let _ = handle.desired.send(None);
                        }
                    }
                }
                let context = context.clone();
                tokio::spawn(async move { static_pods::sync_mirrors(&context, &pods, &previous).await });
            }
            event = events.next() => {
                let Some(event) = event else { return };
                match event {
                    Ok(watcher::Event::Init) => listing = Some(HashSet::new()),
                    Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod))
                        if static_pods::is_mirror(&pod) && pod.metadata.deletion_timestamp.is_none() => {}
                    Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) | watcher::Event::Delete(pod))
                        if static_pods::is_mirror(&pod) =>
                    {
                        // A deleted (or deleting) mirror pod is recreated while its static pod exists.
                        let context = context.clone();
                        let pods: Vec<Pod> = static_set.values().cloned().collect();
                        tokio::spawn(async move { static_pods::sync_mirrors(&context, &pods, &HashMap::new()).await });
                    }
                    Ok(watcher::Event::InitApply(pod)) => {
                        if let (Some(seen), Some(uid)) = (listing.as_mut(), pod.metadata.uid.clone()) {
                            seen.insert(uid);
                        }
                        apply(&context, &mut workers, pod);
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(mut seen) = listing.take() {
                            seen.extend(static_set.keys().cloned());
                            for (uid, handle) in &workers {
                                if !seen.contains(uid) {
                                    let _ = handle.desired.send(None);
                                }
                            }
                            remove_orphans(&context, &seen, &workers).await;
                        }
                    }
                    Ok(watcher::Event::Apply(pod)) => apply(&context, &mut workers, pod),
                    Ok(watcher::Event::Delete(pod)) => {
                        if let Some(uid) = pod.metadata.uid.as_deref() {
                            if let Some(handle) = workers.get(uid) {
                                let _ = handle.desired.send(None);
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "watching this node's pods failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                workers.retain(|_, handle| !handle.task.is_finished());
            }
            Some(uid) = changed_rx.recv() => {
                if let Some(handle) = workers.get(&uid) {
                    handle.wake.notify_one();
                }
            }
        }
    }
}

fn apply(context: &Arc<NodeContext>, workers: &mut HashMap<String, WorkerHandle>, pod: Pod) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    let pod = Arc::new(pod);
    if let Some(handle) = workers.get(&uid) {
        if !handle.task.is_finished() {
            let _ = handle.desired.send(Some(pod));
            return;
        }
    }
    let (desired, receiver) = watch::channel(Some(pod));
    let wake = Arc::new(Notify::new());
    let task = tokio::spawn(worker::run(
        context.clone(),
        uid.clone(),
        receiver,
        wake.clone(),
    ));
    workers.insert(
        uid,
        WorkerHandle {
            desired,
            wake,
            task,
        },
    );
}

/// Relists CRI every second and reports the pods whose containers or sandboxes changed state.
async fn relist(context: Arc<NodeContext>, changed: mpsc::Sender<String>) {
    let mut last: HashMap<String, Vec<(String, i32)>> = HashMap::new();
    let mut interval = tokio::time::interval(RELIST_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Ok(snapshot) = snapshot(&context).await else {
            continue;
        };
        for (uid, states) in &snapshot {
            if last.get(uid) != Some(states) {
                let _ = changed.try_send(uid.clone());
            }
        }
        for uid in last.keys() {
            if !snapshot.contains_key(uid) {
                let _ = changed.try_send(uid.clone());
            }
        }
        last = snapshot;
    }
}

async fn snapshot(
    context: &NodeContext,
) -> Result<HashMap<String, Vec<(String, i32)>>, tonic::Status> {
    let managed = HashMap::from([(labels::MANAGED_BY.to_string(), "true".to_string())]);
    let mut runtime = context.cri.runtime.clone();
    let containers = runtime
        .list_containers(cri::ListContainersRequest {
            filter: Some(cri::ContainerFilter {
                label_selector: managed.clone(),
                ..cri::ContainerFilter::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    let sandboxes = runtime
        .list_pod_sandbox(cri::ListPodSandboxRequest {
            filter: Some(cri::PodSandboxFilter {
                label_selector: managed,
                ..cri::PodSandboxFilter::default()
            }),
        })
        .await?
        .into_inner()
        .items;
    let mut out: HashMap<String, Vec<(String, i32)>> = HashMap::new();
    for container in containers {
        if let Some(uid) = container.labels.get(labels::POD_UID) {
            out.entry(uid.clone())
                .or_default()
                .push((container.id, container.state));
        }
    }
    for sandbox in sandboxes {
        if let Some(uid) = sandbox.labels.get(labels::POD_UID) {
            out.entry(uid.clone())
                .or_default()
                .push((sandbox.id, sandbox.state + 100));
        }
    }
    for states in out.values_mut() {
        states.sort();
    }
    Ok(out)
}

/// Tears down sandboxes of pods that are not in the API any more (deleted while the agent was down).
async fn remove_orphans(
    context: &Arc<NodeContext>,
    known: &HashSet<String>,
    workers: &HashMap<String, WorkerHandle>,
) {
    let Ok(snapshot) = snapshot(context).await else {
        return;
    };
    for uid in snapshot.keys() {
        if known.contains(uid) || workers.contains_key(uid) {
            continue;
        }
        tracing::info!(%uid, "removing the sandbox of a pod that no longer exists");
        let (_sender, receiver) = watch::channel(None);
        tokio::spawn(worker::run(
            context.clone(),
            uid.clone(),
            receiver,
            Arc::new(Notify::new()),
        ));
    }
}
