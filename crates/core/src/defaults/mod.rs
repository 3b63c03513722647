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
