//! Aggregated discovery (`apidiscovery.k8s.io/v2`, and the identical `v2beta1`): one
//! `APIGroupDiscoveryList` for `/api` (the core group, unnamed) and one for `/apis` (every named
//! group), each version carrying its resources with scope, verbs, short names, categories and
//! subresources. kubectl 1.35 needs nothing else to resolve any resource name.

use serde::{Deserialize, Serialize};

use crate::registry::{self, GroupInfo, Gvk, ResourceInfo};

use super::{AGGREGATED_V2, AGGREGATED_V2BETA1};

/// A version of the aggregated discovery format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregatedVersion {
    /// `apidiscovery.k8s.io/v2`, kubectl 1.30 and later.
    V2,
    /// `apidiscovery.k8s.io/v2beta1`, kubectl 1.26 to 1.29 (and accepted by newer ones).
    V2Beta1,
}

impl AggregatedVersion {
    /// The response `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            AggregatedVersion::V2 => AGGREGATED_V2,
            AggregatedVersion::V2Beta1 => AGGREGATED_V2BETA1,
        }
    }

    /// The documents' `apiVersion`.
    pub fn api_version(self) -> &'static str {
        match self {
            AggregatedVersion::V2 => "apidiscovery.k8s.io/v2",
            AggregatedVersion::V2Beta1 => "apidiscovery.k8s.io/v2beta1",
        }
    }
}

/// The aggregated discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGroupDiscoveryList {
    /// Always `APIGroupDiscoveryList`.
    pub kind: String,
    /// `apidiscovery.k8s.io/v2` or `.../v2beta1`.
    pub api_version: String,
    /// Always empty.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Groups in discovery order.
    pub items: Vec<ApiGroupDiscovery>,
}

/// One group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGroupDiscovery {
    /// The group's name; absent for the core group.
    pub metadata: GroupMeta,
    /// Versions, preferred first.
    pub versions: Vec<ApiVersionDiscovery>,
}

/// The metadata of a group entry: only its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMeta {
    /// Group name; `None` (omitted) for the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One version of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersionDiscovery {
    /// e.g. `v1`.
    pub version: String,
    /// Resources, sorted by name.
    pub resources: Vec<ApiResourceDiscovery>,
    /// Always `Current`.
    pub freshness: String,
}

/// A group, version and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseKind {
    /// Group, empty for core (always present).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl From<Gvk> for ResponseKind {
    fn from(gvk: Gvk) -> Self {
        ResponseKind {
            group: gvk.group.to_owned(),
            version: gvk.version.to_owned(),
            kind: gvk.kind.to_owned(),
        }
    }
}

/// One resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiResourceDiscovery {
    /// Plural name.
    pub resource: String,
    /// Kind taken and returned.
    pub response_kind: ResponseKind,
    /// `Namespaced` or `Cluster`.
    pub scope: String,
    /// Singular name.
    pub singular_resource: String,
    /// Supported verbs.
    pub verbs: Vec<String>,
    /// Short names, e.g. `po`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Subresources, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subresources: Vec<ApiSubresourceDiscovery>,
}

/// One subresource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSubresourceDiscovery {
    /// e.g. `status`.
    pub subresource: String,
    /// Kind taken and returned.
    pub response_kind: ResponseKind,
    /// Supported verbs.
    pub verbs: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

fn resource_doc(info: &ResourceInfo) -> ApiResourceDiscovery {
    ApiResourceDiscovery {
        resource: info.resource.to_owned(),
        response_kind: info.gvk().into(),
        scope: if info.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }
        .to_owned(),
        singular_resource: info.singular.to_owned(),
        verbs: strings(info.verbs),
        short_names: strings(info.short_names),
        categories: strings(info.categories),
        subresources: info
            .subresources
            .iter()
            .map(|sub| ApiSubresourceDiscovery {
                subresource: sub.name.to_owned(),
                response_kind: info.subresource_kind(sub).into(),
                verbs: strings(sub.verbs),
            })
            .collect(),
    }
}

fn group_doc(group: &GroupInfo) -> ApiGroupDiscovery {
    let versions = group
        .versions
        .iter()
        .map(|version| {
            let mut resources: Vec<_> = registry::resources_in(group.name, version)
                .map(resource_doc)
                .collect();
            resources.sort_by(|a, b| a.resource.cmp(&b.resource));
            ApiVersionDiscovery {
                version: (*version).to_owned(),
                resources,
                freshness: "Current".to_owned(),
            }
        })
        .collect();
    let name = (!group.name.is_empty()).then(|| group.name.to_owned());
    ApiGroupDiscovery {
        metadata: GroupMeta { name },
        versions,
    }
}

fn list(version: AggregatedVersion, groups: &[GroupInfo]) -> ApiGroupDiscoveryList {
    ApiGroupDiscoveryList {
        kind: "APIGroupDiscoveryList".to_owned(),
        api_version: version.api_version().to_owned(),
        metadata: serde_json::Map::new(),
        items: groups.iter().map(group_doc).collect(),
    }
}

/// The aggregated document served at `/api`: the core group alone.
pub fn aggregated_core(version: AggregatedVersion) -> ApiGroupDiscoveryList {
    let core = registry::GROUPS.get(..1).unwrap_or_default();
    list(version, core)
}

/// The aggregated document served at `/apis`: every named group in discovery order.
pub fn aggregated_apis(version: AggregatedVersion) -> ApiGroupDiscoveryList {
    list(version, registry::group_versions())
}
