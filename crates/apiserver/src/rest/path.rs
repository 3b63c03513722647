//! Parsing resource URLs: `/api/v1/...` and `/apis/<group>/<version>/...`, namespaced or not.

/// What a resource URL addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The API group ("" for core).
    pub group: String,
    /// The version.
    pub version: String,
    /// The resource (plural).
    pub resource: String,
    /// The namespace from `/namespaces/<ns>/...`, if the URL has one.
    pub namespace: Option<String>,
    /// The object's name, if the URL names one.
    pub name: Option<String>,
    /// The subresource (`status`, `scale`, `log`, ...), if any.
    pub subresource: Option<String>,
}

/// The parts of a URL below the API prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiPath {
    /// `/api/v1` or `/apis/<group>/<version>`: the group version's resource list.
    GroupVersion {
        /// The group ("" for core).
        group: String,
        /// The version.
        version: String,
    },
    /// `/apis/<group>`: one group.
    Group(String),
    /// A resource, collection or subresource.
    Resource(Target),
}

/// Subresources of a namespace, which `/api/v1/namespaces/<name>/<x>` may mean instead of a resource.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Parses `path` (without the query); `None` when it is not an API resource path.
pub fn parse(path: &str) -> Option<ApiPath> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group] => return Some(ApiPath::Group((*group).to_owned())),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    if segments.iter().any(|segment| segment.is_empty()) {
        return None;
    }
    let target =
        |resource: &str, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
            Some(ApiPath::Resource(Target {
                group: group.to_owned(),
                version: version.to_owned(),
                resource: resource.to_owned(),
                namespace: namespace.map(str::to_owned),
                name: name.map(str::to_owned),
                subresource: sub.map(str::to_owned),
            }))
        };
    match rest {
        [] => Some(ApiPath::GroupVersion {
            group: group.to_owned(),
            version: version.to_owned(),
        }),
        ["namespaces", namespace, resource, tail @ ..]
            if !NAMESPACE_SUBRESOURCES.contains(resource) || !tail.is_empty() =>
        {
            match tail {
                [] => target(resource, Some(namespace), None, None),
                [name] => target(resource, Some(namespace), Some(name), None),
                [name, sub] => target(resource, Some(namespace), Some(name), Some(sub)),
                _ => None,
            }
        }
        [resource] => target(resource, None, None, None),
        [resource, name] => target(resource, None, Some(name), None),
        [resource, name, sub] => target(resource, None, Some(name), Some(sub)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> Option<ApiPath> {
        Some(ApiPath::Resource(Target {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            namespace: namespace.map(Into::into),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        }))
    }

    #[test]
    fn paths() {
        let cases = [
            (
                "/api/v1",
                Some(ApiPath::GroupVersion {
                    group: "".into(),
                    version: "v1".into(),
                }),
            ),
            ("/apis/apps", Some(ApiPath::Group("apps".into()))),
            ("/api/v1/pods", resource("", "pods", None, None, None)),
            (
                "/api/v1/namespaces",
                resource("", "namespaces", None, None, None),
            ),
            (
                "/api/v1/namespaces/default",
                resource("", "namespaces", None, Some("default"), None),
            ),
            (
                "/api/v1/namespaces/default/status",
                resource("", "namespaces", None, Some("default"), Some("status")),
            ),
            (
                "/api/v1/namespaces/default/pods",
                resource("", "pods", Some("default"), None, None),
            ),
            (
                "/api/v1/namespaces/default/pods/web",
                resource("", "pods", Some("default"), Some("web"), None),
            ),
            (
                "/api/v1/namespaces/default/pods/web/log",
                resource("", "pods", Some("default"), Some("web"), Some("log")),
            ),
            (
                "/api/v1/nodes/n1/status",
                resource("", "nodes", None, Some("n1"), Some("status")),
            ),
            (
                "/apis/apps/v1/namespaces/ns/deployments/d/scale",
                resource("apps", "deployments", Some("ns"), Some("d"), Some("scale")),
            ),
            ("/api/v1/namespaces/default/pods/web/log/extra", None),
            ("/api//pods", None),
            ("/healthz", None),
        ];
        for (path, expected) in cases {
            assert_eq!(parse(path), expected, "{path}");
        }
    }
}
