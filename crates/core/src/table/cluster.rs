//! Tables of cluster-level objects: nodes (Status, Roles, Age, Version; with `-o wide` addresses and
//! node info), leases (Holder) and priorityclasses (Value, Global-Default, PreemptionPolicy).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::descriptions as doc;
use super::fields::{NONE, UNKNOWN, int, list, non_empty, text};
use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const NODES: Printer = Printer {
    columns: node_columns,
    cells: node_cells,
};
pub(crate) const LEASES: Printer = Printer {
    columns: lease_columns,
    cells: lease_cells,
};
pub(crate) const PRIORITY_CLASSES: Printer = Printer {
    columns: priority_class_columns,
    cells: priority_class_cells,
};

fn node_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Status", "string", "The status of the node", 0),
        column("Roles", "string", "The roles of the node", 0),
        ColumnDefinition::age(),
        column("Version", "string", doc::NODE_KUBELET, 0),
        column("Internal-IP", "string", doc::NODE_ADDRESSES, 1),
        column("External-IP", "string", doc::NODE_ADDRESSES, 1),
        column("OS-Image", "string", doc::NODE_OS_IMAGE, 1),
        column("Kernel-Version", "string", doc::NODE_KERNEL, 1),
        column("Container-Runtime", "string", doc::NODE_RUNTIME, 1),
    ]
}

/// Roles from `node-role.kubernetes.io/<role>` label keys and the `kubernetes.io/role` label's value.
fn node_roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (key, value) in labels {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_owned());
                }
            } else if key == "kubernetes.io/role" {
                if let Some(role) = value.as_str().filter(|role| !role.is_empty()) {
                    roles.insert(role.to_owned());
                }
            }
        }
    }
    if roles.is_empty() {
        return NONE.to_owned();
    }
    roles.into_iter().collect::<Vec<_>>().join(",")
}

fn node_cells(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(node, now);
    let ready = list(node, "/status/conditions")
        .iter()
        .rev()
        .find(|condition| condition["type"] == "Ready");
    let mut status = match ready {
        Some(condition) if condition["status"] == "True" => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let address = |kind: &str| {
        list(node, "/status/addresses")
            .iter()
            .find(|address| address["type"] == kind)
            .map_or(NONE, |address| address["address"].as_str().unwrap_or(""))
    };
    let info =
        |field: &str| non_empty(node, &format!("/status/nodeInfo/{field}")).unwrap_or(UNKNOWN);
    vec![
        name,
        status.into(),
        node_roles(node).into(),
        age,
        text(node, "/status/nodeInfo/kubeletVersion").into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

fn lease_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Holder", "string", doc::LEASE_HOLDER, 0),
        ColumnDefinition::age(),
    ]
}

fn lease_cells(lease: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(lease, now);
    vec![name, text(lease, "/spec/holderIdentity").into(), age]
}

fn priority_class_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Value", "integer", doc::PC_VALUE, 0),
        column("Global-Default", "boolean", doc::PC_GLOBAL_DEFAULT, 0),
        ColumnDefinition::age(),
        column("PreemptionPolicy", "string", doc::PC_PREEMPTION, 0),
    ]
}

fn priority_class_cells(class: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(class, now);
    let global_default = class
        .get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    vec![
        name,
        int(class, "/value").into(),
        global_default.into(),
        age,
        text(class, "/preemptionPolicy").into(),
    ]
}
