//! Cluster policy objects `kubectl create` sends: `core/v1.ResourceQuota` (`create quota`) and
//! `scheduling.k8s.io/v1.PriorityClass` (`create priorityclass`).

use super::{Kind, OBJECT_META, Schema, field, list};

/// `ScopedResourceSelectorRequirement`.
pub static SCOPED_RESOURCE_SELECTOR_REQUIREMENT: Schema = Schema {
    name: "ScopedResourceSelectorRequirement",
    fields: &[
        field(1, "scopeName", Kind::String),
        field(2, "operator", Kind::String),
        list(3, "values", Kind::String),
    ],
};

/// `ScopeSelector`.
pub static SCOPE_SELECTOR: Schema = Schema {
    name: "ScopeSelector",
    fields: &[list(
        1,
        "matchExpressions",
        Kind::Message(&SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
    )],
};

/// `ResourceQuotaSpec`.
pub static RESOURCE_QUOTA_SPEC: Schema = Schema {
    name: "ResourceQuotaSpec",
    fields: &[
        field(1, "hard", Kind::QuantityMap),
        list(2, "scopes", Kind::String),
        field(3, "scopeSelector", Kind::Message(&SCOPE_SELECTOR)),
    ],
};

/// `ResourceQuota`.
pub static RESOURCE_QUOTA: Schema = Schema {
    name: "ResourceQuota",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&RESOURCE_QUOTA_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `PriorityClass`.
pub static PRIORITY_CLASS: Schema = Schema {
    name: "PriorityClass",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "value", Kind::Int),
        field(3, "globalDefault", Kind::Bool),
        field(4, "description", Kind::String),
        field(5, "preemptionPolicy", Kind::String),
    ],
};
