//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on JSON objects.

use serde_json::{Map, Value};

use crate::status::{self, StatusError};

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
pub fn merge(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            let existing = target.remove(key).unwrap_or(Value::Null);
            target.insert(key.clone(), merge(existing, value));
        }
    }
    Value::Object(target)
}

/// RFC 6902 operations: add, remove, replace, move, copy, test.
pub fn json_patch(mut document: Value, patch: &Value) -> Result<Value, StatusError> {
    let operations = patch
        .as_array()
        .ok_or_else(|| status::bad_request("a JSON patch must be an array of operations"))?;
    for operation in operations {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
        let value = operation.get("value").cloned();
        match op {
            "add" => add(&mut document, path, value.unwrap_or(Value::Null))?,
            "remove" => {
                remove(&mut document, path)?;
            }
            "replace" => {
                remove(&mut document, path)?;
                add(&mut document, path, value.unwrap_or(Value::Null))?;
            }
            "move" | "copy" => {
                let from = operation.get("from").and_then(Value::as_str).unwrap_or("");
                let moved = if op == "move" {
                    remove(&mut document, from)?
                } else {
                    document
                        .pointer(from)
                        .cloned()
                        .ok_or_else(|| missing(from))?
                };
                add(&mut document, path, moved)?;
            }
            "test" => {
                if document.pointer(path) != value.as_ref() {
                    return Err(status::invalid_patch(&format!(
                        "the test operation at {path:?} failed"
                    )));
                }
            }
            other => {
                return Err(status::bad_request(&format!(
                    "unknown JSON patch operation {other:?}"
                )));
            }
        }
    }
    Ok(document)
}

fn missing(path: &str) -> StatusError {
    status::invalid_patch(&format!("the path {path:?} does not exist"))
}

fn split(path: &str) -> Result<(String, String), StatusError> {
    let (parent, last) = path.rsplit_once('/').ok_or_else(|| missing(path))?;
    Ok((
        parent.to_owned(),
        last.replace("~1", "/").replace("~0", "~"),
    ))
}

fn add(document: &mut Value, path: &str, value: Value) -> Result<(), StatusError> {
    if path.is_empty() {
        *document = value;
        return Ok(());
    }
    let (parent, last) = split(path)?;
    match document.pointer_mut(&parent).ok_or_else(|| missing(path))? {
        Value::Object(map) => {
            map.insert(last, value);
        }
        Value::Array(list) => {
            let index = if last == "-" {
                list.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|index| *index <= list.len())
                    .ok_or_else(|| missing(path))?
            };
            list.insert(index, value);
        }
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn remove(document: &mut Value, path: &str) -> Result<Value, StatusError> {
    let (parent, last) = split(path)?;
    match document.pointer_mut(&parent).ok_or_else(|| missing(path))? {
        Value::Object(map) => map.remove(&last).ok_or_else(|| missing(path)),
        Value::Array(list) => {
            let index = last
                .parse::<usize>()
                .ok()
                .filter(|index| *index < list.len())
                .ok_or_else(|| missing(path))?;
            Ok(list.remove(index))
        }
        _ => Err(missing(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"x": "y"}});
        let patched = merge(
            target,
            &json!({"metadata": {"labels": {"b": null, "c": "3"}}}),
        );
        assert_eq!(
            patched,
            json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "data": {"x": "y"}})
        );
    }

    #[test]
    fn json_patches() {
        let document = json!({"spec": {"replicas": 1, "list": [1, 2]}});
        let patched = json_patch(
            document,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/spec/list/-", "value": 3},
                {"op": "remove", "path": "/spec/list/0"},
                {"op": "test", "path": "/spec/replicas", "value": 3}
            ]),
        )
        .expect("valid patch");
        assert_eq!(patched, json!({"spec": {"replicas": 3, "list": [2, 3]}}));
        assert!(json_patch(json!({}), &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }
}
