//! The pod manager: runs the static pods and watches the Pods bound to this node (the API server may
//! come later than the static pods), keeps one worker per pod, wakes workers when
//! CRI state of their pod changes (a relist every second, as upstream's generic PLEG does: containerd
//! 1.6 has no CRI event stream), and cleans up after pods the API no longer has: their sandboxes,
//! volume mounts, pod folders and pod cgroups (housekeeping every 2 s, as upstream's
//! `HandlePodCleanups`).

use std::collections::{BTreeSet, HashMap, HashSet};
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
use crate::cgroups;

/// How often CRI is relisted for container state changes.
const RELIST_INTERVAL: Duration = Duration::from_secs(1);
/// How often the node is searched for what pods that are gone left behind (upstream's
/// housekeeping period).
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(2);
/// First delay before the pod watch is tried again after a failure, doubled up to
/// [`WATCH_RETRY_MAX`] while it keeps failing.
const WATCH_RETRY_MIN: Duration = Duration::from_secs(1);
/// Longest delay between two tries of the pod watch.
const WATCH_RETRY_MAX: Duration = Duration::from_secs(8);

struct WorkerHandle {
    desired: watch::Sender<Option<Arc<Pod>>>,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

/// Runs the pod manager forever. Static pods run from the start; pods of the API once the pod
/// watch lists them (its failures are retried with a back-off, the API server may not be there
/// yet). `registered` turns true once this node's Node exists, when mirror pods can be made.
pub async fn run(context: Arc<NodeContext>, mut registered: watch::Receiver<bool>) {
    let pods: Api<Pod> = Api::all(context.client.clone());
    let config =
        watcher::Config::default().fields(&format!("spec.nodeName={}", context.config.node_name));
    let mut events = watcher(pods, config).boxed();
    let (changed_tx, mut changed_rx) = mpsc::channel::<String>(1024);
    let (runtime_uids_tx, runtime_uids) = watch::channel::<Option<HashSet<String>>>(None);
    tokio::spawn(relist(context.clone(), changed_tx, runtime_uids_tx));
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Nothing is cleaned up before the first full listing of this node's pods and the first read of
    // its static pods: until then every pod would look gone.
    let mut synced = false;
    let mut static_read = false;

    let (static_tx, mut static_rx) = mpsc::channel::<Vec<Pod>>(4);
    tokio::spawn(static_pods::watch(
        context.paths.pod_manifests(),
        context.config.node_name.clone(),
        static_tx,
    ));
    let mut static_set: HashMap<String, Pod> = HashMap::new();
    let mirrors = static_pods::Mirrors::start(context.clone());
    // The mirror pod (UID) seen for each static pod (UID): a new one gets its status written.
    let mut mirror_uids: HashMap<String, String> = HashMap::new();
    let mut registered_open = true;
    // While the pod watch fails, when it is tried again and the delay before the next try.
    let mut watch_retry: Option<tokio::time::Instant> = None;
    let mut watch_backoff = WATCH_RETRY_MIN;

    let mut workers: HashMap<String, WorkerHandle> = HashMap::new();
    let mut listing: Option<HashSet<String>> = None;
    loop {
        tokio::select! {
            Some(pods) = static_rx.recv() => {
                static_read = true;
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
                mirrors.set(pods);
            }
            changed = registered.changed(), if registered_open => {
                match changed {
                    Ok(()) => mirrors.kick(),
                    Err(_) => registered_open = false,
                }
            }
            _ = tokio::time::sleep_until(watch_retry.unwrap_or_else(tokio::time::Instant::now)),
                if watch_retry.is_some() =>
            {
                watch_retry = None;
            }
            event = events.next(), if watch_retry.is_none() => {
                let Some(event) = event else { return };
                // (Every try starts with `Init`, so only what follows it shows the API answered.)
                if event.as_ref().is_ok_and(|event| !matches!(event, watcher::Event::Init)) {
                    watch_backoff = WATCH_RETRY_MIN;
                }
                match event {
                    Ok(watcher::Event::Init) => listing = Some(HashSet::new()),
                    Ok(watcher::Event::InitApply(pod))
                        if static_pods::is_mirror(&pod) && pod.metadata.deletion_timestamp.is_none() =>
                    {
                        note_mirror(&mut mirror_uids, &workers, &pod, true);
                    }
                    Ok(watcher::Event::Apply(pod))
                        if static_pods::is_mirror(&pod) && pod.metadata.deletion_timestamp.is_none() =>
                    {
                        note_mirror(&mut mirror_uids, &workers, &pod, false);
                    }
                    Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) | watcher::Event::Delete(pod))
                        if static_pods::is_mirror(&pod) =>
                    {
                        // A deleted (or deleting) mirror pod is recreated while its static pod exists.
                        if let Some(uid) = static_pods::mirrored_uid(&pod) {
                            mirror_uids.remove(uid);
                        }
                        mirrors.kick();
                    }
                    Ok(watcher::Event::InitApply(pod)) => {
                        if let (Some(seen), Some(uid)) = (listing.as_mut(), pod.metadata.uid.clone()) {
                            seen.insert(uid);
                        }
                        apply(&context, &mut workers, pod);
                    }
                    Ok(watcher::Event::InitDone) => {
                        // The API server answers (again): mirrors catch up with the static pods.
                        mirrors.kick();
                        if let Some(mut seen) = listing.take() {
                            seen.extend(static_set.keys().cloned());
                            for (uid, handle) in &workers {
                                if !seen.contains(uid) {
                                    let _ = handle.desired.send(None);
                                }
                            }
                            synced = true;
                            if static_read {
                                housekeep(&context, &mut workers, runtime_uids.borrow().as_ref());
                            }
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
                        tracing::warn!(%error, retry = ?watch_backoff, "watching this node's pods failed");
                        watch_retry = Some(tokio::time::Instant::now() + watch_backoff);
                        watch_backoff = (watch_backoff * 2).min(WATCH_RETRY_MAX);
                    }
                }
                workers.retain(|_, handle| !handle.task.is_finished());
            }
            Some(uid) = changed_rx.recv() => {
                if let Some(handle) = workers.get(&uid) {
                    handle.wake.notify_one();
                }
            }
            _ = housekeeping.tick(), if synced && static_read => {
                housekeep(&context, &mut workers, runtime_uids.borrow().as_ref());
            }
        }
    }
}

/// Records the live mirror pod of a static pod. A mirror not seen before (just created or
/// recreated) or `listed` again wakes the static pod's worker, which writes the status it kept
/// meanwhile.
fn note_mirror(
    mirror_uids: &mut HashMap<String, String>,
    workers: &HashMap<String, WorkerHandle>,
    mirror: &Pod,
    listed: bool,
) {
    let (Some(static_uid), Some(mirror_uid)) = (
        static_pods::mirrored_uid(mirror),
        mirror.metadata.uid.as_deref(),
    ) else {
        return;
    };
    let previous = mirror_uids.insert(static_uid.to_string(), mirror_uid.to_string());
    if listed || previous.as_deref() != Some(mirror_uid) {
        if let Some(handle) = workers.get(static_uid) {
            handle.wake.notify_one();
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

/// Relists CRI every second, reports the pods whose containers or sandboxes changed state, and
/// publishes the UIDs of all pods CRI has anything of.
async fn relist(
    context: Arc<NodeContext>,
    changed: mpsc::Sender<String>,
    uids: watch::Sender<Option<HashSet<String>>>,
) {
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
        uids.send_replace(Some(snapshot.keys().cloned().collect()));
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

/// Cleans up after pods this node has no worker for (deleted while the agent was down, or whose
/// teardown did not finish): each UID that CRI, the pod folders or the pod cgroups still know gets a
/// teardown worker (sandboxes, then volume mounts and folders, then cgroups).
fn housekeep(
    context: &Arc<NodeContext>,
    workers: &mut HashMap<String, WorkerHandle>,
    runtime_uids: Option<&HashSet<String>>,
) {
    let Some(runtime_uids) = runtime_uids else {
        return;
    };
    workers.retain(|_, handle| !handle.task.is_finished());
    let mut left: BTreeSet<String> = runtime_uids.iter().cloned().collect();
    left.extend(pod_dir_uids(&context.paths.pods_dir()));
    left.extend(log_dir_uids(&context.paths.pod_logs_dir()));
    left.extend(cgroups::pod_cgroup_uids(
        &context.paths.cgroup_parent(&context.config.node_name),
    ));
    for uid in left {
        if workers.contains_key(&uid) {
            continue;
        }
        tracing::debug!(%uid, "cleaning up after a pod that no longer exists");
        let (desired, receiver) = watch::channel(None);
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
}

/// The UIDs of the pod log folders under `logs_dir`.
fn log_dir_uids(logs_dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(logs_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            worker::log_dir_uid(&entry.file_name().to_string_lossy()).map(str::to_string)
        })
        .collect()
}

/// The UIDs of the pod folders under `pods_dir`.
fn pod_dir_uids(pods_dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(pods_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}
