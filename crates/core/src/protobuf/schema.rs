//! Field tables of the Kubernetes protobuf messages kubers decodes (numbers from upstream's
//! `generated.proto`), mapped to their JSON names.

/// How a field's value is encoded and shown in JSON.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A string.
    String,
    /// Bytes, shown as base64 like the JSON API does.
    Bytes,
    /// An integer (int32 or int64).
    Int,
    /// A boolean.
    Bool,
    /// `meta/v1.Time`: `{1: seconds, 2: nanos}`, shown as RFC 3339.
    Time,
    /// A nested message.
    Message(&'static Schema),
    /// `map<string, string>`.
    StringMap,
    /// `map<string, bytes>`, values shown as base64.
    BytesMap,
    /// `map<string, resource.Quantity>` (a Quantity is `{1: string}`), shown as strings.
    QuantityMap,
    /// `intstr.IntOrString`: `{1: type, 2: intVal, 3: strVal}`, shown as a number or a string.
    IntOrString,
    /// A field the server resets anyway (a `status` sent on create): read and dropped.
    Discard,
}

/// One field of a message.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// The field number.
    pub number: u32,
    /// The JSON name.
    pub name: &'static str,
    /// The value's encoding.
    pub kind: Kind,
    /// Whether the field is a list.
    pub repeated: bool,
}

/// A message type.
#[derive(Debug)]
pub struct Schema {
    /// The message's name, for errors.
    pub name: &'static str,
    /// Its known fields.
    pub fields: &'static [FieldSpec],
}

const fn field(number: u32, name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec {
        number,
        name,
        kind,
        repeated: false,
    }
}

const fn list(number: u32, name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec {
        number,
        name,
        kind,
        repeated: true,
    }
}

/// `meta/v1.OwnerReference`.
pub static OWNER_REFERENCE: Schema = Schema {
    name: "OwnerReference",
    fields: &[
        field(1, "kind", Kind::String),
        field(3, "name", Kind::String),
        field(4, "uid", Kind::String),
        field(5, "apiVersion", Kind::String),
        field(6, "controller", Kind::Bool),
        field(7, "blockOwnerDeletion", Kind::Bool),
    ],
};

/// `meta/v1.ObjectMeta` (managedFields are not accepted in protobuf bodies).
pub static OBJECT_META: Schema = Schema {
    name: "ObjectMeta",
    fields: &[
        field(1, "name", Kind::String),
        field(2, "generateName", Kind::String),
        field(3, "namespace", Kind::String),
        field(4, "selfLink", Kind::String),
        field(5, "uid", Kind::String),
        field(6, "resourceVersion", Kind::String),
        field(7, "generation", Kind::Int),
        field(8, "creationTimestamp", Kind::Time),
        field(9, "deletionTimestamp", Kind::Time),
        field(10, "deletionGracePeriodSeconds", Kind::Int),
        field(11, "labels", Kind::StringMap),
        field(12, "annotations", Kind::StringMap),
        list(13, "ownerReferences", Kind::Message(&OWNER_REFERENCE)),
        list(14, "finalizers", Kind::String),
    ],
};

/// `core/v1.ConfigMap`.
pub static CONFIG_MAP: Schema = Schema {
    name: "ConfigMap",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "data", Kind::StringMap),
        field(3, "binaryData", Kind::BytesMap),
        field(4, "immutable", Kind::Bool),
    ],
};

/// `core/v1.Secret`.
pub static SECRET: Schema = Schema {
    name: "Secret",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "data", Kind::BytesMap),
        field(3, "type", Kind::String),
        field(4, "stringData", Kind::StringMap),
        field(5, "immutable", Kind::Bool),
    ],
};

/// `core/v1.NamespaceSpec`.
pub static NAMESPACE_SPEC: Schema = Schema {
    name: "NamespaceSpec",
    fields: &[list(1, "finalizers", Kind::String)],
};

/// `core/v1.NamespaceStatus` (conditions are server-owned and not accepted).
pub static NAMESPACE_STATUS: Schema = Schema {
    name: "NamespaceStatus",
    fields: &[field(1, "phase", Kind::String)],
};

/// `core/v1.Namespace`.
pub static NAMESPACE: Schema = Schema {
    name: "Namespace",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&NAMESPACE_SPEC)),
        field(3, "status", Kind::Message(&NAMESPACE_STATUS)),
    ],
};

/// `meta/v1.LabelSelectorRequirement`.
pub static LABEL_SELECTOR_REQUIREMENT: Schema = Schema {
    name: "LabelSelectorRequirement",
    fields: &[
        field(1, "key", Kind::String),
        field(2, "operator", Kind::String),
        list(3, "values", Kind::String),
    ],
};

/// `meta/v1.LabelSelector`.
pub static LABEL_SELECTOR: Schema = Schema {
    name: "LabelSelector",
    fields: &[
        field(1, "matchLabels", Kind::StringMap),
        list(
            2,
            "matchExpressions",
            Kind::Message(&LABEL_SELECTOR_REQUIREMENT),
        ),
    ],
};

/// `core/v1.ContainerPort`.
pub static CONTAINER_PORT: Schema = Schema {
    name: "ContainerPort",
    fields: &[
        field(1, "name", Kind::String),
        field(2, "hostPort", Kind::Int),
        field(3, "containerPort", Kind::Int),
        field(4, "protocol", Kind::String),
        field(5, "hostIP", Kind::String),
    ],
};

/// `core/v1.EnvVar` (plain values only).
pub static ENV_VAR: Schema = Schema {
    name: "EnvVar",
    fields: &[
        field(1, "name", Kind::String),
        field(2, "value", Kind::String),
    ],
};

/// `core/v1.ResourceRequirements`.
pub static RESOURCE_REQUIREMENTS: Schema = Schema {
    name: "ResourceRequirements",
    fields: &[
        field(1, "limits", Kind::QuantityMap),
        field(2, "requests", Kind::QuantityMap),
    ],
};

/// `core/v1.Container`: the fields `kubectl create` and `kubectl run` set.
pub static CONTAINER: Schema = Schema {
    name: "Container",
    fields: &[
        field(1, "name", Kind::String),
        field(2, "image", Kind::String),
        list(3, "command", Kind::String),
        list(4, "args", Kind::String),
        field(5, "workingDir", Kind::String),
        list(6, "ports", Kind::Message(&CONTAINER_PORT)),
        list(7, "env", Kind::Message(&ENV_VAR)),
        field(8, "resources", Kind::Message(&RESOURCE_REQUIREMENTS)),
        field(13, "terminationMessagePath", Kind::String),
        field(14, "imagePullPolicy", Kind::String),
        field(16, "stdin", Kind::Bool),
        field(17, "stdinOnce", Kind::Bool),
        field(18, "tty", Kind::Bool),
        field(20, "terminationMessagePolicy", Kind::String),
    ],
};

/// `core/v1.PodSpec`: the fields `kubectl create` sets.
pub static POD_SPEC: Schema = Schema {
    name: "PodSpec",
    fields: &[
        list(2, "containers", Kind::Message(&CONTAINER)),
        field(3, "restartPolicy", Kind::String),
        field(4, "terminationGracePeriodSeconds", Kind::Int),
        field(6, "dnsPolicy", Kind::String),
        field(7, "nodeSelector", Kind::StringMap),
        field(8, "serviceAccountName", Kind::String),
        field(10, "nodeName", Kind::String),
        field(11, "hostNetwork", Kind::Bool),
        field(16, "hostname", Kind::String),
        field(17, "subdomain", Kind::String),
        field(19, "schedulerName", Kind::String),
        list(20, "initContainers", Kind::Message(&CONTAINER)),
    ],
};

/// `core/v1.PodTemplateSpec`.
pub static POD_TEMPLATE_SPEC: Schema = Schema {
    name: "PodTemplateSpec",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&POD_SPEC)),
    ],
};

/// `apps/v1.RollingUpdateDeployment`.
pub static ROLLING_UPDATE_DEPLOYMENT: Schema = Schema {
    name: "RollingUpdateDeployment",
    fields: &[
        field(1, "maxUnavailable", Kind::IntOrString),
        field(2, "maxSurge", Kind::IntOrString),
    ],
};

/// `apps/v1.DeploymentStrategy`.
pub static DEPLOYMENT_STRATEGY: Schema = Schema {
    name: "DeploymentStrategy",
    fields: &[
        field(1, "type", Kind::String),
        field(
            2,
            "rollingUpdate",
            Kind::Message(&ROLLING_UPDATE_DEPLOYMENT),
        ),
    ],
};

/// `apps/v1.DeploymentSpec`.
pub static DEPLOYMENT_SPEC: Schema = Schema {
    name: "DeploymentSpec",
    fields: &[
        field(1, "replicas", Kind::Int),
        field(2, "selector", Kind::Message(&LABEL_SELECTOR)),
        field(3, "template", Kind::Message(&POD_TEMPLATE_SPEC)),
        field(4, "strategy", Kind::Message(&DEPLOYMENT_STRATEGY)),
        field(5, "minReadySeconds", Kind::Int),
        field(6, "revisionHistoryLimit", Kind::Int),
        field(7, "paused", Kind::Bool),
        field(9, "progressDeadlineSeconds", Kind::Int),
    ],
};

/// `apps/v1.Deployment`.
pub static DEPLOYMENT: Schema = Schema {
    name: "Deployment",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&DEPLOYMENT_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `core/v1.ServicePort`.
pub static SERVICE_PORT: Schema = Schema {
    name: "ServicePort",
    fields: &[
        field(1, "name", Kind::String),
        field(2, "protocol", Kind::String),
        field(3, "port", Kind::Int),
        field(4, "targetPort", Kind::IntOrString),
        field(5, "nodePort", Kind::Int),
        field(6, "appProtocol", Kind::String),
    ],
};

/// `core/v1.ServiceSpec`: the fields `kubectl create service` and `kubectl expose` set.
pub static SERVICE_SPEC: Schema = Schema {
    name: "ServiceSpec",
    fields: &[
        list(1, "ports", Kind::Message(&SERVICE_PORT)),
        field(2, "selector", Kind::StringMap),
        field(3, "clusterIP", Kind::String),
        field(4, "type", Kind::String),
        list(5, "externalIPs", Kind::String),
        field(7, "sessionAffinity", Kind::String),
        field(10, "externalName", Kind::String),
    ],
};

/// `core/v1.Service`.
pub static SERVICE: Schema = Schema {
    name: "Service",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&SERVICE_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `policy/v1.PodDisruptionBudgetSpec`.
pub static POD_DISRUPTION_BUDGET_SPEC: Schema = Schema {
    name: "PodDisruptionBudgetSpec",
    fields: &[
        field(1, "minAvailable", Kind::IntOrString),
        field(2, "selector", Kind::Message(&LABEL_SELECTOR)),
        field(3, "maxUnavailable", Kind::IntOrString),
        field(4, "unhealthyPodEvictionPolicy", Kind::String),
    ],
};

/// `policy/v1.PodDisruptionBudget`.
pub static POD_DISRUPTION_BUDGET: Schema = Schema {
    name: "PodDisruptionBudget",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&POD_DISRUPTION_BUDGET_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `core/v1.ObjectReference`.
pub static OBJECT_REFERENCE: Schema = Schema {
    name: "ObjectReference",
    fields: &[
        field(1, "kind", Kind::String),
        field(2, "namespace", Kind::String),
        field(3, "name", Kind::String),
        field(4, "uid", Kind::String),
        field(5, "apiVersion", Kind::String),
        field(6, "resourceVersion", Kind::String),
        field(7, "fieldPath", Kind::String),
    ],
};

/// `core/v1.LocalObjectReference`.
pub static LOCAL_OBJECT_REFERENCE: Schema = Schema {
    name: "LocalObjectReference",
    fields: &[field(1, "name", Kind::String)],
};

/// `core/v1.ServiceAccount`.
pub static SERVICE_ACCOUNT: Schema = Schema {
    name: "ServiceAccount",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "secrets", Kind::Message(&OBJECT_REFERENCE)),
        list(
            3,
            "imagePullSecrets",
            Kind::Message(&LOCAL_OBJECT_REFERENCE),
        ),
        field(4, "automountServiceAccountToken", Kind::Bool),
    ],
};

/// `core/v1.ScopedResourceSelectorRequirement`.
pub static SCOPED_RESOURCE_SELECTOR_REQUIREMENT: Schema = Schema {
    name: "ScopedResourceSelectorRequirement",
    fields: &[
        field(1, "scopeName", Kind::String),
        field(2, "operator", Kind::String),
        list(3, "values", Kind::String),
    ],
};

/// `core/v1.ScopeSelector`.
pub static SCOPE_SELECTOR: Schema = Schema {
    name: "ScopeSelector",
    fields: &[list(
        1,
        "matchExpressions",
        Kind::Message(&SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
    )],
};

/// `core/v1.ResourceQuotaSpec`.
pub static RESOURCE_QUOTA_SPEC: Schema = Schema {
    name: "ResourceQuotaSpec",
    fields: &[
        field(1, "hard", Kind::QuantityMap),
        list(2, "scopes", Kind::String),
        field(3, "scopeSelector", Kind::Message(&SCOPE_SELECTOR)),
    ],
};

/// `core/v1.ResourceQuota` (what `kubectl create quota` sends).
pub static RESOURCE_QUOTA: Schema = Schema {
    name: "ResourceQuota",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&RESOURCE_QUOTA_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `authentication/v1.BoundObjectReference`.
pub static BOUND_OBJECT_REFERENCE: Schema = Schema {
    name: "BoundObjectReference",
    fields: &[
        field(1, "kind", Kind::String),
        field(2, "apiVersion", Kind::String),
        field(3, "name", Kind::String),
        field(4, "uid", Kind::String),
    ],
};

/// `authentication/v1.TokenRequestSpec`.
pub static TOKEN_REQUEST_SPEC: Schema = Schema {
    name: "TokenRequestSpec",
    fields: &[
        list(1, "audiences", Kind::String),
        field(3, "boundObjectRef", Kind::Message(&BOUND_OBJECT_REFERENCE)),
        field(4, "expirationSeconds", Kind::Int),
    ],
};

/// `authentication/v1.TokenRequest` (what `kubectl create token` sends).
pub static TOKEN_REQUEST: Schema = Schema {
    name: "TokenRequest",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&TOKEN_REQUEST_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `authentication/v1.TokenReviewSpec`.
pub static TOKEN_REVIEW_SPEC: Schema = Schema {
    name: "TokenReviewSpec",
    fields: &[
        field(1, "token", Kind::String),
        list(2, "audiences", Kind::String),
    ],
};

/// `authentication/v1.TokenReview`.
pub static TOKEN_REVIEW: Schema = Schema {
    name: "TokenReview",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&TOKEN_REVIEW_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `authentication/v1.SelfSubjectReview` (`kubectl auth whoami`).
pub static SELF_SUBJECT_REVIEW: Schema = Schema {
    name: "SelfSubjectReview",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "status", Kind::Discard),
    ],
};

/// `authorization/v1.FieldSelectorAttributes` and `LabelSelectorAttributes` (the raw selector only).
pub static SELECTOR_ATTRIBUTES: Schema = Schema {
    name: "SelectorAttributes",
    fields: &[field(1, "rawSelector", Kind::String)],
};

/// `authorization/v1.ResourceAttributes`.
pub static RESOURCE_ATTRIBUTES: Schema = Schema {
    name: "ResourceAttributes",
    fields: &[
        field(1, "namespace", Kind::String),
        field(2, "verb", Kind::String),
        field(3, "group", Kind::String),
        field(4, "version", Kind::String),
        field(5, "resource", Kind::String),
        field(6, "subresource", Kind::String),
        field(7, "name", Kind::String),
        field(8, "fieldSelector", Kind::Message(&SELECTOR_ATTRIBUTES)),
        field(9, "labelSelector", Kind::Message(&SELECTOR_ATTRIBUTES)),
    ],
};

/// `authorization/v1.NonResourceAttributes`.
pub static NON_RESOURCE_ATTRIBUTES: Schema = Schema {
    name: "NonResourceAttributes",
    fields: &[
        field(1, "path", Kind::String),
        field(2, "verb", Kind::String),
    ],
};

/// `authorization/v1.SubjectAccessReviewSpec` (extra attributes are not accepted in protobuf).
pub static SUBJECT_ACCESS_REVIEW_SPEC: Schema = Schema {
    name: "SubjectAccessReviewSpec",
    fields: &[
        field(1, "resourceAttributes", Kind::Message(&RESOURCE_ATTRIBUTES)),
        field(
            2,
            "nonResourceAttributes",
            Kind::Message(&NON_RESOURCE_ATTRIBUTES),
        ),
        field(3, "user", Kind::String),
        list(4, "groups", Kind::String),
        field(6, "uid", Kind::String),
    ],
};

/// `authorization/v1.SubjectAccessReview` and `LocalSubjectAccessReview`.
pub static SUBJECT_ACCESS_REVIEW: Schema = Schema {
    name: "SubjectAccessReview",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&SUBJECT_ACCESS_REVIEW_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `authorization/v1.SelfSubjectAccessReviewSpec`.
pub static SELF_SUBJECT_ACCESS_REVIEW_SPEC: Schema = Schema {
    name: "SelfSubjectAccessReviewSpec",
    fields: &[
        field(1, "resourceAttributes", Kind::Message(&RESOURCE_ATTRIBUTES)),
        field(
            2,
            "nonResourceAttributes",
            Kind::Message(&NON_RESOURCE_ATTRIBUTES),
        ),
    ],
};

/// `authorization/v1.SelfSubjectAccessReview` (`kubectl auth can-i`).
pub static SELF_SUBJECT_ACCESS_REVIEW: Schema = Schema {
    name: "SelfSubjectAccessReview",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&SELF_SUBJECT_ACCESS_REVIEW_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// `authorization/v1.SelfSubjectRulesReviewSpec`.
pub static SELF_SUBJECT_RULES_REVIEW_SPEC: Schema = Schema {
    name: "SelfSubjectRulesReviewSpec",
    fields: &[field(1, "namespace", Kind::String)],
};

/// `authorization/v1.SelfSubjectRulesReview` (`kubectl auth can-i --list`).
pub static SELF_SUBJECT_RULES_REVIEW: Schema = Schema {
    name: "SelfSubjectRulesReview",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&SELF_SUBJECT_RULES_REVIEW_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};

/// The schema of a top-level kind (`apiVersion`, `kind`), if kubers decodes it from protobuf.
pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static Schema> {
    match (api_version, kind) {
        ("v1", "ConfigMap") => Some(&CONFIG_MAP),
        ("v1", "Secret") => Some(&SECRET),
        ("v1", "Namespace") => Some(&NAMESPACE),
        ("v1", "Service") => Some(&SERVICE),
        ("apps/v1", "Deployment") => Some(&DEPLOYMENT),
        ("policy/v1", "PodDisruptionBudget") => Some(&POD_DISRUPTION_BUDGET),
        ("v1", "ServiceAccount") => Some(&SERVICE_ACCOUNT),
        ("v1", "ResourceQuota") => Some(&RESOURCE_QUOTA),
        ("authentication.k8s.io/v1", "TokenRequest") => Some(&TOKEN_REQUEST),
        ("authentication.k8s.io/v1", "TokenReview") => Some(&TOKEN_REVIEW),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => Some(&SELF_SUBJECT_REVIEW),
        ("authorization.k8s.io/v1", "SubjectAccessReview" | "LocalSubjectAccessReview") => {
            Some(&SUBJECT_ACCESS_REVIEW)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => Some(&SELF_SUBJECT_ACCESS_REVIEW),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => Some(&SELF_SUBJECT_RULES_REVIEW),
        _ => None,
    }
}
