//! Configuration, identities and bindings, cluster objects, policies and events.

use serde_json::{Value, json};

use super::{CREATED, check_cells, check_columns};

fn named(name: &str, rest: Value) -> Value {
    let mut object = json!({"metadata": {"name": name, "creationTimestamp": CREATED}});
    if let (Some(object), Some(rest)) = (object.as_object_mut(), rest.as_object()) {
        object.extend(rest.clone());
    }
    object
}

#[test]
fn config_maps_and_secrets_count_their_keys() {
    check_cells(
        "",
        "v1",
        "configmaps",
        named(
            "c",
            json!({"data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
        ),
        json!(["c", 3, "10m"]),
    );
    check_columns(
        "",
        "v1",
        "secrets",
        &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "",
        "v1",
        "secrets",
        named("s", json!({"type": "Opaque", "data": {"k": "dg=="}})),
        json!(["s", "Opaque", 1, "10m"]),
    );
}

#[test]
fn service_accounts() {
    check_columns(
        "",
        "v1",
        "serviceaccounts",
        &[
            ("Name", "string", 0),
            ("Secrets", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "",
        "v1",
        "serviceaccounts",
        named("default", json!({})),
        json!(["default", 0, "10m"]),
    );
    check_cells(
        "",
        "v1",
        "serviceaccounts",
        named("bot", json!({"secrets": [{"name": "bot-token"}]})),
        json!(["bot", 1, "10m"]),
    );
}

#[test]
fn role_bindings() {
    let columns = [
        ("Name", "string", 0),
        ("Role", "string", 0),
        ("Age", "string", 0),
        ("Users", "string", 1),
        ("Groups", "string", 1),
        ("ServiceAccounts", "string", 1),
    ];
    check_columns("rbac.authorization.k8s.io", "v1", "rolebindings", &columns);
    check_columns(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        &columns,
    );
    let subjects = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "namespace": "ci", "name": "runner"}, {"kind": "User", "name": "bob"}]});
    check_cells(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        named("view", subjects),
        json!([
            "view",
            "ClusterRole/view",
            "10m",
            "alice, bob",
            "devs",
            "ci/runner"
        ]),
    );
    check_cells(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        named(
            "nobody",
            json!({"roleRef": {"kind": "ClusterRole", "name": "edit"}}),
        ),
        json!(["nobody", "ClusterRole/edit", "10m", "", "", ""]),
    );
}

#[test]
fn nodes() {
    check_columns(
        "",
        "v1",
        "nodes",
        &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
    );
    check_cells(
        "",
        "v1",
        "nodes",
        named(
            "n1",
            json!({"metadata": {"name": "n1", "creationTimestamp": CREATED,
                                "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "edge",
                                           "node-role.kubernetes.io/": ""}},
                   "spec": {"unschedulable": true},
                   "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                             {"type": "Ready", "status": "True"}],
                              "addresses": [{"type": "InternalIP", "address": "10.0.0.2"},
                                            {"type": "ExternalIP", "address": "1.2.3.4"}],
                              "nodeInfo": {"kubeletVersion": "v1.34.0+kubers", "osImage": "Debian",
                                           "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1.6"}}}),
        ),
        json!([
            "n1",
            "Ready,SchedulingDisabled",
            "control-plane,edge",
            "10m",
            "v1.34.0+kubers",
            "10.0.0.2",
            "1.2.3.4",
            "Debian",
            "6.1",
            "containerd://1.6"
        ]),
    );
    check_cells(
        "",
        "v1",
        "nodes",
        named(
            "n2",
            json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
        ),
        json!([
            "n2",
            "NotReady",
            "<none>",
            "10m",
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ]),
    );
    check_cells(
        "",
        "v1",
        "nodes",
        named("n3", json!({})),
        json!([
            "n3",
            "Unknown",
            "<none>",
            "10m",
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ]),
    );
}

#[test]
fn leases_and_priority_classes() {
    check_columns(
        "coordination.k8s.io",
        "v1",
        "leases",
        &[
            ("Name", "string", 0),
            ("Holder", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "coordination.k8s.io",
        "v1",
        "leases",
        named(
            "kube-scheduler",
            json!({"spec": {"holderIdentity": "n1_1234", "leaseDurationSeconds": 15}}),
        ),
        json!(["kube-scheduler", "n1_1234", "10m"]),
    );
    check_cells(
        "coordination.k8s.io",
        "v1",
        "leases",
        named("free", json!({"spec": {}})),
        json!(["free", "", "10m"]),
    );
    check_columns(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        &[
            ("Name", "string", 0),
            ("Value", "integer", 0),
            ("Global-Default", "boolean", 0),
            ("Age", "string", 0),
            ("PreemptionPolicy", "string", 0),
        ],
    );
    check_cells(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        named(
            "system-node-critical",
            json!({"value": 2000001000, "preemptionPolicy": "PreemptLowerPriority"}),
        ),
        json!([
            "system-node-critical",
            2000001000,
            false,
            "10m",
            "PreemptLowerPriority"
        ]),
    );
    check_cells(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        named("batch", json!({"value": -5, "globalDefault": true})),
        json!(["batch", -5, true, "10m", ""]),
    );
}

#[test]
fn pod_disruption_budgets() {
    check_columns(
        "policy",
        "v1",
        "poddisruptionbudgets",
        &[
            ("Name", "string", 0),
            ("Min Available", "string", 0),
            ("Max Unavailable", "string", 0),
            ("Allowed Disruptions", "integer", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "policy",
        "v1",
        "poddisruptionbudgets",
        named(
            "web",
            json!({"spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}}),
        ),
        json!(["web", "2", "N/A", 1, "10m"]),
    );
    check_cells(
        "policy",
        "v1",
        "poddisruptionbudgets",
        named("pct", json!({"spec": {"maxUnavailable": "25%"}})),
        json!(["pct", "N/A", "25%", 0, "10m"]),
    );
}

#[test]
fn resource_quotas() {
    check_columns(
        "",
        "v1",
        "resourcequotas",
        &[
            ("Name", "string", 0),
            ("Request", "string", 0),
            ("Limit", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "",
        "v1",
        "resourcequotas",
        named(
            "q",
            json!({"status": {
                "hard": {"pods": "10", "limits.memory": "2Gi", "requests.cpu": "1", "limits.cpu": "2", "limitsx": "3"},
                "used": {"pods": "3", "requests.cpu": "500m", "limits.cpu": "1"}}}),
        ),
        json!([
            "q",
            "limitsx: 0/3, pods: 3/10, requests.cpu: 500m/1",
            "limits.cpu: 1/2, limits.memory: 0/2Gi",
            "10m"
        ]),
    );
    // Before the quota controller fills in status, both columns are empty.
    check_cells(
        "",
        "v1",
        "resourcequotas",
        named("new", json!({"spec": {"hard": {"pods": "10"}}})),
        json!(["new", "", "", "10m"]),
    );
}

#[test]
fn events() {
    let columns = [
        ("Last Seen", "string", 0),
        ("Type", "string", 0),
        ("Reason", "string", 0),
        ("Object", "string", 0),
        ("Subobject", "string", 1),
        ("Source", "string", 1),
        ("Message", "string", 0),
        ("First Seen", "string", 1),
        ("Count", "string", 1),
        ("Name", "string", 1),
    ];
    check_columns("", "v1", "events", &columns);
    check_columns("events.k8s.io", "v1", "events", &columns);
    check_cells(
        "",
        "v1",
        "events",
        named(
            "web.1",
            json!({"involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
                   "type": "Normal", "reason": "Pulled", "message": "  Pulled image  \n",
                   "source": {"component": "kubelet", "host": "n1"},
                   "firstTimestamp": CREATED, "lastTimestamp": "2025-06-01T11:58:00Z", "count": 2}),
        ),
        json!([
            "2m",
            "Normal",
            "Pulled",
            "pod/web",
            "spec.containers{app}",
            "kubelet, n1",
            "Pulled image",
            "10m",
            2,
            "web.1"
        ]),
    );
    // The new API's shape: eventTime only, a series, the reporting controller, no object name.
    check_cells(
        "events.k8s.io",
        "v1",
        "events",
        named(
            "ns.2",
            json!({"regarding": {"kind": "Namespace"}, "type": "Warning", "reason": "Odd", "note": "hm",
                   "eventTime": "2025-06-01T11:55:00.000000Z", "reportingController": "example.com/c",
                   "series": {"count": 4, "lastObservedTime": "2025-06-01T11:59:00.000000Z"}}),
        ),
        json!([
            "60s",
            "Warning",
            "Odd",
            "namespace",
            "",
            "example.com/c",
            "hm",
            "5m",
            4,
            "ns.2"
        ]),
    );
    check_cells(
        "",
        "v1",
        "events",
        named(
            "bare",
            json!({"involvedObject": {"kind": "Node", "name": "n1"}}),
        ),
        json!([
            "<unknown>",
            "",
            "",
            "node/n1",
            "",
            "",
            "",
            "<unknown>",
            1,
            "bare"
        ]),
    );
}
