//! Pod defaults: `SetDefaults_Pod`, `SetDefaults_PodSpec`, `SetDefaults_Container`. What upstream's
//! ServiceAccount, DefaultTolerationSeconds and Priority admission plugins set on create is the API
//! server's admission chain's business.

use serde_json::{Value, json};

use super::or_insert;

/// A whole pod: its spec, and a Pending status with its QoS class.
pub fn pod(pod: &mut Value) {
    if let Some(spec) = pod.get_mut("spec") {
        spec_defaults(spec);
        deprecated_service_account(spec);
        requests_from_limits(spec);
    }
    let qos = pod.get("spec").map_or("BestEffort", qos_class);
    if let Some(status) = or_insert(pod, "status", json!({})) {
        or_insert(status, "phase", json!("Pending"));
        or_insert(status, "qosClass", json!(qos));
    }
}

/// A pod template (in workloads): the spec defaults only, as upstream.
pub fn template(template: &mut Value) {
    if let Some(spec) = template.get_mut("spec") {
        spec_defaults(spec);
    }
}

fn spec_defaults(spec: &mut Value) {
    or_insert(spec, "dnsPolicy", json!("ClusterFirst"));
    or_insert(spec, "restartPolicy", json!("Always"));
    or_insert(spec, "terminationGracePeriodSeconds", json!(30));
    or_insert(spec, "schedulerName", json!("default-scheduler"));
    or_insert(spec, "securityContext", json!({}));
    or_insert(spec, "enableServiceLinks", json!(true));
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            containers.iter_mut().for_each(container);
        }
    }
}

/// A container with limits but no request for a resource requests its limit (pods only, not
/// templates, as upstream's `SetDefaults_Pod`).
fn requests_from_limits(spec: &mut Value) {
    for list in ["containers", "initContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers {
            let Some(resources) = container
                .get_mut("resources")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
                continue;
            };
            let requests = resources.entry("requests").or_insert_with(|| json!({}));
            if requests.is_null() {
                *requests = json!({});
            }
            if let Some(requests) = requests.as_object_mut() {
                for (name, value) in limits {
                    requests.entry(name).or_insert(value);
                }
            }
        }
    }
}

/// The deprecated `serviceAccount` mirrors `serviceAccountName` (upstream's v1 conversion): either
/// one given fills the other.
fn deprecated_service_account(spec: &mut Value) {
    let account = ["serviceAccountName", "serviceAccount"]
        .iter()
        .find_map(|field| {
            spec.get(*field)
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
        })
        .map(str::to_owned);
    if let (Some(account), Some(map)) = (account, spec.as_object_mut()) {
        map.insert("serviceAccountName".into(), json!(account));
        map.insert("serviceAccount".into(), json!(account));
    }
}

fn container(container: &mut Value) {
    let policy = match container.get("image").and_then(Value::as_str) {
        Some(image) if !pulls_latest(image) => "IfNotPresent",
        _ => "Always",
    };
    or_insert(container, "imagePullPolicy", json!(policy));
    or_insert(
        container,
        "terminationMessagePath",
        json!("/dev/termination-log"),
    );
    or_insert(container, "terminationMessagePolicy", json!("File"));
    or_insert(container, "resources", json!({}));
    if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports {
            or_insert(port, "protocol", json!("TCP"));
        }
    }
}

/// Whether an image reference has no tag, or the `latest` tag, and no digest.
fn pulls_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

/// Guaranteed when every container has equal, non-empty CPU and memory requests and limits; BestEffort
/// when none has any; Burstable otherwise.
fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|list| spec.get(*list).and_then(Value::as_array))
        .flatten()
        .collect();
    let resources = |container: &Value, kind: &str| {
        container
            .pointer(&format!("/resources/{kind}"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let any = containers.iter().any(|container| {
        !resources(container, "requests").is_empty() || !resources(container, "limits").is_empty()
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|container| {
        let limits = resources(container, "limits");
        let requests = resources(container, "requests");
        ["cpu", "memory"].iter().all(|name| {
            limits
                .get(*name)
                .is_some_and(|limit| requests.get(*name).is_none_or(|request| request == limit))
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::pulls_latest;

    #[test]
    fn image_pull_policy_follows_the_tag() {
        for (image, latest) in [
            ("nginx", true),
            ("nginx:latest", true),
            ("nginx:1.27", false),
            ("registry:5000/nginx", true),
            ("registry:5000/nginx:1.2", false),
            ("nginx@sha256:abc", false),
        ] {
            assert_eq!(pulls_latest(image), latest, "{image}");
        }
    }
}
