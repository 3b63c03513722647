//! The fields each resource can be selected by (`?fieldSelector=`), as upstream's field label
//! conversion functions and `GetAttrs` define them: every resource has `metadata.name` and (when
//! namespaced) `metadata.namespace`; a few add their own, e.g. pods' `spec.nodeName` and
//! `status.phase`. A selectable field the object does not set has upstream's zero value (`""`, `0`,
//! `false`), so `spec.nodeName=` selects unscheduled pods.

use serde_json::Value;

/// A selectable field: its label and the text it has when the object leaves it unset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldLabel {
    /// The label, e.g. `spec.nodeName`.
    pub name: &'static str,
    /// Where the value is in the object, as dotted path (the label itself for most).
    pub path: &'static str,
    /// The value when the object does not set the field.
    pub absent: &'static str,
}

const fn label(name: &'static str) -> FieldLabel {
    FieldLabel {
        name,
        path: name,
        absent: "",
    }
}

const fn with_absent(name: &'static str, absent: &'static str) -> FieldLabel {
    FieldLabel {
        name,
        path: name,
        absent,
    }
}

const METADATA: &[FieldLabel] = &[label("metadata.name"), label("metadata.namespace")];

const PODS: &[FieldLabel] = &[
    label("metadata.name"),
    label("metadata.namespace"),
    label("spec.nodeName"),
    with_absent("spec.restartPolicy", "Always"),
    with_absent("spec.schedulerName", "default-scheduler"),
    label("spec.serviceAccountName"),
    with_absent("spec.hostNetwork", "false"),
    label("status.phase"),
    label("status.podIP"),
    label("status.nominatedNodeName"),
];

const NODES: &[FieldLabel] = &[
    label("metadata.name"),
    with_absent("spec.unschedulable", "false"),
];

const NAMESPACES: &[FieldLabel] = &[label("metadata.name"), label("status.phase")];

const SECRETS: &[FieldLabel] = &[
    label("metadata.name"),
    label("metadata.namespace"),
    with_absent("type", "Opaque"),
];

const SERVICES: &[FieldLabel] = &[
    label("metadata.name"),
    label("metadata.namespace"),
    label("spec.clusterIP"),
    with_absent("spec.type", "ClusterIP"),
];

const EVENTS: &[FieldLabel] = &[
    label("metadata.name"),
    label("metadata.namespace"),
    label("involvedObject.kind"),
    label("involvedObject.namespace"),
    label("involvedObject.name"),
    label("involvedObject.uid"),
    label("involvedObject.apiVersion"),
    label("involvedObject.resourceVersion"),
    label("involvedObject.fieldPath"),
    label("reason"),
    label("reportingComponent"),
    FieldLabel {
        name: "source",
        path: "source.component",
        absent: "",
    },
    label("type"),
];

const REPLICATED: &[FieldLabel] = &[
    label("metadata.name"),
    label("metadata.namespace"),
    with_absent("status.replicas", "0"),
];

const JOBS: &[FieldLabel] = &[
    label("metadata.name"),
    label("metadata.namespace"),
    with_absent("status.successful", "0"),
];

const CERTIFICATE_SIGNING_REQUESTS: &[FieldLabel] =
    &[label("metadata.name"), label("spec.signerName")];

/// The selectable fields of a resource.
pub fn field_labels(group: &str, resource: &str) -> &'static [FieldLabel] {
    match (group, resource) {
        ("", "pods") => PODS,
        ("", "nodes") => NODES,
        ("", "namespaces") => NAMESPACES,
        ("", "secrets") => SECRETS,
        ("", "services") => SERVICES,
        ("", "events") => EVENTS,
        ("", "replicationcontrollers") | ("apps", "replicasets") => REPLICATED,
        ("batch", "jobs") => JOBS,
        ("certificates.k8s.io", "certificatesigningrequests") => CERTIFICATE_SIGNING_REQUESTS,
        _ => METADATA,
    }
}

/// Checks that `name` selects a field of the resource, with upstream's error text.
pub fn check(labels: &[FieldLabel], name: &str) -> Result<(), String> {
    if labels.iter().any(|label| label.name == name) {
        Ok(())
    } else {
        Err(format!("field label not supported: {name}"))
    }
}

/// The value of the selectable field `name` of `object` as text; `None` for a field the resource
/// cannot be selected by.
pub fn value(labels: &[FieldLabel], object: &Value, name: &str) -> Option<String> {
    let label = labels.iter().find(|label| label.name == name)?;
    let found = label
        .path
        .split('.')
        .try_fold(object, |value, part| value.get(part))
        .filter(|value| !value.is_null());
    Some(match found {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => label.absent.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unset_fields_have_upstreams_zero_values() {
        let pods = field_labels("", "pods");
        let pod = json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true}, "status": {}});
        assert_eq!(value(pods, &pod, "spec.nodeName").as_deref(), Some(""));
        assert_eq!(
            value(pods, &pod, "spec.hostNetwork").as_deref(),
            Some("true")
        );
        assert_eq!(value(pods, &pod, "metadata.name").as_deref(), Some("p"));
        assert_eq!(value(pods, &pod, "spec.containers"), None);
        let nodes = field_labels("", "nodes");
        assert_eq!(
            value(nodes, &json!({"spec": {}}), "spec.unschedulable").as_deref(),
            Some("false")
        );
        let events = field_labels("", "events");
        let event = json!({"source": {"component": "kubelet"}});
        assert_eq!(value(events, &event, "source").as_deref(), Some("kubelet"));
    }

    #[test]
    fn unknown_labels_are_refused_with_upstreams_text() {
        assert_eq!(
            check(field_labels("", "configmaps"), "data.x"),
            Err("field label not supported: data.x".to_owned())
        );
        assert!(check(field_labels("apps", "deployments"), "metadata.namespace").is_ok());
        assert!(check(field_labels("", "pods"), "status.phase").is_ok());
    }
}
