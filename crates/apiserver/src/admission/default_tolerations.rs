//! `DefaultTolerationSeconds`: pods tolerate the `not-ready` and `unreachable` taints for 300
//! seconds unless they say otherwise.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Attributes, MutatingPlugin, Operation, Reads};
use crate::errors::ApiError;

/// Seconds a pod stays bound to a node that is not ready or unreachable.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// The `DefaultTolerationSeconds` plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultTolerationSeconds;

#[async_trait]
impl MutatingPlugin for DefaultTolerationSeconds {
    fn name(&self) -> &'static str {
        "DefaultTolerationSeconds"
    }

    async fn admit(
        &self,
        _store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        _old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if attributes.is_core("pods") && attributes.operation != Operation::Delete {
            add_tolerations(object);
        }
        Ok(())
    }
}

/// Adds the default tolerations a pod lacks.
fn add_tolerations(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let slot = spec.entry("tolerations").or_insert_with(|| json!([]));
    if slot.is_null() {
        *slot = json!([]);
    }
    let Some(tolerations) = slot.as_array_mut() else {
        return;
    };
    for taint in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = tolerations.iter().any(|toleration| {
            let effect_matches = matches!(
                toleration.get("effect").and_then(Value::as_str),
                None | Some("") | Some("NoExecute")
            );
            let key = toleration.get("key").and_then(Value::as_str).unwrap_or("");
            effect_matches
                && (key == taint
                    || key.is_empty()
                        && toleration.get("operator").and_then(Value::as_str) == Some("Exists"))
        });
        if !tolerated {
            tolerations.push(json!({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_missing_tolerations_once() {
        let mut pod = json!({"spec": {"tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
        ]}});
        add_tolerations(&mut pod);
        add_tolerations(&mut pod);
        let tolerations = pod["spec"]["tolerations"].as_array().expect("list");
        assert_eq!(tolerations.len(), 2);
        assert_eq!(tolerations[0]["tolerationSeconds"], 10);
        assert_eq!(tolerations[1]["key"], "node.kubernetes.io/unreachable");
        assert_eq!(tolerations[1]["tolerationSeconds"], 300);
        let mut everything = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        add_tolerations(&mut everything);
        assert_eq!(
            everything["spec"]["tolerations"].as_array().map(Vec::len),
            Some(1)
        );
    }
}
