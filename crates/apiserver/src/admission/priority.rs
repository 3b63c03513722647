//! `Priority`: a new pod gets the value and preemption policy of its `priorityClassName` (403 when no
//! such class exists), or priority 0 and `PreemptLowerPriority` without one; an update keeps the
//! stored priority.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Attributes, MutatingPlugin, Operation, Reads, forbidden};
use crate::errors::ApiError;

/// The `Priority` plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct Priority;

#[async_trait]
impl MutatingPlugin for Priority {
    fn name(&self) -> &'static str {
        "Priority"
    }

    async fn admit(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if !attributes.is_core("pods") {
            return Ok(());
        }
        match attributes.operation {
            Operation::Create => {
                let class = object
                    .pointer("/spec/priorityClassName")
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned);
                let (priority, policy) = match class {
                    None => (json!(0), json!("PreemptLowerPriority")),
                    Some(name) => {
                        let key = format!("/registry/priorityclasses/{name}");
                        let Some(class) = store
                            .object("scheduling.k8s.io", "v1", "priorityclasses", &key)
                            .await?
                        else {
                            return Err(forbidden(
                                attributes,
                                object,
                                &format!("no PriorityClass with name {name} was found"),
                                &[],
                            ));
                        };
                        (
                            class.get("value").cloned().unwrap_or(json!(0)),
                            class
                                .get("preemptionPolicy")
                                .cloned()
                                .unwrap_or(json!("PreemptLowerPriority")),
                        )
                    }
                };
                if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("priority".into(), priority);
                    spec.entry("preemptionPolicy").or_insert(policy);
                }
            }
            Operation::Update => {
                let Some(old_spec) = old.and_then(|old| old.get("spec")) else {
                    return Ok(());
                };
                if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                    for field in ["priority", "preemptionPolicy"] {
                        if spec.get(field).is_none_or(Value::is_null)
                            && let Some(stored) = old_spec.get(field)
                        {
                            spec.insert(field.into(), stored.clone());
                        }
                    }
                }
            }
            Operation::Delete => {}
        }
        Ok(())
    }
}
