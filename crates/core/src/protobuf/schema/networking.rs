//! `networking.k8s.io/v1.Ingress`: what `kubectl create ingress` sends. A rule's `http` is inlined
//! in JSON but nested in protobuf (`IngressRuleValue`).

use super::{Kind, OBJECT_META, Schema, field, list};

/// `core/v1.TypedLocalObjectReference`.
pub static TYPED_LOCAL_OBJECT_REFERENCE: Schema = Schema {
    name: "TypedLocalObjectReference",
    fields: &[
        field(1, "apiGroup", Kind::String),
        field(2, "kind", Kind::String),
        field(3, "name", Kind::String),
    ],
};

/// `ServiceBackendPort`.
pub static SERVICE_BACKEND_PORT: Schema = Schema {
    name: "ServiceBackendPort",
    fields: &[
        field(1, "name", Kind::String),
        field(2, "number", Kind::Int),
    ],
};

/// `IngressServiceBackend`.
pub static INGRESS_SERVICE_BACKEND: Schema = Schema {
    name: "IngressServiceBackend",
    fields: &[
        field(1, "name", Kind::String),
        field(2, "port", Kind::Message(&SERVICE_BACKEND_PORT)),
    ],
};

/// `IngressBackend`.
pub static INGRESS_BACKEND: Schema = Schema {
    name: "IngressBackend",
    fields: &[
        field(3, "resource", Kind::Message(&TYPED_LOCAL_OBJECT_REFERENCE)),
        field(4, "service", Kind::Message(&INGRESS_SERVICE_BACKEND)),
    ],
};

/// `IngressTLS`.
pub static INGRESS_TLS: Schema = Schema {
    name: "IngressTLS",
    fields: &[
        list(1, "hosts", Kind::String),
        field(2, "secretName", Kind::String),
    ],
};

/// `HTTPIngressPath`.
pub static HTTP_INGRESS_PATH: Schema = Schema {
    name: "HTTPIngressPath",
    fields: &[
        field(1, "path", Kind::String),
        field(2, "backend", Kind::Message(&INGRESS_BACKEND)),
        field(3, "pathType", Kind::String),
    ],
};

/// `HTTPIngressRuleValue`.
pub static HTTP_INGRESS_RULE_VALUE: Schema = Schema {
    name: "HTTPIngressRuleValue",
    fields: &[list(1, "paths", Kind::Message(&HTTP_INGRESS_PATH))],
};

/// `IngressRuleValue` (inlined into its rule).
pub static INGRESS_RULE_VALUE: Schema = Schema {
    name: "IngressRuleValue",
    fields: &[field(1, "http", Kind::Message(&HTTP_INGRESS_RULE_VALUE))],
};

/// `IngressRule`.
pub static INGRESS_RULE: Schema = Schema {
    name: "IngressRule",
    fields: &[
        field(1, "host", Kind::String),
        field(2, "ingressRuleValue", Kind::Inline(&INGRESS_RULE_VALUE)),
    ],
};

/// `IngressSpec`.
pub static INGRESS_SPEC: Schema = Schema {
    name: "IngressSpec",
    fields: &[
        field(1, "defaultBackend", Kind::Message(&INGRESS_BACKEND)),
        list(2, "tls", Kind::Message(&INGRESS_TLS)),
        list(3, "rules", Kind::Message(&INGRESS_RULE)),
        field(4, "ingressClassName", Kind::String),
    ],
};

/// `Ingress`.
pub static INGRESS: Schema = Schema {
    name: "Ingress",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&INGRESS_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};
