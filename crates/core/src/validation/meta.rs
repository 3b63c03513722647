//! Object metadata as upstream's `ValidateObjectMeta` checks it: the name by the resource's rule,
//! label keys and values, annotation keys and their total size, finalizers and owner references.

use serde_json::{Value, json};

use super::names;
use crate::registry::ResourceInfo;
use crate::status::Cause;

/// The largest total size of an object's annotations (keys and values), 256 KiB.
pub const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

/// The problems of `name` as the name of a `info` object, by the resource's rule: RFC 1123 labels
/// for namespaces, RFC 1035 labels for services, path segments for RBAC objects, else RFC 1123
/// subdomains (and at most 52 characters for CronJobs, whose Jobs add a suffix).
pub fn name_problems(info: &ResourceInfo, name: &str) -> Vec<String> {
    match (info.group, info.resource) {
        ("", "namespaces") => names::dns_label(name),
        ("", "services") => names::dns1035_label(name),
        ("rbac.authorization.k8s.io", _) => names::path_segment_name(name),
        ("batch", "cronjobs") => {
            let mut problems = names::dns_subdomain(name);
            if name.len() > 52 {
                problems.insert(0, "must be no more than 52 characters".to_owned());
            }
            problems
        }
        _ => names::dns_subdomain(name),
    }
}

/// The problems of the object's labels, annotations, finalizers and owner references.
pub fn metadata(object: &Value, causes: &mut Vec<Cause>) {
    let Some(metadata) = object.get("metadata") else {
        return;
    };
    labels(metadata.get("labels"), "metadata.labels", causes);
    if let Some(annotations) = metadata.get("annotations").and_then(Value::as_object) {
        let mut total = 0;
        for (key, value) in annotations {
            for problem in names::qualified_name(&key.to_ascii_lowercase()) {
                causes.push(Cause::invalid(
                    "metadata.annotations",
                    &json!(key),
                    &problem,
                ));
            }
            total += key.len() + value.as_str().map_or(0, str::len);
        }
        if total > TOTAL_ANNOTATION_SIZE {
            causes.push(Cause::too_long(
                "metadata.annotations",
                TOTAL_ANNOTATION_SIZE,
            ));
        }
    }
    if let Some(finalizers) = metadata.get("finalizers").and_then(Value::as_array) {
        for (index, finalizer) in finalizers.iter().enumerate() {
            let text = finalizer.as_str().unwrap_or("");
            for problem in names::qualified_name(text) {
                causes.push(Cause::invalid(
                    &format!("metadata.finalizers[{index}]"),
                    finalizer,
                    &problem,
                ));
            }
        }
    }
    if let Some(owners) = metadata.get("ownerReferences").and_then(Value::as_array) {
        let mut controllers = 0;
        for (index, owner) in owners.iter().enumerate() {
            let field = format!("metadata.ownerReferences[{index}]");
            for part in ["apiVersion", "kind", "name", "uid"] {
                if owner
                    .get(part)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    let detail = match part {
                        "apiVersion" => "version must not be empty",
                        "kind" => "kind must not be empty",
                        "name" => "name must not be empty",
                        _ => "uid must not be empty",
                    };
                    causes.push(Cause::invalid(
                        &format!("{field}.{part}"),
                        owner.get(part).unwrap_or(&json!("")),
                        detail,
                    ));
                }
            }
            if owner.get("controller").and_then(Value::as_bool) == Some(true) {
                controllers += 1;
            }
        }
        if controllers > 1 {
            causes.push(Cause::invalid(
                "metadata.ownerReferences",
                &Value::Array(owners.clone()),
                "Only one reference can have Controller set to true",
            ));
        }
    }
}

/// The problems of a label map at `path` (object labels, selectors' `matchLabels`, node selectors).
pub fn labels(labels: Option<&Value>, path: &str, causes: &mut Vec<Cause>) {
    let Some(labels) = labels.and_then(Value::as_object) else {
        return;
    };
    for (key, value) in labels {
        for problem in names::qualified_name(key) {
            causes.push(Cause::invalid(path, &json!(key), &problem));
        }
        let text = value.as_str().unwrap_or("");
        for problem in names::label_value(text) {
            causes.push(Cause::invalid(path, &json!(text), &problem));
        }
    }
}
