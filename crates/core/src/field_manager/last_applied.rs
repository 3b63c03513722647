//! Living with client-side apply: when `kubectl apply --server-side` (manager `kubectl`) takes over an
//! object client-side apply made, conflicts on fields whose live value is still the one in the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation are allowed, and the annotation is
//! kept in step with what was applied (upstream's `lastAppliedManager` and `lastAppliedUpdater`).

use serde_json::{Map, Value};

use super::compare::compare;
use super::fieldset::to_field_set;
use super::path::write_json;
use super::set::Set;

/// The annotation client-side apply keeps.
pub const ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The only manager whose applies read and write the annotation.
pub const KUBECTL: &str = "kubectl";

/// Upstream's limit on the total size of an object's annotations.
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

/// The annotation's value on `object`, when present and not empty.
pub fn last_applied(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(ANNOTATION))
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// The fields whose conflicts the annotation allows: those it names whose live value it still has.
pub fn allowed_conflicts(live: &Value) -> Option<Set> {
    let last: Value = serde_json::from_str(last_applied(live)?).ok()?;
    let fields = to_field_set(&last, false).ok()?;
    let comparison = compare(Some(&last), live);
    Some(fields.difference(&comparison.modified))
}

/// The annotation for an applied configuration: the configuration without the annotation itself,
/// as Go's JSON encoder writes it (sorted keys, a final newline).
pub fn build(config: &Value) -> String {
    let mut config = config.clone();
    if let Some(Value::Object(annotations)) = config.pointer_mut("/metadata/annotations") {
        annotations.remove(ANNOTATION);
    }
    let mut out = String::new();
    write_json(&mut out, &config);
    out.push('\n');
    out
}

/// Sets the annotation on `object`, or removes it when the annotations would grow past the limit.
pub fn set(object: &mut Value, value: String) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    let Some(annotations) = annotations.as_object_mut() else {
        return;
    };
    annotations.insert(ANNOTATION.to_owned(), Value::String(value));
    let size: usize = annotations
        .iter()
        .map(|(key, value)| key.len() + value.as_str().map_or(0, str::len))
        .sum();
    if size > ANNOTATIONS_LIMIT {
        annotations.remove(ANNOTATION);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::field_manager::path::PathElement;

    #[test]
    fn allows_fields_still_at_their_applied_value() {
        let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 2, "paused": false}});
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "annotations": {ANNOTATION: build(&applied)}},
            "spec": {"replicas": 2, "paused": true}});
        let allowed = allowed_conflicts(&live).expect("annotation");
        let path = |name: &str| [PathElement::field("spec"), PathElement::field(name)];
        assert!(allowed.has(&path("replicas")));
        assert!(!allowed.has(&path("paused")));
        assert!(build(&applied).ends_with("}\n"));
        assert_eq!(allowed_conflicts(&json!({"metadata": {}})), None);
    }

    #[test]
    fn set_respects_the_size_limit() {
        let mut object = json!({"metadata": {}});
        set(&mut object, "{}\n".into());
        assert_eq!(last_applied(&object), Some("{}\n"));
        set(&mut object, "x".repeat(ANNOTATIONS_LIMIT));
        assert_eq!(last_applied(&object), None);
    }
}
