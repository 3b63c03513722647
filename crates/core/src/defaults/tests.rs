//! Defaults checked against what upstream stores for the same input.

use serde_json::json;

use super::apply;
use crate::registry;

#[test]
fn pod_defaults_like_upstream() {
    let info = registry::find("", "v1", "pods").expect("pods");
    let mut pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]}});
    apply(info, &mut pod);
    assert_eq!(
        pod["spec"],
        json!({
            "containers": [{
                "name": "web", "image": "nginx", "imagePullPolicy": "Always",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {}, "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"
            }],
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": true,
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30
        }),
        "service account, priority and tolerations are admission's"
    );
    let mut named = json!({"spec": {"serviceAccount": "robot", "containers": []}});
    apply(info, &mut named);
    assert_eq!(
        (
            &named["spec"]["serviceAccountName"],
            &named["spec"]["serviceAccount"]
        ),
        (&json!("robot"), &json!("robot"))
    );
    assert_eq!(
        pod["status"],
        json!({"phase": "Pending", "qosClass": "BestEffort"})
    );
}

#[test]
fn given_values_are_kept_and_qos_follows_resources() {
    let info = registry::find("", "v1", "pods").expect("pods");
    let mut pod = json!({"spec": {"restartPolicy": "Never", "containers": [
        {"name": "a", "image": "busybox:1.36", "imagePullPolicy": "Never",
         "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
    apply(info, &mut pod);
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Never");
    assert_eq!(pod["status"]["qosClass"], "Guaranteed");
    let mut burstable = json!({"spec": {"containers": [{"name": "a", "image": "x:1",
        "resources": {"requests": {"cpu": "100m"}}}]}});
    apply(info, &mut burstable);
    assert_eq!(burstable["status"]["qosClass"], "Burstable");
    assert_eq!(
        burstable["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
}

#[test]
fn deployment_defaults_like_upstream() {
    let info = registry::find("apps", "v1", "deployments").expect("deployments");
    let mut deployment = json!({"spec": {"selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}});
    apply(info, &mut deployment);
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(spec["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(
        spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    // Templates get no admission defaults (those apply to the pods the controller creates).
    assert!(spec["template"]["spec"].get("serviceAccountName").is_none());
}

#[test]
fn service_and_secret_defaults() {
    let services = registry::find("", "v1", "services").expect("services");
    let mut service = json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    apply(services, &mut service);
    assert_eq!(
        service["spec"],
        json!({"selector": {"app": "web"}, "type": "ClusterIP", "sessionAffinity": "None",
               "internalTrafficPolicy": "Cluster",
               "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]})
    );
    let secrets = registry::find("", "v1", "secrets").expect("secrets");
    let mut secret = json!({"data": {}});
    apply(secrets, &mut secret);
    assert_eq!(secret["type"], "Opaque");
}

#[test]
fn secret_string_data_moves_into_data() {
    let info = crate::registry::find("", "v1", "secrets").expect("secrets");
    let mut secret =
        json!({"data": {"a": "MQ==", "b": "Mg=="}, "stringData": {"b": "two", "c": "3"}});
    super::apply(info, &mut secret);
    assert_eq!(
        secret,
        json!({"type": "Opaque", "data": {"a": "MQ==", "b": "dHdv", "c": "Mw=="}})
    );
}

#[test]
fn job_defaults_follow_its_policies() {
    let info = registry::find("batch", "v1", "jobs").expect("jobs");
    let defaulted = |spec: serde_json::Value| {
        let mut job = json!({"spec": spec});
        apply(info, &mut job);
        job["spec"].clone()
    };
    let plain = defaulted(json!({}));
    assert_eq!(
        (
            &plain["completions"],
            &plain["parallelism"],
            &plain["backoffLimit"]
        ),
        (&json!(1), &json!(1), &json!(6))
    );
    assert_eq!(plain["podReplacementPolicy"], "TerminatingOrFailed");
    let queue = defaulted(json!({"parallelism": 3}));
    assert!(queue.get("completions").is_none(), "{queue}");
    let per_index = defaulted(
        json!({"completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1}),
    );
    assert_eq!(per_index["backoffLimit"], i32::MAX);
    let policy = defaulted(json!({"podFailurePolicy": {"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}));
    assert_eq!(policy["podReplacementPolicy"], "Failed");
    assert_eq!(
        policy["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
        "True"
    );
}
