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

/// The v2 document in parts: the small frame, and the two big maps (`/definitions` and `/paths`)
/// rendered one entry at a time.
pub struct Parts<'a> {
    definitions: &'a Definitions,
    items: Vec<PathItem>,
}

/// The parts of the v2 document.
pub fn parts(definitions: &Definitions) -> Parts<'_> {
    let names = DefinitionNames(definitions);
    let mut items: Vec<PathItem> = registry::GROUPS
        .iter()
        .flat_map(|group| {
            let names = &names;
            group
                .versions
                .iter()
                .flat_map(move |version| paths::group_version_paths(group.name, version, names))
        })
        .collect();
    items.sort_by(|a, b| a.path.cmp(&b.path));
    items.dedup_by(|a, b| a.path == b.path);
    Parts { definitions, items }
}

impl Parts<'_> {
    /// Pointers of the maps rendered entry by entry, in the order [`Parts::entries`] takes.
    pub const STREAMED: [&'static str; 2] = ["/definitions", "/paths"];

    /// The document without its definitions and paths (empty maps in their place).
    pub fn frame(&self) -> Value {
        json!({
            "swagger": "2.0",
            "info": {"title": INFO_TITLE, "version": INFO_VERSION},
            "paths": {},
            "definitions": {},
            "securityDefinitions": {"BearerToken": {
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
                "description": "Bearer Token authentication",
            }},
            "security": [{"BearerToken": []}],
        })
    }

    /// The entries of the streamed map at `STREAMED[index]`, sorted by key.
    pub fn entries(&self, index: usize) -> Box<dyn Iterator<Item = (String, Value)> + '_> {
        if index == 0 {
            Box::new(
                self.definitions
                    .schemas
                    .iter()
                    .map(|(name, schema)| (name.clone(), schema.clone())),
            )
        } else {
            Box::new(
                self.items
                    .iter()
                    .map(|item| (item.path.clone(), path_item(item))),
            )
        }
    }
}

/// The whole v2 document as one value (for tests; the server streams [`Parts`]).
pub fn document(definitions: &Definitions) -> Value {
    let parts = parts(definitions);
    let mut document = parts.frame();
    for (index, pointer) in Parts::STREAMED.iter().enumerate() {
        let entries: Map<String, Value> = parts.entries(index).collect();
        if let Some(slot) = document.pointer_mut(pointer) {
            *slot = Value::Object(entries);
        }
    }
    document
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
