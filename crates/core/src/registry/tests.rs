//! Registry lookups checked against upstream's discovery (Kubernetes 1.34).

use super::*;

const CRUD: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `group/version resource`, or `-` when nothing matches.
fn describe(info: Option<&ResourceInfo>) -> String {
    info.map_or_else(
        || "-".to_owned(),
        |info| format!("{} {}", info.api_version(), info.resource),
    )
}

#[test]
fn names_kubectl_accepts_resolve() {
    fn check(name: &str, expected: &str) {
        assert_eq!(describe(resolve(name)), expected, "{name}");
    }
    check("po", "v1 pods");
    check("pod", "v1 pods");
    check("pods", "v1 pods");
    check("Pod", "v1 pods");
    check("svc", "v1 services");
    check("ns", "v1 namespaces");
    check("no", "v1 nodes");
    check("cm", "v1 configmaps");
    check("ep", "v1 endpoints");
    check("ev", "v1 events");
    check("events.events.k8s.io", "events.k8s.io/v1 events");
    check("sa", "v1 serviceaccounts");
    check("pv", "v1 persistentvolumes");
    check("pvc", "v1 persistentvolumeclaims");
    check("quota", "v1 resourcequotas");
    check("limits", "v1 limitranges");
    check("rc", "v1 replicationcontrollers");
    check("deploy", "apps/v1 deployments");
    check("deployments.apps", "apps/v1 deployments");
    check("deployment.v1.apps", "apps/v1 deployments");
    check("rs", "apps/v1 replicasets");
    check("sts", "apps/v1 statefulsets");
    check("ds", "apps/v1 daemonsets");
    check("cj", "batch/v1 cronjobs");
    check("job", "batch/v1 jobs");
    check("netpol", "networking.k8s.io/v1 networkpolicies");
    check("ing", "networking.k8s.io/v1 ingresses");
    check("pdb", "policy/v1 poddisruptionbudgets");
    check("sc", "storage.k8s.io/v1 storageclasses");
    check("pc", "scheduling.k8s.io/v1 priorityclasses");
    check("hpa", "autoscaling/v2 horizontalpodautoscalers");
    check(
        "hpa.v1.autoscaling",
        "autoscaling/v1 horizontalpodautoscalers",
    );
    check("lease", "coordination.k8s.io/v1 leases");
    check("endpointslices", "discovery.k8s.io/v1 endpointslices");
    check("clusterrole", "rbac.authorization.k8s.io/v1 clusterroles");
    check("nope", "-");
    check("pods.nope", "-");
}

#[test]
fn find_and_by_kind() {
    fn check(found: Option<&ResourceInfo>, expected: &str) {
        assert_eq!(describe(found), expected);
    }
    check(find("", "v1", "pods"), "v1 pods");
    check(find("apps", "v1", "deployments"), "apps/v1 deployments");
    check(
        find("autoscaling", "v1", "horizontalpodautoscalers"),
        "autoscaling/v1 horizontalpodautoscalers",
    );
    check(find("apps", "v1", "pods"), "-");
    check(find("", "v2", "pods"), "-");
    check(by_kind("", "Pod"), "v1 pods");
    check(by_kind("apps", "Deployment"), "apps/v1 deployments");
    check(
        by_kind("autoscaling", "HorizontalPodAutoscaler"),
        "autoscaling/v2 horizontalpodautoscalers",
    );
    check(by_kind("events.k8s.io", "Event"), "events.k8s.io/v1 events");
    check(by_kind("apps", "Pod"), "-");
}

#[test]
fn verbs_match_upstream() {
    fn check(group: &str, resource: &str, expected: &[&str]) {
        let info = find(
            group,
            if group == "autoscaling" { "v2" } else { "v1" },
            resource,
        );
        assert_eq!(info.map(|i| i.verbs), Some(expected), "{group} {resource}");
    }
    let stored: &[(&str, &str)] = &[
        ("", "configmaps"),
        ("", "endpoints"),
        ("", "events"),
        ("", "limitranges"),
        ("", "nodes"),
        ("", "persistentvolumeclaims"),
        ("", "persistentvolumes"),
        ("", "pods"),
        ("", "podtemplates"),
        ("", "replicationcontrollers"),
        ("", "resourcequotas"),
        ("", "secrets"),
        ("", "serviceaccounts"),
        ("", "services"),
        ("apps", "controllerrevisions"),
        ("apps", "daemonsets"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("events.k8s.io", "events"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("batch", "cronjobs"),
        ("batch", "jobs"),
        ("networking.k8s.io", "ingressclasses"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "networkpolicies"),
        ("policy", "poddisruptionbudgets"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "roles"),
        ("storage.k8s.io", "storageclasses"),
        ("scheduling.k8s.io", "priorityclasses"),
        ("coordination.k8s.io", "leases"),
        ("discovery.k8s.io", "endpointslices"),
    ];
    for (group, resource) in stored {
        check(group, resource, CRUD);
    }
    check(
        "",
        "namespaces",
        &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
    );
    for (group, resource) in [
        ("", "bindings"),
        ("authentication.k8s.io", "tokenreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
    ] {
        check(group, resource, &["create"]);
    }
    let stored_count = RESOURCES.iter().filter(|info| info.is_stored()).count();
    // every stored resource is listed above (autoscaling/v1 is the second HPA version)
    assert_eq!(stored_count, stored.len() + 2);
}

#[test]
fn subresources_match_upstream() {
    fn check(group: &str, resource: &str, expected: &str) {
        let info = find(
            group,
            if group == "autoscaling" { "v2" } else { "v1" },
            resource,
        );
        let got: Vec<String> = info
            .map(|info| {
                info.subresources
                    .iter()
                    .map(|sub| {
                        let kind = info.subresource_kind(sub);
                        format!(
                            "{}={}/{}/{}:{}",
                            sub.name,
                            kind.group,
                            kind.version,
                            kind.kind,
                            sub.verbs.join(",")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got.join(" "), expected, "{group} {resource}");
    }
    check(
        "",
        "pods",
        "attach=/v1/PodAttachOptions:create,get binding=/v1/Binding:create \
         ephemeralcontainers=/v1/Pod:get,patch,update eviction=policy/v1/Eviction:create \
         exec=/v1/PodExecOptions:create,get log=/v1/Pod:get portforward=/v1/PodPortForwardOptions:create,get \
         proxy=/v1/PodProxyOptions:create,delete,get,patch,update resize=/v1/Pod:get,patch,update \
         status=/v1/Pod:get,patch,update",
    );
    check(
        "",
        "namespaces",
        "finalize=/v1/Namespace:update status=/v1/Namespace:get,patch,update",
    );
    check(
        "",
        "nodes",
        "proxy=/v1/NodeProxyOptions:create,delete,get,patch,update status=/v1/Node:get,patch,update",
    );
    check(
        "",
        "services",
        "proxy=/v1/ServiceProxyOptions:create,delete,get,patch,update status=/v1/Service:get,patch,update",
    );
    check(
        "",
        "serviceaccounts",
        "token=authentication.k8s.io/v1/TokenRequest:create",
    );
    check(
        "",
        "replicationcontrollers",
        "scale=autoscaling/v1/Scale:get,patch,update status=/v1/ReplicationController:get,patch,update",
    );
    check(
        "apps",
        "deployments",
        "scale=autoscaling/v1/Scale:get,patch,update status=apps/v1/Deployment:get,patch,update",
    );
    check(
        "apps",
        "daemonsets",
        "status=apps/v1/DaemonSet:get,patch,update",
    );
    check("apps", "controllerrevisions", "");
    check(
        "batch",
        "cronjobs",
        "status=batch/v1/CronJob:get,patch,update",
    );
    check(
        "networking.k8s.io",
        "ingresses",
        "status=networking.k8s.io/v1/Ingress:get,patch,update",
    );
    check("networking.k8s.io", "networkpolicies", "");
    check(
        "autoscaling",
        "horizontalpodautoscalers",
        "status=autoscaling/v2/HorizontalPodAutoscaler:get,patch,update",
    );
}

#[test]
fn table_is_consistent() {
    for info in RESOURCES {
        let group = group_info(info.group);
        assert!(
            group.is_some_and(|g| g.versions.contains(&info.version)),
            "{info:?} in an unserved group"
        );
        let mut sorted = info.subresources.iter().map(|s| s.name).collect::<Vec<_>>();
        sorted.sort_unstable();
        assert!(
            info.subresources.iter().map(|s| s.name).eq(sorted),
            "{} subresources unsorted",
            info.resource
        );
        let twins = RESOURCES
            .iter()
            .filter(|o| {
                o.group == info.group && o.version == info.version && o.resource == info.resource
            })
            .count();
        assert_eq!(twins, 1, "{} listed twice", info.resource);
    }
    for group in GROUPS {
        for version in group.versions {
            assert!(
                resources_in(group.name, version).next().is_some(),
                "{} {version} is empty",
                group.name
            );
        }
    }
}

#[test]
fn category_all_matches_kubectl_get_all() {
    let names: Vec<String> = in_category("all")
        .iter()
        .map(|i| i.group_resource().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "pods",
            "replicationcontrollers",
            "services",
            "daemonsets.apps",
            "deployments.apps",
            "replicasets.apps",
            "statefulsets.apps",
            "horizontalpodautoscalers.autoscaling",
            "cronjobs.batch",
            "jobs.batch",
        ]
    );
}

#[test]
fn group_order_matches_upstream_discovery() {
    let names: Vec<&str> = group_versions().iter().map(|g| g.name).collect();
    assert_eq!(
        names,
        [
            "apps",
            "events.k8s.io",
            "authentication.k8s.io",
            "authorization.k8s.io",
            "autoscaling",
            "batch",
            "networking.k8s.io",
            "policy",
            "rbac.authorization.k8s.io",
            "storage.k8s.io",
            "scheduling.k8s.io",
            "coordination.k8s.io",
            "discovery.k8s.io",
        ]
    );
    assert_eq!(
        group_info("autoscaling").map(GroupInfo::preferred_version),
        Some("v2")
    );
}

#[test]
fn storage_keys() {
    fn check(
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
        expected: &str,
    ) {
        let info = find(group, "v1", resource);
        let key = info.map(|info| storage_key(info, namespace, name));
        assert_eq!(key.as_deref(), Some(expected), "{group} {resource}");
    }
    check("", "pods", Some("ns"), Some("n"), "/registry/pods/ns/n");
    check("", "pods", Some("ns"), None, "/registry/pods/ns/");
    check("", "pods", None, None, "/registry/pods/");
    check("", "pods", None, Some("n"), "/registry/pods/");
    check("", "namespaces", None, Some("n"), "/registry/namespaces/n");
    check(
        "",
        "namespaces",
        Some("ignored"),
        Some("n"),
        "/registry/namespaces/n",
    );
    check("", "namespaces", None, None, "/registry/namespaces/");
    check(
        "",
        "services",
        Some("default"),
        Some("kubernetes"),
        "/registry/services/specs/default/kubernetes",
    );
    check(
        "",
        "endpoints",
        Some("default"),
        Some("kubernetes"),
        "/registry/services/endpoints/default/kubernetes",
    );
    check(
        "",
        "nodes",
        None,
        Some("node-1"),
        "/registry/minions/node-1",
    );
    check(
        "",
        "replicationcontrollers",
        Some("ns"),
        Some("rc"),
        "/registry/controllers/ns/rc",
    );
    check(
        "apps",
        "deployments",
        Some("ns"),
        Some("n"),
        "/registry/deployments/ns/n",
    );
    check(
        "events.k8s.io",
        "events",
        Some("ns"),
        Some("e"),
        "/registry/events/ns/e",
    );
    check("", "events", Some("ns"), Some("e"), "/registry/events/ns/e");
    check(
        "coordination.k8s.io",
        "leases",
        Some("kube-node-lease"),
        Some("n1"),
        "/registry/leases/kube-node-lease/n1",
    );
    check(
        "discovery.k8s.io",
        "endpointslices",
        Some("ns"),
        None,
        "/registry/endpointslices/ns/",
    );
    check(
        "networking.k8s.io",
        "ingresses",
        Some("ns"),
        Some("i"),
        "/registry/ingress/ns/i",
    );
    check(
        "networking.k8s.io",
        "networkpolicies",
        Some("ns"),
        Some("p"),
        "/registry/networkpolicies/ns/p",
    );
    check(
        "policy",
        "poddisruptionbudgets",
        Some("ns"),
        Some("p"),
        "/registry/poddisruptionbudgets/ns/p",
    );
    check(
        "scheduling.k8s.io",
        "priorityclasses",
        None,
        Some("high"),
        "/registry/priorityclasses/high",
    );
    check(
        "storage.k8s.io",
        "storageclasses",
        None,
        Some("local"),
        "/registry/storageclasses/local",
    );
    check(
        "rbac.authorization.k8s.io",
        "clusterroles",
        None,
        Some("admin"),
        "/registry/clusterroles/admin",
    );
    let hpa_v1 = find("autoscaling", "v1", "horizontalpodautoscalers")
        .map(|i| storage_key(i, Some("ns"), Some("h")));
    let hpa_v2 = find("autoscaling", "v2", "horizontalpodautoscalers")
        .map(|i| storage_key(i, Some("ns"), Some("h")));
    assert_eq!(
        hpa_v1.as_deref(),
        Some("/registry/horizontalpodautoscalers/ns/h")
    );
    assert_eq!(hpa_v1, hpa_v2);
}

#[test]
fn display_names() {
    let pods = GroupResource {
        group: "",
        resource: "pods",
    };
    let deployments = GroupResource {
        group: "apps",
        resource: "deployments",
    };
    assert_eq!(pods.to_string(), "pods");
    assert_eq!(deployments.to_string(), "deployments.apps");
    assert_eq!(
        GroupKind {
            group: "apps",
            kind: "Deployment"
        }
        .to_string(),
        "Deployment.apps"
    );
    assert_eq!(
        GroupKind {
            group: "",
            kind: "Pod"
        }
        .to_string(),
        "Pod"
    );
}
