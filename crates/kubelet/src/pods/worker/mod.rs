//! One pod's worker: converges the pod through CRI (sandbox, init containers in order, app containers
//! with restart policy and back-off), tears it down on deletion, and writes its status when it changed.

mod eviction;
mod garbage;
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

    /// Starts probers for running containers, stops those of gone containers, and kills containers
    /// whose liveness or startup probe failed. Returns whether it killed one.
    async fn check_probes(&mut self, pod: &Pod, observed: &Observed, pod_ip: &str) -> bool {
        let Some(spec) = pod.spec.as_ref() else {
            return false;
        };
        let all: Vec<String> = observed
            .containers
            .iter()
            .map(|status| status.id.clone())
            .collect();
        let mut running = Vec::new();
        let mut killed = false;
        let shared = Arc::new(pod.clone());
        for container in &spec.containers {
            let (Some(latest), _) = observed.attempts(&container.name) else {
                continue;
            };
            if latest.state != cri::ContainerState::ContainerRunning as i32 {
                continue;
            }
            running.push(latest.id.clone());
            self.context.probes.ensure(ProbeTarget {
                cri: self.context.cri.clone(),
                recorder: self.context.recorder.clone(),
                pod: shared.clone(),
                container: container.clone(),
                container_id: latest.id.clone(),
                pod_ip: pod_ip.to_string(),
                wake: self.wake.clone(),
            });
            if let Some(kind) = self.context.probes.state(&latest.id, container).failed {
                self.context.recorder.pod(
                    pod,
                    Some(&container.name),
                    EventType::Normal,
                    "Killing",
                    format!(
                        "Container {} failed {kind} probe, will be restarted",
                        container.name
                    ),
                );
                let probe = if kind == "startup" {
                    &container.startup_probe
                } else {
                    &container.liveness_probe
                };
                let grace = probe
                    .as_ref()
                    .and_then(|probe| probe.termination_grace_period_seconds)
                    .or(spec.termination_grace_period_seconds)
                    .unwrap_or(30);
                self.run_pre_stop(pod, container, &latest.id, pod_ip, grace)
                    .await;
                if let Err(error) =
                    runtime::stop_container(&self.context.cri, &latest.id, grace).await
                {
                    tracing::warn!(pod = %pod_key(pod), %error, "stopping an unhealthy container failed");
                }
                running.pop();
                killed = true;
            }
        }
        self.context.probes.retain_for_pod(&all, &running);
        killed
    }

    /// Whether a container must wait before its next restart; sets the waiting reason if so and
    /// advances the back-off when the restart may go ahead.
    fn restart_delay(
        &mut self,
        name: &str,
        exited: &cri::ContainerStatus,
        pod: &Pod,
    ) -> Option<Duration> {
        let finished = chrono::DateTime::from_timestamp_nanos(exited.finished_at);
        let since = (chrono::Utc::now() - finished).to_std().unwrap_or_default();
        if let Some(delay) = self.backoff.get(name).copied() {
            if since < delay {
                let message = format!(
                    "back-off {}s restarting failed container={name} pod={}_{}({})",
                    delay.as_secs(),
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod.metadata.uid.as_deref().unwrap_or_default()
                );
                let entering = self
                    .waiting
                    .get(name)
                    .is_none_or(|(reason, _)| reason != "CrashLoopBackOff");
                if entering {
                    self.context.recorder.pod(
                        pod,
                        Some(name),
                        EventType::Warning,
                        "BackOff",
                        format!(
                            "Back-off restarting failed container {name} in pod {}_{}({})",
                            pod.metadata.name.as_deref().unwrap_or_default(),
                            pod.metadata.namespace.as_deref().unwrap_or_default(),
                            pod.metadata.uid.as_deref().unwrap_or_default()
                        ),
                    );
                }
                self.waiting
                    .insert(name.to_string(), ("CrashLoopBackOff".to_string(), message));
                return Some(delay - since);
            }
        }
        let next = match self.backoff.get(name) {
            Some(delay) => (*delay * 2).min(MAX_BACKOFF),
            None => INITIAL_BACKOFF,
        };
        self.backoff.insert(name.to_string(), next);
        None
    }

    /// The pod's hosts file and a fresh termination-message file folder.
    fn managed_files(&self, pod: &Pod, pod_ip: &str) -> Result<ManagedFiles> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let pod_dir = self.context.paths.pod_dir(&uid);
        std::fs::create_dir_all(&pod_dir)
            .map_err(|error| Error::io(format!("creating {}", pod_dir.display()), error))?;
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.host_network)
            .unwrap_or(false);
        let etc_hosts = if host_network {
            None
        } else {
            let path = pod_dir.join("etc-hosts");
            let text = cri_config::etc_hosts(pod, pod_ip, &self.context.config.cluster_domain);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, text)
                    .map_err(|error| Error::io(format!("writing {}", path.display()), error))?;
            }
            Some(path)
        };
        Ok(ManagedFiles {
            etc_hosts,
            termination_message: None,
        })
    }

    async fn start_container(
        &mut self,
        setup: &PodSetup<'_>,
        container: &Container,
        attempt: u32,
        init: bool,
    ) {
        let pod = setup.pod;
        let name = container.name.clone();
        match self
            .try_start_container(setup, container, attempt, init)
            .await
        {
            Ok(()) => {
                self.waiting.remove(&name);
            }
            Err((reason, message)) => {
                tracing::warn!(pod = %pod_key(pod), container = %name, %reason, %message, "container start failed");
                self.waiting.insert(name, (reason, message));
            }
        }
    }

    async fn try_start_container(
        &mut self,
        setup: &PodSetup<'_>,
        container: &Container,
        attempt: u32,
        init: bool,
    ) -> std::result::Result<(), (String, String)> {
        let PodSetup {
            pod,
            sandbox,
            volume_paths,
            files,
            pod_ip,
        } = *setup;
        let image = container.image.clone().unwrap_or_default();
        let policy = effective_policy(&image, container.image_pull_policy.as_deref());
        let present = runtime::image_present(&self.context.cri, &image)
            .await
            .map_err(|error| ("ErrImagePull".to_string(), error.to_string()))?;
        if policy == "Never" && !present {
            self.context.recorder.pod(
                pod,
                Some(&container.name),
                EventType::Warning,
                "ErrImageNeverPull",
                format!("Container image {image:?} is not present with pull policy of Never"),
            );
            return Err((
                "ErrImageNeverPull".to_string(),
                format!("Container image {image:?} is not present with pull policy of Never"),
            ));
        }
        if policy == "IfNotPresent" && present {
            self.context.recorder.pod(
                pod,
                Some(&container.name),
                EventType::Normal,
                "Pulled",
                format!("Container image {image:?} already present on machine"),
            );
        }
        if policy == "Always" || !present {
            self.context.recorder.pod(
                pod,
                Some(&container.name),
                EventType::Normal,
                "Pulling",
                format!("Pulling image {image:?}"),
            );
            let pull_started = std::time::Instant::now();
            let pulled = crate::images::credentials::pull(&self.context, pod, &image).await;
            if pulled.is_ok() {
                let elapsed = pull_started.elapsed();
                self.context.recorder.pod(
                    pod,
                    Some(&container.name),
                    EventType::Normal,
                    "Pulled",
                    format!("Successfully pulled image {image:?} in {elapsed:.3?} ({elapsed:.3?} including waiting)"),
                );
            }
            if let Err(message) = pulled {
                let reason = if self
                    .waiting
                    .get(&container.name)
                    .is_some_and(|(reason, _)| {
                        reason == "ErrImagePull" || reason == "ImagePullBackOff"
                    }) {
                    "ImagePullBackOff"
                } else {
                    "ErrImagePull"
                };
                if !present {
                    let message = format!("failed to pull and unpack image {image:?}: {message}");
                    self.context.recorder.pod(
                        pod,
                        Some(&container.name),
                        EventType::Warning,
                        "Failed",
                        format!("Failed to pull image {image:?}: {message}"),
                    );
                    self.context.recorder.pod(
                        pod,
                        Some(&container.name),
                        EventType::Warning,
                        "Failed",
                        format!("Error: {reason}"),
                    );
                    return Err((reason.to_string(), message));
                }
            }
        }
        let env = container_env(&self.context, pod, container, pod_ip)
            .await
            .map_err(|message| ("CreateContainerConfigError".to_string(), message))?;
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let message_dir = self
            .context
            .paths
            .pod_dir(&uid)
            .join("containers")
            .join(&container.name);
        let mut files = files.clone();
        if container.termination_message_path.as_deref() != Some("") {
            std::fs::create_dir_all(&message_dir)
                .map_err(|error| ("CreateContainerError".to_string(), error.to_string()))?;
            let path = message_dir.join(format!("termination-log-{attempt}"));
            std::fs::write(&path, b"")
                .map_err(|error| ("CreateContainerError".to_string(), error.to_string()))?;
            files.termination_message = Some(path);
        }
        let config =
            cri_config::container_config(pod, container, attempt, &env, volume_paths, &files, init)
                .map_err(|message| ("CreateContainerConfigError".to_string(), message))?;
        let sandbox_config = cri_config::sandbox_config(
            &self.context,
            pod,
            sandbox
                .metadata
                .as_ref()
                .map(|metadata| metadata.attempt)
                .unwrap_or(0),
        );
        let created = self
            .context
            .cri
            .runtime
            .clone()
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox.id.clone(),
                config: Some(config),
                sandbox_config: Some(sandbox_config),
            })
            .await
            .map_err(|status| {
                (
                    "CreateContainerError".to_string(),
                    status.message().to_string(),
                )
            })?
            .into_inner();
        self.context.recorder.pod(
            pod,
            Some(&container.name),
            EventType::Normal,
            "Created",
            format!("Created container: {}", container.name),
        );
        let container_id = created.container_id;
        self.context
            .cri
            .runtime
            .clone()
            .start_container(cri::StartContainerRequest {
                container_id: container_id.clone(),
            })
            .await
            .map_err(|status| {
                (
                    "RunContainerError".to_string(),
                    status.message().to_string(),
                )
            })?;
        self.context.recorder.pod(
            pod,
            Some(&container.name),
            EventType::Normal,
            "Started",
            format!("Started container {}", container.name),
        );
        if let Some(handler) = container
            .lifecycle
            .as_ref()
            .and_then(|lifecycle| lifecycle.post_start.as_ref())
        {
            if let Err(message) = hooks::run(
                &self.context,
                &container_id,
                container,
                pod_ip,
                handler,
                Duration::from_secs(30),
            )
            .await
            {
                self.context.recorder.pod(
                    pod,
                    Some(&container.name),
                    EventType::Warning,
                    "FailedPostStartHook",
                    format!("PostStartHook failed: {message}"),
                );
                let _ = runtime::stop_container(&self.context.cri, &container_id, 0).await;
                return Err(("PostStartHookError".to_string(), message));
            }
        }
        Ok(())
    }

    async fn start_created(
        &mut self,
        pod: &Pod,
        container: &Container,
        status: &cri::ContainerStatus,
    ) {
        let result = self
            .context
            .cri
            .runtime
            .clone()
            .start_container(cri::StartContainerRequest {
                container_id: status.id.clone(),
            })
            .await;
        if let Err(status) = result {
            tracing::warn!(pod = %pod_key(pod), container = %container.name, error = %status.message(), "starting a created container failed");
            self.waiting.insert(
                container.name.clone(),
                (
                    "RunContainerError".to_string(),
                    status.message().to_string(),
                ),
            );
        }
    }

    /// Writes the pod's status if it differs from what was last written.
    async fn write_status(
        &mut self,
        pod: &Pod,
        observed: &Observed,
        forced: Option<(String, String, String)>,
    ) -> Result<()> {
        let start_time = self
            .start_time
            .clone()
            .unwrap_or_else(|| Time(jiff::Timestamp::now()));
        let host_ip = self.context.config.node_ip.to_string();
        let mut probe_states: HashMap<String, (bool, bool)> = HashMap::new();
        if let Some(spec) = pod.spec.as_ref() {
            for container in &spec.containers {
                if let (Some(latest), _) = observed.attempts(&container.name) {
                    let state = self.context.probes.state(&latest.id, container);
                    probe_states.insert(
                        container.name.clone(),
                        (state.ready && state.started, state.started),
                    );
                }
            }
        }
        let probe = |name: &str| probe_states.get(name).copied().unwrap_or((true, true));
        let inputs = StatusInputs {
            waiting: &self.waiting,
            probe: &probe,
            host_ip: &host_ip,
            start_time,
            forced,
        };
        // A static pod's file has no status: the one computed last stands in for it (upstream's
        // status manager cache), so its conditions keep their transition times.
        let is_static = static_pods::is_static(pod);
        let with_kept;
        let base = if is_static {
            with_kept = Pod {
                status: self.kept_status.clone(),
                ..pod.clone()
            };
            &with_kept
        } else {
            pod
        };
        let computed = status::pod_status(base, observed, &inputs);
        let desired = serde_json::to_value(&computed)
            .map_err(|error| Error::Config(format!("pod status: {error}")))?;
        if is_static {
            self.kept_status = Some(computed);
        } else if self.last_written.as_ref() == Some(&desired) {
            return Ok(());
        }
        // A static pod's status goes to its mirror pod in the API, compared with what the mirror
        // shows (a recreated mirror starts over); until there is one (or while the API server
        // cannot be reached) it is kept here and tried again.
        let mirror = if is_static {
            match static_pods::mirror_of(&self.context, pod).await {
                Some(mirror) => Some(mirror),
                None => {
                    self.status_pending = true;
                    return Ok(());
                }
            }
        } else {
            None
        };
        let target = mirror.as_ref().unwrap_or(pod);
        let current = target
            .status
            .as_ref()
            .and_then(|status| serde_json::to_value(status).ok())
            .unwrap_or(serde_json::json!({}));
        let Some(diff) = status::merge_diff(&current, &desired) else {
            self.last_written = Some(desired);
            self.status_pending = false;
            return Ok(());
        };
        let api: Api<Pod> = Api::namespaced(
            self.context.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let patch = serde_json::json!({"metadata": {"uid": target.metadata.uid}, "status": diff});
        match api
            .patch_status(
                pod.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {
                self.last_written = Some(desired);
                self.status_pending = false;
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                self.status_pending = mirror.is_some();
                Ok(())
            }
            Err(_) if mirror.is_some() => {
                self.status_pending = true;
                Ok(())
            }
            Err(error) => Err(error.into()),
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
