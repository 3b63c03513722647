//! Pods, pod templates, the workload controllers, jobs, cronjobs and horizontal pod autoscalers.

use serde_json::{Value, json};

use super::{CREATED, check_cells, check_columns};

fn pod(spec: Value, status: Value) -> Value {
    json!({"metadata": {"name": "p", "creationTimestamp": CREATED}, "spec": spec, "status": status})
}

fn pod_cells(pod: Value, ready: &str, status: &str, restarts: &str) {
    let doc = super::table_of("", "v1", "pods", &[pod]);
    let cells = &doc["rows"][0]["cells"];
    assert_eq!(
        (&cells[1], &cells[2], &cells[3]),
        (&json!(ready), &json!(status), &json!(restarts)),
        "{cells}"
    );
}

#[test]
fn pods() {
    check_columns(
        "",
        "v1",
        "pods",
        &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
    );
    check_cells(
        "",
        "v1",
        "pods",
        pod(
            json!({"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}],
                   "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]}),
            json!({"phase": "Running", "podIP": "10.42.0.5", "nominatedNodeName": "n2",
                   "conditions": [{"type": "example.com/lb", "status": "True"}],
                   "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:55:00Z"}}},
                {"name": "b", "ready": false, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:58:00Z"}}}]}),
        ),
        json!([
            "p",
            "1/2",
            "CrashLoopBackOff",
            "3 (2m ago)",
            "10m",
            "10.42.0.5",
            "n1",
            "n2",
            "1/2"
        ]),
    );
    check_cells(
        "",
        "v1",
        "pods",
        pod(json!({"containers": [{"name": "a"}]}), json!({})),
        json!([
            "p", "0/1", "", "0", "10m", "<none>", "<none>", "<none>", "<none>"
        ]),
    );
}

#[test]
fn pod_status_follows_upstream_precedence() {
    let one = json!({"containers": [{"name": "a"}]});
    pod_cells(
        pod(one.clone(), json!({"phase": "Pending"})),
        "0/1",
        "Pending",
        "0",
    );
    pod_cells(
        pod(
            one.clone(),
            json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        ),
        "0/1",
        "SchedulingGated",
        "0",
    );
    pod_cells(
        pod(
            one.clone(),
            json!({"phase": "Failed", "reason": "Evicted", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 137}}}]}),
        ),
        "0/1",
        "ExitCode:137",
        "0",
    );
    pod_cells(
        pod(
            one.clone(),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"signal": 9}}}]}),
        ),
        "0/1",
        "Signal:9",
        "0",
    );
    // Completed containers next to a running one read Running (or NotReady without the Ready condition).
    let two = json!({"containers": [{"name": "a"}, {"name": "b"}]});
    let statuses = json!([
        {"name": "a", "ready": true, "state": {"running": {}}},
        {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]);
    pod_cells(
        pod(
            two.clone(),
            json!({"phase": "Running", "containerStatuses": statuses}),
        ),
        "1/2",
        "NotReady",
        "0",
    );
    pod_cells(
        pod(
            two,
            json!({"phase": "Running", "containerStatuses": statuses,
                   "conditions": [{"type": "Ready", "status": "True"}]}),
        ),
        "1/2",
        "Running",
        "0",
    );
    // Terminating unless the phase is terminal; NodeLost pods being deleted are Unknown.
    let mut deleting = pod(one.clone(), json!({"phase": "Running"}));
    deleting["metadata"]["deletionTimestamp"] = json!("2025-06-01T11:59:00Z");
    pod_cells(deleting.clone(), "0/1", "Terminating", "0");
    deleting["status"] = json!({"phase": "Succeeded"});
    pod_cells(deleting.clone(), "0/1", "Succeeded", "0");
    deleting["status"] = json!({"phase": "Running", "reason": "NodeLost"});
    pod_cells(deleting, "0/1", "Unknown", "0");
}

#[test]
fn pod_init_containers_and_sidecars() {
    let spec = json!({"initContainers": [{"name": "init"}, {"name": "setup"}],
                      "containers": [{"name": "app"}]});
    pod_cells(
        pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init", "state": {"terminated": {"exitCode": 0}}},
                {"name": "setup", "restartCount": 1, "state": {"running": {}}}]}),
        ),
        "0/1",
        "Init:1/2",
        "1",
    );
    pod_cells(
        pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init", "state": {"terminated": {"exitCode": 2}}}]}),
        ),
        "0/1",
        "Init:ExitCode:2",
        "0",
    );
    pod_cells(
        pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
        ),
        "0/1",
        "Init:ImagePullBackOff",
        "0",
    );
    // A started sidecar (restartPolicy Always) counts towards Ready and the total.
    let sidecar = json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                         "containers": [{"name": "app"}]});
    pod_cells(
        pod(
            sidecar,
            json!({"phase": "Running",
                   "conditions": [{"type": "Initialized", "status": "True"}],
                   "initContainerStatuses": [
                       {"name": "proxy", "started": true, "ready": true, "restartCount": 4,
                        "state": {"running": {}}}],
                   "containerStatuses": [
                       {"name": "app", "ready": true, "restartCount": 1, "state": {"running": {}}}]}),
        ),
        "2/2",
        "Running",
        "5",
    );
}

#[test]
fn pod_templates() {
    check_columns(
        "",
        "v1",
        "podtemplates",
        &[
            ("Name", "string", 0),
            ("Containers", "string", 0),
            ("Images", "string", 0),
            ("Pod Labels", "string", 0),
        ],
    );
    check_cells(
        "",
        "v1",
        "podtemplates",
        json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
               "spec": {"containers": [{"name": "c", "image": "nginx"}, {"name": "d", "image": "redis"}]}}}),
        json!(["t", "c,d", "nginx,redis", "a=1,b=2"]),
    );
    check_cells(
        "",
        "v1",
        "podtemplates",
        json!({"metadata": {"name": "t"}, "template": {"spec": {"containers": []}}}),
        json!(["t", "", "", "<none>"]),
    );
}

const TEMPLATE: &str = r#"{"metadata": {"labels": {"app": "a"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeSelector": {"os": "linux"}}}"#;

fn template() -> Value {
    serde_json::from_str(TEMPLATE).unwrap()
}

#[test]
fn deployments() {
    check_columns(
        "apps",
        "v1",
        "deployments",
        &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
    );
    check_cells(
        "apps",
        "v1",
        "deployments",
        json!({"metadata": {"name": "d", "creationTimestamp": CREATED},
               "spec": {"replicas": 3, "template": template(), "selector": {"matchLabels": {"app": "a"},
                        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}},
               "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
        json!([
            "d",
            "2/3",
            3,
            2,
            "10m",
            "c",
            "nginx",
            "app=a,tier in (api,web)"
        ]),
    );
    // A deployment's empty selector prints as nothing, unlike the others' `<none>`.
    check_cells(
        "apps",
        "v1",
        "deployments",
        json!({"metadata": {"name": "d", "creationTimestamp": CREATED}, "spec": {"selector": {}}}),
        json!(["d", "0/1", 0, 0, "10m", "", "", ""]),
    );
}

#[test]
fn replica_sets_and_replication_controllers() {
    let columns = [
        ("Name", "string", 0),
        ("Desired", "integer", 0),
        ("Current", "integer", 0),
        ("Ready", "integer", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ];
    check_columns("apps", "v1", "replicasets", &columns);
    check_columns("", "v1", "replicationcontrollers", &columns);
    check_cells(
        "apps",
        "v1",
        "replicasets",
        json!({"metadata": {"name": "rs", "creationTimestamp": CREATED},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "a"}}, "template": template()},
               "status": {"replicas": 3, "readyReplicas": 2}}),
        json!(["rs", 3, 3, 2, "10m", "c", "nginx", "app=a"]),
    );
    check_cells(
        "",
        "v1",
        "replicationcontrollers",
        json!({"metadata": {"name": "rc", "creationTimestamp": CREATED},
               "spec": {"selector": {"app": "a"}, "template": template()}}),
        json!(["rc", 1, 0, 0, "10m", "c", "nginx", "app=a"]),
    );
}

#[test]
fn stateful_sets_daemon_sets_and_revisions() {
    check_columns(
        "apps",
        "v1",
        "statefulsets",
        &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
        ],
    );
    check_cells(
        "apps",
        "v1",
        "statefulsets",
        json!({"metadata": {"name": "web", "creationTimestamp": CREATED},
               "spec": {"replicas": 2, "template": template()}, "status": {"readyReplicas": 1}}),
        json!(["web", "1/2", "10m", "c", "nginx"]),
    );
    check_columns(
        "apps",
        "v1",
        "daemonsets",
        &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
    );
    check_cells(
        "apps",
        "v1",
        "daemonsets",
        json!({"metadata": {"name": "ds", "creationTimestamp": CREATED},
               "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": template()},
               "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                          "updatedNumberScheduled": 2, "numberAvailable": 1}}),
        json!([
            "ds", 2, 2, 1, 2, 1, "os=linux", "10m", "c", "nginx", "app=d"
        ]),
    );
    check_columns(
        "apps",
        "v1",
        "controllerrevisions",
        &[
            ("Name", "string", 0),
            ("Controller", "string", 0),
            ("Revision", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "apps",
        "v1",
        "controllerrevisions",
        json!({"metadata": {"name": "web-7d4b9", "creationTimestamp": CREATED, "ownerReferences": [
                   {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]},
               "revision": 2}),
        json!(["web-7d4b9", "statefulset.apps/web", 2, "10m"]),
    );
    check_cells(
        "apps",
        "v1",
        "controllerrevisions",
        json!({"metadata": {"name": "orphan", "creationTimestamp": CREATED}, "revision": 1}),
        json!(["orphan", "<none>", 1, "10m"]),
    );
}

fn job_status_and_completions(job: Value, status: &str, completions: &str) {
    let doc = super::table_of("batch", "v1", "jobs", &[job]);
    let cells = &doc["rows"][0]["cells"];
    assert_eq!(
        (&cells[1], &cells[2]),
        (&json!(status), &json!(completions))
    );
}

#[test]
fn jobs() {
    check_columns(
        "batch",
        "v1",
        "jobs",
        &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Completions", "string", 0),
            ("Duration", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
    );
    check_cells(
        "batch",
        "v1",
        "jobs",
        json!({"metadata": {"name": "pi", "creationTimestamp": CREATED},
               "spec": {"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"job-name": "pi"}},
                        "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
               "status": {"succeeded": 1, "startTime": CREATED, "completionTime": "2025-06-01T11:50:42Z",
                          "conditions": [{"type": "Complete", "status": "True"}]}}),
        json!([
            "pi",
            "Complete",
            "1/1",
            "42s",
            "10m",
            "pi",
            "perl",
            "job-name=pi"
        ]),
    );
    let job = |spec: Value, conditions: Value| json!({"metadata": {"name": "j"}, "spec": spec, "status": {"conditions": conditions}});
    job_status_and_completions(
        job(json!({"parallelism": 3}), json!([])),
        "Running",
        "0/1 of 3",
    );
    job_status_and_completions(job(json!({}), json!([])), "Running", "0/1");
    job_status_and_completions(
        job(
            json!({"completions": 5}),
            json!([{"type": "Failed", "status": "True"}, {"type": "Complete", "status": "True"}]),
        ),
        "Complete",
        "0/5",
    );
    job_status_and_completions(
        job(
            json!({}),
            json!([{"type": "FailureTarget", "status": "True"}, {"type": "Suspended", "status": "True"}]),
        ),
        "Suspended",
        "0/1",
    );
    job_status_and_completions(
        job(
            json!({}),
            json!([{"type": "SuccessCriteriaMet", "status": "True"}]),
        ),
        "SuccessCriteriaMet",
        "0/1",
    );
    let mut deleting = job(json!({}), json!([{"type": "Suspended", "status": "True"}]));
    deleting["metadata"]["deletionTimestamp"] = json!(CREATED);
    job_status_and_completions(deleting, "Terminating", "0/1");
}

#[test]
fn cron_jobs() {
    check_columns(
        "batch",
        "v1",
        "cronjobs",
        &[
            ("Name", "string", 0),
            ("Schedule", "string", 0),
            ("Timezone", "string", 0),
            ("Suspend", "boolean", 0),
            ("Active", "integer", 0),
            ("Last Schedule", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
    );
    check_cells(
        "batch",
        "v1",
        "cronjobs",
        json!({"metadata": {"name": "tick", "creationTimestamp": CREATED},
               "spec": {"schedule": "*/5 * * * *", "suspend": false, "timeZone": "Etc/UTC",
                        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "t", "image": "busybox"}]}}}}},
               "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": "2025-06-01T11:55:00Z"}}),
        json!([
            "tick",
            "*/5 * * * *",
            "Etc/UTC",
            "False",
            1,
            "5m",
            "10m",
            "t",
            "busybox",
            "<none>"
        ]),
    );
    check_cells(
        "batch",
        "v1",
        "cronjobs",
        json!({"metadata": {"name": "tick", "creationTimestamp": CREATED}, "spec": {"schedule": "@daily"}}),
        json!([
            "tick", "@daily", "<none>", "<unset>", 0, "<none>", "10m", "", "", "<none>"
        ]),
    );
}

fn hpa(metrics: Value, current: Value) -> Value {
    json!({"metadata": {"name": "web", "creationTimestamp": CREATED},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 1, "maxReplicas": 10, "metrics": metrics},
           "status": {"currentReplicas": 2, "currentMetrics": current}})
}

fn hpa_targets(object: Value) -> Value {
    super::table_of("autoscaling", "v2", "horizontalpodautoscalers", &[object])["rows"][0]["cells"]
        [2]
    .clone()
}

#[test]
fn horizontal_pod_autoscalers() {
    let columns = [
        ("Name", "string", 0),
        ("Reference", "string", 0),
        ("Targets", "string", 0),
        ("MinPods", "string", 0),
        ("MaxPods", "string", 0),
        ("Replicas", "string", 0),
        ("Age", "string", 0),
    ];
    check_columns("autoscaling", "v2", "horizontalpodautoscalers", &columns);
    check_columns("autoscaling", "v1", "horizontalpodautoscalers", &columns);
    let cpu = json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 80}}});
    check_cells(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        hpa(
            json!([cpu]),
            json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 50}}}]),
        ),
        json!(["web", "Deployment/web", "cpu: 50%/80%", "1", 10, 2, "10m"]),
    );
    assert_eq!(
        hpa_targets(hpa(json!([cpu]), json!([]))),
        "cpu: <unknown>/80%"
    );
    assert_eq!(hpa_targets(hpa(json!([]), json!([]))), "<none>");
    let memory = json!({"type": "Resource", "resource": {"name": "memory",
        "target": {"type": "AverageValue", "averageValue": "500Mi"}}});
    let pods = json!({"type": "Pods", "pods": {"metric": {"name": "qps"},
        "target": {"type": "AverageValue", "averageValue": "1k"}}});
    let external = json!({"type": "External", "external": {"metric": {"name": "queue"},
        "target": {"type": "AverageValue", "averageValue": "30"}}});
    let object = json!({"type": "Object", "object": {"metric": {"name": "hits"},
        "target": {"type": "Value", "value": "10"}}});
    assert_eq!(
        hpa_targets(hpa(
            json!([memory, pods]),
            json!([{"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "200Mi"}}},
                   {"type": "Pods", "pods": {"current": {"averageValue": "800"}}}])
        )),
        "memory: 200Mi/500Mi, 800/1k"
    );
    assert_eq!(
        hpa_targets(hpa(json!([external, object]), json!([]))),
        "<unknown>/30 (avg), <unknown>/10"
    );
    assert_eq!(
        hpa_targets(hpa(json!([cpu, memory, pods, object]), json!([]))),
        "cpu: <unknown>/80%, memory: <unknown>/500Mi + 2 more..."
    );
    // autoscaling/v1's CPU percentage, and no minReplicas.
    check_cells(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        json!({"metadata": {"name": "old", "creationTimestamp": CREATED},
               "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                        "targetCPUUtilizationPercentage": 70},
               "status": {"currentCPUUtilizationPercentage": 12, "currentReplicas": 1}}),
        json!([
            "old",
            "Deployment/web",
            "cpu: 12%/70%",
            "<unset>",
            3,
            1,
            "10m"
        ]),
    );
}
