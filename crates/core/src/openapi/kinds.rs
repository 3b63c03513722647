//! Which k8s-openapi type describes each kind kubers serves: the top-level kinds of the registry, the
//! kinds of its subresources (`Scale`, `Eviction`, `TokenRequest`) and the `meta/v1` types every group
//! version's operations use. Group, version and kind come from the types themselves
//! (`k8s_openapi::Resource`), never from a second table.

use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, batch, coordination, core, discovery, events,
    networking, policy, rbac, scheduling, storage,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::{ListableResource, Resource};
use schemars::{JsonSchema, Schema, SchemaGenerator};

/// One kind and the function that puts its schema (and everything it refers to) into a generator.
#[derive(Clone, Copy)]
pub struct Kind {
    /// API group, empty for the core group.
    pub group: &'static str,
    /// Version, e.g. `v1`.
    pub version: &'static str,
    /// Kind, e.g. `Pod`.
    pub kind: &'static str,
    /// The kind of its list (`PodList`), for kinds that are listed.
    pub list_kind: Option<&'static str>,
    /// Adds the schema to the generator and returns a `$ref` to it.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

macro_rules! listed {
    ($($ty:ty),* $(,)?) => {
        &[$(Kind {
            group: <$ty as Resource>::GROUP,
            version: <$ty as Resource>::VERSION,
            kind: <$ty as Resource>::KIND,
            list_kind: Some(<$ty as ListableResource>::LIST_KIND),
            schema: schema_of::<$ty>,
        }),*]
    };
}

macro_rules! single {
    ($($ty:ty),* $(,)?) => {
        &[$(Kind {
            group: <$ty as Resource>::GROUP,
            version: <$ty as Resource>::VERSION,
            kind: <$ty as Resource>::KIND,
            list_kind: None,
            schema: schema_of::<$ty>,
        }),*]
    };
}

/// Kinds stored and listed.
pub static LISTED: &[Kind] = listed![
    core::v1::ConfigMap,
    core::v1::Endpoints,
    core::v1::Event,
    core::v1::LimitRange,
    core::v1::Namespace,
    core::v1::Node,
    core::v1::PersistentVolumeClaim,
    core::v1::PersistentVolume,
    core::v1::Pod,
    core::v1::PodTemplate,
    core::v1::ReplicationController,
    core::v1::ResourceQuota,
    core::v1::Secret,
    core::v1::ServiceAccount,
    core::v1::Service,
    apps::v1::ControllerRevision,
    apps::v1::DaemonSet,
    apps::v1::Deployment,
    apps::v1::ReplicaSet,
    apps::v1::StatefulSet,
    events::v1::Event,
    autoscaling::v2::HorizontalPodAutoscaler,
    autoscaling::v1::HorizontalPodAutoscaler,
    batch::v1::CronJob,
    batch::v1::Job,
    networking::v1::IngressClass,
    networking::v1::Ingress,
    networking::v1::NetworkPolicy,
    policy::v1::PodDisruptionBudget,
    rbac::v1::ClusterRoleBinding,
    rbac::v1::ClusterRole,
    rbac::v1::RoleBinding,
    rbac::v1::Role,
    storage::v1::StorageClass,
    scheduling::v1::PriorityClass,
    coordination::v1::Lease,
    discovery::v1::EndpointSlice,
];

/// Kinds that are only created (reviews, bindings) or only exist as subresources.
pub static SINGLE: &[Kind] = single![
    core::v1::Binding,
    authentication::v1::SelfSubjectReview,
    authentication::v1::TokenReview,
    authentication::v1::TokenRequest,
    authorization::v1::LocalSubjectAccessReview,
    authorization::v1::SelfSubjectAccessReview,
    authorization::v1::SelfSubjectRulesReview,
    authorization::v1::SubjectAccessReview,
    autoscaling::v1::Scale,
    policy::v1::Eviction,
];

/// The `meta/v1` types operations take and return, by role.
pub struct MetaSchemas;

impl MetaSchemas {
    /// Adds every `meta/v1` type the paths use to the generator.
    pub fn add(generator: &mut SchemaGenerator) {
        for add in [
            schema_of::<meta::DeleteOptions>,
            schema_of::<meta::Status>,
            schema_of::<meta::WatchEvent<serde_json::Value>>,
            schema_of::<meta::Patch>,
            schema_of::<meta::ListMeta>,
            schema_of::<meta::APIResourceList>,
        ] {
            add(generator);
        }
    }
}

/// Every kind with a schema, listed kinds first.
pub fn all() -> impl Iterator<Item = &'static Kind> {
    LISTED.iter().chain(SINGLE)
}

/// The kind `group`/`version`/`kind`, if kubers has its schema.
pub fn find(group: &str, version: &str, kind: &str) -> Option<&'static Kind> {
    all().find(|k| k.group == group && k.version == version && k.kind == kind)
}
