//! The pods table (upstream's `printPod`: Ready, Status, Restarts, Age; with `-o wide` IP, Node,
//! Nominated Node and Readiness Gates) and the pod templates table (Containers, Images, Pod Labels).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::controllers::{container_cells, template_columns};
use super::descriptions as doc;
use super::fields::{NONE, int, list, non_empty, time};
use super::selectors::format_labels;
use super::{ColumnDefinition, Printer, column, human_duration, meta_str, name_and_age};

pub(crate) const PODS: Printer = Printer {
    columns: pod_columns,
    cells: pod_cells,
};
pub(crate) const POD_TEMPLATES: Printer = Printer {
    columns: pod_template_columns,
    cells: pod_template_cells,
};

fn pod_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
            0,
        ),
        column(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
            0,
        ),
        column(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            0,
        ),
        ColumnDefinition::age(),
        column("IP", "string", doc::POD_IP, 1),
        column("Node", "string", doc::POD_NODE_NAME, 1),
        column("Nominated Node", "string", doc::POD_NOMINATED_NODE, 1),
        column("Readiness Gates", "string", doc::POD_READINESS_GATES, 1),
    ]
}

/// Restarts and the latest restart time of a group of container statuses.
#[derive(Default)]
struct Restarts {
    count: i64,
    last: Option<DateTime<Utc>>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += int(status, "/restartCount");
        if let Some(finished) = time(status, "/lastState/terminated/finishedAt") {
            self.last = Some(self.last.map_or(finished, |last| last.max(finished)));
        }
    }
}

fn pod_cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(pod, now);
    let phase = non_empty(pod, "/status/phase").unwrap_or("");
    let mut reason = non_empty(pod, "/status/reason").unwrap_or(phase).to_owned();
    let conditions = list(pod, "/status/conditions");
    if conditions.iter().any(|condition| {
        condition["type"] == "PodScheduled" && condition["reason"] == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_owned();
    }

    let init_specs = list(pod, "/spec/initContainers");
    let restartable: HashMap<&str, bool> = init_specs
        .iter()
        .map(|container| {
            (
                container["name"].as_str().unwrap_or(""),
                container["restartPolicy"] == "Always",
            )
        })
        .collect();
    let sidecars = restartable.values().filter(|always| **always).count();
    let total = list(pod, "/spec/containers").len() + sidecars;
    let mut ready = 0;
    let mut all = Restarts::default();
    let mut sidecar_restarts = Restarts::default();
    let mut initializing = false;
    for (index, status) in list(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        all.add(status);
        let is_sidecar = restartable
            .get(status["name"].as_str().unwrap_or(""))
            .copied()
            .unwrap_or(false);
        if is_sidecar {
            sidecar_restarts.add(status);
        }
        let terminated = status.pointer("/state/terminated");
        let exit_code = terminated.map(|terminated| int(terminated, "/exitCode"));
        if exit_code == Some(0) {
            continue;
        }
        if is_sidecar && status["started"].as_bool() == Some(true) {
            if status["ready"].as_bool() == Some(true) {
                ready += 1;
            }
            continue;
        }
        initializing = true;
        reason = if let Some(terminated) = terminated {
            match non_empty(terminated, "/reason") {
                Some(why) => format!("Init:{why}"),
                None if int(terminated, "/signal") != 0 => {
                    format!("Init:Signal:{}", int(terminated, "/signal"))
                }
                None => format!("Init:ExitCode:{}", exit_code.unwrap_or(0)),
            }
        } else if let Some(waiting) =
            non_empty(status, "/state/waiting/reason").filter(|why| *why != "PodInitializing")
        {
            format!("Init:{waiting}")
        } else {
            format!("Init:{index}/{}", init_specs.len())
        };
        break;
    }

    let initialized = conditions
        .iter()
        .find(|condition| condition["type"] == "Initialized")
        .is_some_and(|condition| condition["status"] == "True");
    let mut restarts = all;
    if !initializing || initialized {
        restarts = sidecar_restarts;
        let mut running = false;
        for status in list(pod, "/status/containerStatuses").iter().rev() {
            restarts.add(status);
            let terminated = status.pointer("/state/terminated");
            if let Some(waiting) = non_empty(status, "/state/waiting/reason") {
                reason = waiting.to_owned();
            } else if let Some(terminated) = terminated {
                reason = match non_empty(terminated, "/reason") {
                    Some(why) => why.to_owned(),
                    None if int(terminated, "/signal") != 0 => {
                        format!("Signal:{}", int(terminated, "/signal"))
                    }
                    None => format!("ExitCode:{}", int(terminated, "/exitCode")),
                };
            } else if status["ready"].as_bool() == Some(true)
                && status.pointer("/state/running").is_some()
            {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            let pod_ready = conditions
                .iter()
                .any(|condition| condition["type"] == "Ready" && condition["status"] == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_owned();
        }
    }

    if meta_str(pod, "deletionTimestamp").is_some() {
        if non_empty(pod, "/status/reason") == Some("NodeLost") {
            reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_owned();
        }
    }

    let restarts_text = match restarts.last {
        Some(last) if restarts.count != 0 => {
            format!("{} ({} ago)", restarts.count, human_duration(now - last))
        }
        _ => restarts.count.to_string(),
    };
    let ip = non_empty(pod, "/status/podIP")
        .or_else(|| non_empty(pod, "/status/podIPs/0/ip"))
        .unwrap_or(NONE);
    let gates = list(pod, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        NONE.to_owned()
    } else {
        let met = gates
            .iter()
            .filter(|gate| {
                conditions
                    .iter()
                    .find(|condition| condition["type"] == gate["conditionType"])
                    .is_some_and(|condition| condition["status"] == "True")
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        name,
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_text.into(),
        age,
        ip.into(),
        non_empty(pod, "/spec/nodeName").unwrap_or(NONE).into(),
        non_empty(pod, "/status/nominatedNodeName")
            .unwrap_or(NONE)
            .into(),
        readiness_gates.into(),
    ]
}

fn pod_template_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![ColumnDefinition::name()];
    columns.extend(
        template_columns(None)
            .into_iter()
            .map(|column| ColumnDefinition {
                priority: 0,
                ..column
            }),
    );
    columns.push(column(
        "Pod Labels",
        "string",
        "The labels for the pod template.",
        0,
    ));
    columns
}

fn pod_template_cells(template: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, _) = name_and_age(template, now);
    let (names, images) = container_cells(list(template, "/template/spec/containers"));
    vec![
        name,
        names.into(),
        images.into(),
        format_labels(template.pointer("/template/metadata/labels")).into(),
    ]
}
