//! Where objects live in the store: `/registry/<prefix>/<namespace>/<name>`, with upstream's prefixes
//! (kube-apiserver's `SpecialDefaultResourcePrefixes`) so `etcdctl get --prefix /registry` reads like a
//! real cluster's.

use super::ResourceInfo;

/// Prefixes that differ from the plural resource name upstream. Resources that upstream stores
/// together ("cohabitating", e.g. core and `events.k8s.io` events, both HPA versions) already share a
/// plural name, so they share a prefix without an entry here.
const SPECIAL_PREFIXES: &[(&str, &str, &str)] = &[
    ("", "replicationcontrollers", "controllers"),
    ("", "endpoints", "services/endpoints"),
    ("", "nodes", "minions"),
    ("", "services", "services/specs"),
    ("networking.k8s.io", "ingresses", "ingress"),
];

/// The key segment after `/registry/` for a resource, e.g. `pods`, `services/specs`, `minions`.
pub fn storage_prefix(info: &ResourceInfo) -> &'static str {
    SPECIAL_PREFIXES
        .iter()
        .find(|(group, resource, _)| *group == info.group && *resource == info.resource)
        .map_or(info.resource, |(_, _, prefix)| prefix)
}

/// The store key of an object, or of a collection when `name` is `None`.
///
/// - namespaced, both given: `/registry/pods/default/web`;
/// - namespaced, `name` `None`: the namespace's prefix `/registry/pods/default/`;
/// - namespaced, `namespace` `None`: the all-namespaces prefix `/registry/pods/` (`name` is ignored);
/// - cluster-scoped: `/registry/namespaces/default`, or `/registry/namespaces/` (`namespace` ignored).
pub fn storage_key(info: &ResourceInfo, namespace: Option<&str>, name: Option<&str>) -> String {
    let prefix = storage_prefix(info);
    match (info.namespaced, namespace, name) {
        (true, Some(namespace), Some(name)) => format!("/registry/{prefix}/{namespace}/{name}"),
        (true, Some(namespace), None) => format!("/registry/{prefix}/{namespace}/"),
        (true, None, _) | (false, _, None) => format!("/registry/{prefix}/"),
        (false, _, Some(name)) => format!("/registry/{prefix}/{name}"),
    }
}
