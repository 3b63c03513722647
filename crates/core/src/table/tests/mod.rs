//! Tables checked against the shape kubectl needs (kubectl-wire.md §1.4) and each printer's columns
//! and cells against upstream's printers, one file per area.

mod access;
mod networking;
mod storage;
mod workloads;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::registry;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn namespace(name: &str, created: &str) -> Value {
    json!({"apiVersion":"v1","kind":"Namespace",
           "metadata":{"name":name,"creationTimestamp":created,"labels":{"kubernetes.io/metadata.name":name}},
           "status":{"phase":"Active"}})
}

#[test]
fn namespaces_table() {
    let info = registry::find("", "v1", "namespaces").unwrap();
    let objects = [
        namespace("default", "2025-05-29T12:00:00Z"),
        namespace("young", "2025-06-01T11:59:50Z"),
    ];
    let doc = table(info, &objects, "1012", now());
    assert_eq!(doc["kind"], "Table");
    assert_eq!(doc["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(doc["metadata"], json!({"resourceVersion":"1012"}));
    let columns: Vec<(&str, &str, &str, i64)> = doc["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["type"].as_str().unwrap(),
                c["format"].as_str().unwrap(),
                c["priority"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("Name", "string", "name", 0),
            ("Status", "string", "", 0),
            ("Age", "string", "", 0)
        ]
    );
    assert_eq!(doc["columnDefinitions"][0]["description"], NAME_DESCRIPTION);
    assert_eq!(doc["rows"][0]["cells"], json!(["default", "Active", "3d"]));
    assert_eq!(doc["rows"][1]["cells"], json!(["young", "Active", "10s"]));
    assert_eq!(
        doc["rows"][0]["object"],
        json!({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":objects[0]["metadata"]})
    );
}

#[test]
fn default_table() {
    // Any resource without a printer of its own.
    let info = registry::find("", "v1", "limitranges").unwrap();
    let objects = [
        json!({"metadata":{"name":"cm","namespace":"default","creationTimestamp":"2025-05-01T10:00:00+02:00"}}),
        json!({"metadata":{"name":"unborn"}}),
    ];
    let doc = table(info, &objects, "7", now());
    let names: Vec<&str> = doc["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Name", "Created At"]);
    assert_eq!(doc["columnDefinitions"][1]["type"], "date");
    assert_eq!(
        doc["columnDefinitions"][1]["description"],
        CREATION_TIMESTAMP_DESCRIPTION
    );
    assert_eq!(
        doc["rows"][0]["cells"],
        json!(["cm", "2025-05-01T08:00:00Z"])
    );
    assert_eq!(
        doc["rows"][1]["cells"],
        json!(["unborn", "0001-01-01T00:00:00Z"])
    );
    assert_eq!(doc["rows"][0]["object"]["metadata"]["namespace"], "default");
}

#[test]
fn include_object_options() {
    let info = registry::find("", "v1", "namespaces").unwrap();
    let objects = [namespace("default", "2025-05-29T12:00:00Z")];
    let build_with = |include| {
        let options = TableOptions {
            list_meta: ListMeta::default(),
            include_object: include,
        };
        build(info, &objects, &options, now())
    };
    assert_eq!(build_with(IncludeObject::None).rows[0].object, None);
    assert_eq!(
        build_with(IncludeObject::Object).rows[0].object.as_ref(),
        Some(&objects[0])
    );
    assert_eq!(IncludeObject::parse(""), Some(IncludeObject::Metadata));
    assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
    assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
    assert_eq!(IncludeObject::parse("everything"), None);
    let without_object = serde_json::to_value(build_with(IncludeObject::None)).unwrap();
    assert!(without_object["rows"][0].get("object").is_none());
    assert_eq!(without_object["metadata"], json!({}));
}

/// `now()` minus ten minutes: every object below is `10m` old.
pub(super) const CREATED: &str = "2025-06-01T11:50:00Z";

/// The Table of `objects` of the served resource `group/version/resource`.
pub(super) fn table_of(group: &str, version: &str, resource: &str, objects: &[Value]) -> Value {
    let info = registry::find(group, version, resource).unwrap();
    table(info, objects, "1", now())
}

/// Asserts the resource's columns: names, types and priorities, in order.
#[track_caller]
pub(super) fn check_columns(
    group: &str,
    version: &str,
    resource: &str,
    expected: &[(&str, &str, i64)],
) {
    let doc = table_of(group, version, resource, &[]);
    let columns: Vec<(&str, &str, i64)> = doc["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["type"].as_str().unwrap(),
                c["priority"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(columns, expected, "{resource}");
}

/// Asserts the cells of one object's row.
#[track_caller]
pub(super) fn check_cells(
    group: &str,
    version: &str,
    resource: &str,
    object: Value,
    expected: Value,
) {
    let doc = table_of(group, version, resource, &[object]);
    assert_eq!(doc["rows"][0]["cells"], expected, "{resource}");
}

#[test]
fn every_served_resource_has_a_cell_per_column() {
    for info in registry::RESOURCES {
        for object in [
            json!({}),
            json!({"metadata": {"name": "x", "creationTimestamp": CREATED}}),
        ] {
            let doc = table(info, &[object], "1", now());
            let columns = doc["columnDefinitions"].as_array().unwrap();
            let cells = doc["rows"][0]["cells"].as_array().unwrap();
            assert_eq!(
                cells.len(),
                columns.len(),
                "{}/{}",
                info.group,
                info.resource
            );
            assert_eq!(
                columns[0]["name"],
                if info.resource == "events" {
                    "Last Seen"
                } else {
                    "Name"
                }
            );
            for column in columns {
                assert!(
                    !column["description"].as_str().unwrap().is_empty(),
                    "{column}"
                );
            }
        }
    }
}

#[test]
fn kinds_without_an_upstream_printer_get_the_default_table() {
    for (group, resource) in [
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "limitranges"),
    ] {
        check_columns(
            group,
            "v1",
            resource,
            &[("Name", "string", 0), ("Created At", "date", 0)],
        );
    }
}
