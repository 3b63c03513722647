//! RBAC and scheduling objects: a binding's `roleRef` cannot change, role rules need verbs, and a
//! PriorityClass's value and preemption policy are fixed at creation, with upstream's ceiling for
//! user-defined priorities.

use serde_json::{Value, json};

use crate::status::Cause;

/// The highest priority a PriorityClass outside the `system-` names may have.
pub const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;

/// The problems of a Role or ClusterRole: every rule names verbs.
pub fn role(object: &Value, causes: &mut Vec<Cause>) {
    let rules = object
        .get("rules")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (index, rule) in rules.iter().enumerate() {
        if rule
            .get("verbs")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            causes.push(Cause::required(
                &format!("rules[{index}].verbs"),
                "verbs must contain at least one value",
            ));
        }
    }
}

/// The problems of a RoleBinding or ClusterRoleBinding: a role to refer to.
pub fn binding(object: &Value, causes: &mut Vec<Cause>) {
    let role_ref = object.get("roleRef");
    for field in ["kind", "name"] {
        if role_ref
            .and_then(|role| role.get(field))
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(Cause::required(&format!("roleRef.{field}"), ""));
        }
    }
}

/// A binding's `roleRef` is fixed.
pub fn binding_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if old.get("roleRef") != new.get("roleRef") {
        causes.push(Cause::invalid(
            "roleRef",
            new.get("roleRef").unwrap_or(&Value::Null),
            "cannot change roleRef",
        ));
    }
}

/// The problems of a PriorityClass.
pub fn priority_class(object: &Value, causes: &mut Vec<Cause>) {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let value = object.get("value").and_then(Value::as_i64);
    if !name.starts_with("system-")
        && let Some(value) = value
        && value > HIGHEST_USER_PRIORITY
    {
        causes.push(Cause::forbidden(
            "value",
            &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    if let Some(policy) = object.get("preemptionPolicy").and_then(Value::as_str)
        && !matches!(policy, "Never" | "PreemptLowerPriority")
    {
        causes.push(Cause::not_supported(
            "preemptionPolicy",
            &json!(policy),
            &["Never", "PreemptLowerPriority"],
        ));
    }
}

/// A PriorityClass keeps its value and preemption policy.
pub fn priority_class_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if old.get("value") != new.get("value") {
        causes.push(Cause::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    if old.get("preemptionPolicy") != new.get("preemptionPolicy") {
        causes.push(Cause::invalid(
            "preemptionPolicy",
            new.get("preemptionPolicy").unwrap_or(&Value::Null),
            "field is immutable",
        ));
    }
}
