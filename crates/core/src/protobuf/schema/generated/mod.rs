//! The generated field tables (`scripts/gen-protobuf-schema.py`), one module per API package, and
//! the top-level kinds they serve: do not edit.

pub mod apps_v1;
pub mod authentication_v1;
pub mod authorization_v1;
pub mod autoscaling_v1;
pub mod autoscaling_v2;
pub mod batch_v1;
pub mod coordination_v1;
pub mod core_v1;
pub mod discovery_v1;
pub mod events_v1;
pub mod meta_v1;
pub mod networking_v1;
pub mod policy_v1;
pub mod rbac_v1;
pub mod scheduling_v1;
pub mod storage_v1;

use super::Schema;

/// The schema of a served top-level kind (`apiVersion`, `kind`).
pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static Schema> {
    match (api_version, kind) {
        ("v1", "Binding") => Some(&core_v1::BINDING),
        ("v1", "ConfigMap") => Some(&core_v1::CONFIG_MAP),
        ("v1", "Endpoints") => Some(&core_v1::ENDPOINTS),
        ("v1", "Event") => Some(&core_v1::EVENT),
        ("v1", "LimitRange") => Some(&core_v1::LIMIT_RANGE),
        ("v1", "Namespace") => Some(&core_v1::NAMESPACE),
        ("v1", "Node") => Some(&core_v1::NODE),
        ("v1", "PersistentVolumeClaim") => Some(&core_v1::PERSISTENT_VOLUME_CLAIM),
        ("v1", "PersistentVolume") => Some(&core_v1::PERSISTENT_VOLUME),
        ("v1", "Pod") => Some(&core_v1::POD),
        ("v1", "PodTemplate") => Some(&core_v1::POD_TEMPLATE),
        ("v1", "ReplicationController") => Some(&core_v1::REPLICATION_CONTROLLER),
        ("v1", "ResourceQuota") => Some(&core_v1::RESOURCE_QUOTA),
        ("v1", "Secret") => Some(&core_v1::SECRET),
        ("v1", "ServiceAccount") => Some(&core_v1::SERVICE_ACCOUNT),
        ("v1", "Service") => Some(&core_v1::SERVICE),
        ("apps/v1", "ControllerRevision") => Some(&apps_v1::CONTROLLER_REVISION),
        ("apps/v1", "DaemonSet") => Some(&apps_v1::DAEMON_SET),
        ("apps/v1", "Deployment") => Some(&apps_v1::DEPLOYMENT),
        ("apps/v1", "ReplicaSet") => Some(&apps_v1::REPLICA_SET),
        ("apps/v1", "StatefulSet") => Some(&apps_v1::STATEFUL_SET),
        ("events.k8s.io/v1", "Event") => Some(&events_v1::EVENT),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            Some(&authentication_v1::SELF_SUBJECT_REVIEW)
        }
        ("authentication.k8s.io/v1", "TokenReview") => Some(&authentication_v1::TOKEN_REVIEW),
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => {
            Some(&authorization_v1::LOCAL_SUBJECT_ACCESS_REVIEW)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            Some(&authorization_v1::SELF_SUBJECT_ACCESS_REVIEW)
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            Some(&authorization_v1::SELF_SUBJECT_RULES_REVIEW)
        }
        ("authorization.k8s.io/v1", "SubjectAccessReview") => {
            Some(&authorization_v1::SUBJECT_ACCESS_REVIEW)
        }
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            Some(&autoscaling_v2::HORIZONTAL_POD_AUTOSCALER)
        }
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            Some(&autoscaling_v1::HORIZONTAL_POD_AUTOSCALER)
        }
        ("batch/v1", "CronJob") => Some(&batch_v1::CRON_JOB),
        ("batch/v1", "Job") => Some(&batch_v1::JOB),
        ("networking.k8s.io/v1", "IngressClass") => Some(&networking_v1::INGRESS_CLASS),
        ("networking.k8s.io/v1", "Ingress") => Some(&networking_v1::INGRESS),
        ("networking.k8s.io/v1", "NetworkPolicy") => Some(&networking_v1::NETWORK_POLICY),
        ("policy/v1", "PodDisruptionBudget") => Some(&policy_v1::POD_DISRUPTION_BUDGET),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            Some(&rbac_v1::CLUSTER_ROLE_BINDING)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => Some(&rbac_v1::CLUSTER_ROLE),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => Some(&rbac_v1::ROLE_BINDING),
        ("rbac.authorization.k8s.io/v1", "Role") => Some(&rbac_v1::ROLE),
        ("storage.k8s.io/v1", "StorageClass") => Some(&storage_v1::STORAGE_CLASS),
        ("scheduling.k8s.io/v1", "PriorityClass") => Some(&scheduling_v1::PRIORITY_CLASS),
        ("coordination.k8s.io/v1", "Lease") => Some(&coordination_v1::LEASE),
        ("discovery.k8s.io/v1", "EndpointSlice") => Some(&discovery_v1::ENDPOINT_SLICE),
        ("autoscaling/v1", "Scale") => Some(&autoscaling_v1::SCALE),
        ("policy/v1", "Eviction") => Some(&policy_v1::EVICTION),
        ("authentication.k8s.io/v1", "TokenRequest") => Some(&authentication_v1::TOKEN_REQUEST),
        _ => None,
    }
}
