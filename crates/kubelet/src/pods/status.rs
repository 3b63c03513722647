//! The Pod status the kubelet reports, computed from what CRI says about the pod's sandbox and
//! containers (upstream's phase rules, conditions, container states and reasons), and the merge
//! patch that turns the stored status into it.

use std::collections::HashMap;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kubers_core::quantity::Quantity;

/// What CRI reports for one pod.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The newest sandbox.
    pub sandbox: Option<cri::PodSandboxStatus>,
    /// Every container of the pod, all attempts.
    pub containers: Vec<cri::ContainerStatus>,
}

impl Observed {
    /// The newest attempt of a container, and the one before it.
    pub fn attempts(
        &self,
        name: &str,
    ) -> (Option<&cri::ContainerStatus>, Option<&cri::ContainerStatus>) {
        let mut matching: Vec<&cri::ContainerStatus> = self
            .containers
            .iter()
            .filter(|status| {
                status
                    .metadata
                    .as_ref()
                    .is_some_and(|metadata| metadata.name == name)
            })
            .collect();
        matching.sort_by_key(|status| std::cmp::Reverse((attempt(status), status.created_at)));
        (matching.first().copied(), matching.get(1).copied())
    }

    /// Whether the sandbox is ready.
    pub fn sandbox_ready(&self) -> bool {
        self.sandbox
            .as_ref()
            .is_some_and(|sandbox| sandbox.state == cri::PodSandboxState::SandboxReady as i32)
    }

    /// The pod IP the sandbox got.
    pub fn pod_ip(&self) -> String {
        self.sandbox
            .as_ref()
            .and_then(|sandbox| sandbox.network.as_ref())
            .map(|network| network.ip.clone())
            .unwrap_or_default()
    }
}

/// The attempt number of a container.
pub fn attempt(status: &cri::ContainerStatus) -> u32 {
    status
        .metadata
        .as_ref()
        .map(|metadata| metadata.attempt)
        .unwrap_or(0)
}

/// Why a container is waiting, set by the worker (image pulls, configuration errors, back-off).
pub type WaitingReasons = HashMap<String, (String, String)>;

fn time_from_nanos(nanos: i64) -> Option<Time> {
    if nanos <= 0 {
        return None;
    }
    jiff::Timestamp::from_second(nanos / 1_000_000_000)
        .ok()
        .map(Time)
}

/// The terminated state of a CRI container, reading its termination message.
pub fn terminated_state(
    status: &cri::ContainerStatus,
    message: Option<String>,
) -> ContainerStateTerminated {
    let reason = if !status.reason.is_empty() {
        status.reason.clone()
    } else if status.exit_code == 0 {
        "Completed".to_string()
    } else {
        "Error".to_string()
    };
    ContainerStateTerminated {
        container_id: Some(format!("containerd://{}", status.id)),
        exit_code: status.exit_code,
        finished_at: time_from_nanos(status.finished_at),
        message: message
            .filter(|text| !text.is_empty())
            .or_else(|| Some(status.message.clone()).filter(|text| !text.is_empty())),
        reason: Some(reason),
        signal: None,
        started_at: time_from_nanos(status.started_at),
    }
}

/// Reads a container's termination message (at most 4096 bytes).
pub fn termination_message(status: &cri::ContainerStatus) -> Option<String> {
    let path = status
        .annotations
        .get(super::labels::TERMINATION_MESSAGE_FILE)?;
    let bytes = std::fs::read(path).ok()?;
    let bytes = &bytes[..bytes.len().min(4096)];
    Some(String::from_utf8_lossy(bytes).to_string())
}

fn container_status(
    container: &Container,
    observed: &Observed,
    waiting: &WaitingReasons,
    probe: &(dyn Fn(&str) -> (bool, bool) + Sync),
    previous: Option<&ContainerStatus>,
) -> ContainerStatus {
    let (latest, before) = observed.attempts(&container.name);
    let image = container.image.clone().unwrap_or_default();
    let waiting_state = |reason: &str, message: Option<String>| ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message,
        }),
        ..ContainerState::default()
    };
    let last_terminated = |status: &cri::ContainerStatus| ContainerState {
        terminated: Some(terminated_state(status, termination_message(status))),
        ..ContainerState::default()
    };
    let (state, last_state, running) = match latest {
        None => {
            let (reason, message) = waiting
                .get(&container.name)
                .cloned()
                .map(|(reason, message)| (reason, Some(message).filter(|text| !text.is_empty())))
                .unwrap_or_else(|| ("ContainerCreating".to_string(), None));
            (waiting_state(&reason, message), None, false)
        }
        Some(status) if status.state == cri::ContainerState::ContainerRunning as i32 => (
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: time_from_nanos(status.started_at),
                }),
                ..ContainerState::default()
            },
            before.map(last_terminated),
            true,
        ),
        Some(status) if status.state == cri::ContainerState::ContainerExited as i32 => {
            match waiting.get(&container.name) {
                Some((reason, message)) => (
                    waiting_state(
                        reason,
                        Some(message.clone()).filter(|text| !text.is_empty()),
                    ),
                    Some(last_terminated(status)),
                    false,
                ),
                None => (last_terminated(status), before.map(last_terminated), false),
            }
        }
        Some(_) => (
            waiting_state("ContainerCreating", None),
            before.map(last_terminated),
            false,
        ),
    };
    let restart_count = latest.map(attempt).unwrap_or(0) as i32;
    let _ = previous;
    ContainerStatus {
        name: container.name.clone(),
        image: latest
            .and_then(|status| status.image.as_ref())
            .map(|spec| spec.image.clone())
            .filter(|name| !name.is_empty() && !name.starts_with("sha256:"))
            .unwrap_or(image),
        image_id: latest
            .map(|status| status.image_ref.clone())
            .unwrap_or_default(),
        container_id: latest.map(|status| format!("containerd://{}", status.id)),
        ready: running && probe(&container.name).0,
        started: Some(running && probe(&container.name).1),
        restart_count,
        state: Some(state),
        last_state: Some(last_state.unwrap_or_default()),
        ..ContainerStatus::default()
    }
}

/// Upstream's QoS class of a pod.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "BestEffort";
    };
    let containers: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for container in containers {
        let resources = container.resources.clone().unwrap_or_default();
        let requests = resources.requests.unwrap_or_default();
        let limits = resources.limits.unwrap_or_default();
        for resource in ["cpu", "memory"] {
            let request = requests
                .get(resource)
                .and_then(|quantity| Quantity::parse(&quantity.0));
            let limit = limits
                .get(resource)
                .and_then(|quantity| Quantity::parse(&quantity.0));
            if request.is_some_and(|quantity| quantity.milli_value() != 0)
                || limit.is_some_and(|quantity| quantity.milli_value() != 0)
            {
                any = true;
            }
            match (request, limit) {
                (_, None) => guaranteed = false,
                (Some(request), Some(limit)) if request.milli_value() != limit.milli_value() => {
                    guaranteed = false
                }
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Everything the status computation needs besides CRI's view.
pub struct StatusInputs<'a> {
    /// Why containers wait.
    pub waiting: &'a WaitingReasons,
    /// Whether a running container is ready and started (by its probes).
    pub probe: &'a (dyn Fn(&str) -> (bool, bool) + Sync),
    /// The node's address.
    pub host_ip: &'a str,
    /// When the kubelet first saw the pod.
    pub start_time: Time,
    /// The phase a failure outside containers forces (e.g. `Failed` after activeDeadlineSeconds).
    pub forced: Option<(String, String, String)>,
}

/// The pod's status from CRI's view.
pub fn pod_status(pod: &Pod, observed: &Observed, inputs: &StatusInputs<'_>) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let current = pod.status.clone().unwrap_or_default();
    let restart_policy = spec
        .restart_policy
        .clone()
        .unwrap_or_else(|| "Always".to_string());
    let previous_status = |name: &str, list: &Option<Vec<ContainerStatus>>| {
        list.as_ref()
            .and_then(|list| list.iter().find(|status| status.name == name).cloned())
    };
    let init_statuses: Vec<ContainerStatus> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|container| {
            let previous = previous_status(&container.name, &current.init_container_statuses);
            let mut status = container_status(
                container,
                observed,
                inputs.waiting,
                &|_| (true, true),
                previous.as_ref(),
            );
            if status.state.as_ref().is_some_and(|state| {
                state
                    .terminated
                    .as_ref()
                    .is_some_and(|terminated| terminated.exit_code == 0)
            }) {
                status.ready = true;
            }
            status
        })
        .collect();
    let statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|container| {
            let previous = previous_status(&container.name, &current.container_statuses);
            container_status(
                container,
                observed,
                inputs.waiting,
                inputs.probe,
                previous.as_ref(),
            )
        })
        .collect();

    let init_done = init_statuses.iter().all(|status| {
        status
            .state
            .as_ref()
            .and_then(|state| state.terminated.as_ref())
            .is_some_and(|terminated| terminated.exit_code == 0)
    });
    let init_failed = restart_policy == "Never"
        && init_statuses.iter().any(|status| {
            status
                .state
                .as_ref()
                .and_then(|state| state.terminated.as_ref())
                .is_some_and(|terminated| terminated.exit_code != 0)
        });
    let phase = match &inputs.forced {
        Some((phase, _, _)) => phase.clone(),
        None if init_failed => "Failed".to_string(),
        None if !init_done => "Pending".to_string(),
        None => phase_of(&statuses, &restart_policy),
    };

    let now = Time(jiff::Timestamp::now());
    let condition = |kind: &str, ok: bool, reason: Option<String>, message: Option<String>| {
        let status = if ok { "True" } else { "False" };
        let transition = current
            .conditions
            .iter()
            .flatten()
            .find(|condition| condition.type_ == kind && condition.status == status)
            .and_then(|condition| condition.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        PodCondition {
            type_: kind.to_string(),
            status: status.to_string(),
            reason: if ok { None } else { reason },
            message: if ok { None } else { message },
            last_transition_time: Some(transition),
            last_probe_time: None,
            observed_generation: None,
        }
    };
    let unready: Vec<String> = statuses
        .iter()
        .filter(|status| !status.ready)
        .map(|status| status.name.clone())
        .collect();
    let incomplete: Vec<String> = init_statuses
        .iter()
        .filter(|status| !status.ready)
        .map(|status| status.name.clone())
        .collect();
    let completed = phase == "Succeeded" || phase == "Failed";
    let (ready_reason, ready_message) = if completed {
        (Some("PodCompleted".to_string()), None)
    } else {
        (
            Some("ContainersNotReady".to_string()),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let sandbox_ready = observed.sandbox_ready();
    let mut conditions = vec![
        condition("PodReadyToStartContainers", sandbox_ready, None, None),
        condition(
            "Initialized",
            init_done || (completed && incomplete.is_empty()),
            Some(if completed {
                "PodCompleted".to_string()
            } else {
                "ContainersNotInitialized".to_string()
            }),
            if completed {
                None
            } else {
                Some(format!(
                    "containers with incomplete status: [{}]",
                    incomplete.join(" ")
                ))
            },
        ),
        condition(
            "Ready",
            unready.is_empty() && !completed,
            ready_reason.clone(),
            ready_message.clone(),
        ),
        condition(
            "ContainersReady",
            unready.is_empty() && !completed,
            ready_reason,
            ready_message,
        ),
    ];
    let scheduled = current
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == "PodScheduled")
        .cloned()
        .unwrap_or_else(|| condition("PodScheduled", true, None, None));
    conditions.push(scheduled);

    let pod_ip = observed.pod_ip();
    let host_network = spec.host_network.unwrap_or(false);
    let pod_ip = if host_network {
        inputs.host_ip.to_string()
    } else {
        pod_ip
    };
    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        host_ip: Some(inputs.host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: inputs.host_ip.to_string(),
        }]),
        pod_ip: Some(pod_ip.clone()).filter(|ip| !ip.is_empty()),
        pod_ips: Some(vec![PodIP { ip: pod_ip.clone() }]).filter(|_| !pod_ip.is_empty()),
        start_time: Some(inputs.start_time.clone()),
        container_statuses: Some(statuses),
        init_container_statuses: Some(init_statuses).filter(|list| !list.is_empty()),
        qos_class: Some(qos_class(pod).to_string()),
        reason: inputs.forced.as_ref().map(|(_, reason, _)| reason.clone()),
        message: inputs
            .forced
            .as_ref()
            .map(|(_, _, message)| message.clone()),
        nominated_node_name: current.nominated_node_name.clone(),
        ..PodStatus::default()
    }
}

/// Upstream's `getPhase` for the app containers.
fn phase_of(statuses: &[ContainerStatus], restart_policy: &str) -> String {
    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for status in statuses {
        let state = status.state.clone().unwrap_or_default();
        let last = status.last_state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(terminated) = &state.terminated {
            stopped += 1;
            if terminated.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            match &last.terminated {
                Some(terminated) => {
                    stopped += 1;
                    if terminated.exit_code == 0 {
                        succeeded += 1;
                    }
                }
                None => waiting += 1,
            }
        }
    }
    let phase = if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        if restart_policy == "Always" {
            "Running"
        } else if stopped == succeeded {
            "Succeeded"
        } else if restart_policy == "Never" {
            "Failed"
        } else {
            "Running"
        }
    } else {
        "Pending"
    };
    phase.to_string()
}

/// A JSON merge patch (RFC 7386) that turns `old` into `new`; `None` when they are equal.
pub fn merge_diff(old: &serde_json::Value, new: &serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::{Map, Value};
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, new_value) in new {
                match old.get(key) {
                    Some(old_value) => {
                        if let Some(diff) = merge_diff(old_value, new_value) {
                            patch.insert(key.clone(), diff);
                        }
                    }
                    None if new_value.is_null() => {}
                    None => {
                        patch.insert(key.clone(), new_value.clone());
                    }
                }
            }
            for key in old.keys() {
                if !new.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            if patch.is_empty() {
                None
            } else {
                Some(Value::Object(patch))
            }
        }
        (old, new) if old == new => None,
        (_, new) => Some(new.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_diff_sets_changes_and_nulls_removed_keys() {
        let old = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        let new = json!({"a": 1, "b": {"c": 5}, "e": [1, 2]});
        assert_eq!(
            merge_diff(&old, &new),
            Some(json!({"b": {"c": 5, "d": null}, "e": [1, 2]}))
        );
        assert_eq!(merge_diff(&old, &old), None);
    }

    #[test]
    fn phases_follow_upstream() {
        let running = ContainerStatus {
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        };
        let exited = |code| ContainerStatus {
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        };
        assert_eq!(
            phase_of(std::slice::from_ref(&running), "Always"),
            "Running"
        );
        assert_eq!(phase_of(&[exited(0)], "Never"), "Succeeded");
        assert_eq!(phase_of(&[exited(1)], "Never"), "Failed");
        assert_eq!(phase_of(&[exited(1)], "OnFailure"), "Running");
        assert_eq!(phase_of(&[exited(0)], "Always"), "Running");
    }
}
