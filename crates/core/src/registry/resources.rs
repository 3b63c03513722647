//! The static table of built-in resources, as upstream's discovery reports them for Kubernetes 1.34
//! (`kubectl get --raw /api/v1` and `/apis/<group>/<version>`): names, scope, verbs, short names,
//! categories and subresources. Rows are grouped by API group in discovery order, then sorted by
//! resource name.

use super::{Gvk, ResourceInfo, SubresourceInfo};

/// The full verb set of an ordinary stored resource.
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
/// Namespaces: no `deletecollection`.
const NO_COLLECTION_DELETE: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
/// Create-only resources and subresources (bindings, reviews, eviction, token).
const CREATE: &[&str] = &["create"];
/// `status`-like subresources.
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
/// Proxy subresources (connect verbs).
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];
/// Streaming subresources (`exec`, `attach`, `portforward`).
const CREATE_GET: &[&str] = &["create", "get"];

const ALL: &[&str] = &["all"];

/// `autoscaling/v1` Scale, the kind of every `scale` subresource.
const SCALE_KIND: Gvk = Gvk {
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
};

const STATUS: SubresourceInfo = own("status", GET_PATCH_UPDATE);
const SCALE: SubresourceInfo = SubresourceInfo {
    name: "scale",
    kind: Some(SCALE_KIND),
    verbs: GET_PATCH_UPDATE,
};

/// A subresource that takes and returns the parent's own kind.
const fn own(name: &'static str, verbs: &'static [&'static str]) -> SubresourceInfo {
    SubresourceInfo {
        name,
        kind: None,
        verbs,
    }
}

/// A subresource with its own kind in the parent's group version (core only here).
const fn core_kind(
    name: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
) -> SubresourceInfo {
    SubresourceInfo {
        name,
        kind: Some(Gvk {
            group: "",
            version: "v1",
            kind,
        }),
        verbs,
    }
}

/// A stored resource with the full verb set and nothing else; the builders below add the rest.
const fn res(
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceInfo {
    ResourceInfo {
        group,
        version,
        resource,
        singular,
        kind,
        namespaced,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    }
}

impl ResourceInfo {
    const fn verbs(mut self, verbs: &'static [&'static str]) -> Self {
        self.verbs = verbs;
        self
    }

    const fn short(mut self, short_names: &'static [&'static str]) -> Self {
        self.short_names = short_names;
        self
    }

    const fn categories(mut self, categories: &'static [&'static str]) -> Self {
        self.categories = categories;
        self
    }

    const fn sub(mut self, subresources: &'static [SubresourceInfo]) -> Self {
        self.subresources = subresources;
        self
    }
}

const NS: bool = true;
const CLUSTER: bool = false;

/// Every built-in resource kubers serves.
pub static RESOURCES: &[ResourceInfo] = &[
    // core/v1
    res("", "v1", "bindings", "binding", "Binding", NS).verbs(CREATE),
    res("", "v1", "configmaps", "configmap", "ConfigMap", NS).short(&["cm"]),
    res("", "v1", "endpoints", "endpoints", "Endpoints", NS).short(&["ep"]),
    res("", "v1", "events", "event", "Event", NS).short(&["ev"]),
    res("", "v1", "limitranges", "limitrange", "LimitRange", NS).short(&["limits"]),
    res("", "v1", "namespaces", "namespace", "Namespace", CLUSTER)
        .verbs(NO_COLLECTION_DELETE)
        .short(&["ns"])
        .sub(&[own("finalize", &["update"]), STATUS]),
    res("", "v1", "nodes", "node", "Node", CLUSTER)
        .short(&["no"])
        .sub(&[core_kind("proxy", "NodeProxyOptions", PROXY), STATUS]),
    res(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        NS,
    )
    .short(&["pvc"])
    .sub(&[STATUS]),
    res(
        "",
        "v1",
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        CLUSTER,
    )
    .short(&["pv"])
    .sub(&[STATUS]),
    res("", "v1", "pods", "pod", "Pod", NS)
        .short(&["po"])
        .categories(ALL)
        .sub(&[
            core_kind("attach", "PodAttachOptions", CREATE_GET),
            core_kind("binding", "Binding", CREATE),
            own("ephemeralcontainers", GET_PATCH_UPDATE),
            SubresourceInfo {
                name: "eviction",
                kind: Some(Gvk {
                    group: "policy",
                    version: "v1",
                    kind: "Eviction",
                }),
                verbs: CREATE,
            },
            core_kind("exec", "PodExecOptions", CREATE_GET),
            own("log", &["get"]),
            core_kind("portforward", "PodPortForwardOptions", CREATE_GET),
            core_kind("proxy", "PodProxyOptions", PROXY),
            own("resize", GET_PATCH_UPDATE),
            STATUS,
        ]),
    res("", "v1", "podtemplates", "podtemplate", "PodTemplate", NS),
    res(
        "",
        "v1",
        "replicationcontrollers",
        "replicationcontroller",
        "ReplicationController",
        NS,
    )
    .short(&["rc"])
    .categories(ALL)
    .sub(&[SCALE, STATUS]),
    res(
        "",
        "v1",
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        NS,
    )
    .short(&["quota"])
    .sub(&[STATUS]),
    res("", "v1", "secrets", "secret", "Secret", NS),
    res(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        NS,
    )
    .short(&["sa"])
    .sub(&[SubresourceInfo {
        name: "token",
        kind: Some(Gvk {
            group: "authentication.k8s.io",
            version: "v1",
            kind: "TokenRequest",
        }),
        verbs: CREATE,
    }]),
    res("", "v1", "services", "service", "Service", NS)
        .short(&["svc"])
        .categories(ALL)
        .sub(&[core_kind("proxy", "ServiceProxyOptions", PROXY), STATUS]),
    // apps/v1
    res(
        "apps",
        "v1",
        "controllerrevisions",
        "controllerrevision",
        "ControllerRevision",
        NS,
    ),
    res("apps", "v1", "daemonsets", "daemonset", "DaemonSet", NS)
        .short(&["ds"])
        .categories(ALL)
        .sub(&[STATUS]),
    res("apps", "v1", "deployments", "deployment", "Deployment", NS)
        .short(&["deploy"])
        .categories(ALL)
        .sub(&[SCALE, STATUS]),
    res("apps", "v1", "replicasets", "replicaset", "ReplicaSet", NS)
        .short(&["rs"])
        .categories(ALL)
        .sub(&[SCALE, STATUS]),
    res(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        NS,
    )
    .short(&["sts"])
    .categories(ALL)
    .sub(&[SCALE, STATUS]),
    // events.k8s.io/v1
    res("events.k8s.io", "v1", "events", "event", "Event", NS).short(&["ev"]),
    // authentication.k8s.io/v1
    res(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        CLUSTER,
    )
    .verbs(CREATE),
    res(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "tokenreview",
        "TokenReview",
        CLUSTER,
    )
    .verbs(CREATE),
    // authorization.k8s.io/v1
    res(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        "LocalSubjectAccessReview",
        NS,
    )
    .verbs(CREATE),
    res(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        CLUSTER,
    )
    .verbs(CREATE),
    res(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        CLUSTER,
    )
    .verbs(CREATE),
    res(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        CLUSTER,
    )
    .verbs(CREATE),
    // autoscaling/v2 (preferred), then autoscaling/v1: the same objects, stored as v2
    res(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        NS,
    )
    .short(&["hpa"])
    .categories(ALL)
    .sub(&[STATUS]),
    res(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        NS,
    )
    .short(&["hpa"])
    .categories(ALL)
    .sub(&[STATUS]),
    // batch/v1
    res("batch", "v1", "cronjobs", "cronjob", "CronJob", NS)
        .short(&["cj"])
        .categories(ALL)
        .sub(&[STATUS]),
    res("batch", "v1", "jobs", "job", "Job", NS)
        .categories(ALL)
        .sub(&[STATUS]),
    // networking.k8s.io/v1
    res(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "ingressclass",
        "IngressClass",
        CLUSTER,
    ),
    res(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
        "Ingress",
        NS,
    )
    .short(&["ing"])
    .sub(&[STATUS]),
    res(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        NS,
    )
    .short(&["netpol"]),
    // policy/v1
    res(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        NS,
    )
    .short(&["pdb"])
    .sub(&[STATUS]),
    // rbac.authorization.k8s.io/v1
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        CLUSTER,
    ),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        CLUSTER,
    ),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        NS,
    ),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "role",
        "Role",
        NS,
    ),
    // storage.k8s.io/v1
    res(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "storageclass",
        "StorageClass",
        CLUSTER,
    )
    .short(&["sc"]),
    // scheduling.k8s.io/v1
    res(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "priorityclass",
        "PriorityClass",
        CLUSTER,
    )
    .short(&["pc"]),
    // coordination.k8s.io/v1
    res("coordination.k8s.io", "v1", "leases", "lease", "Lease", NS),
    // discovery.k8s.io/v1
    res(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        NS,
    ),
];
