//! Validation of objects as upstream's `pkg/apis/*/validation` does it, with its field paths and
//! messages: every object's metadata (`meta`), and per resource its spec: pods and pod templates
//! (`pods`), services (`services`), ConfigMaps and Secrets (`config`), workloads (`workloads`; Job specs and their policies in `jobs`),
//! storage (`storage`), RBAC and priority classes (`access`). [`validate`] checks an object written
//! by create or update, [`validate_update`] adds the rules about what an update may change.

mod access;
mod config;
mod job_policies;
mod jobs;
mod meta;
pub mod names;
mod pods;
mod services;
mod storage;
mod workloads;

use serde_json::Value;

use crate::registry::ResourceInfo;
use crate::status::Cause;

pub use meta::{TOTAL_ANNOTATION_SIZE, name_problems};

/// The problems of `object`, a `info` resource; empty when it is valid.
pub fn validate(info: &ResourceInfo, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    meta::metadata(object, &mut causes);
    match (info.group, info.resource) {
        ("", "pods") => pods::pod_spec(object.get("spec"), "spec", &mut causes),
        ("", "podtemplates") => {
            meta::labels(
                object.pointer("/template/metadata/labels"),
                "template.metadata.labels",
                &mut causes,
            );
            pods::pod_spec(
                object.pointer("/template/spec"),
                "template.spec",
                &mut causes,
            );
        }
        ("", "services") => services::service(object, &mut causes),
        ("", "configmaps") => config::config_map(object, &mut causes),
        ("", "secrets") => config::secret(object, &mut causes),
        ("", "persistentvolumeclaims") => storage::claim(object, &mut causes),
        ("", "persistentvolumes") => storage::volume(object, &mut causes),
        ("", "replicationcontrollers") => {
            pods::pod_spec(
                object.pointer("/spec/template/spec"),
                "spec.template.spec",
                &mut causes,
            );
        }
        ("apps", "deployments") => workloads::apps(object, "deployment", &mut causes),
        ("apps", "replicasets") => workloads::apps(object, "replicaset", &mut causes),
        ("apps", "statefulsets") => workloads::apps(object, "statefulset", &mut causes),
        ("apps", "daemonsets") => workloads::apps(object, "daemonset", &mut causes),
        ("batch", "jobs") => workloads::job(object, &mut causes),
        ("batch", "cronjobs") => workloads::cron_job(object, &mut causes),
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => {
            access::role(object, &mut causes);
        }
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            access::binding(object, &mut causes);
        }
        ("scheduling.k8s.io", "priorityclasses") => access::priority_class(object, &mut causes),
        _ => {}
    }
    causes
}

/// The problems of updating `old` to `new`: [`validate`]'s, then the fields the update may not
/// change.
pub fn validate_update(info: &ResourceInfo, old: &Value, new: &Value) -> Vec<Cause> {
    let mut causes = validate(info, new);
    match (info.group, info.resource) {
        ("", "pods") => pods::pod_update(old, new, &mut causes),
        ("", "services") => services::service_update(old, new, &mut causes),
        ("", "configmaps") => config::config_update(old, new, false, &mut causes),
        ("", "secrets") => config::config_update(old, new, true, &mut causes),
        ("", "persistentvolumeclaims") => storage::claim_update(old, new, &mut causes),
        ("", "persistentvolumes") => storage::volume_update(old, new, &mut causes),
        ("storage.k8s.io", "storageclasses") => {
            storage::storage_class_update(old, new, &mut causes);
        }
        ("apps" | "batch", resource) => {
            workloads::workload_update(resource, old, new, &mut causes);
        }
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            access::binding_update(old, new, &mut causes);
        }
        ("scheduling.k8s.io", "priorityclasses") => {
            access::priority_class_update(old, new, &mut causes);
        }
        _ => {}
    }
    causes
}

#[cfg(test)]
mod tests;
