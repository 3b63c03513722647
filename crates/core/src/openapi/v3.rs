//! OpenAPI v3 documents, one per group version (`/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`):
//! the group version's paths and, under `components.schemas`, every definition they refer to.

use serde_json::{Map, Value, json};

use super::paths::{self, Body, In, Operation, Param, PathItem};
use super::schemas::{self, Definitions, V3_PREFIX};
use super::{DefinitionNames, INFO_TITLE, INFO_VERSION};

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

/// A group version's document in parts: the small frame, and the two big maps (`/paths` and
/// `/components/schemas`) rendered one entry at a time.
pub struct Parts<'a> {
    definitions: &'a Definitions,
    items: Vec<PathItem>,
    components: Vec<String>,
}

/// The parts of `group`/`version`'s document, or `None` when kubers serves no such group version.
pub fn parts<'a>(definitions: &'a Definitions, group: &str, version: &str) -> Option<Parts<'a>> {
    crate::registry::resources_in(group, version).next()?;
    let names = DefinitionNames(definitions);
    let mut items = paths::group_version_paths(group, version, &names);
    items.sort_by(|a, b| a.path.cmp(&b.path));
    items.dedup_by(|a, b| a.path == b.path);
    let mut roots: Vec<String> = Vec::new();
    for item in &items {
        for operation in &item.operations {
            collect_refs(operation, &mut roots);
        }
    }
    // Every kind of the group version, even one no operation returns, and the watch events.
    roots.push("io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent".into());
    roots.extend(
        definitions
            .kinds
            .iter()
            .filter(|((g, v, _), _)| *g == group && *v == version)
            .map(|(_, name)| name.clone()),
    );
    let components = definitions
        .closure(roots.iter().map(String::as_str))
        .into_iter()
        .collect();
    Some(Parts {
        definitions,
        items,
        components,
    })
}

impl Parts<'_> {
    /// Pointers of the maps rendered entry by entry, in the order [`Parts::entries`] takes.
    pub const STREAMED: [&'static str; 2] = ["/components/schemas", "/paths"];

    /// The document without its paths and schemas (empty maps in their place).
    pub fn frame(&self) -> Value {
        json!({
            "openapi": "3.0.0",
            "info": {"title": INFO_TITLE, "version": INFO_VERSION},
            "paths": {},
            "components": {
                "schemas": {},
                "securitySchemes": {"BearerToken": {
                    "type": "apiKey",
                    "name": "authorization",
                    "in": "header",
                    "description": "Bearer Token authentication",
                }},
            },
            "security": [{"BearerToken": []}],
        })
    }

    /// The entries of the streamed map at `STREAMED[index]`, sorted by key.
    pub fn entries(&self, index: usize) -> Box<dyn Iterator<Item = (String, Value)> + '_> {
        if index == 0 {
            Box::new(self.components.iter().filter_map(|name| {
                let schema = self.definitions.schemas.get(name)?;
                Some((name.clone(), schemas::to_v3(schema)))
            }))
        } else {
            Box::new(
                self.items
                    .iter()
                    .map(|item| (item.path.clone(), path_item(item))),
            )
        }
    }
}

/// The whole document of `group`/`version` as one value (for tests and small callers; the server
/// streams [`Parts`]).
pub fn document(definitions: &Definitions, group: &str, version: &str) -> Option<Value> {
    let parts = parts(definitions, group, version)?;
    let mut document = parts.frame();
    for (index, pointer) in Parts::STREAMED.iter().enumerate() {
        let entries: Map<String, Value> = parts.entries(index).collect();
        if let Some(slot) = document.pointer_mut(pointer) {
            *slot = Value::Object(entries);
        }
    }
    Some(document)
}

fn collect_refs(operation: &Operation, roots: &mut Vec<String>) {
    if let Some(Body::Object(name)) = &operation.body {
        roots.push(name.clone());
    }
    if matches!(operation.body, Some(Body::Patch)) {
        roots.push("io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into());
    }
    roots.extend(
        operation
            .responses
            .iter()
            .filter_map(|(_, name)| name.clone()),
    );
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
    let reference = |name: &str| json!({"$ref": format!("{V3_PREFIX}{name}")});
    let mut out = Map::new();
    out.insert("description".into(), json!(operation.description));
    out.insert("operationId".into(), json!(operation.id));
    out.insert("tags".into(), json!([operation.tag]));
    if !operation.params.is_empty() {
        out.insert(
            "parameters".into(),
            Value::Array(operation.params.iter().map(parameter).collect()),
        );
    }
    match &operation.body {
        Some(Body::Object(name)) => {
            out.insert(
                "requestBody".into(),
                json!({"content": {"*/*": {"schema": reference(name)}}, "required": true}),
            );
        }
        Some(Body::Patch) => {
            let patch = reference("io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
            let content: Map<String, Value> = PATCH_TYPES
                .iter()
                .map(|media| ((*media).to_owned(), json!({"schema": patch})))
                .collect();
            out.insert(
                "requestBody".into(),
                json!({"content": content, "required": true}),
            );
        }
        None => {}
    }
    let mut responses = Map::new();
    for (code, schema) in &operation.responses {
        let description = match code {
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            _ => "Unauthorized",
        };
        let mut response = json!({"description": description});
        if *code != 401 {
            let content: Map<String, Value> = match schema {
                Some(name) => PRODUCES
                    .iter()
                    .map(|media| ((*media).to_owned(), json!({"schema": reference(name)})))
                    .collect(),
                None => [("*/*".to_owned(), json!({"schema": {"type": "string"}}))]
                    .into_iter()
                    .collect(),
            };
            response["content"] = Value::Object(content);
        }
        responses.insert(code.to_string(), response);
    }
    out.insert("responses".into(), Value::Object(responses));
    out.insert("x-kubernetes-action".into(), json!(operation.action));
    out.insert(
        "x-kubernetes-group-version-kind".into(),
        json!({"group": operation.gvk.group, "kind": operation.gvk.kind, "version": operation.gvk.version}),
    );
    Value::Object(out)
}

fn parameter(param: &Param) -> Value {
    let mut out = json!({
        "name": param.name,
        "in": match param.location { In::Path => "path", In::Query => "query" },
        "description": param.description,
        "schema": {"type": param.kind, "uniqueItems": true},
    });
    if param.location == In::Path {
        out["required"] = json!(true);
    }
    out
}
