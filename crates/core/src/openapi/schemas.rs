//! The schema definitions of every kind kubers serves, generated from the k8s-openapi types (their
//! `schemars` output) and post-processed into upstream's shape:
//!
//! - names like `io.k8s.api.core.v1.Pod`, references as `#/definitions/<name>` (the v2 form; v3
//!   documents rewrite them, see [`to_v3`]);
//! - `x-kubernetes-group-version-kind` on top-level kinds, their lists and the `meta/v1` kinds;
//! - `x-kubernetes-patch-merge-key` and `x-kubernetes-patch-strategy` on list fields, taken from the
//!   table the strategic merge patch uses (`crate::strategic_merge`), so clients compute the patches
//!   the server applies;
//! - `metadata` is not required of a top-level object, Quantity is a string and IntOrString a string
//!   of format `int-or-string`, as upstream publishes them;
//! - a `<Kind>List` for every listed kind (k8s-openapi's lists are one generic type without a schema).

use std::collections::{BTreeMap, BTreeSet};

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::kinds::{self, MetaSchemas};
use crate::registry;
use crate::strategic_merge;

/// Where references point in the canonical (v2) form.
pub const V2_PREFIX: &str = "#/definitions/";
/// Where references point in a v3 document.
pub const V3_PREFIX: &str = "#/components/schemas/";

const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const GVK: &str = "x-kubernetes-group-version-kind";

/// Every definition, by name, with references in the canonical `#/definitions/` form.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    /// The schemas by definition name.
    pub schemas: BTreeMap<String, Value>,
    /// The definition of each kind, by `(group, version, kind)`.
    pub kinds: BTreeMap<(&'static str, &'static str, &'static str), String>,
}

impl Definitions {
    /// Generates every definition. Pure and deterministic; takes a few milliseconds and a few MiB,
    /// so callers build what they need from it and drop it.
    pub fn generate() -> Definitions {
        let mut generator = SchemaSettings::draft07()
            .with(|settings| {
                settings.transforms.clear();
                settings.meta_schema = None;
            })
            .into_generator();
        let mut kinds = BTreeMap::new();
        for kind in kinds::all() {
            let reference = (kind.schema)(&mut generator);
            if let Some(name) = reference
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(V2_PREFIX))
            {
                kinds.insert((kind.group, kind.version, kind.kind), name.to_owned());
            }
        }
        MetaSchemas::add(&mut generator);
        let mut schemas: BTreeMap<String, Value> =
            generator.take_definitions(false).into_iter().collect();
        for (name, schema) in &mut schemas {
            upstream_shape(name, schema);
        }
        let mut definitions = Definitions { schemas, kinds };
        definitions.add_lists();
        definitions.add_group_version_kinds();
        definitions.add_patch_extensions();
        definitions
    }

    /// The definition name of a kind (`io.k8s.api.core.v1.Pod`).
    pub fn name_of(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .iter()
            .find(|((g, v, k), _)| *g == group && *v == version && *k == kind)
            .map(|(_, name)| name.as_str())
    }

    /// The names of `roots` and of every definition they refer to, directly or not.
    pub fn closure<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<String> = roots.into_iter().map(str::to_owned).collect();
        while let Some(name) = pending.pop() {
            if !self.schemas.contains_key(&name) || !seen.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = self.schemas.get(&name) {
                for_each_ref(schema, &mut |target| {
                    if !seen.contains(target) {
                        pending.push(target.to_owned());
                    }
                });
            }
        }
        seen
    }

    /// A `<Kind>List` per listed kind: `apiVersion`, `kind`, `metadata` (ListMeta) and `items`.
    fn add_lists(&mut self) {
        for kind in kinds::LISTED {
            let (Some(list_kind), Some(item)) = (
                kind.list_kind,
                self.kinds
                    .get(&(kind.group, kind.version, kind.kind))
                    .cloned(),
            ) else {
                continue;
            };
            let Some(item_schema) = self.schemas.get(&item) else {
                continue;
            };
            let property = |field: &str| item_schema["properties"][field].clone();
            let plural = registry::resources_in(kind.group, kind.version)
                .find(|info| info.kind == kind.kind)
                .map_or(kind.kind, |info| info.resource);
            let list = json!({
                "description": format!("{list_kind} is a list of {} objects.", kind.kind),
                "type": "object",
                "properties": {
                    "apiVersion": property("apiVersion"),
                    "items": {
                        "description": format!("List of {plural}."),
                        "type": "array",
                        "items": {"$ref": format!("{V2_PREFIX}{item}")},
                    },
                    "kind": property("kind"),
                    "metadata": {
                        "$ref": format!("{V2_PREFIX}{LIST_META}"),
                        "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                    },
                },
                "required": ["items"],
            });
            let name = format!("{}List", item);
            self.schemas.insert(name.clone(), list);
            self.kinds
                .insert((kind.group, kind.version, list_kind), name.clone());
        }
    }

    /// `x-kubernetes-group-version-kind` on every kind's definition; the `meta/v1` kinds clients send
    /// to and receive from every group version list each of them, like upstream.
    fn add_group_version_kinds(&mut self) {
        let mut by_name: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for ((group, version, kind), name) in &self.kinds {
            by_name
                .entry(name.clone())
                .or_default()
                .push(json!({"group": group, "kind": kind, "version": version}));
        }
        let group_versions: Vec<(&str, &str)> = registry::GROUPS
            .iter()
            .flat_map(|g| g.versions.iter().map(move |v| (g.name, *v)))
            .collect();
        for (kind, name) in [
            (
                "DeleteOptions",
                "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            ),
            (
                "WatchEvent",
                "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
            ),
        ] {
            by_name.insert(
                name.to_owned(),
                group_versions
                    .iter()
                    .map(|(g, v)| json!({"group": g, "kind": kind, "version": v}))
                    .collect(),
            );
        }
        by_name.insert(
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status".to_owned(),
            vec![json!({"group": "", "kind": "Status", "version": "v1"})],
        );
        for (name, mut gvks) in by_name {
            gvks.sort_by_key(Value::to_string);
            if let Some(Value::Object(schema)) = self.schemas.get_mut(&name) {
                schema.insert(GVK.to_owned(), Value::Array(gvks));
            }
        }
    }

    /// The strategic merge patch's merge keys as `x-kubernetes-patch-merge-key` and
    /// `x-kubernetes-patch-strategy`. The table is keyed by list field and by the name of the field
    /// holding the object, so definitions are walked from the top-level kinds, each one reached
    /// through its first field.
    fn add_patch_extensions(&mut self) {
        let mut reached: BTreeSet<String> = BTreeSet::new();
        let mut pending: Vec<(String, String)> = self
            .kinds
            .values()
            .map(|name| (name.clone(), String::new()))
            .collect();
        pending.reverse();
        while let Some((name, via)) = pending.pop() {
            if !reached.insert(name.clone()) {
                continue;
            }
            let Some(Value::Object(properties)) = self
                .schemas
                .get_mut(&name)
                .and_then(|schema| schema.get_mut("properties"))
            else {
                continue;
            };
            let mut next = Vec::new();
            for (field, property) in properties.iter_mut() {
                let Value::Object(property) = property else {
                    continue;
                };
                if property.get("type").and_then(Value::as_str) == Some("array") {
                    if strategic_merge::merges_primitives(field) {
                        property.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
                    } else if let Some(key) = strategic_merge::merge_key(field, &via) {
                        property.insert("x-kubernetes-patch-merge-key".into(), json!(key));
                        property.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
                    }
                }
                for_each_ref(&Value::Object(property.clone()), &mut |target| {
                    next.push((target.to_owned(), field.clone()));
                });
            }
            next.reverse();
            pending.extend(next);
        }
    }
}

/// Fixes what k8s-openapi's output says differently from upstream's published definitions.
fn upstream_shape(name: &str, schema: &mut Value) {
    let Value::Object(fields) = schema else {
        return;
    };
    match name {
        QUANTITY => {
            fields.remove("x-kubernetes-int-or-string");
            fields.insert("type".into(), json!("string"));
        }
        INT_OR_STRING => {
            fields.remove("x-kubernetes-int-or-string");
            fields.insert("type".into(), json!("string"));
            fields.insert("format".into(), json!("int-or-string"));
        }
        _ => {}
    }
    let top_level = fields
        .get("properties")
        .is_some_and(|p| p.get("apiVersion").is_some() && p.get("kind").is_some());
    if top_level && let Some(Value::Array(required)) = fields.get_mut("required") {
        required.retain(|field| field != "metadata");
    }
    if fields
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        fields.remove("required");
    }
}

/// Calls `found` with the definition name of every reference inside `schema`.
pub fn for_each_ref(schema: &Value, found: &mut impl FnMut(&str)) {
    match schema {
        Value::Object(fields) => {
            for (key, value) in fields {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix(V2_PREFIX) {
                            found(name);
                        }
                    }
                    // Descriptions and extensions hold no schemas.
                    ("description", Value::String(_)) => {}
                    (key, _) if key.starts_with("x-") => {}
                    _ => for_each_ref(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| for_each_ref(item, found)),
        _ => {}
    }
}

/// The v3 form of a canonical schema: references into `#/components/schemas/`, and a reference with
/// siblings (a description) wrapped in `allOf`, which OpenAPI 3.0 requires.
pub fn to_v3(schema: &Value) -> Value {
    match schema {
        Value::Object(fields) => {
            let mut out = Map::with_capacity(fields.len());
            let mut reference = None;
            for (key, value) in fields {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        let name = target.strip_prefix(V2_PREFIX).unwrap_or(target);
                        reference = Some(json!({"$ref": format!("{V3_PREFIX}{name}")}));
                    }
                    (key, _) if key.starts_with("x-") => {
                        out.insert(key.to_owned(), value.clone());
                    }
                    ("description", Value::String(_)) => {
                        out.insert(key.to_owned(), value.clone());
                    }
                    _ => {
                        out.insert(key.clone(), to_v3(value));
                    }
                }
            }
            match reference {
                Some(reference) if out.is_empty() => reference,
                Some(reference) => {
                    out.insert("allOf".into(), json!([reference]));
                    Value::Object(out)
                }
                None => Value::Object(out),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}
