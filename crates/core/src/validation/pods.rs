//! Pod specs as upstream's `ValidatePodSpec` checks them (containers, ports, env, resources, probes,
//! volumes and mounts, policies, tolerations), and `ValidatePodUpdate`'s rule of which spec fields
//! a pod update may change.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{meta, names};
use crate::quantity::Quantity;
use crate::status::Cause;

/// The volume sources a pod volume may name (exactly one of them).
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// The probe handlers (exactly one of them).
const PROBE_HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "grpc"];

/// What a pod update may change, as upstream lists it.
const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn items<'a>(value: Option<&'a Value>, key: &str) -> &'a [Value] {
    value
        .and_then(|value| value.get(key))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn supported(value: &Value, key: &str, field: &str, allowed: &[&str], causes: &mut Vec<Cause>) {
    if let Some(found) = value.get(key).filter(|found| !found.is_null())
        && !found.as_str().is_some_and(|found| allowed.contains(&found))
    {
        causes.push(Cause::not_supported(field, found, allowed));
    }
}

/// The problems of a pod spec at `path` (`spec`, `spec.template.spec`, ...).
pub fn pod_spec(spec: Option<&Value>, path: &str, causes: &mut Vec<Cause>) {
    if items(spec, "containers").is_empty() {
        causes.push(Cause::required(&format!("{path}.containers"), ""));
    }
    let Some(spec) = spec else {
        return;
    };
    let volumes = volumes(spec, path, causes);
    let mut names = HashSet::new();
    for list in ["initContainers", "containers"] {
        for (index, container) in items(Some(spec), list).iter().enumerate() {
            let field = format!("{path}.{list}[{index}]");
            match text(container, "name").filter(|name| !name.is_empty()) {
                None => causes.push(Cause::required(&format!("{field}.name"), "")),
                Some(name) => {
                    for problem in names::dns_label(name) {
                        causes.push(Cause::invalid(
                            &format!("{field}.name"),
                            &json!(name),
                            &problem,
                        ));
                    }
                    if !names.insert(name.to_owned()) {
                        causes.push(Cause::duplicate(&format!("{field}.name"), &json!(name)));
                    }
                }
            }
            container_fields(container, &field, &volumes, list == "containers", causes);
        }
    }
    supported(
        spec,
        "restartPolicy",
        &format!("{path}.restartPolicy"),
        &["Always", "OnFailure", "Never"],
        causes,
    );
    supported(
        spec,
        "dnsPolicy",
        &format!("{path}.dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        causes,
    );
    if let Some(deadline) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64)
        && !(1..=i64::from(i32::MAX)).contains(&deadline)
    {
        causes.push(Cause::invalid(
            &format!("{path}.activeDeadlineSeconds"),
            &json!(deadline),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    meta::labels(
        spec.get("nodeSelector"),
        &format!("{path}.nodeSelector"),
        causes,
    );
    for (index, toleration) in items(Some(spec), "tolerations").iter().enumerate() {
        let field = format!("{path}.tolerations[{index}]");
        supported(
            toleration,
            "operator",
            &format!("{field}.operator"),
            &["Equal", "Exists"],
            causes,
        );
        supported(
            toleration,
            "effect",
            &format!("{field}.effect"),
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            causes,
        );
        if text(toleration, "operator") == Some("Exists")
            && text(toleration, "value").is_some_and(|value| !value.is_empty())
        {
            causes.push(Cause::invalid(
                &format!("{field}.operator"),
                &json!(toleration["value"]),
                "value must be empty when `operator` is 'Exists'",
            ));
        }
    }
}

/// Checks the pod's volumes; returns their names.
fn volumes(spec: &Value, path: &str, causes: &mut Vec<Cause>) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (index, volume) in items(Some(spec), "volumes").iter().enumerate() {
        let field = format!("{path}.volumes[{index}]");
        match text(volume, "name").filter(|name| !name.is_empty()) {
            None => causes.push(Cause::required(&format!("{field}.name"), "")),
            Some(name) => {
                for problem in names::dns_label(name) {
                    causes.push(Cause::invalid(
                        &format!("{field}.name"),
                        &json!(name),
                        &problem,
                    ));
                }
                if !seen.insert(name.to_owned()) {
                    causes.push(Cause::duplicate(&format!("{field}.name"), &json!(name)));
                }
            }
        }
        let sources: Vec<&str> = VOLUME_SOURCES
            .iter()
            .copied()
            .filter(|source| volume.get(*source).is_some_and(|value| !value.is_null()))
            .collect();
        match sources.as_slice() {
            [] => causes.push(Cause::required(&field, "must specify a volume type")),
            [_] => {}
            [_, extra @ ..] => {
                for source in extra {
                    causes.push(Cause::forbidden(
                        &format!("{field}.{source}"),
                        "may not specify more than 1 volume type",
                    ));
                }
            }
        }
    }
    seen
}

fn container_fields(
    container: &Value,
    field: &str,
    volumes: &HashSet<String>,
    regular: bool,
    causes: &mut Vec<Cause>,
) {
    if text(container, "image").is_none_or(|image| image.trim().is_empty()) {
        causes.push(Cause::required(&format!("{field}.image"), ""));
    }
    supported(
        container,
        "imagePullPolicy",
        &format!("{field}.imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        causes,
    );
    ports(container, field, causes);
    for (index, variable) in items(Some(container), "env").iter().enumerate() {
        let at = format!("{field}.env[{index}].name");
        match text(variable, "name").filter(|name| !name.is_empty()) {
            None => causes.push(Cause::required(&at, "")),
            Some(name) => {
                for problem in names::env_var_name(name) {
                    causes.push(Cause::invalid(&at, &json!(name), &problem));
                }
            }
        }
    }
    resources(
        container.get("resources"),
        &format!("{field}.resources"),
        causes,
    );
    let mut mount_paths = HashSet::new();
    for (index, mount) in items(Some(container), "volumeMounts").iter().enumerate() {
        let at = format!("{field}.volumeMounts[{index}]");
        match text(mount, "name").filter(|name| !name.is_empty()) {
            None => causes.push(Cause::required(&format!("{at}.name"), "")),
            Some(name) if !volumes.contains(name) => {
                causes.push(Cause::not_found(&format!("{at}.name"), &json!(name)));
            }
            Some(_) => {}
        }
        match text(mount, "mountPath").filter(|path| !path.is_empty()) {
            None => causes.push(Cause::required(&format!("{at}.mountPath"), "")),
            Some(path) => {
                if !mount_paths.insert(path.to_owned()) {
                    causes.push(Cause::invalid(
                        &format!("{at}.mountPath"),
                        &json!(path),
                        "must be unique",
                    ));
                }
            }
        }
    }
    if regular {
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(spec) = container.get(probe).filter(|spec| spec.is_object()) {
                self::probe(
                    spec,
                    &format!("{field}.{probe}"),
                    probe != "readinessProbe",
                    causes,
                );
            }
        }
    }
}

fn ports(container: &Value, field: &str, causes: &mut Vec<Cause>) {
    let mut port_names = HashSet::new();
    for (index, port) in items(Some(container), "ports").iter().enumerate() {
        let at = format!("{field}.ports[{index}]");
        match port.get("containerPort").and_then(Value::as_i64) {
            None | Some(0) => causes.push(Cause::required(&format!("{at}.containerPort"), "")),
            Some(number) if !(1..=65535).contains(&number) => causes.push(Cause::invalid(
                &format!("{at}.containerPort"),
                &json!(number),
                "must be between 1 and 65535, inclusive",
            )),
            Some(_) => {}
        }
        if let Some(host) = port.get("hostPort").and_then(Value::as_i64)
            && host != 0
            && !(1..=65535).contains(&host)
        {
            causes.push(Cause::invalid(
                &format!("{at}.hostPort"),
                &json!(host),
                "must be between 1 and 65535, inclusive",
            ));
        }
        supported(
            port,
            "protocol",
            &format!("{at}.protocol"),
            &["SCTP", "TCP", "UDP"],
            causes,
        );
        if let Some(name) = text(port, "name").filter(|name| !name.is_empty()) {
            for problem in names::port_name(name) {
                causes.push(Cause::invalid(
                    &format!("{at}.name"),
                    &json!(name),
                    &problem,
                ));
            }
            if !port_names.insert(name.to_owned()) {
                causes.push(Cause::duplicate(&format!("{at}.name"), &json!(name)));
            }
        }
    }
}

/// Requests and limits: valid quantities, and no request above its limit.
pub fn resources(resources: Option<&Value>, path: &str, causes: &mut Vec<Cause>) {
    let Some(resources) = resources else {
        return;
    };
    let mut parsed = |part: &str| -> Vec<(String, Quantity)> {
        let Some(map) = resources.get(part).and_then(Value::as_object) else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|(name, value)| {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                match Quantity::parse(&text) {
                    Some(quantity) if quantity.milli_value() >= 0 => Some((name.clone(), quantity)),
                    Some(_) => {
                        causes.push(Cause::invalid(
                            &format!("{path}.{part}[{name}]"),
                            &json!(text),
                            "must be greater than or equal to 0",
                        ));
                        None
                    }
                    None => {
                        causes.push(Cause::invalid(
                            &format!("{path}.{part}[{name}]"),
                            &json!(text),
                            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                        ));
                        None
                    }
                }
            })
            .collect()
    };
    let limits = parsed("limits");
    let requests = parsed("requests");
    for (name, request) in &requests {
        let Some((_, limit)) = limits.iter().find(|(limit_name, _)| limit_name == name) else {
            continue;
        };
        if request.milli_value() > limit.milli_value() {
            causes.push(Cause::invalid(
                &format!("{path}.requests"),
                &json!(raw_quantity(resources, "requests", name)),
                &format!(
                    "must be less than or equal to {name} limit of {}",
                    raw_quantity(resources, "limits", name)
                ),
            ));
        }
    }
}

/// A quantity of `resources[part][name]` as the client wrote it.
fn raw_quantity(resources: &Value, part: &str, name: &str) -> String {
    match resources.get(part).and_then(|map| map.get(name)) {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn probe(spec: &Value, path: &str, single_success: bool, causes: &mut Vec<Cause>) {
    let handlers: Vec<&str> = PROBE_HANDLERS
        .iter()
        .copied()
        .filter(|handler| spec.get(*handler).is_some_and(|value| !value.is_null()))
        .collect();
    match handlers.as_slice() {
        [] => causes.push(Cause::required(path, "must specify a handler type")),
        [_] => {}
        [_, extra @ ..] => {
            for handler in extra {
                causes.push(Cause::forbidden(
                    &format!("{path}.{handler}"),
                    "may not specify more than 1 handler type",
                ));
            }
        }
    }
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(value) = spec.get(field).and_then(Value::as_i64)
            && value < 0
        {
            causes.push(Cause::invalid(
                &format!("{path}.{field}"),
                &json!(value),
                "must be greater than or equal to 0",
            ));
        }
    }
    if single_success
        && let Some(threshold) = spec.get("successThreshold").and_then(Value::as_i64)
        && threshold != 1
    {
        causes.push(Cause::invalid(
            &format!("{path}.successThreshold"),
            &json!(threshold),
            "must be 1",
        ));
    }
}

/// `ValidatePodUpdate`'s spec rule: only images, `activeDeadlineSeconds`, added tolerations,
/// `terminationGracePeriodSeconds` and removed scheduling gates may change.
pub fn pod_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let (Some(old_spec), Some(new_spec)) = (old.get("spec"), new.get("spec")) else {
        return;
    };
    if let (Some(old_deadline), new_deadline) = (
        old_spec
            .get("activeDeadlineSeconds")
            .and_then(Value::as_i64),
        new_spec
            .get("activeDeadlineSeconds")
            .and_then(Value::as_i64),
    ) && new_deadline.is_none_or(|new_deadline| new_deadline > old_deadline)
    {
        causes.push(Cause::invalid(
            "spec.activeDeadlineSeconds",
            &new_deadline.map_or(Value::Null, |deadline| json!(deadline)),
            "must be less than or equal to previous value",
        ));
    }
    let mut munged = new_spec.clone();
    for list in ["containers", "initContainers"] {
        let old_images: Vec<Value> = items(Some(old_spec), list)
            .iter()
            .map(|container| container.get("image").cloned().unwrap_or(Value::Null))
            .collect();
        if let Some(containers) = munged.get_mut(list).and_then(Value::as_array_mut)
            && containers.len() == old_images.len()
        {
            for (container, image) in containers.iter_mut().zip(old_images) {
                if let Some(container) = container.as_object_mut() {
                    container.insert("image".into(), image);
                }
            }
        }
    }
    let Some(fields) = munged.as_object_mut() else {
        return;
    };
    for field in ["activeDeadlineSeconds", "terminationGracePeriodSeconds"] {
        match old_spec.get(field) {
            Some(value) => fields.insert(field.into(), value.clone()),
            None => fields.remove(field),
        };
    }
    let old_tolerations = items(Some(old_spec), "tolerations");
    let added_only = old_tolerations
        .iter()
        .all(|toleration| items(Some(new_spec), "tolerations").contains(toleration));
    if added_only {
        match old_spec.get("tolerations") {
            Some(value) => fields.insert("tolerations".into(), value.clone()),
            None => fields.remove("tolerations"),
        };
    }
    let old_gates = items(Some(old_spec), "schedulingGates");
    let gates_removed = items(Some(new_spec), "schedulingGates")
        .iter()
        .all(|gate| old_gates.contains(gate));
    if gates_removed {
        match old_spec.get("schedulingGates") {
            Some(value) => fields.insert("schedulingGates".into(), value.clone()),
            None => fields.remove("schedulingGates"),
        };
    }
    if &munged != old_spec {
        causes.push(Cause::forbidden(
            "spec",
            &format!("pod updates may not change fields other than {UPDATABLE_POD_FIELDS}"),
        ));
    }
}
