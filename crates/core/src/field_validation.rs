//! Server-side field validation (`fieldValidation=Ignore|Warn|Strict`, upstream's default `Warn`):
//! fields a kind's schema does not have are found and dropped from the object (upstream drops them
//! when it decodes into its types), and duplicate keys of a JSON body are found. `Warn` reports each
//! as a warning (`unknown field "spec.foo"`), `Strict` refuses the request with all of them
//! (`strict decoding error: unknown field "spec.foo", duplicate field "metadata"`).
//!
//! The schemas come from the OpenAPI definitions (`crate::openapi`), boiled down once, on first use,
//! to a compact tree of field names per type: no descriptions are kept.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::openapi::Definitions;
use crate::openapi::schemas::V2_PREFIX;

/// What to do with unknown and duplicate fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Directive {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop unknown fields and warn about them and about duplicates (the default).
    #[default]
    Warn,
    /// Refuse the request if there are any.
    Strict,
}

impl Directive {
    /// The accepted values, as upstream lists them.
    pub const VALUES: [&'static str; 3] = ["Ignore", "Strict", "Warn"];

    /// Parses the query parameter; empty means the default, `Warn`.
    pub fn parse(value: &str) -> Option<Directive> {
        match value {
            "" | "Warn" => Some(Directive::Warn),
            "Ignore" => Some(Directive::Ignore),
            "Strict" => Some(Directive::Strict),
            _ => None,
        }
    }
}

/// One strict-decoding problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A field the schema does not have, by path (`spec.containers[0].foo`).
    Unknown(String),
    /// A key given twice in one JSON object, by path.
    Duplicate(String),
}

impl fmt::Display for Problem {
    /// Upstream's wording: `unknown field "spec.foo"`, `duplicate field "metadata"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unknown(path) => write!(f, "unknown field {}", quote(path)),
            Problem::Duplicate(path) => write!(f, "duplicate field {}", quote(path)),
        }
    }
}

/// Upstream's strict decoding message for `problems`.
pub fn strict_message(problems: &[Problem]) -> String {
    let listed: Vec<String> = problems.iter().map(Problem::to_string).collect();
    format!("strict decoding error: {}", listed.join(", "))
}

/// Go's `%q` for the paths here: quotes, with `"` and `\` escaped.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Drops the fields of `object` that the schema of `group`/`version`/`kind` lacks and returns their
/// paths; a kind without a schema is left alone.
pub fn prune_unknown(group: &str, version: &str, kind: &str, object: &mut Value) -> Vec<Problem> {
    let shapes = Shapes::get();
    let Some(root) = shapes.root(group, version, kind) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut path = String::new();
    shapes.prune(root, object, &mut path, &mut found);
    found
}

/// The duplicate keys of a JSON document, by path; nothing for a body that is not JSON.
pub fn duplicate_fields(body: &[u8]) -> Vec<Problem> {
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let scan = Scan {
        path: String::new(),
        found: &mut found,
    };
    if scan.deserialize(&mut deserializer).is_err() {
        return Vec::new();
    }
    found
}

type ShapeId = u32;
const ANY: ShapeId = 0;
const SCALAR: ShapeId = 1;

/// The fields of one type.
#[derive(Debug)]
enum Shape {
    /// Anything goes (free-form objects, values without a type).
    Any,
    /// A string, number or boolean.
    Scalar,
    /// An object with these fields, sorted by name.
    Object(Box<[(Box<str>, ShapeId)]>),
    /// A map of values of one shape.
    Map(ShapeId),
    /// A list of values of one shape.
    Array(ShapeId),
    /// The same as another type.
    Alias(ShapeId),
}

/// Every type's shape, and the shape of each kind.
#[derive(Debug)]
struct Shapes {
    shapes: Vec<Shape>,
    kinds: BTreeMap<(String, String, String), ShapeId>,
}

impl Shapes {
    fn get() -> &'static Shapes {
        static SHAPES: OnceLock<Shapes> = OnceLock::new();
        SHAPES.get_or_init(|| Shapes::from_definitions(&Definitions::generate()))
    }

    fn from_definitions(definitions: &Definitions) -> Shapes {
        let mut shapes = vec![Shape::Any, Shape::Scalar];
        let ids: BTreeMap<&str, ShapeId> = definitions
            .schemas
            .keys()
            .enumerate()
            .map(|(index, name)| (name.as_str(), (index + 2) as ShapeId))
            .collect();
        shapes.extend(definitions.schemas.keys().map(|_| Shape::Any));
        for (name, schema) in &definitions.schemas {
            let before = shapes.len();
            let shape = match shape_of(schema, &ids, &mut shapes) {
                ANY => Shape::Any,
                SCALAR => Shape::Scalar,
                id if id as usize + 1 == shapes.len() && shapes.len() > before => {
                    shapes.pop().unwrap_or(Shape::Any)
                }
                id => Shape::Alias(id),
            };
            if let Some(&id) = ids.get(name.as_str()) {
                shapes[id as usize] = shape;
            }
        }
        let kinds = definitions
            .kinds
            .iter()
            .filter_map(|((group, version, kind), name)| {
                let id = *ids.get(name.as_str())?;
                Some((
                    (
                        (*group).to_owned(),
                        (*version).to_owned(),
                        (*kind).to_owned(),
                    ),
                    id,
                ))
            })
            .collect();
        shapes.shrink_to_fit();
        Shapes { shapes, kinds }
    }

    fn root(&self, group: &str, version: &str, kind: &str) -> Option<ShapeId> {
        self.kinds
            .get(&(group.to_owned(), version.to_owned(), kind.to_owned()))
            .copied()
    }

    fn prune(&self, id: ShapeId, value: &mut Value, path: &mut String, found: &mut Vec<Problem>) {
        let Some(shape) = self.shapes.get(id as usize) else {
            return;
        };
        let length = path.len();
        match (shape, value) {
            (Shape::Alias(other), value) => self.prune(*other, value, path, found),
            (Shape::Object(fields), Value::Object(object)) => {
                let mut unknown = Vec::new();
                for (key, child) in object.iter_mut() {
                    push_field(path, key);
                    match fields.binary_search_by(|(name, _)| name.as_ref().cmp(key.as_str())) {
                        Ok(index) => self.prune(fields[index].1, child, path, found),
                        Err(_) => {
                            found.push(Problem::Unknown(path.clone()));
                            unknown.push(key.clone());
                        }
                    }
                    path.truncate(length);
                }
                for key in unknown {
                    object.remove(&key);
                }
            }
            (Shape::Map(child_shape), Value::Object(object)) => {
                for (key, child) in object.iter_mut() {
                    path.push('[');
                    path.push_str(key);
                    path.push(']');
                    self.prune(*child_shape, child, path, found);
                    path.truncate(length);
                }
            }
            (Shape::Array(child_shape), Value::Array(items)) => {
                for (index, child) in items.iter_mut().enumerate() {
                    path.push_str(&format!("[{index}]"));
                    self.prune(*child_shape, child, path, found);
                    path.truncate(length);
                }
            }
            _ => {}
        }
    }
}

fn push_field(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// The shape of one schema; inline ones are added to `shapes`.
fn shape_of(schema: &Value, ids: &BTreeMap<&str, ShapeId>, shapes: &mut Vec<Shape>) -> ShapeId {
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|target| target.strip_prefix(V2_PREFIX))
    {
        return ids.get(name).copied().unwrap_or(ANY);
    }
    let shape = match schema.get("type").and_then(Value::as_str) {
        Some("array") => match schema.get("items") {
            Some(items) => Shape::Array(shape_of(items, ids, shapes)),
            None => return ANY,
        },
        Some("object") | None => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                let mut fields: Vec<(Box<str>, ShapeId)> = properties
                    .iter()
                    .map(|(name, property)| (name.as_str().into(), shape_of(property, ids, shapes)))
                    .collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Shape::Object(fields.into_boxed_slice())
            } else if let Some(values) =
                schema.get("additionalProperties").filter(|v| v.is_object())
            {
                Shape::Map(shape_of(values, ids, shapes))
            } else {
                return ANY;
            }
        }
        Some(_) => return SCALAR,
    };
    shapes.push(shape);
    (shapes.len() - 1) as ShapeId
}

/// Walks a JSON document and records keys repeated within one object.
struct Scan<'a> {
    path: String,
    found: &'a mut Vec<Problem>,
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let scan = Scan {
                path: format!("{}[{index}]", self.path),
                found: &mut *self.found,
            };
            if seq.next_element_seed(scan)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let mut path = self.path.clone();
            push_field(&mut path, &key);
            if !seen.insert(key) {
                self.found.push(Problem::Duplicate(path.clone()));
            }
            map.next_value_seed(Scan {
                path,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_found_and_dropped() {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "b"}, "bogus": 1,
                "managedFields": [{"fieldsV1": {"f:spec": {"f:anything": {}}}}]},
            "spec": {"foo": true, "containers": [{"name": "c", "image": "i", "colour": "red",
                "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80, "x": 1}]}]},
        });
        let found = prune_unknown("", "v1", "Pod", &mut pod);
        let messages: Vec<String> = found.iter().map(Problem::to_string).collect();
        assert_eq!(
            messages,
            [
                "unknown field \"metadata.bogus\"",
                "unknown field \"spec.containers[0].colour\"",
                "unknown field \"spec.containers[0].ports[0].x\"",
                "unknown field \"spec.foo\"",
            ]
        );
        assert_eq!(
            pod,
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "labels": {"a": "b"},
                    "managedFields": [{"fieldsV1": {"f:spec": {"f:anything": {}}}}]},
                "spec": {"containers": [{"name": "c", "image": "i",
                    "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80}]}]},
            })
        );
        assert_eq!(
            strict_message(&found[3..]),
            "strict decoding error: unknown field \"spec.foo\""
        );
    }

    #[test]
    fn every_kind_has_a_shape_and_a_clean_object_passes() {
        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                "template": {"metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "d", "image": "nginx"}]}}},
            "status": {"conditions": [{"type": "Available", "status": "True"}]}});
        assert!(prune_unknown("apps", "v1", "Deployment", &mut deployment).is_empty());
        for info in crate::registry::RESOURCES {
            assert!(
                Shapes::get()
                    .root(info.group, info.version, info.kind)
                    .is_some(),
                "{} has no shape",
                info.kind
            );
        }
        let mut unknown_kind = json!({"x": 1});
        assert!(prune_unknown("example.com", "v1", "Thing", &mut unknown_kind).is_empty());
    }

    #[test]
    fn duplicate_keys_are_found_by_path() {
        let body = br#"{"metadata": {"name": "a", "name": "b"}, "spec": {"containers": [{"name": "c", "image": "i", "image": "j"}]}, "spec2": 1, "spec2": 2}"#;
        let messages: Vec<String> = duplicate_fields(body)
            .iter()
            .map(Problem::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "duplicate field \"metadata.name\"",
                "duplicate field \"spec.containers[0].image\"",
                "duplicate field \"spec2\"",
            ]
        );
        assert!(duplicate_fields(b"not json").is_empty());
        assert_eq!(Directive::parse(""), Some(Directive::Warn));
        assert_eq!(Directive::parse("Strict"), Some(Directive::Strict));
        assert_eq!(Directive::parse("strict"), None);
    }
}
