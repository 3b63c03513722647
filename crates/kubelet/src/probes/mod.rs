//! Container probes (startup, readiness, liveness) run on upstream's schedule: after
//! `initialDelaySeconds`, every `periodSeconds`, each check bounded by `timeoutSeconds`, with success
//! and failure thresholds. Results are shared with the pod worker, which marks containers ready and
//! restarts containers whose liveness or startup probe failed.

mod checks;

pub(crate) use checks::http_check as http_get;
mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::cri::Cri;
use crate::events::{EventType, Recorder};

/// What probes found about one container.
#[derive(Debug, Clone, Default)]
pub struct ProbeState {
    /// The readiness probe's verdict (true when there is none).
    pub ready: bool,
    /// Whether the startup probe has succeeded (true when there is none).
    pub started: bool,
    /// Set when the liveness or startup probe failed: the container must be restarted. Holds the
    /// probe kind.
    pub failed: Option<&'static str>,
}

struct Entry {
    state: ProbeState,
    task: Option<AbortHandle>,
}

/// Probe results by container ID, shared by the prober tasks and the pod workers.
#[derive(Clone, Default)]
pub struct ProbeResults {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
}

impl std::fmt::Debug for ProbeResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProbeResults")
    }
}

/// Everything a prober needs about its container.
#[derive(Clone)]
pub struct ProbeTarget {
    /// CRI client for exec probes.
    pub cri: Cri,
    /// Event recorder.
    pub recorder: Recorder,
    /// The pod.
    pub pod: Arc<Pod>,
    /// The container spec.
    pub container: Container,
    /// The CRI container ID.
    pub container_id: String,
    /// The pod IP (host-network pods: the node IP).
    pub pod_ip: String,
    /// Woken when a result changes.
    pub wake: Arc<Notify>,
}

impl ProbeResults {
    /// The state of a container; a container without probes is ready and started.
    pub fn state(&self, container_id: &str, container: &Container) -> ProbeState {
        let guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.get(container_id) {
            Some(entry) => entry.state.clone(),
            None => ProbeState {
                ready: container.readiness_probe.is_none(),
                started: container.startup_probe.is_none(),
                failed: None,
            },
        }
    }

    /// Starts probing a running container unless it already is.
    pub fn ensure(&self, target: ProbeTarget) {
        let container = &target.container;
        if container.readiness_probe.is_none()
            && container.liveness_probe.is_none()
            && container.startup_probe.is_none()
        {
            return;
        }
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.contains_key(&target.container_id) {
            return;
        }
        let state = ProbeState {
            ready: container.readiness_probe.is_none(),
            started: container.startup_probe.is_none(),
            failed: None,
        };
        let id = target.container_id.clone();
        let task = tokio::spawn(run(self.clone(), target)).abort_handle();
        guard.insert(
            id,
            Entry {
                state,
                task: Some(task),
            },
        );
    }

    /// Stops probing containers of a pod that are not in `running` any more.
    pub fn retain_for_pod(&self, pod_containers: &[String], running: &[String]) {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for id in pod_containers {
            if !running.contains(id) {
                if let Some(entry) = guard.remove(id) {
                    if let Some(task) = entry.task {
                        task.abort();
                    }
                }
            }
        }
    }

    fn update(&self, container_id: &str, change: impl FnOnce(&mut ProbeState)) -> bool {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(entry) = guard.get_mut(container_id) else {
            return false;
        };
        let before = entry.state.clone();
        change(&mut entry.state);
        before.ready != entry.state.ready
            || before.started != entry.state.started
            || before.failed != entry.state.failed
    }
}

/// Probe kinds, named as upstream's messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Startup,
    Readiness,
    Liveness,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Readiness => "Readiness",
            Kind::Liveness => "Liveness",
        }
    }
}

async fn run(results: ProbeResults, target: ProbeTarget) {
    let container = target.container.clone();
    if let Some(probe) = &container.startup_probe {
        match probe_until_verdict(&target, Kind::Startup, probe).await {
            true => {
                if results.update(&target.container_id, |state| state.started = true) {
                    target.wake.notify_one();
                }
            }
            false => {
                if results.update(&target.container_id, |state| state.failed = Some("startup")) {
                    target.wake.notify_one();
                }
                return;
            }
        }
    }
    let readiness = async {
        if let Some(probe) = &container.readiness_probe {
            probe_forever(&target, Kind::Readiness, probe, |ready| {
                if results.update(&target.container_id, |state| state.ready = ready) {
                    target.wake.notify_one();
                }
            })
            .await;
        }
    };
    let liveness = async {
        if let Some(probe) = &container.liveness_probe {
            probe_forever(&target, Kind::Liveness, probe, |alive| {
                if !alive
                    && results.update(&target.container_id, |state| {
                        state.failed = Some("liveness")
                    })
                {
                    target.wake.notify_one();
                }
            })
            .await;
        }
    };
    tokio::join!(readiness, liveness);
}

fn timing(probe: &Probe) -> (Duration, Duration, Duration, u32, u32) {
    let seconds = |value: Option<i32>, default: i32| {
        Duration::from_secs(value.unwrap_or(default).max(0) as u64)
    };
    (
        seconds(probe.initial_delay_seconds, 0),
        seconds(probe.period_seconds, 10).max(Duration::from_secs(1)),
        seconds(probe.timeout_seconds, 1).max(Duration::from_secs(1)),
        probe.success_threshold.unwrap_or(1).max(1) as u32,
        probe.failure_threshold.unwrap_or(3).max(1) as u32,
    )
}

/// Runs a startup probe until it succeeds (true) or reaches its failure threshold (false).
async fn probe_until_verdict(target: &ProbeTarget, kind: Kind, probe: &Probe) -> bool {
    let (delay, period, timeout, _, failures_allowed) = timing(probe);
    tokio::time::sleep(delay).await;
    let mut failures = 0;
    loop {
        match checks::check(target, probe, timeout).await {
            Ok(()) => return true,
            Err(output) => {
                failures += 1;
                report_failure(target, kind, &output);
                if failures >= failures_allowed {
                    return false;
                }
            }
        }
        tokio::time::sleep(period).await;
    }
}

/// Runs a readiness or liveness probe forever, calling `verdict` when the thresholds flip it.
async fn probe_forever(target: &ProbeTarget, kind: Kind, probe: &Probe, verdict: impl Fn(bool)) {
    let (delay, period, timeout, successes_needed, failures_allowed) = timing(probe);
    tokio::time::sleep(delay).await;
    let (mut successes, mut failures) = (0u32, 0u32);
    loop {
        match checks::check(target, probe, timeout).await {
            Ok(()) => {
                failures = 0;
                successes += 1;
                if successes >= successes_needed {
                    verdict(true);
                }
            }
            Err(output) => {
                successes = 0;
                failures += 1;
                report_failure(target, kind, &output);
                if failures >= failures_allowed {
                    verdict(false);
                    if kind == Kind::Liveness {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(period).await;
    }
}

fn report_failure(target: &ProbeTarget, kind: Kind, output: &str) {
    target.recorder.pod(
        &target.pod,
        Some(&target.container.name),
        EventType::Warning,
        "Unhealthy",
        format!("{} probe failed: {output}", kind.name()),
    );
}
