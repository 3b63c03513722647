//! `rbac.authorization.k8s.io/v1`: what `kubectl create role|clusterrole|rolebinding|clusterrolebinding`
//! sends.

use super::{Kind, LABEL_SELECTOR, OBJECT_META, Schema, field, list};

/// `PolicyRule`.
pub static POLICY_RULE: Schema = Schema {
    name: "PolicyRule",
    fields: &[
        list(1, "verbs", Kind::String),
        list(2, "apiGroups", Kind::String),
        list(3, "resources", Kind::String),
        list(4, "resourceNames", Kind::String),
        list(5, "nonResourceURLs", Kind::String),
    ],
};

/// `AggregationRule`.
pub static AGGREGATION_RULE: Schema = Schema {
    name: "AggregationRule",
    fields: &[list(
        1,
        "clusterRoleSelectors",
        Kind::Message(&LABEL_SELECTOR),
    )],
};

/// `Role`.
pub static ROLE: Schema = Schema {
    name: "Role",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "rules", Kind::Message(&POLICY_RULE)),
    ],
};

/// `ClusterRole`.
pub static CLUSTER_ROLE: Schema = Schema {
    name: "ClusterRole",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "rules", Kind::Message(&POLICY_RULE)),
        field(3, "aggregationRule", Kind::Message(&AGGREGATION_RULE)),
    ],
};

/// `Subject`.
pub static SUBJECT: Schema = Schema {
    name: "Subject",
    fields: &[
        field(1, "kind", Kind::String),
        field(2, "apiGroup", Kind::String),
        field(3, "name", Kind::String),
        field(4, "namespace", Kind::String),
    ],
};

/// `RoleRef`.
pub static ROLE_REF: Schema = Schema {
    name: "RoleRef",
    fields: &[
        field(1, "apiGroup", Kind::String),
        field(2, "kind", Kind::String),
        field(3, "name", Kind::String),
    ],
};

/// `RoleBinding` and `ClusterRoleBinding` (the same fields).
pub static ROLE_BINDING: Schema = Schema {
    name: "RoleBinding",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "subjects", Kind::Message(&SUBJECT)),
        field(3, "roleRef", Kind::Message(&ROLE_REF)),
    ],
};
