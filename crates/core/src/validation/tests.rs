//! Validation cases with upstream's messages.

use serde_json::json;

use super::{validate, validate_update};
use crate::registry;

fn info(resource: (&str, &str)) -> &'static registry::ResourceInfo {
    ["v1", "v2"]
        .iter()
        .find_map(|version| registry::find(resource.0, version, resource.1))
        .expect("resource")
}

fn messages(resource: (&str, &str), object: serde_json::Value) -> Vec<String> {
    validate(info(resource), &object)
        .iter()
        .map(|cause| cause.line())
        .collect()
}

fn update_messages(
    resource: (&str, &str),
    old: serde_json::Value,
    new: serde_json::Value,
) -> Vec<String> {
    validate_update(info(resource), &old, &new)
        .iter()
        .map(|cause| cause.line())
        .collect()
}

#[test]
fn pods() {
    assert!(
        messages(
            ("", "pods"),
            json!({"spec": {"containers": [{"name": "a", "image": "x"}]}})
        )
        .is_empty()
    );
    assert_eq!(
        messages(
            ("", "pods"),
            json!({"spec": {"containers": [{"name": "a"}, {"name": "a", "image": "y"}]}})
        ),
        [
            "spec.containers[0].image: Required value",
            "spec.containers[1].name: Duplicate value: \"a\""
        ]
    );
    assert_eq!(
        messages(("", "pods"), json!({"spec": {}})),
        ["spec.containers: Required value"]
    );
}

#[test]
fn deployment_selector_must_match_the_template() {
    let deployment = json!({"spec": {"selector": {"matchLabels": {"app": "a"}},
        "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "x"}]}}}});
    assert_eq!(
        messages(("apps", "deployments"), deployment),
        [
            "spec.template.metadata.labels: Invalid value: {\"app\":\"b\"}: `selector` does not match template `labels`"
        ]
    );
}

#[test]
fn metadata_labels_annotations_and_owners() {
    let pod = json!({
        "metadata": {
            "labels": {"bad key": "ok", "app": "not ok!"},
            "annotations": {"example.com/x": "fine"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n"}]
        },
        "spec": {"containers": [{"name": "a", "image": "x"}]}
    });
    assert_eq!(
        messages(("", "pods"), pod),
        [
            "metadata.labels: Invalid value: \"app\": ok".replace("\"app\": ok", "\"not ok!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
            "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_owned(),
            "metadata.ownerReferences[0].uid: Invalid value: \"\": uid must not be empty".to_owned(),
        ]
    );
    let huge = json!({"metadata": {"annotations": {"a": "x".repeat(300 * 1024)}}, "data": {}});
    assert_eq!(
        messages(("", "configmaps"), huge),
        ["metadata.annotations: Too long: may not be more than 262144 bytes"]
    );
}

#[test]
fn pod_spec_details() {
    let pod = json!({"spec": {
        "restartPolicy": "Sometimes",
        "volumes": [{"name": "data", "emptyDir": {}, "hostPath": {"path": "/x"}}, {"name": "none"}],
        "containers": [{
            "name": "a", "image": "x",
            "ports": [{"containerPort": 70000, "protocol": "HTTP"}],
            "env": [{"name": "A=B"}],
            "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1", "memory": "lots"}},
            "volumeMounts": [{"name": "missing", "mountPath": "/m"}, {"name": "data", "mountPath": "/m"}],
            "livenessProbe": {"successThreshold": 2}
        }]
    }});
    assert_eq!(
        messages(("", "pods"), pod),
        [
            "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[1]: Required value: must specify a volume type",
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/m\": must be unique",
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
        ]
    );
}

#[test]
fn pod_updates_change_only_upstreams_fields() {
    let pod = |image: &str, node: &str| {
        json!({"spec": {"nodeName": node, "restartPolicy": "Always",
            "tolerations": [{"key": "a", "operator": "Exists"}],
            "containers": [{"name": "a", "image": image}]}})
    };
    assert!(update_messages(("", "pods"), pod("x", "n1"), pod("y", "n1")).is_empty());
    let mut more_tolerations = pod("x", "n1");
    more_tolerations["spec"]["tolerations"]
        .as_array_mut()
        .expect("list")
        .push(json!({"key": "b", "operator": "Exists"}));
    assert!(update_messages(("", "pods"), pod("x", "n1"), more_tolerations).is_empty());
    let changed = update_messages(("", "pods"), pod("x", "n1"), pod("x", "n2"));
    assert_eq!(changed.len(), 1);
    assert!(
        changed[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"),
        "{changed:?}"
    );
}

#[test]
fn services() {
    assert_eq!(
        messages(("", "services"), json!({"spec": {"type": "ClusterIP"}})),
        ["spec.ports: Required value"]
    );
    assert!(messages(("", "services"), json!({"spec": {"clusterIP": "None"}})).is_empty());
    assert_eq!(
        messages(
            ("", "services"),
            json!({"spec": {"type": "ClusterIP", "ports": [
                {"port": 80, "nodePort": 30080}, {"name": "b", "port": 0, "targetPort": "Web_1"}]}})
        ),
        [
            "spec.ports[0].name: Required value",
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
            "spec.ports[1].port: Required value",
            "spec.ports[1].targetPort: Invalid value: \"Web_1\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        ]
    );
    assert_eq!(
        messages(("", "services"), json!({"spec": {"type": "ExternalName"}})),
        ["spec.externalName: Required value"]
    );
}

#[test]
fn config_maps_and_secrets() {
    assert_eq!(
        messages(
            ("", "configmaps"),
            json!({"data": {"a b": "1", "k": "2"}, "binaryData": {"k": "Mg=="}})
        ),
        [
            "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[k]: Invalid value: \"k\": duplicate of key present in binaryData",
        ]
    );
    assert_eq!(
        messages(
            ("", "secrets"),
            json!({"type": "kubernetes.io/tls", "data": {"tls.crt": ""}})
        ),
        ["data[tls.key]: Required value"]
    );
    let frozen = json!({"immutable": true, "data": {"a": "1"}});
    assert_eq!(
        update_messages(
            ("", "configmaps"),
            frozen.clone(),
            json!({"immutable": false, "data": {"a": "2"}})
        ),
        [
            "immutable: Forbidden: field is immutable when `immutable` is set",
            "data: Forbidden: field is immutable when `immutable` is set",
        ]
    );
    assert_eq!(
        update_messages(
            ("", "secrets"),
            json!({"type": "Opaque"}),
            json!({"type": "kubernetes.io/basic-auth"})
        ),
        ["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]
    );
}

#[test]
fn workloads() {
    let template = json!({"metadata": {"labels": {"app": "a"}},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "x"}]}});
    let deployment = json!({"spec": {"replicas": -1, "selector": {"matchLabels": {"app": "a"}},
        "template": template,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}});
    assert_eq!(
        messages(("apps", "deployments"), deployment),
        [
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
        ]
    );
    let empty = json!({"spec": {"selector": {}, "template": template}});
    assert_eq!(
        messages(("apps", "replicasets"), empty),
        ["spec.selector: Invalid value: {}: empty selector is invalid for replicaset"]
    );
    let job = json!({"spec": {"template": template}});
    assert_eq!(
        messages(("batch", "jobs"), job),
        [
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        ]
    );
    let cron = json!({"metadata": {"name": "c"}, "spec": {"schedule": "* * *", "jobTemplate": {"spec": {"template": {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}}}});
    assert_eq!(
        messages(("batch", "cronjobs"), cron),
        ["spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: * * *"]
    );
    let selected = |app: &str| {
        json!({"spec": {"selector": {"matchLabels": {"app": app}}, "template": {
            "metadata": {"labels": {"app": app}}, "spec": template["spec"]}}})
    };
    assert_eq!(
        update_messages(("apps", "deployments"), selected("a"), selected("b")),
        ["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"b\"}}: field is immutable"]
    );
    let set = |service: &str| {
        json!({"spec": {"serviceName": service, "selector": {"matchLabels": {"app": "a"}},
            "template": template}})
    };
    assert_eq!(
        update_messages(("apps", "statefulsets"), set("a"), set("b")),
        [
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        ]
    );
}

#[test]
fn storage_and_access() {
    assert_eq!(
        messages(("", "persistentvolumeclaims"), json!({"spec": {}})),
        [
            "spec.accessModes: Required value: at least 1 access mode is required",
            "spec.resources[storage]: Required value",
        ]
    );
    let claim = |name: &str, size: &str| {
        json!({"spec": {"accessModes": ["ReadWriteOnce"], "volumeName": name,
            "resources": {"requests": {"storage": size}}, "storageClassName": "local-path"}})
    };
    assert!(
        update_messages(
            ("", "persistentvolumeclaims"),
            claim("", "1Gi"),
            claim("pv-1", "2Gi")
        )
        .is_empty()
    );
    assert_eq!(
        update_messages(
            ("", "persistentvolumeclaims"),
            claim("pv-1", "1Gi"),
            claim("pv-2", "1Gi")
        ),
        [
            "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        ]
    );
    let class = |provisioner: &str| json!({"provisioner": provisioner});
    assert_eq!(
        update_messages(("storage.k8s.io", "storageclasses"), class("a"), class("b")),
        ["provisioner: Forbidden: updates to provisioner are forbidden."]
    );
    let binding = |role: &str| json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}});
    assert_eq!(
        update_messages(
            ("rbac.authorization.k8s.io", "rolebindings"),
            binding("view"),
            binding("edit")
        ),
        [
            "roleRef: Invalid value: {\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"edit\"}: cannot change roleRef"
        ]
    );
    let priority = |value: i64| json!({"metadata": {"name": "high"}, "value": value});
    assert_eq!(
        messages(
            ("scheduling.k8s.io", "priorityclasses"),
            priority(2_000_000_000)
        ),
        ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    );
    assert_eq!(
        update_messages(
            ("scheduling.k8s.io", "priorityclasses"),
            priority(1),
            priority(2)
        ),
        ["value: Forbidden: may not be changed in an update."]
    );
}
