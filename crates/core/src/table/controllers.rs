//! Tables of the workload controllers' own objects: replicasets (and replicationcontrollers),
//! statefulsets and daemonsets, with upstream's columns.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const REPLICA_SETS: Printer = Printer {
    columns: replica_set_columns,
    cells: replica_set_cells,
};
pub(crate) const STATEFUL_SETS: Printer = Printer {
    columns: stateful_set_columns,
    cells: stateful_set_cells,
};
pub(crate) const DAEMON_SETS: Printer = Printer {
    columns: daemon_set_columns,
    cells: daemon_set_cells,
};

pub(crate) fn template_columns(with_selector: bool) -> Vec<ColumnDefinition> {
    let mut columns = vec![
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
    ];
    if with_selector {
        columns.push(column("Selector", "string", "Label selector for pods.", 1));
    }
    columns
}

/// Containers, Images (and Selector) cells of a workload.
pub(crate) fn template_cells(object: &Value, with_selector: bool) -> Vec<Value> {
    let containers = object
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let join = |field: &str| {
        containers
            .iter()
            .filter_map(|container| container[field].as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut cells = vec![Value::String(join("name")), Value::String(join("image"))];
    if with_selector {
        let selector = object
            .pointer("/spec/selector/matchLabels")
            .or_else(|| object.pointer("/spec/selector"))
            .and_then(Value::as_object)
            .map_or_else(|| "<none>".to_owned(), crate::labels::selector_text);
        cells.push(Value::String(selector));
    }
    cells
}

fn number(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn replica_set_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Desired", "integer", "Number of desired pods.", 0),
        column("Current", "integer", "Number of actual replicas.", 0),
        column("Ready", "integer", "Number of ready replicas.", 0),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(true));
    columns
}

fn replica_set_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let desired = object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let (name, age) = name_and_age(object, now);
    let mut cells = vec![
        name,
        Value::from(desired),
        Value::from(number(object, "/status/replicas")),
        Value::from(number(object, "/status/readyReplicas")),
        age,
    ];
    cells.extend(template_cells(object, true));
    cells
}

fn stateful_set_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Ready", "string", "Number of the pod with ready state", 0),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(false));
    columns
}

fn stateful_set_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let desired = object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let (name, age) = name_and_age(object, now);
    let mut cells = vec![
        name,
        Value::String(format!(
            "{}/{desired}",
            number(object, "/status/readyReplicas")
        )),
        age,
    ];
    cells.extend(template_cells(object, false));
    cells
}

fn daemon_set_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column(
            "Desired",
            "integer",
            "The total number of nodes that should be running the daemon pod.",
            0,
        ),
        column(
            "Current",
            "integer",
            "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
            0,
        ),
        column(
            "Ready",
            "integer",
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
            0,
        ),
        column(
            "Up-to-date",
            "integer",
            "The total number of nodes that are running updated daemon pod",
            0,
        ),
        column(
            "Available",
            "integer",
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
            0,
        ),
        column(
            "Node Selector",
            "string",
            "NodeSelector is a selector which must be true for the pod to fit on a node.",
            0,
        ),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(true));
    columns
}

fn daemon_set_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let node_selector = object
        .pointer("/spec/template/spec/nodeSelector")
        .and_then(Value::as_object)
        .filter(|selector| !selector.is_empty())
        .map_or_else(|| "<none>".to_owned(), crate::labels::selector_text);
    let (name, age) = name_and_age(object, now);
    let mut cells = vec![
        name,
        Value::from(number(object, "/status/desiredNumberScheduled")),
        Value::from(number(object, "/status/currentNumberScheduled")),
        Value::from(number(object, "/status/numberReady")),
        Value::from(number(object, "/status/updatedNumberScheduled")),
        Value::from(number(object, "/status/numberAvailable")),
        Value::String(node_selector),
        age,
    ];
    cells.extend(template_cells(object, true));
    cells
}
