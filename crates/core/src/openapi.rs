//! OpenAPI v3 documents generated from the resource registry: an index (`/openapi/v3`) and one document
//! per group version with every resource's paths and operations.
//!
//! Each operation carries `x-kubernetes-group-version-kind` and `x-kubernetes-action`, and PATCH lists
//! the `fieldValidation` parameter: with that, kubectl (1.27 and later) leaves validation to the server
//! (`fieldValidation=Strict`) instead of downloading the protobuf OpenAPI v2 document.
//!
//! FIXME: `components.schemas` is empty, so `kubectl explain` finds no fields; the schemas are to be
//! generated from the k8s-openapi type definitions.

use serde_json::{Map, Value, json};

use crate::registry::{self, GroupInfo, ResourceInfo};

/// `/openapi/v3`: the path of every group version's document, with a hash that changes with it.
pub fn index() -> Value {
    let mut paths = Map::new();
    for (path, group, version) in group_version_paths() {
        let document = document(group, version).unwrap_or(Value::Null);
        let hash = fnv1a(document.to_string().as_bytes());
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash:016X}")}),
        );
    }
    json!({"paths": paths})
}

/// The document of `group`/`version` (`""` for core), or `None` when kubers does not serve it.
pub fn document(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<&ResourceInfo> = registry::resources_in(group, version).collect();
    if resources.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = Map::new();
    for info in resources {
        add_paths(&mut paths, &prefix, info);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.34.0+kubers"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

/// The document of an `/openapi/v3/<path>` URL path (`api/v1`, `apis/apps/v1`).
pub fn document_at(path: &str) -> Option<Value> {
    match path
        .trim_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["api", version] => document("", version),
        ["apis", group, version] => document(group, version),
        _ => None,
    }
}

fn group_version_paths() -> Vec<(String, &'static str, &'static str)> {
    let mut paths = vec![("api/v1".to_owned(), "", "v1")];
    for GroupInfo { name, versions } in registry::group_versions() {
        for version in versions.iter() {
            paths.push((format!("apis/{name}/{version}"), name, version));
        }
    }
    paths
}

fn add_paths(paths: &mut Map<String, Value>, prefix: &str, info: &ResourceInfo) {
    let collection = if info.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", info.resource)
    } else {
        format!("{prefix}/{}", info.resource)
    };
    let item = format!("{collection}/{{name}}");
    let gvk = json!({"group": info.group, "version": info.version, "kind": info.kind});
    let operation = |action: &str, parameters: &[&str]| {
        let parameters: Vec<Value> = parameters
            .iter()
            .map(|name| json!({"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": true}))
            .collect();
        json!({
            "operationId": format!("{action}{}", info.kind),
            "parameters": parameters,
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
        })
    };
    let writes = ["dryRun", "fieldManager", "fieldValidation"];
    let mut on_collection = Map::new();
    if info.supports("list") {
        on_collection.insert(
            "get".into(),
            operation(
                "list",
                &[
                    "labelSelector",
                    "fieldSelector",
                    "limit",
                    "continue",
                    "watch",
                ],
            ),
        );
    }
    if info.supports("create") {
        on_collection.insert("post".into(), operation("post", &writes));
    }
    if info.supports("deletecollection") {
        on_collection.insert(
            "delete".into(),
            operation(
                "deletecollection",
                &["labelSelector", "fieldSelector", "dryRun"],
            ),
        );
    }
    let mut on_item = Map::new();
    if info.supports("get") {
        on_item.insert("get".into(), operation("get", &[]));
    }
    if info.supports("update") {
        on_item.insert("put".into(), operation("put", &writes));
    }
    if info.supports("patch") {
        on_item.insert(
            "patch".into(),
            operation(
                "patch",
                &["dryRun", "fieldManager", "fieldValidation", "force"],
            ),
        );
    }
    if info.supports("delete") {
        on_item.insert(
            "delete".into(),
            operation(
                "delete",
                &["dryRun", "gracePeriodSeconds", "propagationPolicy"],
            ),
        );
    }
    if !on_collection.is_empty() {
        paths.insert(collection, Value::Object(on_collection));
    }
    if !on_item.is_empty() {
        paths.insert(item, Value::Object(on_item));
    }
}

/// FNV-1a, 64 bits: a stable hash of a document for its cache-busting URL.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_points_at_every_group_version() {
        let index = index();
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("apps/v1 listed");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        assert!(index["paths"]["api/v1"].is_object());
    }

    #[test]
    fn patch_advertises_field_validation_with_the_kind() {
        let document = document_at("apis/apps/v1").expect("apps/v1");
        let patch =
            &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        let parameters: Vec<&str> = patch["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|parameter| parameter["name"].as_str())
            .collect();
        assert!(parameters.contains(&"fieldValidation"), "{parameters:?}");
        let namespaces = document_at("api/v1").expect("core");
        assert!(namespaces["paths"]["/api/v1/namespaces/{name}"]["patch"].is_object());
        assert!(document_at("apis/nope/v1").is_none());
    }
}
