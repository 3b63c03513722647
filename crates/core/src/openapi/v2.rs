//! The OpenAPI v2 (Swagger 2.0) document: every path of every served group version and every
//! definition, in one document, as `/openapi/v2` serves it (as JSON, or as protobuf through
//! [`super::protobuf`]).

use serde_json::{Map, Value, json};

use super::paths::{self, Body, In, Operation, Param, PathItem};
use super::schemas::{Definitions, V2_PREFIX};
use super::{DefinitionNames, INFO_TITLE, INFO_VERSION};
use crate::registry;

/// Media types a resource's responses come in.
const PRODUCES: [&str; 3] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
/// Media types of a PATCH body.
const PATCH_TYPES: [&str; 4] = [
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// The whole v2 document.
pub fn document(definitions: &Definitions) -> Value {
    let names = DefinitionNames(definitions);
    let mut rendered = Map::new();
    for group in registry::GROUPS {
        for version in group.versions {
            for item in paths::group_version_paths(group.name, version, &names) {
                rendered.insert(item.path.clone(), path_item(&item));
            }
        }
    }
    let all: Map<String, Value> = definitions
        .schemas
        .iter()
        .map(|(name, schema)| (name.clone(), schema.clone()))
        .collect();
    json!({
        "swagger": "2.0",
        "info": {"title": INFO_TITLE, "version": INFO_VERSION},
        "paths": rendered,
        "definitions": all,
        "securityDefinitions": {"BearerToken": {
            "type": "apiKey",
            "name": "authorization",
            "in": "header",
            "description": "Bearer Token authentication",
        }},
        "security": [{"BearerToken": []}],
    })
}

fn path_item(item: &PathItem) -> Value {
    let mut out = Map::new();
    for operation in &item.operations {
        out.insert(operation.method.to_owned(), self::operation(operation));
    }
    out.insert(
        "parameters".into(),
        Value::Array(item.params.iter().map(parameter).collect()),
    );
    Value::Object(out)
}

fn operation(operation: &Operation) -> Value {
    let reference = |name: &str| json!({"$ref": format!("{V2_PREFIX}{name}")});
    let mut parameters: Vec<Value> = Vec::new();
    let consumes: Vec<&str> = match &operation.body {
        Some(Body::Object(name)) => {
            parameters.push(
                json!({"in": "body", "name": "body", "required": true, "schema": reference(name)}),
            );
            vec!["*/*"]
        }
        Some(Body::Patch) => {
            parameters.push(json!({"in": "body", "name": "body", "required": true,
                "schema": reference("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")}));
            PATCH_TYPES.to_vec()
        }
        None => vec!["*/*"],
    };
    parameters.extend(operation.params.iter().map(parameter));
    let mut responses = Map::new();
    let mut text = false;
    for (code, schema) in &operation.responses {
        let description = match code {
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            _ => "Unauthorized",
        };
        let mut response = json!({"description": description});
        match schema {
            Some(name) if *code != 401 => response["schema"] = reference(name),
            None if *code != 401 => {
                response["schema"] = json!({"type": "string"});
                text = true;
            }
            _ => {}
        }
        responses.insert(code.to_string(), response);
    }
    let produces: Vec<&str> = if text { vec!["*/*"] } else { PRODUCES.to_vec() };
    let mut out = Map::new();
    out.insert("consumes".into(), json!(consumes));
    out.insert("description".into(), json!(operation.description));
    out.insert("operationId".into(), json!(operation.id));
    if !parameters.is_empty() {
        out.insert("parameters".into(), Value::Array(parameters));
    }
    out.insert("produces".into(), json!(produces));
    out.insert("responses".into(), Value::Object(responses));
    out.insert("schemes".into(), json!(["https"]));
    out.insert("tags".into(), json!([operation.tag]));
    out.insert("x-kubernetes-action".into(), json!(operation.action));
    out.insert(
        "x-kubernetes-group-version-kind".into(),
        json!({"group": operation.gvk.group, "kind": operation.gvk.kind, "version": operation.gvk.version}),
    );
    Value::Object(out)
}

fn parameter(param: &Param) -> Value {
    let mut out = json!({
        "description": param.description,
        "in": match param.location { In::Path => "path", In::Query => "query" },
        "name": param.name,
        "type": param.kind,
        "uniqueItems": true,
    });
    if param.location == In::Path {
        out["required"] = json!(true);
    }
    out
}
