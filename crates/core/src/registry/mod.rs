//! The built-in resources kubers serves (the Kubernetes 1.34 surface): scope, verbs, short names,
//! categories and subresources of each, the API groups in discovery order, lookups by resource, kind
//! and the names `kubectl` accepts, and the storage keys objects live under.

mod groups;
mod resources;
mod storage;

use std::fmt;

pub use groups::{GROUPS, GroupInfo, group_info, group_versions};
pub use resources::RESOURCES;
pub use storage::{storage_key, storage_prefix};

/// A group and kind, e.g. `Deployment.apps`; the core group is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupKind<'a> {
    /// API group, empty for the core group.
    pub group: &'a str,
    /// Kind, e.g. `Pod`.
    pub kind: &'a str,
}

impl fmt::Display for GroupKind<'_> {
    /// `Pod` in the core group, `Deployment.apps` elsewhere (upstream's `GroupKind.String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// A group and resource, e.g. `deployments.apps`; the core group is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupResource<'a> {
    /// API group, empty for the core group.
    pub group: &'a str,
    /// Plural resource name, e.g. `pods`.
    pub resource: &'a str,
}

impl fmt::Display for GroupResource<'_> {
    /// `pods` in the core group, `deployments.apps` elsewhere (upstream's `GroupResource.String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// A group, version and kind as discovery reports it (`responseKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gvk {
    /// API group, empty for the core group.
    pub group: &'static str,
    /// Version, e.g. `v1`.
    pub version: &'static str,
    /// Kind, e.g. `Scale`.
    pub kind: &'static str,
}

/// One subresource of a resource, e.g. `pods/log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubresourceInfo {
    /// Subresource name, e.g. `status`.
    pub name: &'static str,
    /// The kind the subresource takes and returns; `None` means the parent's own group, version and
    /// kind (e.g. `pods/status` is a `Pod`).
    pub kind: Option<Gvk>,
    /// Verbs the subresource supports, sorted like upstream.
    pub verbs: &'static [&'static str],
}

/// One built-in resource in one served group version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group, empty for the core group.
    pub group: &'static str,
    /// Version, e.g. `v1`.
    pub version: &'static str,
    /// Plural resource name used in URLs, e.g. `pods`.
    pub resource: &'static str,
    /// Singular name, e.g. `pod`.
    pub singular: &'static str,
    /// Kind, e.g. `Pod`.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Verbs the resource supports, sorted like upstream.
    pub verbs: &'static [&'static str],
    /// Short names `kubectl` accepts, e.g. `po`.
    pub short_names: &'static [&'static str],
    /// Categories, e.g. `all` for `kubectl get all`.
    pub categories: &'static [&'static str],
    /// Subresources, sorted by name.
    pub subresources: &'static [SubresourceInfo],
}

impl ResourceInfo {
    /// `v1` for the core group, `apps/v1` elsewhere: the objects' `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group and resource, displayed as upstream's messages do (`deployments.apps`).
    pub fn group_resource(&self) -> GroupResource<'static> {
        GroupResource {
            group: self.group,
            resource: self.resource,
        }
    }

    /// The group and kind, displayed as upstream's messages do (`Deployment.apps`).
    pub fn group_kind(&self) -> GroupKind<'static> {
        GroupKind {
            group: self.group,
            kind: self.kind,
        }
    }

    /// This resource's own group, version and kind.
    pub fn gvk(&self) -> Gvk {
        Gvk {
            group: self.group,
            version: self.version,
            kind: self.kind,
        }
    }

    /// Whether the resource supports `verb` (`get`, `list`, `watch`, `create`, ...).
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// Whether objects of this resource are kept in the store; create-only resources such as
    /// `bindings` and the access reviews are answered and forgotten.
    pub fn is_stored(&self) -> bool {
        self.supports("get")
    }

    /// The named subresource, if the resource has it.
    pub fn subresource(&self, name: &str) -> Option<&'static SubresourceInfo> {
        self.subresources.iter().find(|sub| sub.name == name)
    }

    /// The kind a subresource takes and returns.
    pub fn subresource_kind(&self, sub: &SubresourceInfo) -> Gvk {
        sub.kind.unwrap_or_else(|| self.gvk())
    }
}

/// The resource served at `group`/`version` under the plural name `resource`.
pub fn find(group: &str, version: &str, resource: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|info| info.group == group && info.version == version && info.resource == resource)
}

/// The resource for `kind` in `group`, at the group's preferred version.
pub fn by_kind(group: &str, kind: &str) -> Option<&'static ResourceInfo> {
    group_info(group)?.versions.iter().find_map(|version| {
        RESOURCES
            .iter()
            .find(|info| info.group == group && info.version == *version && info.kind == kind)
    })
}

/// The resource `kubectl` would pick for a name typed on its command line: a plural, singular, short
/// name or kind (case-insensitive), optionally qualified by group (`deployments.apps`) or by version
/// and group (`deployments.v1.apps`). Groups are searched in discovery order and each group at its
/// preferred version first, so `ev` means core `events`, like upstream.
pub fn resolve(name: &str) -> Option<&'static ResourceInfo> {
    let lower = name.to_ascii_lowercase();
    if let Some(found) = resolve_in(&lower, None, None) {
        return Some(found);
    }
    let (bare, qualifier) = lower.split_once('.')?;
    if let Some((version, group)) = qualifier.split_once('.')
        && let Some(found) = resolve_in(bare, Some(group), Some(version))
    {
        return Some(found);
    }
    resolve_in(bare, Some(qualifier), None)
}

fn resolve_in(
    name: &str,
    group: Option<&str>,
    version: Option<&str>,
) -> Option<&'static ResourceInfo> {
    let matches = |info: &ResourceInfo| {
        info.resource == name
            || info.singular == name
            || info.short_names.contains(&name)
            || info.kind.eq_ignore_ascii_case(name)
    };
    GROUPS
        .iter()
        .filter(|g| group.is_none_or(|wanted| g.name == wanted))
        .flat_map(|g| g.versions.iter().map(move |v| (g.name, *v)))
        .filter(|(_, v)| version.is_none_or(|wanted| *v == wanted))
        .find_map(|(g, v)| {
            RESOURCES
                .iter()
                .find(|info| info.group == g && info.version == v && matches(info))
        })
}

/// Every resource in `category` (e.g. `all`), each at its group's preferred version, in discovery
/// order.
pub fn in_category(category: &str) -> Vec<&'static ResourceInfo> {
    GROUPS
        .iter()
        .filter_map(|g| g.versions.first().map(|v| (g.name, *v)))
        .flat_map(|(g, v)| {
            RESOURCES.iter().filter(move |info| {
                info.group == g && info.version == v && info.categories.contains(&category)
            })
        })
        .collect()
}

/// The resources served in one group version, in table order.
pub fn resources_in<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    RESOURCES
        .iter()
        .filter(move |info| info.group == group && info.version == version)
}

#[cfg(test)]
mod tests;
