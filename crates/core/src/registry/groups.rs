//! The API groups kubers serves, in the order upstream's discovery lists them (by the aggregator's
//! group priority: core, then apps, events.k8s.io, authentication, ...), each with its versions in
//! preference order.

/// One API group and the versions served in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupInfo {
    /// Group name, empty for the core group.
    pub name: &'static str,
    /// Served versions, preferred first.
    pub versions: &'static [&'static str],
}

impl GroupInfo {
    /// The version clients should use (`preferredVersion`).
    pub fn preferred_version(&self) -> &'static str {
        self.versions.first().copied().unwrap_or("v1")
    }

    /// `v1` for the core group, `apps/v1` elsewhere.
    pub fn group_version(&self, version: &str) -> String {
        if self.name.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.name)
        }
    }
}

/// Every served group, core first, then in upstream's discovery order (descending group priority:
/// apps 17800, events.k8s.io 17750, authentication 17700, authorization 17600, autoscaling 17500,
/// batch 17400, networking 17200, policy 17100, rbac 17000, storage 16800, scheduling 16600,
/// coordination 16500, discovery 16200).
pub static GROUPS: &[GroupInfo] = &[
    GroupInfo {
        name: "",
        versions: &["v1"],
    },
    GroupInfo {
        name: "apps",
        versions: &["v1"],
    },
    GroupInfo {
        name: "events.k8s.io",
        versions: &["v1"],
    },
    GroupInfo {
        name: "authentication.k8s.io",
        versions: &["v1"],
    },
    GroupInfo {
        name: "authorization.k8s.io",
        versions: &["v1"],
    },
    GroupInfo {
        name: "autoscaling",
        versions: &["v2", "v1"],
    },
    GroupInfo {
        name: "batch",
        versions: &["v1"],
    },
    GroupInfo {
        name: "networking.k8s.io",
        versions: &["v1"],
    },
    GroupInfo {
        name: "policy",
        versions: &["v1"],
    },
    GroupInfo {
        name: "rbac.authorization.k8s.io",
        versions: &["v1"],
    },
    GroupInfo {
        name: "storage.k8s.io",
        versions: &["v1"],
    },
    GroupInfo {
        name: "scheduling.k8s.io",
        versions: &["v1"],
    },
    GroupInfo {
        name: "coordination.k8s.io",
        versions: &["v1"],
    },
    GroupInfo {
        name: "discovery.k8s.io",
        versions: &["v1"],
    },
];

/// The served group called `name` (empty for core).
pub fn group_info(name: &str) -> Option<&'static GroupInfo> {
    GROUPS.iter().find(|group| group.name == name)
}

/// Every served named group (core excluded), in discovery order: what `/apis` lists.
pub fn group_versions() -> &'static [GroupInfo] {
    GROUPS.get(1..).unwrap_or_default()
}
