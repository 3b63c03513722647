//! Strategic merge patch, as kubectl's client-side `apply`, `set image` and `edit` send it: maps merge,
//! lists with a merge key merge element by element (`containers` by `name`, ...), and the directives
//! `$patch` (replace, delete, merge), `$setElementOrder/<list>`, `$retainKeys` and
//! `$deleteFromPrimitiveList/<list>` are honoured.
//!
//! The merge keys come from a table of the built-in types' list fields (upstream's
//! `patchMergeKey`/`patchStrategy` tags), chosen by field name and, for `ports`, by whether the list is
//! a container's. Lists without a merge key are replaced, as upstream does.

use serde_json::{Map, Value};

/// The merge key of the list field `name` inside `parent` (the field that holds the list's object),
/// or `None` when the list is replaced whole. The OpenAPI documents publish the same keys.
pub fn merge_key(name: &str, parent: &str) -> Option<&'static str> {
    Some(match name {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "topologySpreadConstraints" => "topologyKey",
        "ports"
            if matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) =>
        {
            "containerPort"
        }
        "ports" => "port",
        _ => return None,
    })
}

/// Lists of scalars that merge as sets instead of being replaced.
pub fn merges_primitives(name: &str) -> bool {
    name == "finalizers"
}

/// Applies a strategic merge `patch` to `original`.
pub fn apply(original: Value, patch: &Value) -> Value {
    merge_value(original, patch, "")
}

/// Merges `patch` into `original`, the value of the field `name`.
fn merge_value(original: Value, patch: &Value, name: &str) -> Value {
    match patch {
        Value::Object(patch) => merge_map(original, patch, name),
        other => other.clone(),
    }
}

fn merge_map(original: Value, patch: &Map<String, Value>, name: &str) -> Value {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = patch.clone();
            replaced.remove("$patch");
            return Value::Object(strip_directives(replaced));
        }
        Some("delete") => return Value::Null,
        _ => {}
    }
    let mut target = match original {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            target.remove(key);
            continue;
        }
        let existing = target.remove(key).unwrap_or(Value::Null);
        let merged = match value {
            Value::Array(items) => {
                let order = patch
                    .get(&format!("$setElementOrder/{key}"))
                    .and_then(Value::as_array);
                merge_list(existing, items, key, name, order)
            }
            _ => merge_value(existing, value, key),
        };
        if !merged.is_null() {
            target.insert(key.clone(), merged);
        }
    }
    // `$deleteFromPrimitiveList/<list>: [...]` removes those scalars.
    for (key, value) in patch {
        if let (Some(list), Some(remove)) = (
            key.strip_prefix("$deleteFromPrimitiveList/"),
            value.as_array(),
        ) && let Some(Value::Array(items)) = target.get_mut(list)
        {
            items.retain(|item| !remove.contains(item));
        }
    }
    // A `$setElementOrder/<list>` without the list itself still reorders it.
    for (key, value) in patch {
        if let (Some(list), Some(order)) = (key.strip_prefix("$setElementOrder/"), value.as_array())
            && !patch.contains_key(list)
            && let Some(Value::Array(items)) = target.get_mut(list)
            && let Some(merge_key) = merge_key(list, name)
        {
            let taken = std::mem::take(items);
            *items = reorder(taken, order, merge_key);
        }
    }
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        target.retain(|key, _| retain.iter().any(|kept| kept.as_str() == Some(key)));
    }
    Value::Object(target)
}

fn merge_list(
    original: Value,
    patch: &[Value],
    name: &str,
    parent: &str,
    order: Option<&Vec<Value>>,
) -> Value {
    let original = match original {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    if merges_primitives(name) {
        let mut merged = original;
        for item in patch {
            if !merged.contains(item) {
                merged.push(item.clone());
            }
        }
        return Value::Array(merged);
    }
    let Some(key) = merge_key(name, parent) else {
        return Value::Array(patch.iter().map(|item| strip_value(item.clone())).collect());
    };
    if patch
        .iter()
        .any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        let kept = patch
            .iter()
            .filter(|item| item.get("$patch").is_none())
            .map(|item| strip_value(item.clone()))
            .collect();
        return Value::Array(kept);
    }
    let mut merged = original;
    for item in patch {
        let id = item.get(key);
        let position = id.and_then(|id| {
            merged
                .iter()
                .position(|existing| existing.get(key) == Some(id))
        });
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(index), true) => {
                merged.remove(index);
            }
            (None, true) => {}
            (Some(index), false) => {
                let existing = std::mem::take(&mut merged[index]);
                merged[index] = match item {
                    Value::Object(fields) => merge_map(existing, fields, name),
                    other => other.clone(),
                };
            }
            (None, false) => merged.push(strip_value(item.clone())),
        }
    }
    Value::Array(match order {
        Some(order) => reorder(merged, order, key),
        None => merged,
    })
}

/// Puts `items` in the order `order` names them by `key`; items it does not name keep their place
/// after the named ones.
fn reorder(items: Vec<Value>, order: &[Value], key: &str) -> Vec<Value> {
    let mut remaining = items;
    let mut ordered = Vec::with_capacity(remaining.len());
    for wanted in order {
        if let Some(index) = remaining
            .iter()
            .position(|item| item.get(key) == wanted.get(key))
        {
            ordered.push(remaining.remove(index));
        }
    }
    ordered.extend(remaining);
    ordered
}

fn strip_directives(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(key, _)| !key.starts_with('$'))
        .map(|(key, value)| (key, strip_value(value)))
        .collect()
}

fn strip_value(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(strip_directives(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_value).collect()),
        other => other,
    }
}

/// The list table above as server-side apply reads it (`crate::field_manager::schema`): the merge
/// key of the list field `name` inside `parent`, and whether the list merges as a set of scalars.
pub(crate) fn list_merge(name: &str, parent: &str) -> (Option<&'static str>, bool) {
    (merge_key(name, parent), merges_primitives(name))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::apply;

    #[test]
    fn kubectl_apply_update_keeps_unpatched_container_fields() {
        let original = json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "busybox"}]}});
        let patch = json!({"metadata": {"labels": {"tier": "front"}},
            "spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                     "containers": [{"image": "nginx:1.28", "name": "web"}]}});
        assert_eq!(
            apply(original, &patch),
            json!({"metadata": {"labels": {"app": "web", "tier": "front"}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1.28", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                    {"name": "sidecar", "image": "busybox"}]}})
        );
    }

    #[test]
    fn directives() {
        let original = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}],
            "tolerations": [{"key": "x"}], "finalizers": ["f1"],
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {
            "containers": [{"name": "a", "$patch": "delete"}, {"name": "c"}],
            "tolerations": [{"key": "y"}],
            "finalizers": ["f2"],
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        assert_eq!(
            apply(original, &patch),
            json!({"spec": {"containers": [{"name": "b"}, {"name": "c"}],
                "tolerations": [{"key": "y"}], "finalizers": ["f1", "f2"],
                "strategy": {"type": "Recreate"}}})
        );
        let replaced = apply(
            json!({"data": {"a": "1"}}),
            &json!({"data": {"$patch": "replace", "b": "2"}}),
        );
        assert_eq!(replaced, json!({"data": {"b": "2"}}));
        let removed = apply(
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(removed, json!({"metadata": {"finalizers": ["b"]}}));
    }

    #[test]
    fn service_ports_merge_by_port() {
        let original =
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}});
        let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}});
        assert_eq!(
            apply(original, &patch),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090, "nodePort": 30080}]}})
        );
    }
}
