use serde_json::{Value, json};

use super::*;
use crate::protobuf::wire::{Field, Fields};

fn documents() -> Documents {
    Documents::new()
}

#[test]
fn every_registry_resource_has_a_schema_with_its_kind() {
    let documents = documents();
    for info in registry::RESOURCES {
        let name = documents
            .definitions()
            .name_of(info.group, info.version, info.kind)
            .unwrap_or_else(|| panic!("no schema for {}/{} {}", info.group, info.version, info.kind));
        let schema = &documents.definitions().schemas[name];
        let gvks = schema["x-kubernetes-group-version-kind"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no group-version-kind"));
        assert!(
            gvks.contains(&json!({"group": info.group, "kind": info.kind, "version": info.version})),
            "{name}: {gvks:?}"
        );
    }
}

#[test]
fn sizes() {
    let start = std::time::Instant::now();
    let documents = documents();
    eprintln!("generate: {:?}, {} definitions", start.elapsed(), documents.definitions().schemas.len());
    let mut total = 0;
    for path in v3_paths() {
        let document = documents.v3(&path).expect("document");
        let len = document.to_string().len();
        total += len;
        eprintln!("{path}: {len} bytes, {} schemas", document["components"]["schemas"].as_object().map_or(0, |m| m.len()));
    }
    let v2 = documents.v2();
    let json = v2.to_string();
    let pb = protobuf::encode_document(&v2);
    eprintln!("v3 total {total}; v2 json {} pb {}; took {:?}", json.len(), pb.len(), start.elapsed());
    std::fs::write("/tmp/openapi-v2.json", json).ok();
    std::fs::write("/tmp/openapi-v3-core.json", documents.v3("api/v1").expect("core").to_string()).ok();
    std::fs::write("/tmp/openapi-v3-apps.json", documents.v3("apis/apps/v1").expect("apps").to_string()).ok();
    std::fs::write("/tmp/openapi-v2.pb", pb).ok();
}
