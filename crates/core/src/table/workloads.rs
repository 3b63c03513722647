//! Tables of the resources `kubectl get` shows most: pods, nodes, services and deployments, with
//! upstream's columns (priority 1 columns appear with `-o wide`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::controllers::template_cells;
use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const PODS: Printer = Printer {
    columns: pod_columns,
    cells: pod_cells,
};
pub(crate) const NODES: Printer = Printer {
    columns: node_columns,
    cells: node_cells,
};
pub(crate) const SERVICES: Printer = Printer {
    columns: service_columns,
    cells: service_cells,
};
pub(crate) const DEPLOYMENTS: Printer = Printer {
    columns: deployment_columns,
    cells: deployment_cells,
};

const NONE: &str = "<none>";

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn or_none(value: Option<String>) -> Value {
    Value::String(value.unwrap_or_else(|| NONE.to_owned()))
}

fn list<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

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
        column("IP", "string", "The IP address assigned to the pod.", 1),
        column(
            "Node",
            "string",
            "The name of the node where the pod is scheduled.",
            1,
        ),
        column(
            "Nominated Node",
            "string",
            "The name of the node where the pod is nominated to run.",
            1,
        ),
        column(
            "Readiness Gates",
            "string",
            "The readiness gates of the pod, and how many are met.",
            1,
        ),
    ]
}

fn pod_cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(pod, now);
    let containers = list(pod, "/spec/containers").len();
    let statuses = list(pod, "/status/containerStatuses");
    let ready = statuses
        .iter()
        .filter(|status| status["ready"].as_bool() == Some(true))
        .count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|status| status["restartCount"].as_i64())
        .sum();
    let gates = list(pod, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        NONE.to_owned()
    } else {
        let met = gates
            .iter()
            .filter(|gate| {
                list(pod, "/status/conditions").iter().any(|condition| {
                    condition["type"] == gate["conditionType"] && condition["status"] == "True"
                })
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        name,
        Value::String(format!("{ready}/{containers}")),
        Value::String(pod_status(pod)),
        Value::from(restarts),
        age,
        or_none(text(pod, "/status/podIP")),
        or_none(text(pod, "/spec/nodeName")),
        or_none(text(pod, "/status/nominatedNodeName")),
        Value::String(readiness_gates),
    ]
}

/// The STATUS column, in upstream's order: terminating, the pod's reason, a failing init container, a
/// waiting or terminated container, else the phase.
fn pod_status(pod: &Value) -> String {
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|value| !value.is_null())
    {
        return "Terminating".to_owned();
    }
    if let Some(reason) = text(pod, "/status/reason") {
        return reason;
    }
    let init = list(pod, "/status/initContainerStatuses");
    let init_total = list(pod, "/spec/initContainers").len();
    for (index, status) in init.iter().enumerate() {
        if let Some(code) = status
            .pointer("/state/terminated/exitCode")
            .and_then(Value::as_i64)
        {
            if code != 0 {
                return text(status, "/state/terminated/reason").map_or_else(
                    || format!("Init:ExitCode:{code}"),
                    |reason| format!("Init:{reason}"),
                );
            }
            continue;
        }
        if let Some(reason) =
            text(status, "/state/waiting/reason").filter(|reason| reason != "PodInitializing")
        {
            return format!("Init:{reason}");
        }
        return format!("Init:{index}/{init_total}");
    }
    let mut status = text(pod, "/status/phase").unwrap_or_else(|| "Pending".to_owned());
    for container in list(pod, "/status/containerStatuses").iter().rev() {
        if let Some(reason) = text(container, "/state/waiting/reason") {
            status = reason;
        } else if let Some(reason) = text(container, "/state/terminated/reason") {
            status = reason;
        } else if let Some(code) = container
            .pointer("/state/terminated/exitCode")
            .and_then(Value::as_i64)
        {
            status = format!("ExitCode:{code}");
        }
    }
    status
}

fn node_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Status", "string", "The status of the node", 0),
        column("Roles", "string", "The roles of the node", 0),
        ColumnDefinition::age(),
        column(
            "Version",
            "string",
            "Kubelet Version reported by the node.",
            0,
        ),
        column(
            "Internal-IP",
            "string",
            "List of addresses reachable to the node.",
            1,
        ),
        column(
            "External-IP",
            "string",
            "List of addresses reachable to the node.",
            1,
        ),
        column(
            "OS-Image",
            "string",
            "OS Image reported by the node from /etc/os-release.",
            1,
        ),
        column(
            "Kernel-Version",
            "string",
            "Kernel Version reported by the node.",
            1,
        ),
        column(
            "Container-Runtime",
            "string",
            "ContainerRuntime Version reported by the node.",
            1,
        ),
    ]
}

fn node_cells(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(node, now);
    let ready = list(node, "/status/conditions")
        .iter()
        .find(|condition| condition["type"] == "Ready")
        .and_then(|condition| condition["status"].as_str());
    let mut status = match ready {
        Some("True") => "Ready".to_owned(),
        Some("False") => "NotReady".to_owned(),
        _ => "Unknown".to_owned(),
    };
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .keys()
                .filter_map(|key| key.strip_prefix("node-role.kubernetes.io/"))
                .filter(|role| !role.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let address = |kind: &str| {
        list(node, "/status/addresses")
            .iter()
            .find(|address| address["type"] == kind)
            .and_then(|address| address["address"].as_str())
            .map(str::to_owned)
    };
    vec![
        name,
        Value::String(status),
        or_none((!roles.is_empty()).then(|| roles.join(","))),
        age,
        Value::String(text(node, "/status/nodeInfo/kubeletVersion").unwrap_or_default()),
        or_none(address("InternalIP")),
        or_none(address("ExternalIP")),
        Value::String(
            text(node, "/status/nodeInfo/osImage").unwrap_or_else(|| "<unknown>".to_owned()),
        ),
        Value::String(
            text(node, "/status/nodeInfo/kernelVersion").unwrap_or_else(|| "<unknown>".to_owned()),
        ),
        Value::String(
            text(node, "/status/nodeInfo/containerRuntimeVersion")
                .unwrap_or_else(|| "<unknown>".to_owned()),
        ),
    ]
}

fn service_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Type", "string", "The type of the service.", 0),
        column("Cluster-IP", "string", "The cluster IP of the service.", 0),
        column(
            "External-IP",
            "string",
            "The external IPs of the service.",
            0,
        ),
        column("Port(s)", "string", "The ports of the service.", 0),
        ColumnDefinition::age(),
        column(
            "Selector",
            "string",
            "The label selector of the service.",
            1,
        ),
    ]
}

fn service_cells(service: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(service, now);
    let kind = text(service, "/spec/type").unwrap_or_else(|| "ClusterIP".to_owned());
    let mut external: Vec<String> = list(service, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|ingress| {
            ingress["ip"]
                .as_str()
                .or(ingress["hostname"].as_str())
                .map(str::to_owned)
        })
        .collect();
    external.extend(
        list(service, "/spec/externalIPs")
            .iter()
            .filter_map(|ip| ip.as_str().map(str::to_owned)),
    );
    let external = match (kind.as_str(), external.is_empty()) {
        ("ExternalName", _) => {
            text(service, "/spec/externalName").unwrap_or_else(|| NONE.to_owned())
        }
        ("LoadBalancer", true) => "<pending>".to_owned(),
        (_, true) => NONE.to_owned(),
        (_, false) => external.join(","),
    };
    let ports: Vec<String> = list(service, "/spec/ports")
        .iter()
        .map(|port| {
            let protocol = port["protocol"].as_str().unwrap_or("TCP");
            match port["nodePort"].as_i64() {
                Some(node_port) => format!("{}:{node_port}/{protocol}", port["port"]),
                None => format!("{}/{protocol}", port["port"]),
            }
        })
        .collect();
    let selector = service
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .filter(|selector| !selector.is_empty())
        .map(crate::labels::selector_text);
    vec![
        name,
        Value::String(kind),
        or_none(text(service, "/spec/clusterIP")),
        Value::String(external),
        or_none((!ports.is_empty()).then(|| ports.join(","))),
        age,
        or_none(selector),
    ]
}

fn deployment_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Ready", "string", "Number of the pod with ready state", 0),
        column(
            "Up-to-date",
            "integer",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            0,
        ),
        column(
            "Available",
            "integer",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            0,
        ),
        ColumnDefinition::age(),
        column(
            "Containers",
            "string",
            "Names of each container in the template.",
            1,
        ),
        column(
            "Images",
            "string",
            "Images referenced by each container in the template.",
            1,
        ),
        column(
            "Selector",
            "string",
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            1,
        ),
    ]
}

fn deployment_cells(deployment: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(deployment, now);
    let number = |pointer: &str| {
        deployment
            .pointer(pointer)
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let desired = deployment
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let mut cells = vec![
        name,
        Value::String(format!("{}/{desired}", number("/status/readyReplicas"))),
        Value::from(number("/status/updatedReplicas")),
        Value::from(number("/status/availableReplicas")),
        age,
    ];
    cells.extend(template_cells(deployment, true));
    cells
}
