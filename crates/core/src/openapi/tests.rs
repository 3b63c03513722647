use serde_json::{Value, json};

use super::*;
use crate::protobuf::wire::{Field, Fields};

#[test]
fn every_registry_resource_has_a_schema_with_its_kind() {
    let documents = Documents::new();
    for info in registry::RESOURCES {
        let name = documents
            .definitions()
            .name_of(info.group, info.version, info.kind)
            .unwrap_or_else(|| {
                panic!(
                    "no schema for {}/{} {}",
                    info.group, info.version, info.kind
                )
            });
        let schema = &documents.definitions().schemas[name];
        let gvks = schema["x-kubernetes-group-version-kind"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no group-version-kind"));
        assert!(
            gvks.contains(
                &json!({"group": info.group, "kind": info.kind, "version": info.version})
            ),
            "{name}: {gvks:?}"
        );
    }
}

#[test]
fn every_patch_advertises_field_validation_with_its_kind() {
    let documents = Documents::new();
    for path in v3_paths() {
        let document = documents.v3(&path).expect("listed documents exist");
        let schemas = document["components"]["schemas"]
            .as_object()
            .expect("schemas");
        for info in registry::resources_in(
            parse_path(&path).expect("path").0,
            parse_path(&path).expect("path").1,
        )
        .filter(|info| info.supports("patch"))
        {
            let patches: Vec<&Value> = document["paths"]
                .as_object()
                .expect("paths")
                .values()
                .filter_map(|item| item.get("patch"))
                .filter(|patch| {
                    patch["x-kubernetes-group-version-kind"]
                        == json!({"group": info.group, "kind": info.kind, "version": info.version})
                })
                .collect();
            assert!(!patches.is_empty(), "{path}: no PATCH for {}", info.kind);
            for patch in patches {
                let names: Vec<&str> = patch["parameters"]
                    .as_array()
                    .expect("parameters")
                    .iter()
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                assert!(
                    names.contains(&"fieldValidation"),
                    "{path} {}: {names:?}",
                    info.kind
                );
            }
            let name = documents
                .definitions()
                .name_of(info.group, info.version, info.kind)
                .expect("schema");
            assert!(schemas.contains_key(name), "{path} lacks {name}");
        }
        // Every reference resolves inside the document.
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap_or("");
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{path}: reference {target}"));
            assert!(schemas.contains_key(name), "{path}: dangling {name}");
        }
    }
    assert!(documents.v3("apis/nope/v1").is_none());
}

#[test]
fn schemas_have_upstreams_shape() {
    let documents = Documents::new();
    let core = documents.v3("api/v1").expect("core");
    let schemas = &core["components"]["schemas"];
    let pod = &schemas["io.k8s.api.core.v1.Pod"];
    assert_eq!(pod.get("required"), None, "metadata is not required");
    assert_eq!(
        pod["properties"]["spec"],
        json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}],
            "description": pod["properties"]["spec"]["description"]})
    );
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    let ports = &schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    let service_ports = &schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
    assert_eq!(service_ports["x-kubernetes-patch-merge-key"], "port");
    let finalizers =
        &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
    assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
        "int-or-string"
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
        "string"
    );
    let list = &schemas["io.k8s.api.core.v1.PodList"];
    assert_eq!(
        list["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "PodList", "version": "v1"}])
    );
    assert_eq!(
        list["properties"]["items"]["items"],
        json!({"$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"})
    );
    let v2 = documents.v2();
    assert_eq!(
        v2["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    );
    assert_eq!(v2["swagger"], "2.0");
}

#[test]
fn streamed_documents_are_the_same_bytes() {
    let documents = Documents::new();
    for path in ["api/v1", "apis/apps/v1", "apis/autoscaling/v1"] {
        let mut streamed = Vec::new();
        assert!(documents.write_v3(path, &mut streamed).expect("written"));
        assert_eq!(
            String::from_utf8(streamed).expect("utf-8"),
            documents.v3(path).expect("document").to_string(),
            "{path}"
        );
    }
    assert!(
        !documents
            .write_v3("apis/nope/v1", &mut Vec::new())
            .expect("written")
    );
    let mut streamed = Vec::new();
    documents.write_v2(&mut streamed).expect("written");
    let v2 = documents.v2();
    assert_eq!(String::from_utf8(streamed).expect("utf-8"), v2.to_string());
    assert_eq!(documents.v2_protobuf(), protobuf::encode_document(&v2));
}

/// The fields of a message with one number, as bytes.
fn all(message: &[u8], number: u32) -> Vec<&[u8]> {
    Fields::new(message)
        .map(|field| field.expect("well-formed"))
        .filter_map(|field| match field {
            Field::Bytes(n, bytes) if n == number => Some(bytes),
            _ => None,
        })
        .collect()
}

fn text(message: &[u8], number: u32) -> String {
    all(message, number)
        .first()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .unwrap_or_default()
}

/// The `NamedX` entry called `name` in a repeated field.
fn named<'a>(message: &'a [u8], number: u32, name: &str) -> &'a [u8] {
    all(message, number)
        .into_iter()
        .find(|entry| text(entry, 1) == name)
        .map(|entry| all(entry, 2)[0])
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn v2_protobuf_decodes_as_a_gnostic_document() {
    let document = Documents::new().v2_protobuf();
    assert_eq!(text(&document, 1), "2.0");
    assert_eq!(text(all(&document, 2)[0], 1), "Kubernetes");
    let definitions = all(&document, 9)[0];
    let pod = named(definitions, 1, "io.k8s.api.core.v1.Pod");
    // Schema.type is a TypeItem; vendor extensions are NamedAny with YAML (here JSON) values.
    assert_eq!(text(all(pod, 22)[0], 1), "object");
    let gvk = named(pod, 31, "x-kubernetes-group-version-kind");
    assert_eq!(
        serde_json::from_str::<Value>(&text(gvk, 2)).expect("json"),
        json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    let spec = named(all(pod, 25)[0], 1, "spec");
    assert_eq!(text(spec, 1), "#/definitions/io.k8s.api.core.v1.PodSpec");
    let container = named(definitions, 1, "io.k8s.api.core.v1.Container");
    assert_eq!(text(container, 19), "name", "required");
    let ports = named(all(container, 25)[0], 1, "ports");
    let key = named(ports, 31, "x-kubernetes-patch-merge-key");
    assert_eq!(text(key, 2), "\"containerPort\"");
    let items = all(all(ports, 23)[0], 1)[0];
    assert_eq!(
        text(items, 1),
        "#/definitions/io.k8s.api.core.v1.ContainerPort"
    );
    // Paths: the PATCH of a pod lists fieldValidation as a query parameter.
    let paths = all(&document, 8)[0];
    let item = named(paths, 2, "/api/v1/namespaces/{namespace}/pods/{name}");
    let patch = all(item, 8)[0];
    assert_eq!(text(patch, 5), "patchCoreV1NamespacedPod");
    let query_names: Vec<String> = all(patch, 8)
        .into_iter()
        .filter_map(|parameters_item| all(parameters_item, 1).first().copied())
        .filter_map(|parameter| all(parameter, 2).first().copied())
        .filter_map(|non_body| all(non_body, 3).first().copied())
        .map(|query| text(query, 4))
        .collect();
    assert!(
        query_names.contains(&"fieldValidation".to_owned()),
        "{query_names:?}"
    );
}
