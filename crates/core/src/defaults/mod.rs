//! Defaulting like upstream's `SetDefaults_*` functions: applied to every object a client writes,
//! before admission and validation.

mod pods;
mod services;
mod storage;
mod workloads;

use serde_json::Value;

use crate::registry::ResourceInfo;

/// Fills the defaults of `object`, a `info` resource, in place.
pub fn apply(info: &ResourceInfo, object: &mut Value) {
    match (info.group, info.resource) {
        ("", "pods") => pods::pod(object),
        ("", "podtemplates") => {
            if let Some(template) = object.get_mut("template") {
                pods::template(template);
            }
        }
        ("", "replicationcontrollers") => workloads::replication_controller(object),
        ("", "secrets") => {
            merge_string_data(object);
            or_insert(object, "type", serde_json::json!("Opaque"));
        }
        ("", "services") => services::service(object),
        ("", "persistentvolumes") => storage::persistent_volume(object),
        ("", "persistentvolumeclaims") => storage::persistent_volume_claim(object),
        ("storage.k8s.io", "storageclasses") => storage::storage_class(object),
        ("apps", "deployments") => workloads::deployment(object),
        ("apps", "replicasets") => workloads::replica_set(object),
        ("apps", "statefulsets") => workloads::stateful_set(object),
        ("apps", "daemonsets") => workloads::daemon_set(object),
        ("batch", "jobs") => workloads::job(object),
        ("batch", "cronjobs") => workloads::cron_job(object),
        _ => {}
    }
}

/// Moves a Secret's write-only `stringData` into `data` (base64), overriding keys of the same name,
/// as upstream's conversion does: `stringData` is never stored or returned.
fn merge_string_data(secret: &mut Value) {
    use base64::Engine;
    let Some(fields) = secret.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = fields.remove("stringData") else {
        return;
    };
    if strings.is_empty() {
        return;
    }
    let data = fields
        .entry("data")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !data.is_object() {
        *data = Value::Object(serde_json::Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in strings {
            let text = value.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, Value::String(encoded));
        }
    }
}

/// The status upstream's `PrepareForCreate` gives a new object of the resource `info`, replacing
/// whatever the client sent (status is written through the status subresource); `None` where a
/// client's status is kept (nodes, and resources without status).
pub fn initial_status(info: &ResourceInfo) -> Option<Value> {
    use serde_json::json;
    Some(match (info.group, info.resource) {
        ("", "pods") => json!({"phase": "Pending"}),
        ("", "services") => json!({"loadBalancer": {}}),
        ("", "persistentvolumes" | "persistentvolumeclaims") => json!({"phase": "Pending"}),
        ("", "replicationcontrollers" | "resourcequotas")
        | ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets")
        | ("batch", "jobs" | "cronjobs")
        | ("policy", "poddisruptionbudgets")
        | ("networking.k8s.io", "ingresses") => json!({}),
        _ => return None,
    })
}

/// Sets `object[key]` to `value` when it is missing or null; returns the field.
fn or_insert<'a>(object: &'a mut Value, key: &str, value: Value) -> Option<&'a mut Value> {
    let map = object.as_object_mut()?;
    let slot = map.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = value;
    }
    Some(slot)
}

#[cfg(test)]
mod tests;
