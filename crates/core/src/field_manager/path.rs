//! Path elements and paths into an object, as structured-merge-diff names them: a field (`f:name`), a
//! list item by its key fields (`k:{"name":"web"}`), a set member by value (`v:"a"`) or an atomic list
//! item by index (`i:0`); printed in conflict messages as `.spec.containers[name="web"].image`.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::status::go_quote;

/// One step from a value to a child.
#[derive(Debug, Clone, PartialEq)]
pub enum PathElement {
    /// A field of a map or struct.
    Field(String),
    /// An item of an associative list, by its key fields (sorted by name).
    Key(Vec<(String, Value)>),
    /// An item of a set, by its value.
    Value(Value),
    /// An item of an atomic list, by position.
    Index(usize),
}

/// A path from the root of an object.
pub type Path = Vec<PathElement>;

impl PathElement {
    /// A field element.
    pub fn field(name: &str) -> Self {
        PathElement::Field(name.to_owned())
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The element as a fieldsV1 key: `f:name`, `k:{"name":"web"}`, `v:"a"`, `i:0`.
    pub fn to_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut out = String::from("k:{");
                for (index, (name, value)) in fields.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_json_string(&mut out, name);
                    out.push(':');
                    write_json(&mut out, value);
                }
                out.push('}');
                out
            }
            PathElement::Value(value) => {
                let mut out = String::from("v:");
                write_json(&mut out, value);
                out
            }
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parses a fieldsV1 key; `Ok(None)` for an element type this version does not know (ignored,
    /// as upstream does).
    pub fn from_key(key: &str) -> Result<Option<Self>, String> {
        let Some((kind, rest)) = key.split_at_checked(2) else {
            return Err(format!("key must be 2 characters long: {key:?}"));
        };
        let element = match kind {
            "f:" => PathElement::Field(rest.to_owned()),
            "v:" => PathElement::Value(
                serde_json::from_str(rest).map_err(|error| format!("{key}: {error}"))?,
            ),
            "k:" => {
                let fields: serde_json::Map<String, Value> =
                    serde_json::from_str(rest).map_err(|error| format!("{key}: {error}"))?;
                PathElement::Key(fields.into_iter().collect())
            }
            "i:" => PathElement::Index(rest.parse().map_err(|_| format!("invalid index: {key}"))?),
            _ if kind.ends_with(':') => return Ok(None),
            _ => return Err(format!("missing colon: {key}")),
        };
        Ok(Some(element))
    }
}

impl Eq for PathElement {}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((name_a, value_a), (name_b, value_b)) in a.iter().zip(b) {
                    let order = name_a
                        .cmp(name_b)
                        .then_with(|| compare_values(value_a, value_b));
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// structured-merge-diff's total order of values: numbers, strings, booleans, lists, maps, null.
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(value: &Value) -> u8 {
        match value {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x.total_cmp(&y)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (x, y) in x.iter().zip(y) {
                let order = compare_values(x, y);
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            for ((kx, vx), (ky, vy)) in x.iter().zip(y) {
                let order = kx.cmp(ky).then_with(|| compare_values(vx, vy));
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

impl fmt::Display for PathElement {
    /// As in conflict messages: `.name`, `[name="web",port=80]`, `[="a"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", value_text(value)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(value) => write!(f, "[={}]", value_text(value)),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A path as upstream prints it: its elements one after the other (`.spec.replicas`).
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A value as structured-merge-diff's `value.ToString` prints it: strings quoted, the rest as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => go_quote(text),
        other => other.to_string(),
    }
}

/// Writes `value` as Go's `encoding/json` does (HTML-safe escapes), so keys match upstream's bytes.
pub(crate) fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::String(text) => write_json_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (index, (name, item)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json_string(out, name);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(ch)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_round_trip_like_upstream() {
        let key = PathElement::Key(vec![
            ("containerPort".into(), json!(80)),
            ("protocol".into(), json!("TCP")),
        ]);
        assert_eq!(key.to_key(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert_eq!(PathElement::from_key(&key.to_key()), Ok(Some(key.clone())));
        assert_eq!(key.to_string(), r#"[containerPort=80,protocol="TCP"]"#);
        let value = PathElement::Value(json!("a<b"));
        assert_eq!(value.to_key(), r#"v:"a\u003cb""#);
        assert_eq!(PathElement::from_key(r#"v:"a\u003cb""#), Ok(Some(value)));
        assert_eq!(
            PathElement::from_key("i:3"),
            Ok(Some(PathElement::Index(3)))
        );
        assert_eq!(PathElement::from_key("z:whatever"), Ok(None));
        assert!(PathElement::from_key("f").is_err());
        assert!(PathElement::from_key("k:{").is_err());
    }

    #[test]
    fn order_and_text() {
        let mut elements = [
            PathElement::Index(0),
            PathElement::Value(json!("x")),
            PathElement::Key(vec![("port".into(), json!(443))]),
            PathElement::Key(vec![("port".into(), json!(80))]),
            PathElement::field("b"),
            PathElement::field("a"),
        ];
        elements.sort();
        assert_eq!(
            elements.iter().map(PathElement::to_key).collect::<Vec<_>>(),
            [
                "f:a",
                "f:b",
                r#"k:{"port":80}"#,
                r#"k:{"port":443}"#,
                r#"v:"x""#,
                "i:0"
            ]
        );
        let path = vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            PathElement::Key(vec![("name".into(), json!("web"))]),
            PathElement::field("image"),
        ];
        assert_eq!(path_string(&path), r#".spec.containers[name="web"].image"#);
    }
}
