//! One pod's worker: converges the pod through CRI (sandbox, init containers in order, app containers
//! with restart policy and back-off), tears it down on deletion, and writes its status when it changed.

mod eviction;
mod garbage;
mod health;
mod report;
mod start;
mod stop;

pub(crate) use garbage::{log_dir_uid, pod_log_dirs};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use tokio::sync::{Notify, watch};

use super::NodeContext;
use super::cri_config::{self, ManagedFiles};
use super::env::container_env;
use super::hooks;
use super::network;
use super::runtime;
use super::static_pods;
use super::status::{self, Observed, StatusInputs, WaitingReasons, attempt};
use super::volumes::{self, VolumePaths, usage};
use crate::cgroups;
use crate::error::{Error, Result};
use crate::events::EventType;
use crate::images::pull::effective_policy;
use crate::probes::ProbeTarget;

/// First restart delay after a crash, doubled up to [`MAX_BACKOFF`] (upstream's values).
const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
/// Longest restart delay.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How soon a sync that could not finish (e.g. a failed mount) is retried.
const RETRY: Duration = Duration::from_secs(2);
/// How often a settled pod is synced anyway (volume contents, missed events).
const RESYNC: Duration = Duration::from_secs(60);
/// How often an unchanged `FailedMount` event is recorded again while a volume keeps failing
/// (upstream retries a failed pod sync after a 10 s back-off and records an event each time).
const FAILED_MOUNT_REPEAT: Duration = Duration::from_secs(10);
/// How often an unchanged `NetworkNotReady` event is recorded again while the pod waits for the
/// pod network (upstream records one per failed sync, retried every 10 s).
const NETWORK_NOT_READY_REPEAT: Duration = Duration::from_secs(10);
/// How soon a static pod's status that could not be written (no mirror pod yet, or the API server
/// cannot be reached) is tried again (upstream's status manager writes every 10 s).
const STATUS_RETRY: Duration = Duration::from_secs(10);
/// The grace period of pods evicted for local storage (upstream's immediate eviction).
const EVICTION_GRACE_SECONDS: i64 = 1;

/// What the worker does after a sync.
enum Next {
    /// Sync again after this long, or earlier when woken.
    After(Duration),
    /// The pod is gone; the worker ends.
    Done,
}

/// What starting any container of a pod needs from the sync that prepared the pod.
#[derive(Clone, Copy)]
struct PodSetup<'a> {
    pod: &'a Pod,
    sandbox: &'a cri::PodSandboxStatus,
    volume_paths: &'a VolumePaths,
    files: &'a ManagedFiles,
    pod_ip: &'a str,
}

/// A pod's worker state between syncs.
struct PodWorker {
    context: Arc<NodeContext>,
    wake: Arc<Notify>,
    start_time: Option<Time>,
    backoff: HashMap<String, Duration>,
    waiting: WaitingReasons,
    last_written: Option<serde_json::Value>,
    /// Whether a static pod's status is kept here until its mirror pod can take it.
    status_pending: bool,
    /// A static pod's status as last computed.
    kept_status: Option<PodStatus>,
    /// The last `FailedMount` messages recorded and when.
    failed_mount: Option<(Vec<String>, std::time::Instant)>,
    /// The last `NetworkNotReady` message recorded and when.
    network_not_ready: Option<(String, std::time::Instant)>,
    /// Why the pod is being evicted, once the eviction check decided so.
    evicted: Option<String>,
    /// Whether the `Evicted` event was recorded.
    eviction_recorded: bool,
}

/// Runs a pod's worker until the pod is gone. `desired` carries the newest Pod object (or `None`
/// once it left the API); `wake` is signalled when CRI state of the pod changed.
pub async fn run(
    context: Arc<NodeContext>,
    uid: String,
    mut desired: watch::Receiver<Option<Arc<Pod>>>,
    wake: Arc<Notify>,
) {
    let mut worker = PodWorker {
        context,
        wake: wake.clone(),
        start_time: None,
        backoff: HashMap::new(),
        waiting: WaitingReasons::new(),
        last_written: None,
        status_pending: false,
        kept_status: None,
        failed_mount: None,
        network_not_ready: None,
        evicted: None,
        eviction_recorded: false,
    };
    let mut usage_timer = tokio::time::interval_at(
        tokio::time::Instant::now() + usage::CHECK_INTERVAL,
        usage::CHECK_INTERVAL,
    );
    usage_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let pod = desired.borrow_and_update().clone();
        let next = match pod.as_deref() {
            Some(pod) => match worker.sync(pod).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(pod = %pod_key(pod), %error, "pod sync failed");
                    Next::After(RETRY)
                }
            },
            None => {
                if let Err(error) = worker.tear_down(&uid, 0).await {
                    tracing::warn!(%uid, %error, "tearing down a removed pod failed");
                }
                return;
            }
        };
        let delay = match next {
            Next::Done => return,
            Next::After(delay) if worker.status_pending => delay.min(STATUS_RETRY),
            Next::After(delay) => delay,
        };
        let watched = pod
            .as_deref()
            .map(|pod| worker.watched_volumes(pod))
            .unwrap_or_default();
        let deadline = tokio::time::Instant::now() + delay;
        loop {
            tokio::select! {
                changed = desired.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                _ = wake.notified() => break,
                _ = tokio::time::sleep_until(deadline) => break,
                _ = usage_timer.tick(), if !watched.is_empty() => {
                    if let Some(pod) = pod.as_deref() {
                        if worker.check_usage(pod, &watched).await {
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// `namespace/name` of a pod.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

impl PodWorker {
    async fn sync(&mut self, pod: &Pod) -> Result<Next> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if pod.metadata.deletion_timestamp.is_some() {
            let grace = pod
                .metadata
                .deletion_grace_period_seconds
                .or_else(|| {
                    pod.spec
                        .as_ref()
                        .and_then(|spec| spec.termination_grace_period_seconds)
                })
                .unwrap_or(30);
            let (observed, sandboxes) = runtime::observe(&self.context.cri, &uid).await?;
            self.stop_containers_gracefully_with(pod, &observed, &sandboxes, grace)
                .await?;
            self.tear_down(&uid, 0).await?;
            self.delete_object(pod).await?;
            return Ok(Next::Done);
        }
        let phase = pod
            .status
            .as_ref()
            .and_then(|status| status.phase.clone())
            .unwrap_or_default();
        let (mut observed, sandboxes) = runtime::observe(&self.context.cri, &uid).await?;
        if phase == "Succeeded" || phase == "Failed" {
            self.stop_everything(&observed, &sandboxes, 0).await?;
            // A finished pod's memory-backed volumes, bind mounts and pod cgroup are released;
            // its folders stay until the pod is deleted.
            let pod_dir = self.context.paths.pod_dir(&uid);
            let released = tokio::task::spawn_blocking(move || volumes::release(&pod_dir)).await;
            if let Ok(Err(error)) = released {
                tracing::warn!(pod = %pod_key(pod), %error, "unmounting a finished pod's volumes failed");
            }
            cgroups::remove_pod_cgroup(&cgroups::pod_cgroup(
                &self
                    .context
                    .paths
                    .cgroup_parent(&self.context.config.node_name),
                &uid,
            ));
            return Ok(Next::After(RESYNC));
        }
        if let Some(message) = self.evicted.clone() {
            return self.evict(pod, message).await;
        }
        if self.start_time.is_none() {
            self.start_time = pod
                .status
                .as_ref()
                .and_then(|status| status.start_time.clone())
                .or_else(|| Some(Time(jiff::Timestamp::now())));
        }
        let spec = pod.spec.clone().unwrap_or_default();
        let restart_policy = spec
            .restart_policy
            .clone()
            .unwrap_or_else(|| "Always".to_string());
        let mut deadline_wait = RESYNC;
        if let (Some(deadline), Some(start)) =
            (spec.active_deadline_seconds, self.start_time.as_ref())
        {
            let elapsed = jiff::Timestamp::now().duration_since(start.0).as_secs();
            if elapsed >= deadline {
                let message =
                    "Pod was active on the node longer than the specified deadline".to_string();
                self.context.recorder.pod(
                    pod,
                    None,
                    EventType::Normal,
                    "DeadlineExceeded",
                    message.clone(),
                );
                self.stop_containers_gracefully(pod, &observed, &sandboxes)
                    .await?;
                (observed, _) = runtime::observe(&self.context.cri, &uid).await?;
                let forced = (
                    "Failed".to_string(),
                    "DeadlineExceeded".to_string(),
                    message,
                );
                self.write_status(pod, &observed, Some(forced)).await?;
                return Ok(Next::After(RESYNC));
            }
            deadline_wait = Duration::from_secs((deadline - elapsed).max(1) as u64);
        }

        if !observed.sandbox_ready() && pod_finished(&spec.containers, &observed, &restart_policy) {
            self.write_status(pod, &observed, None).await?;
            return Ok(Next::After(RESYNC));
        }

        // Only host-network pods start before the runtime's pod network is ready.
        if !observed.sandbox_ready() && !network::host_network(pod) {
            if let Some(message) = network::not_ready(&self.context.cri).await {
                self.record_network_not_ready(pod, message);
                self.write_status(pod, &observed, None).await?;
                return Ok(Next::After(RETRY));
            }
        }
        self.network_not_ready = None;

        let volume_paths = match volumes::prepare(&self.context, pod).await {
            Ok(paths) => {
                self.failed_mount = None;
                paths
            }
            Err(messages) => {
                self.record_failed_mount(pod, messages);
                self.write_status(pod, &observed, None).await?;
                return Ok(Next::After(RETRY));
            }
        };

        if !observed.sandbox_ready() {
            self.stop_everything(&observed, &sandboxes, 0).await?;
            let config = cri_config::sandbox_config(&self.context, pod, sandboxes.len() as u32);
            let log_dir = std::path::PathBuf::from(&config.log_directory);
            std::fs::create_dir_all(&log_dir)
                .map_err(|error| Error::io(format!("creating {}", log_dir.display()), error))?;
            let request = cri::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            };
            if let Err(status) = self
                .context
                .cri
                .runtime
                .clone()
                .run_pod_sandbox(request)
                .await
            {
                tracing::warn!(pod = %pod_key(pod), error = %status.message(), "creating the pod sandbox failed");
                self.context.recorder.pod(
                    pod,
                    None,
                    EventType::Warning,
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {}", status.message()),
                );
                self.write_status(pod, &observed, None).await?;
                return Ok(Next::After(RETRY));
            }
            (observed, _) = runtime::observe(&self.context.cri, &uid).await?;
        }
        let Some(sandbox) = observed.sandbox.clone() else {
            return Ok(Next::After(RETRY));
        };
        let pod_ip = self.pod_ip(pod, &observed);
        let files = self.managed_files(pod, &pod_ip)?;
        let setup = PodSetup {
            pod,
            sandbox: &sandbox,
            volume_paths: &volume_paths,
            files: &files,
            pod_ip: &pod_ip,
        };

        let mut next = deadline_wait;
        let mut progressed = false;
        let mut init_pending = false;
        for container in spec.init_containers.iter().flatten() {
            let (latest, _) = observed.attempts(&container.name);
            match latest.map(|status| (status.state, status.exit_code)) {
                Some((state, 0)) if state == cri::ContainerState::ContainerExited as i32 => {
                    continue;
                }
                Some((state, _)) if state == cri::ContainerState::ContainerRunning as i32 => {
                    init_pending = true;
                    break;
                }
                Some((state, _)) if state == cri::ContainerState::ContainerExited as i32 => {
                    init_pending = true;
                    if restart_policy == "Never" {
                        break;
                    }
                    let Some(latest) = latest else { break };
                    match self.restart_delay(&container.name, latest, pod) {
                        Some(wait) => next = next.min(wait),
                        None => {
                            self.start_container(&setup, container, attempt(latest) + 1, true)
                                .await;
                            progressed = true;
                        }
                    }
                    break;
                }
                _ => {
                    init_pending = true;
                    self.start_container(
                        &setup,
                        container,
                        latest.map(|status| attempt(status) + 1).unwrap_or(0),
                        true,
                    )
                    .await;
                    progressed = true;
                    break;
                }
            }
        }
        if !init_pending {
            for container in &spec.containers {
                let (latest, _) = observed.attempts(&container.name);
                match latest {
                    None => {
                        self.start_container(&setup, container, 0, false).await;
                        progressed = true;
                    }
                    Some(status)
                        if status.state == cri::ContainerState::ContainerCreated as i32 =>
                    {
                        self.start_created(pod, container, status).await;
                        progressed = true;
                    }
                    Some(status) if status.state == cri::ContainerState::ContainerExited as i32 => {
                        let restart = match restart_policy.as_str() {
                            "Never" => false,
                            "OnFailure" => status.exit_code != 0,
                            _ => true,
                        };
                        if restart {
                            match self.restart_delay(&container.name, status, pod) {
                                Some(wait) => next = next.min(wait),
                                None => {
                                    self.start_container(
                                        &setup,
                                        container,
                                        attempt(status) + 1,
                                        false,
                                    )
                                    .await;
                                    progressed = true;
                                }
                            }
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        if progressed {
            (observed, _) = runtime::observe(&self.context.cri, &uid).await?;
        }
        if self.check_probes(pod, &observed, &pod_ip).await {
            next = next.min(Duration::from_millis(200));
        }
        self.remove_dead_containers(&observed).await;
        self.remove_old_sandboxes(&sandboxes).await;
        self.write_status(pod, &observed, None).await?;
        Ok(Next::After(next))
    }

    /// Records `FailedMount` warnings: at once when they changed, otherwise every
    /// [`FAILED_MOUNT_REPEAT`] while the volumes keep failing.
    fn record_failed_mount(&mut self, pod: &Pod, messages: Vec<String>) {
        let due = match &self.failed_mount {
            Some((last, at)) => *last != messages || at.elapsed() >= FAILED_MOUNT_REPEAT,
            None => true,
        };
        if !due {
            return;
        }
        for message in &messages {
            tracing::warn!(pod = %pod_key(pod), %message, "volume setup failed");
            self.context.recorder.pod(
                pod,
                None,
                EventType::Warning,
                "FailedMount",
                message.clone(),
            );
        }
        self.failed_mount = Some((messages, std::time::Instant::now()));
    }

    /// Records the `NetworkNotReady` warning: at once when the message changed, otherwise every
    /// [`NETWORK_NOT_READY_REPEAT`] while the pod keeps waiting.
    fn record_network_not_ready(&mut self, pod: &Pod, message: String) {
        let due = match &self.network_not_ready {
            Some((last, at)) => *last != message || at.elapsed() >= NETWORK_NOT_READY_REPEAT,
            None => true,
        };
        if !due {
            return;
        }
        tracing::info!(pod = %pod_key(pod), %message, "the pod waits for the pod network");
        self.context.recorder.pod(
            pod,
            None,
            EventType::Warning,
            "NetworkNotReady",
            message.clone(),
        );
        self.network_not_ready = Some((message, std::time::Instant::now()));
    }

    /// The pod's address: the node's for a host-network pod (as upstream reports and probes it),
    /// else its sandbox's.
    fn pod_ip(&self, pod: &Pod, observed: &Observed) -> String {
        if network::host_network(pod) {
            self.context.config.node_ip.to_string()
        } else {
            observed.pod_ip()
        }
    }
}

/// Whether a pod whose sandbox is gone has nothing left to run: every container finished and the
/// restart policy does not restart it.
fn pod_finished(containers: &[Container], observed: &Observed, restart_policy: &str) -> bool {
    if restart_policy == "Always" || containers.is_empty() {
        return false;
    }
    containers
        .iter()
        .all(|container| match observed.attempts(&container.name).0 {
            Some(status) if status.state == cri::ContainerState::ContainerExited as i32 => {
                restart_policy == "Never" || status.exit_code == 0
            }
            _ => false,
        })
}
