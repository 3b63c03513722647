//! Server-side printing: the `meta.k8s.io/v1` `Table` kubectl asks for with `Accept: ...;as=Table`.
//! Every cell is computed here (kubectl prints cells verbatim), each row carries the object's
//! metadata so `-A` and `--show-labels` work, and resources without their own printer get upstream's
//! default Name / Created At table.

mod batch;
mod config;
mod controllers;
mod default;
mod duration;
mod events;
mod namespaces;
mod policy;
mod storage;
mod workloads;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::registry::ResourceInfo;

pub use duration::{age_of, human_age, human_duration};

/// ObjectMeta's documentation of `name`, the description of every Name column.
pub const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// ObjectMeta's documentation of `creationTimestamp`, the description of Age and Created At columns.
pub const CREATION_TIMESTAMP_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One column of a Table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDefinition {
    /// Header text; kubectl upper-cases it.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    #[serde(rename = "type")]
    pub column_type: String,
    /// Extra hint, e.g. `name`; may be empty.
    pub format: String,
    /// What the column shows.
    pub description: String,
    /// 0 is shown by default, higher only with `-o wide`.
    pub priority: i32,
}

impl ColumnDefinition {
    /// A column with the given parts.
    pub fn new(
        name: &str,
        column_type: &str,
        format: &str,
        description: &str,
        priority: i32,
    ) -> Self {
        ColumnDefinition {
            name: name.to_owned(),
            column_type: column_type.to_owned(),
            format: format.to_owned(),
            description: description.to_owned(),
            priority,
        }
    }

    /// The Name column every printer starts with.
    pub fn name() -> Self {
        ColumnDefinition::new("Name", "string", "name", NAME_DESCRIPTION, 0)
    }

    /// The Age column (a string computed by the server).
    pub fn age() -> Self {
        ColumnDefinition::new("Age", "string", "", CREATION_TIMESTAMP_DESCRIPTION, 0)
    }
}

/// One row: the cells and, unless `includeObject=None`, the object or its metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    /// One cell per column.
    pub cells: Vec<Value>,
    /// `PartialObjectMetadata` by default, the full object with `includeObject=Object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
}

/// The list metadata of a Table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    /// The list's revision; `kubectl get -w` watches from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Continue token of a paginated list.
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
    /// Objects left after this page, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<i64>,
}

/// A `meta.k8s.io/v1` Table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    /// Always `Table`.
    pub kind: String,
    /// Always `meta.k8s.io/v1`.
    pub api_version: String,
    /// Revision and pagination.
    pub metadata: ListMeta,
    /// Columns.
    pub column_definitions: Vec<ColumnDefinition>,
    /// One row per object.
    pub rows: Vec<TableRow>,
}

/// What each row's `object` holds (the `includeObject` query parameter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// A `PartialObjectMetadata` with the object's metadata (the default).
    #[default]
    Metadata,
    /// The full object (`kubectl get --sort-by`).
    Object,
}

impl IncludeObject {
    /// Parses the query parameter's value (`None`, `Metadata`, `Object`); empty means the default.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "" | "Metadata" => Some(IncludeObject::Metadata),
            "None" => Some(IncludeObject::None),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// How to build a Table beyond the objects themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// List metadata to report (revision, continue token).
    pub list_meta: ListMeta,
    /// What each row carries.
    pub include_object: IncludeObject,
}

/// A resource's printer: its columns and the cells of one object.
pub(crate) struct Printer {
    pub(crate) columns: fn() -> Vec<ColumnDefinition>,
    pub(crate) cells: fn(&Value, DateTime<Utc>) -> Vec<Value>,
}

fn printer_for(info: &ResourceInfo) -> Printer {
    match (info.group, info.resource) {
        ("", "namespaces") => namespaces::PRINTER,
        ("", "configmaps") => config::CONFIG_MAPS,
        ("", "secrets") => config::SECRETS,
        ("", "pods") => workloads::PODS,
        ("", "nodes") => workloads::NODES,
        ("", "services") => workloads::SERVICES,
        ("apps", "deployments") => workloads::DEPLOYMENTS,
        ("", "events") | ("events.k8s.io", "events") => events::EVENTS,
        ("apps", "replicasets") | ("", "replicationcontrollers") => controllers::REPLICA_SETS,
        ("apps", "statefulsets") => controllers::STATEFUL_SETS,
        ("apps", "daemonsets") => controllers::DAEMON_SETS,
        ("batch", "jobs") => batch::JOBS,
        ("batch", "cronjobs") => batch::CRON_JOBS,
        ("", "persistentvolumes") => storage::VOLUMES,
        ("", "persistentvolumeclaims") => storage::CLAIMS,
        ("storage.k8s.io", "storageclasses") => storage::CLASSES,
        ("", "resourcequotas") => policy::QUOTAS,
        ("policy", "poddisruptionbudgets") => policy::BUDGETS,
        _ => default::PRINTER,
    }
}

/// The `row.object` for `object` under `include`.
pub fn row_object(object: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(object.clone()),
        IncludeObject::Metadata => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        })),
    }
}

/// The Table of `objects` (of resource `info`) with explicit options, ages measured at `now`.
pub fn build(
    info: &ResourceInfo,
    objects: &[Value],
    options: &TableOptions,
    now: DateTime<Utc>,
) -> Table {
    let printer = printer_for(info);
    Table {
        kind: "Table".to_owned(),
        api_version: "meta.k8s.io/v1".to_owned(),
        metadata: options.list_meta.clone(),
        column_definitions: (printer.columns)(),
        rows: objects
            .iter()
            .map(|object| TableRow {
                cells: (printer.cells)(object, now),
                object: row_object(object, options.include_object),
            })
            .collect(),
    }
}

/// The default-option Table of `objects` as JSON: metadata rows, `resourceVersion` set.
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    resource_version: &str,
    now: DateTime<Utc>,
) -> Value {
    let options = TableOptions {
        list_meta: ListMeta {
            resource_version: Some(resource_version.to_owned()),
            ..ListMeta::default()
        },
        include_object: IncludeObject::Metadata,
    };
    serde_json::to_value(build(info, objects, &options, now)).unwrap_or(Value::Null)
}

/// A column without a format.
pub(crate) fn column(name: &str, kind: &str, description: &str, priority: i32) -> ColumnDefinition {
    ColumnDefinition::new(name, kind, "", description, priority)
}

/// The Name and Age cells of an object.
pub(crate) fn name_and_age(object: &Value, now: DateTime<Utc>) -> (Value, Value) {
    (
        Value::String(meta_str(object, "name").unwrap_or("").to_owned()),
        Value::String(age_of(meta_str(object, "creationTimestamp"), now)),
    )
}

/// `metadata.<field>` of an object as a string, if present.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

#[cfg(test)]
mod tests;
