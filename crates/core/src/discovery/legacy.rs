//! Legacy discovery: `APIVersions` at `/api`, `APIGroupList` at `/apis`, `APIGroup` at
//! `/apis/<group>`, and an `APIResourceList` per group version with subresources as separate
//! `pods/log`-style entries. kubectl 1.20 reads only these; 1.35 falls back to them.

use serde::{Deserialize, Serialize};

use crate::registry::{self, GroupInfo, ResourceInfo};

/// `/api`: the core group's versions and where to reach the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersions {
    /// Always `APIVersions`.
    pub kind: String,
    /// `["v1"]`.
    pub versions: Vec<String>,
    /// One entry for `0.0.0.0/0`.
    #[serde(rename = "serverAddressByClientCIDRs")]
    pub server_address_by_client_cidrs: Vec<ServerAddressByClientCidr>,
}

/// Which address clients in a network should use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAddressByClientCidr {
    /// The client network, e.g. `0.0.0.0/0`.
    #[serde(rename = "clientCIDR")]
    pub client_cidr: String,
    /// `host:port` of the API server.
    #[serde(rename = "serverAddress")]
    pub server_address: String,
}

/// `/apis`: every named group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGroupList {
    /// Always `APIGroupList`.
    pub kind: String,
    /// Always `v1`.
    pub api_version: String,
    /// Groups in discovery order.
    pub groups: Vec<ApiGroup>,
}

/// One named group; `kind` and `apiVersion` are set only when served alone at `/apis/<group>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGroup {
    /// `APIGroup` when served alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `v1` when served alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Group name.
    pub name: String,
    /// Served versions, preferred first.
    pub versions: Vec<GroupVersionForDiscovery>,
    /// The version clients should use.
    pub preferred_version: GroupVersionForDiscovery,
}

/// A version of a group, e.g. `{groupVersion: "apps/v1", version: "v1"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupVersionForDiscovery {
    /// `group/version`.
    pub group_version: String,
    /// `version`.
    pub version: String,
}

/// `/api/v1` or `/apis/<group>/<version>`: the resources of one group version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiResourceList {
    /// Always `APIResourceList`.
    pub kind: String,
    /// `v1` for named groups; upstream omits it at `/api/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `v1` or `group/version`.
    pub group_version: String,
    /// Resources and subresources, sorted by name.
    pub resources: Vec<ApiResource>,
}

/// One resource or subresource (`name` like `pods/log`) in an `APIResourceList`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiResource {
    /// Plural name, or `resource/subresource`.
    pub name: String,
    /// Singular name; empty for subresources.
    pub singular_name: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Group of the kind, only when it differs from the list's (e.g. `pods/eviction` is `policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Version of the kind, only when the group is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind taken and returned.
    pub kind: String,
    /// Supported verbs.
    pub verbs: Vec<String>,
    /// Short names, e.g. `po`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// The `/api` document; `server_address` is the `host:port` clients reach the API server at.
pub fn api_versions(server_address: &str) -> ApiVersions {
    ApiVersions {
        kind: "APIVersions".to_owned(),
        versions: strings(
            registry::GROUPS
                .first()
                .map_or(&["v1"], |core| core.versions),
        ),
        server_address_by_client_cidrs: vec![ServerAddressByClientCidr {
            client_cidr: "0.0.0.0/0".to_owned(),
            server_address: server_address.to_owned(),
        }],
    }
}

fn group_doc(group: &GroupInfo) -> ApiGroup {
    let version = |v: &str| GroupVersionForDiscovery {
        group_version: group.group_version(v),
        version: v.to_owned(),
    };
    ApiGroup {
        kind: None,
        api_version: None,
        name: group.name.to_owned(),
        versions: group.versions.iter().map(|v| version(v)).collect(),
        preferred_version: version(group.preferred_version()),
    }
}

/// The `/apis` document.
pub fn api_group_list() -> ApiGroupList {
    ApiGroupList {
        kind: "APIGroupList".to_owned(),
        api_version: "v1".to_owned(),
        groups: registry::group_versions().iter().map(group_doc).collect(),
    }
}

/// The `/apis/<group>` document, if kubers serves the named group.
pub fn api_group(name: &str) -> Option<ApiGroup> {
    let group = registry::group_info(name).filter(|group| !group.name.is_empty())?;
    Some(ApiGroup {
        kind: Some("APIGroup".to_owned()),
        api_version: Some("v1".to_owned()),
        ..group_doc(group)
    })
}

/// The `/api/v1` (`group` empty) or `/apis/<group>/<version>` document, if that group version is served.
pub fn api_resource_list(group: &str, version: &str) -> Option<ApiResourceList> {
    let served = registry::group_info(group)?;
    if !served.versions.contains(&version) {
        return None;
    }
    let mut resources: Vec<ApiResource> = registry::resources_in(group, version)
        .flat_map(entries)
        .collect();
    resources.sort_by(|a, b| a.name.cmp(&b.name));
    Some(ApiResourceList {
        kind: "APIResourceList".to_owned(),
        api_version: (!group.is_empty()).then(|| "v1".to_owned()),
        group_version: served.group_version(version),
        resources,
    })
}

/// The entry of a resource followed by one entry per subresource.
fn entries(info: &ResourceInfo) -> Vec<ApiResource> {
    let main = ApiResource {
        name: info.resource.to_owned(),
        singular_name: info.singular.to_owned(),
        namespaced: info.namespaced,
        group: None,
        version: None,
        kind: info.kind.to_owned(),
        verbs: strings(info.verbs),
        short_names: strings(info.short_names),
        categories: strings(info.categories),
    };
    let subs = info.subresources.iter().map(|sub| {
        let kind = info.subresource_kind(sub);
        let foreign = kind.group != info.group || kind.version != info.version;
        ApiResource {
            name: format!("{}/{}", info.resource, sub.name),
            singular_name: String::new(),
            namespaced: info.namespaced,
            group: foreign.then(|| kind.group.to_owned()),
            version: foreign.then(|| kind.version.to_owned()),
            kind: kind.kind.to_owned(),
            verbs: strings(sub.verbs),
            short_names: Vec::new(),
            categories: Vec::new(),
        }
    });
    std::iter::once(main).chain(subs).collect()
}
