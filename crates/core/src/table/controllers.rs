//! Tables of the workload controllers' own objects: deployments, replicasets, replicationcontrollers,
//! statefulsets, daemonsets and controllerrevisions, with upstream's columns (Containers, Images and
//! Selector appear with `-o wide`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::descriptions as doc;
use super::fields::{NONE, int, int_or, list};
use super::selectors::{format_label_selector, format_labels, selector_string};
use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const DEPLOYMENTS: Printer = Printer {
    columns: deployment_columns,
    cells: deployment_cells,
};
pub(crate) const REPLICA_SETS: Printer = Printer {
    columns: replica_set_columns,
    cells: replica_set_cells,
};
pub(crate) const REPLICATION_CONTROLLERS: Printer = Printer {
    columns: replication_controller_columns,
    cells: replication_controller_cells,
};
pub(crate) const STATEFUL_SETS: Printer = Printer {
    columns: stateful_set_columns,
    cells: stateful_set_cells,
};
pub(crate) const DAEMON_SETS: Printer = Printer {
    columns: daemon_set_columns,
    cells: daemon_set_cells,
};
pub(crate) const CONTROLLER_REVISIONS: Printer = Printer {
    columns: controller_revision_columns,
    cells: controller_revision_cells,
};

/// The wide Containers and Images columns, and Selector (described by `selector`) when given.
pub(crate) fn template_columns(selector: Option<&str>) -> Vec<ColumnDefinition> {
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
    if let Some(description) = selector {
        columns.push(column("Selector", "string", description, 1));
    }
    columns
}

/// Upstream's `layoutContainerCells`: container names and images, each joined by `,`.
pub(crate) fn container_cells(containers: &[Value]) -> (String, String) {
    let join = |field: &str| {
        containers
            .iter()
            .map(|container| container[field].as_str().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(",")
    };
    (join("name"), join("image"))
}

/// Containers, Images and Selector (`FormatLabelSelector` of `spec.selector`) of a workload whose pod
/// template is at `template`.
pub(crate) fn workload_cells(object: &Value, template: &str, selector: &Value) -> Vec<Value> {
    let (names, images) = container_cells(list(object, &format!("{template}/spec/containers")));
    vec![
        names.into(),
        images.into(),
        format_label_selector(Some(selector)).into(),
    ]
}

fn deployment_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Ready", "string", "Number of the pod with ready state", 0),
        column("Up-to-date", "string", doc::DEPLOY_UPDATED, 0),
        column("Available", "string", doc::DEPLOY_AVAILABLE, 0),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(Some(doc::DEPLOY_SELECTOR)));
    columns
}

fn deployment_cells(deployment: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(deployment, now);
    let (names, images) = container_cells(list(deployment, "/spec/template/spec/containers"));
    // A deployment prints its selector's plain text: empty when it selects everything.
    let selector = selector_string(deployment.pointer("/spec/selector"))
        .unwrap_or_else(|| "<invalid>".to_owned());
    vec![
        name,
        format!(
            "{}/{}",
            int(deployment, "/status/readyReplicas"),
            int_or(deployment, "/spec/replicas", 1)
        )
        .into(),
        int(deployment, "/status/updatedReplicas").into(),
        int(deployment, "/status/availableReplicas").into(),
        age,
        names.into(),
        images.into(),
        selector.into(),
    ]
}

fn replica_set_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Desired", "integer", doc::RS_SPEC_REPLICAS, 0),
        column("Current", "integer", doc::RS_STATUS_REPLICAS, 0),
        column("Ready", "integer", doc::RS_READY_REPLICAS, 0),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(Some(doc::RS_SELECTOR)));
    columns
}

fn replica_set_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(object, now);
    let mut cells = replica_counts(object, name, age);
    let selector = object.pointer("/spec/selector").unwrap_or(&Value::Null);
    cells.extend(workload_cells(object, "/spec/template", selector));
    cells
}

fn replica_counts(object: &Value, name: Value, age: Value) -> Vec<Value> {
    vec![
        name,
        int_or(object, "/spec/replicas", 1).into(),
        int(object, "/status/replicas").into(),
        int(object, "/status/readyReplicas").into(),
        age,
    ]
}

fn replication_controller_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Desired", "integer", doc::RC_SPEC_REPLICAS, 0),
        column("Current", "integer", doc::RC_STATUS_REPLICAS, 0),
        column("Ready", "integer", doc::RC_READY_REPLICAS, 0),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(Some(doc::RC_SELECTOR)));
    columns
}

fn replication_controller_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(object, now);
    let mut cells = replica_counts(object, name, age);
    let (names, images) = container_cells(list(object, "/spec/template/spec/containers"));
    cells.extend([
        names.into(),
        images.into(),
        format_labels(object.pointer("/spec/selector")).into(),
    ]);
    cells
}

fn stateful_set_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Ready", "string", "Number of the pod with ready state", 0),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(None));
    columns
}

fn stateful_set_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(object, now);
    let (names, images) = container_cells(list(object, "/spec/template/spec/containers"));
    vec![
        name,
        format!(
            "{}/{}",
            int(object, "/status/readyReplicas"),
            int_or(object, "/spec/replicas", 1)
        )
        .into(),
        age,
        names.into(),
        images.into(),
    ]
}

fn daemon_set_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Desired", "integer", doc::DS_DESIRED, 0),
        column("Current", "integer", doc::DS_CURRENT, 0),
        column("Ready", "integer", doc::DS_READY, 0),
        column("Up-to-date", "integer", doc::DS_UPDATED, 0),
        column("Available", "integer", doc::DS_AVAILABLE, 0),
        column("Node Selector", "string", doc::POD_NODE_SELECTOR, 0),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(Some(doc::DS_SELECTOR)));
    columns
}

fn daemon_set_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(object, now);
    let mut cells = vec![
        name,
        int(object, "/status/desiredNumberScheduled").into(),
        int(object, "/status/currentNumberScheduled").into(),
        int(object, "/status/numberReady").into(),
        int(object, "/status/updatedNumberScheduled").into(),
        int(object, "/status/numberAvailable").into(),
        format_labels(object.pointer("/spec/template/spec/nodeSelector")).into(),
        age,
    ];
    let selector = object.pointer("/spec/selector").unwrap_or(&Value::Null);
    cells.extend(workload_cells(object, "/spec/template", selector));
    cells
}

fn controller_revision_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Controller", "string", "Controller of the object", 0),
        column("Revision", "string", doc::CR_REVISION, 0),
        ColumnDefinition::age(),
    ]
}

fn controller_revision_cells(revision: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(revision, now);
    let controller = list(revision, "/metadata/ownerReferences")
        .iter()
        .find(|owner| owner["controller"].as_bool() == Some(true))
        .map_or_else(|| NONE.to_owned(), owner_name);
    vec![
        name,
        controller.into(),
        int(revision, "/revision").into(),
        age,
    ]
}

/// Upstream's `formatResourceName` of an owner reference: `kind.group/name` in lower case (`kind/name`
/// for the core group, just the name when the kind is unknown).
fn owner_name(owner: &Value) -> String {
    let name = owner["name"].as_str().unwrap_or("");
    let kind = owner["kind"].as_str().unwrap_or("");
    let api_version = owner["apiVersion"].as_str().unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    match (kind, group) {
        ("", "") => name.to_owned(),
        (kind, "") => format!("{}/{name}", kind.to_lowercase()),
        (kind, group) => format!("{}/{name}", format!("{kind}.{group}").to_lowercase()),
    }
}
