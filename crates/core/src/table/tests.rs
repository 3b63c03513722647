//! Tables checked against the shape kubectl needs (kubectl-wire.md §1.4).

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
    let info = registry::find("", "v1", "podtemplates").unwrap();
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

#[test]
fn config_maps_and_secrets_count_their_keys() {
    use serde_json::json;

    use crate::registry;

    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let config_maps = registry::find("", "v1", "configmaps").expect("configmaps");
    let cm = json!({"metadata": {"name": "c", "creationTimestamp": "2026-01-01T00:00:00Z"},
                    "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    let table = super::table(config_maps, &[cm], "5", now);
    assert_eq!(table["rows"][0]["cells"], json!(["c", 3, "10m"]));
    let secrets = registry::find("", "v1", "secrets").expect("secrets");
    let secret = json!({"metadata": {"name": "s", "creationTimestamp": "2026-01-01T00:00:00Z"},
                        "type": "Opaque", "data": {"k": "dg=="}});
    let table = super::table(secrets, &[secret], "5", now);
    let headers: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|column| column["name"].as_str())
        .collect();
    assert_eq!(headers, ["Name", "Type", "Data", "Age"]);
    assert_eq!(table["rows"][0]["cells"], json!(["s", "Opaque", 1, "10m"]));
}
