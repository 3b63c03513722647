//! Tables checked against the shape kubectl needs (kubectl-wire.md §1.4).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::registry;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn namespace(name: &str, created: &str) -> Value {
    json!({"apiVersion":"v1","kind":"Namespace",
           "metadata":{"name":name,"creationTimestamp":created,"labels":{"kubernetes.io/metadata.name":name}},
           "status":{"phase":"Active"}})
}

#[test]
fn namespaces_table() {
    let info = registry::find("", "v1", "namespaces").unwrap();
    let objects = [
        namespace("default", "2025-05-29T12:00:00Z"),
        namespace("young", "2025-06-01T11:59:50Z"),
    ];
    let doc = table(info, &objects, "1012", now());
    assert_eq!(doc["kind"], "Table");
    assert_eq!(doc["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(doc["metadata"], json!({"resourceVersion":"1012"}));
    let columns: Vec<(&str, &str, &str, i64)> = doc["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["type"].as_str().unwrap(),
                c["format"].as_str().unwrap(),
                c["priority"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("Name", "string", "name", 0),
            ("Status", "string", "", 0),
            ("Age", "string", "", 0)
        ]
    );
    assert_eq!(doc["columnDefinitions"][0]["description"], NAME_DESCRIPTION);
    assert_eq!(doc["rows"][0]["cells"], json!(["default", "Active", "3d"]));
    assert_eq!(doc["rows"][1]["cells"], json!(["young", "Active", "10s"]));
    assert_eq!(
        doc["rows"][0]["object"],
        json!({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":objects[0]["metadata"]})
    );
}

#[test]
fn default_table() {
    // Any resource without a printer of its own.
    let info = registry::find("", "v1", "podtemplates").unwrap();
    let objects = [
        json!({"metadata":{"name":"cm","namespace":"default","creationTimestamp":"2025-05-01T10:00:00+02:00"}}),
        json!({"metadata":{"name":"unborn"}}),
    ];
    let doc = table(info, &objects, "7", now());
    let names: Vec<&str> = doc["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Name", "Created At"]);
    assert_eq!(doc["columnDefinitions"][1]["type"], "date");
    assert_eq!(
        doc["columnDefinitions"][1]["description"],
        CREATION_TIMESTAMP_DESCRIPTION
    );
    assert_eq!(
        doc["rows"][0]["cells"],
        json!(["cm", "2025-05-01T08:00:00Z"])
    );
    assert_eq!(
        doc["rows"][1]["cells"],
        json!(["unborn", "0001-01-01T00:00:00Z"])
    );
    assert_eq!(doc["rows"][0]["object"]["metadata"]["namespace"], "default");
}

#[test]
fn include_object_options() {
    let info = registry::find("", "v1", "namespaces").unwrap();
    let objects = [namespace("default", "2025-05-29T12:00:00Z")];
    let build_with = |include| {
        let options = TableOptions {
            list_meta: ListMeta::default(),
            include_object: include,
        };
        build(info, &objects, &options, now())
    };
    assert_eq!(build_with(IncludeObject::None).rows[0].object, None);
    assert_eq!(
        build_with(IncludeObject::Object).rows[0].object.as_ref(),
        Some(&objects[0])
    );
    assert_eq!(IncludeObject::parse(""), Some(IncludeObject::Metadata));
    assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
    assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
    assert_eq!(IncludeObject::parse("everything"), None);
    let without_object = serde_json::to_value(build_with(IncludeObject::None)).unwrap();
    assert!(without_object["rows"][0].get("object").is_none());
    assert_eq!(without_object["metadata"], json!({}));
}

#[test]
fn config_maps_and_secrets_count_their_keys() {
    use serde_json::json;

    use crate::registry;

    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let config_maps = registry::find("", "v1", "configmaps").expect("configmaps");
    let cm = json!({"metadata": {"name": "c", "creationTimestamp": "2026-01-01T00:00:00Z"},
                    "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    let table = super::table(config_maps, &[cm], "5", now);
    assert_eq!(table["rows"][0]["cells"], json!(["c", 3, "10m"]));
    let secrets = registry::find("", "v1", "secrets").expect("secrets");
    let secret = json!({"metadata": {"name": "s", "creationTimestamp": "2026-01-01T00:00:00Z"},
                        "type": "Opaque", "data": {"k": "dg=="}});
    let table = super::table(secrets, &[secret], "5", now);
    let headers: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|column| column["name"].as_str())
        .collect();
    assert_eq!(headers, ["Name", "Type", "Data", "Age"]);
    assert_eq!(table["rows"][0]["cells"], json!(["s", "Opaque", 1, "10m"]));
}

#[test]
fn pods_nodes_and_services_have_upstream_columns() {
    use serde_json::json;

    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let created = "2026-01-01T00:00:00Z";
    let check =
        |resource: &str, group: &str, object: serde_json::Value, expected: serde_json::Value| {
            let info = registry::find(group, "v1", resource).expect("resource");
            let table = super::table(info, &[object], "1", now);
            assert_eq!(table["rows"][0]["cells"], expected, "{resource}");
        };
    check(
        "pods",
        "",
        json!({"metadata": {"name": "web", "creationTimestamp": created},
               "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
               "status": {"phase": "Running", "podIP": "10.42.0.5", "containerStatuses": [
                   {"ready": true, "restartCount": 1, "state": {"running": {}}},
                   {"ready": false, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
        json!([
            "web",
            "1/2",
            "CrashLoopBackOff",
            3,
            "10m",
            "10.42.0.5",
            "n1",
            "<none>",
            "<none>"
        ]),
    );
    check(
        "pods",
        "",
        json!({"metadata": {"name": "new", "creationTimestamp": created}, "spec": {"containers": [{"name": "a"}]}}),
        json!([
            "new", "0/1", "Pending", 0, "10m", "<none>", "<none>", "<none>", "<none>"
        ]),
    );
    check(
        "nodes",
        "",
        json!({"metadata": {"name": "n1", "creationTimestamp": created,
                            "labels": {"node-role.kubernetes.io/control-plane": ""}},
               "status": {"conditions": [{"type": "Ready", "status": "True"}],
                          "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}],
                          "nodeInfo": {"kubeletVersion": "v1.34.0+kubers", "osImage": "Debian",
                                       "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1.6"}}}),
        json!([
            "n1",
            "Ready",
            "control-plane",
            "10m",
            "v1.34.0+kubers",
            "10.0.0.2",
            "<none>",
            "Debian",
            "6.1",
            "containerd://1.6"
        ]),
    );
    check(
        "services",
        "",
        json!({"metadata": {"name": "web", "creationTimestamp": created},
               "spec": {"type": "NodePort", "clusterIP": "10.43.0.12", "selector": {"app": "web"},
                        "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}}),
        json!([
            "web",
            "NodePort",
            "10.43.0.12",
            "<none>",
            "80:30080/TCP",
            "10m",
            "app=web"
        ]),
    );
    check(
        "deployments",
        "apps",
        json!({"metadata": {"name": "d", "creationTimestamp": created},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}},
                        "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
               "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
        json!(["d", "2/3", 3, 2, "10m", "c", "nginx", "app=d"]),
    );
}

#[test]
fn events_name_their_object() {
    use serde_json::json;

    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let info = registry::find("", "v1", "events").expect("events");
    let event = json!({"metadata": {"name": "web.1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "involvedObject": {"kind": "Pod", "name": "web"}, "type": "Normal", "reason": "Scheduled",
        "message": "Successfully assigned default/web to n1", "source": {"component": "default-scheduler"},
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:08:00Z", "count": 2});
    let table = super::table(info, &[event], "1", now);
    assert_eq!(
        table["rows"][0]["cells"],
        json!([
            "2m",
            "Normal",
            "Scheduled",
            "pod/web",
            "",
            "default-scheduler",
            "Successfully assigned default/web to n1",
            "10m",
            2,
            "web.1"
        ])
    );
}

#[test]
fn replica_sets_and_daemon_sets() {
    use serde_json::json;

    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let template = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeSelector": {"os": "linux"}}});
    let replica_set = json!({"metadata": {"name": "rs", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "a"}}, "template": template},
        "status": {"replicas": 3, "readyReplicas": 2}});
    let info = registry::find("apps", "v1", "replicasets").expect("replicasets");
    assert_eq!(
        super::table(info, &[replica_set], "1", now)["rows"][0]["cells"],
        json!(["rs", 3, 3, 2, "10m", "c", "nginx", "app=a"])
    );
    let daemon_set = json!({"metadata": {"name": "ds", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": template},
        "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                   "updatedNumberScheduled": 2, "numberAvailable": 1}});
    let info = registry::find("apps", "v1", "daemonsets").expect("daemonsets");
    assert_eq!(
        super::table(info, &[daemon_set], "1", now)["rows"][0]["cells"],
        json!([
            "ds", 2, 2, 1, 2, 1, "os=linux", "10m", "c", "nginx", "app=d"
        ])
    );
}

#[test]
fn jobs_show_status_completions_and_duration() {
    use serde_json::json;

    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let job = json!({"metadata": {"name": "pi", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"job-name": "pi"}},
                 "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
        "status": {"succeeded": 1, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:42Z",
                   "conditions": [{"type": "Complete", "status": "True"}]}});
    let info = registry::find("batch", "v1", "jobs").expect("jobs");
    assert_eq!(
        super::table(info, &[job], "1", now)["rows"][0]["cells"],
        json!([
            "pi",
            "Complete",
            "1/1",
            "42s",
            "10m",
            "pi",
            "perl",
            "job-name=pi"
        ])
    );
    let cron_job = json!({"metadata": {"name": "tick", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"schedule": "*/5 * * * *", "suspend": false,
                 "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "t", "image": "busybox"}]}}}}}});
    let info = registry::find("batch", "v1", "cronjobs").expect("cronjobs");
    assert_eq!(
        super::table(info, &[cron_job], "1", now)["rows"][0]["cells"],
        json!([
            "tick",
            "*/5 * * * *",
            "<none>",
            "False",
            0,
            "<none>",
            "10m",
            "t",
            "busybox",
            "<none>"
        ])
    );
}
