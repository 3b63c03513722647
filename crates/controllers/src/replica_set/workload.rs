//! What the replica controller needs of the two kinds it runs: ReplicaSets and
//! ReplicationControllers (the same loop upstream, through a conversion).

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{
    PodTemplateSpec, ReplicationController, ReplicationControllerCondition,
    ReplicationControllerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::selector::Selector;

/// The condition a failed create or delete sets.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// The status the controller writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicaStatus {
    /// Active pods owned.
    pub replicas: i32,
    /// Of those, the ones carrying every label of the template.
    pub fully_labeled: i32,
    /// Ready ones.
    pub ready: i32,
    /// Ready for `minReadySeconds`.
    pub available: i32,
    /// The generation this status is about.
    pub observed_generation: Option<i64>,
    /// The `ReplicaFailure` condition: reason, message and transition time.
    pub failure: Option<(String, String, Option<Time>)>,
}

/// A kind that keeps a number of pods from a template.
pub trait Workload:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The event source and log name (`replicaset-controller`).
    const COMPONENT: &'static str;
    /// Its pod selector.
    fn selector(&self) -> Selector;
    /// Desired replicas (default 1).
    fn replicas(&self) -> i32;
    /// Seconds a ready pod needs to count as available.
    fn min_ready_seconds(&self) -> i32;
    /// The pod template.
    fn template(&self) -> Option<&PodTemplateSpec>;
    /// The status as stored.
    fn replica_status(&self) -> ReplicaStatus;
    /// Replaces the status.
    fn set_replica_status(&mut self, status: ReplicaStatus);
}

impl Workload for ReplicaSet {
    const COMPONENT: &'static str = "replicaset-controller";

    fn selector(&self) -> Selector {
        Selector::from_label_selector(self.spec.as_ref().map(|spec| &spec.selector))
    }

    fn replicas(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1)
    }

    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|spec| spec.min_ready_seconds)
            .unwrap_or(0)
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|spec| spec.template.as_ref())
    }

    fn replica_status(&self) -> ReplicaStatus {
        let Some(status) = &self.status else {
            return ReplicaStatus::default();
        };
        ReplicaStatus {
            replicas: status.replicas,
            fully_labeled: status.fully_labeled_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            observed_generation: status.observed_generation,
            failure: status
                .conditions
                .iter()
                .flatten()
                .find(|condition| condition.type_ == REPLICA_FAILURE)
                .map(|condition| {
                    (
                        condition.reason.clone().unwrap_or_default(),
                        condition.message.clone().unwrap_or_default(),
                        condition.last_transition_time.clone(),
                    )
                }),
        }
    }

    fn set_replica_status(&mut self, status: ReplicaStatus) {
        let mut conditions: Vec<ReplicaSetCondition> = self
            .status
            .as_ref()
            .and_then(|status| status.conditions.clone())
            .unwrap_or_default();
        conditions.retain(|condition| condition.type_ != REPLICA_FAILURE);
        if let Some((reason, message, at)) = status.failure {
            conditions.push(ReplicaSetCondition {
                type_: REPLICA_FAILURE.to_owned(),
                status: "True".to_owned(),
                reason: Some(reason),
                message: Some(message),
                last_transition_time: at,
            });
        }
        let previous = self.status.take().unwrap_or_default();
        self.status = Some(ReplicaSetStatus {
            replicas: status.replicas,
            fully_labeled_replicas: Some(status.fully_labeled),
            ready_replicas: Some(status.ready),
            available_replicas: Some(status.available),
            observed_generation: status.observed_generation,
            conditions: (!conditions.is_empty()).then_some(conditions),
            ..previous
        });
    }
}

impl Workload for ReplicationController {
    const COMPONENT: &'static str = "replication-controller";

    fn selector(&self) -> Selector {
        Selector::from_map(self.spec.as_ref().and_then(|spec| spec.selector.as_ref()))
    }

    fn replicas(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1)
    }

    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|spec| spec.min_ready_seconds)
            .unwrap_or(0)
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|spec| spec.template.as_ref())
    }

    fn replica_status(&self) -> ReplicaStatus {
        let Some(status) = &self.status else {
            return ReplicaStatus::default();
        };
        ReplicaStatus {
            replicas: status.replicas,
            fully_labeled: status.fully_labeled_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            observed_generation: status.observed_generation,
            failure: status
                .conditions
                .iter()
                .flatten()
                .find(|condition| condition.type_ == REPLICA_FAILURE)
                .map(|condition| {
                    (
                        condition.reason.clone().unwrap_or_default(),
                        condition.message.clone().unwrap_or_default(),
                        condition.last_transition_time.clone(),
                    )
                }),
        }
    }

    fn set_replica_status(&mut self, status: ReplicaStatus) {
        let mut conditions: Vec<ReplicationControllerCondition> = self
            .status
            .as_ref()
            .and_then(|status| status.conditions.clone())
            .unwrap_or_default();
        conditions.retain(|condition| condition.type_ != REPLICA_FAILURE);
        if let Some((reason, message, at)) = status.failure {
            conditions.push(ReplicationControllerCondition {
                type_: REPLICA_FAILURE.to_owned(),
                status: "True".to_owned(),
                reason: Some(reason),
                message: Some(message),
                last_transition_time: at,
            });
        }
        self.status = Some(ReplicationControllerStatus {
            replicas: status.replicas,
            fully_labeled_replicas: Some(status.fully_labeled),
            ready_replicas: Some(status.ready),
            available_replicas: Some(status.available),
            observed_generation: status.observed_generation,
            conditions: (!conditions.is_empty()).then_some(conditions),
        });
    }
}
