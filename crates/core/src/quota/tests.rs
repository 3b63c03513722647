//! Usage and messages as upstream's evaluators and admission compute them.

use serde_json::json;

use super::*;

fn list(pairs: &[(&str, &str)]) -> ResourceList {
    pairs
        .iter()
        .filter_map(|(name, value)| Some(((*name).to_owned(), Amount::parse(value)?)))
        .collect()
}

fn printed(list: &ResourceList) -> String {
    pretty_print(list)
}

#[test]
fn pods_count_their_compute_resources_until_they_finish() {
    let pod = json!({"spec": {
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                        "limits": {"cpu": "500m", "memory": "128Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "250m", "example.com/gpu": "1"}}},
        ],
        "initContainers": [
            {"name": "setup", "resources": {"requests": {"cpu": "2"}}},
        ],
    }});
    let usage = Evaluator::Pods.usage(&pod);
    assert_eq!(
        printed(&usage),
        "count/pods=1,cpu=2,limits.cpu=500m,limits.memory=128Mi,memory=64Mi,pods=1,requests.cpu=2,requests.example.com/gpu=1,requests.memory=64Mi"
    );
    let mut done = pod.clone();
    done["status"] = json!({"phase": "Succeeded"});
    assert_eq!(printed(&Evaluator::Pods.usage(&done)), "count/pods=1");
}

#[test]
fn sidecars_add_to_the_sum_and_overhead_to_requests() {
    let pod = json!({"spec": {
        "containers": [{"name": "app", "resources": {"requests": {"cpu": "1"}}}],
        "initContainers": [
            {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
            {"name": "migrate", "resources": {"requests": {"cpu": "1"}}},
        ],
        "overhead": {"cpu": "100m"},
    }});
    let usage = Evaluator::Pods.usage(&pod);
    assert_eq!(
        usage.get("requests.cpu").map(ToString::to_string),
        Some("1600m".into())
    );
}

#[test]
fn services_claims_and_object_counts() {
    let node_port = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}});
    assert_eq!(
        printed(&Evaluator::for_resource("", "services").usage(&node_port)),
        "count/services=1,services=1,services.nodeports=2"
    );
    let claim = json!({"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1.5Gi"}}}});
    assert_eq!(
        printed(&Evaluator::for_resource("", "persistentvolumeclaims").usage(&claim)),
        "count/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/requests.storage=1536Mi,persistentvolumeclaims=1,requests.storage=1536Mi"
    );
    let secrets = Evaluator::for_resource("", "secrets");
    assert_eq!(
        printed(&secrets.usage(&json!({}))),
        "count/secrets=1,secrets=1"
    );
    let deployments = Evaluator::for_resource("apps", "deployments");
    assert_eq!(
        deployments.matching_resources(["count/deployments.apps", "pods", "count/pods"]),
        vec!["count/deployments.apps".to_owned()]
    );
    assert_eq!(
        Evaluator::Pods.matching_resources([
            "pods",
            "requests.storage",
            "requests.example.com/gpu",
            "requests.cpu"
        ]),
        vec![
            "pods".to_owned(),
            "requests.example.com/gpu".to_owned(),
            "requests.cpu".to_owned()
        ]
    );
}

#[test]
fn pods_must_declare_what_the_quota_tracks() {
    let pod = json!({"spec": {"containers": [
        {"name": "a", "resources": {"requests": {"cpu": "1"}}},
        {"name": "b"},
    ]}});
    let required = vec![
        "limits.cpu".to_owned(),
        "requests.cpu".to_owned(),
        "pods".to_owned(),
    ];
    assert_eq!(
        Evaluator::Pods.constraints(&required, &pod),
        Err("must specify limits.cpu for: a,b; requests.cpu for: b".into())
    );
    assert_eq!(
        Evaluator::Pods.constraints(&["pods".to_owned()], &pod),
        Ok(())
    );
}

#[test]
fn scopes_select_pods() {
    let quota = json!({"spec": {"scopes": ["BestEffort"], "scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}});
    let selectors = scope_selectors(&quota);
    let best_effort_high =
        json!({"spec": {"priorityClassName": "high", "containers": [{"name": "c"}]}});
    let burstable_high = json!({"spec": {"priorityClassName": "high", "containers": [
        {"name": "c", "resources": {"requests": {"memory": "1Mi"}}}]}});
    assert!(Evaluator::Pods.matches_scopes(&selectors, &best_effort_high));
    assert!(!Evaluator::Pods.matches_scopes(&selectors, &burstable_high));
    assert!(!Evaluator::Claims.matches_scopes(&selectors, &json!({})));
    assert!(Evaluator::Claims.matches_scopes(&[], &json!({})));
}

#[test]
fn the_exceeded_message_is_upstreams() {
    let requested = list(&[("pods", "1"), ("requests.cpu", "500m")]);
    let used = list(&[("pods", "2"), ("requests.cpu", "1")]);
    let hard = list(&[("pods", "2"), ("requests.cpu", "4")]);
    let new_usage = add(&used, &requested);
    let (fits, exceeded) = less_than_or_equal(
        &mask(&new_usage, requested.keys().map(String::as_str)),
        &hard,
    );
    assert!(!fits);
    assert_eq!(
        exceeded_message("compute", &requested, &used, &hard, &exceeded),
        "exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"
    );
    assert_eq!(
        printed(&subtract_non_negative(
            &list(&[("a", "1"), ("b", "1")]),
            &list(&[("a", "3")])
        )),
        "a=0,b=1"
    );
}
