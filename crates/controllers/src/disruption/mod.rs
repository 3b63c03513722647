//! The disruption controller, as upstream's: every PodDisruptionBudget's status (`expectedPods`,
//! `desiredHealthy`, `currentHealthy`, `disruptionsAllowed`, the evictions still pending in
//! `disruptedPods`, `observedGeneration`) and its `DisruptionAllowed` condition (`SufficientPods`,
//! `InsufficientPods`, or `SyncFailed` when the expected count cannot be computed, which allows no
//! disruption). The eviction subresource reads and decrements it. Budgets are synced when they or
//! their pods change, and again when a pending eviction expires. The arithmetic is [`budget`].

pub mod budget;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kubers_client::events::{NORMAL, Recorder, WARNING};

use crate::error::{Context, Error, Result, is_conflict};
use crate::informer::{Change, Informer, Informers};
use crate::pods::controller_of;
use crate::queue::{WorkQueue, run_workers};
use crate::selector::Selector;

/// The controller's name in events.
const COMPONENT: &str = "controllermanager";

struct Controller {
    client: kube::Client,
    budgets: Arc<Informer<PodDisruptionBudget>>,
    pods: Arc<Informer<Pod>>,
    replica_sets: Arc<Informer<ReplicaSet>>,
    deployments: Arc<Informer<Deployment>>,
    stateful_sets: Arc<Informer<StatefulSet>>,
    controllers: Arc<Informer<ReplicationController>>,
    queue: Arc<WorkQueue<String>>,
    recorder: Recorder,
}

fn key_of(budget: &PodDisruptionBudget) -> String {
    format!(
        "{}/{}",
        budget.namespace().unwrap_or_default(),
        budget.name_any()
    )
}

/// The budget's selector (policy/v1: an empty one selects every pod of the namespace, a missing
/// one none).
fn selector_of(budget: &PodDisruptionBudget) -> Selector {
    Selector::from_label_selector(budget.spec.as_ref().and_then(|spec| spec.selector.as_ref()))
}

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(Controller {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        budgets: informers.get::<PodDisruptionBudget>(),
        pods: informers.get::<Pod>(),
        replica_sets: informers.get::<ReplicaSet>(),
        deployments: informers.get::<Deployment>(),
        stateful_sets: informers.get::<StatefulSet>(),
        controllers: informers.get::<ReplicationController>(),
        queue: WorkQueue::new(),
    });
    {
        let queue = Arc::clone(&controller.queue);
        controller.budgets.on_change(move |change| {
            if !matches!(change, Change::Deleted(_)) {
                queue.add(key_of(change.object()));
            }
        });
    }
    {
        let queue = Arc::clone(&controller.queue);
        let budgets = Arc::clone(&controller.budgets);
        controller.pods.on_change(move |change| {
            let pods: Vec<&Pod> = match &change {
                Change::Updated { old, new } if old.labels() != new.labels() => vec![old, new],
                other => vec![other.object()],
            };
            for pod in pods {
                let namespace = pod.namespace().unwrap_or_default();
                for budget in budgets.list_namespace(&namespace) {
                    if selector_of(&budget).matches(pod.metadata.labels.as_ref()) {
                        queue.add(key_of(&budget));
                    }
                }
            }
        });
    }
    tokio::spawn(async move {
        controller.budgets.synced().await;
        controller.pods.synced().await;
        controller.replica_sets.synced().await;
        controller.deployments.synced().await;
        controller.stateful_sets.synced().await;
        controller.controllers.synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers("disruption-controller", queue, 2, move |key: String| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(&key).await }
        });
    });
}

fn replicas(replicas: Option<i32>) -> i32 {
    replicas.unwrap_or(1)
}

impl Controller {
    /// The scale of a pod's controller and its uid (upstream's finders: ReplicaSets, or their
    /// Deployment; ReplicationControllers; StatefulSets).
    fn scale_of(&self, namespace: &str, owner: &OwnerReference) -> Option<(String, i32)> {
        let group = owner.api_version.split('/').next().unwrap_or("");
        match (group, owner.kind.as_str()) {
            ("apps", "ReplicaSet") => {
                let set = self.replica_sets.get(namespace, &owner.name)?;
                if set.uid().as_deref() != Some(owner.uid.as_str()) {
                    return None;
                }
                if let Some(parent) = controller_of(&set.metadata)
                    && parent.kind == "Deployment"
                {
                    let deployment = self.deployments.get(namespace, &parent.name)?;
                    if deployment.uid().as_deref() != Some(parent.uid.as_str()) {
                        return None;
                    }
                    let scale = replicas(deployment.spec.as_ref().and_then(|spec| spec.replicas));
                    return Some((parent.uid.clone(), scale));
                }
                Some((
                    owner.uid.clone(),
                    replicas(set.spec.as_ref().and_then(|spec| spec.replicas)),
                ))
            }
            ("v1", "ReplicationController") => {
                let rc = self.controllers.get(namespace, &owner.name)?;
                (rc.uid().as_deref() == Some(owner.uid.as_str())).then(|| {
                    (
                        owner.uid.clone(),
                        replicas(rc.spec.as_ref().and_then(|spec| spec.replicas)),
                    )
                })
            }
            ("apps", "StatefulSet") => {
                let set = self.stateful_sets.get(namespace, &owner.name)?;
                (set.uid().as_deref() == Some(owner.uid.as_str())).then(|| {
                    (
                        owner.uid.clone(),
                        replicas(set.spec.as_ref().and_then(|spec| spec.replicas)),
                    )
                })
            }
            _ => None,
        }
    }

    async fn sync(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(budget) = self.budgets.get(namespace, name) else {
            return Ok(());
        };
        let selector = selector_of(&budget);
        let pods = self.pods.list_namespace(namespace);
        let pods: Vec<&Pod> = pods
            .iter()
            .map(|pod| &**pod)
            .filter(|pod| selector.matches(pod.metadata.labels.as_ref()))
            .collect();
        if pods.is_empty() {
            self.recorder
                .event(&*budget, NORMAL, "NoPods", "No matching pods found");
        }
        let spec = budget.spec.clone().unwrap_or_default();
        let expectation =
            match budget::expectation(&spec, &pods, |owner| self.scale_of(namespace, owner)) {
                Ok(expectation) => expectation,
                Err(reason) => {
                    self.recorder.event(
                        &*budget,
                        WARNING,
                        "CalculateExpectedPodCountFailed",
                        format!("Failed to calculate the number of expected pods: {reason}"),
                    );
                    return self.fail_safe(&budget, &reason).await;
                }
            };
        if !expectation.unmanaged.is_empty() {
            let selector = spec
                .selector
                .as_ref()
                .and_then(|selector| serde_json::to_string(selector).ok())
                .unwrap_or_default();
            self.recorder.event(
                &*budget,
                WARNING,
                "UnmanagedPods",
                format!(
                    "Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value."
                ),
            );
        }
        let now = Timestamp::now();
        let status = budget.status.clone().unwrap_or_default();
        let (pending, overdue, recheck) =
            budget::pending_disruptions(status.disrupted_pods.as_ref(), &pods, now);
        for pod_name in overdue {
            if let Some(pod) = pods.iter().find(|pod| pod.name_any() == pod_name) {
                self.recorder.event(
                    *pod,
                    WARNING,
                    "NotDeleted",
                    format!(
                        "Pod was expected by PDB {namespace}/{name} to be deleted but it wasn't"
                    ),
                );
            }
        }
        let current = budget::healthy(&pods, &pending, now);
        let allowed = budget::allowed(current, expectation.desired, expectation.expected);
        let generation = budget.metadata.generation.unwrap_or(0);
        let disrupted = (!pending.is_empty()).then_some(pending);
        let unchanged = status.current_healthy == current
            && status.desired_healthy == expectation.desired
            && status.expected_pods == expectation.expected
            && status.disruptions_allowed == allowed
            && status.disrupted_pods.clone().filter(|map| !map.is_empty()) == disrupted
            && status.observed_generation == Some(generation)
            && condition_up_to_date(&status, generation);
        if let Some(recheck) = recheck {
            let wait = recheck.duration_since(now).unsigned_abs();
            self.queue
                .add_after(key.to_owned(), wait + Duration::from_millis(100));
        }
        if unchanged {
            return Ok(());
        }
        let mut updated = (*budget).clone();
        let mut conditions = status.conditions.clone().unwrap_or_default();
        set_condition(
            &mut conditions,
            if allowed > 0 { "True" } else { "False" },
            if allowed > 0 {
                "SufficientPods"
            } else {
                "InsufficientPods"
            },
            "",
            generation,
        );
        updated.status = Some(PodDisruptionBudgetStatus {
            current_healthy: current,
            desired_healthy: expectation.desired,
            expected_pods: expectation.expected,
            disruptions_allowed: allowed,
            disrupted_pods: disrupted,
            observed_generation: Some(generation),
            conditions: Some(conditions),
        });
        self.write(updated, key).await
    }

    /// Allows no disruption when the status cannot be computed (upstream's `failSafe`).
    async fn fail_safe(&self, budget: &PodDisruptionBudget, reason: &str) -> Result<()> {
        let mut updated = budget.clone();
        let mut status = updated.status.take().unwrap_or_default();
        status.disruptions_allowed = 0;
        let observed = status.observed_generation.unwrap_or(0);
        let mut conditions = status.conditions.take().unwrap_or_default();
        set_condition(&mut conditions, "False", "SyncFailed", reason, observed);
        status.conditions = Some(conditions);
        if Some(&status) == budget.status.as_ref() {
            return Ok(());
        }
        updated.status = Some(status);
        self.write(updated, &key_of(budget)).await
    }

    async fn write(&self, budget: PodDisruptionBudget, key: &str) -> Result<()> {
        let api: Api<PodDisruptionBudget> =
            Api::namespaced(self.client.clone(), &budget.namespace().unwrap_or_default());
        api.replace_status(&budget.name_any(), &PostParams::default(), &budget)
            .await
            .context(|| format!("updating the status of budget {key}"))
            .map_err(|error| match error {
                Error::Api { source, .. } if is_conflict(&source) => {
                    Error::Retry(format!("budget {key} changed meanwhile"))
                }
                other => other,
            })?;
        Ok(())
    }
}

/// Whether the `DisruptionAllowed` condition matches the status (upstream's
/// `ConditionsAreUpToDate`).
fn condition_up_to_date(status: &PodDisruptionBudgetStatus, generation: i64) -> bool {
    let Some(condition) = status
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == "DisruptionAllowed")
    else {
        return false;
    };
    if status.observed_generation != Some(generation) {
        return false;
    }
    if status.disruptions_allowed > 0 {
        condition.status == "True" && condition.reason == "SufficientPods"
    } else {
        condition.status == "False" && condition.reason == "InsufficientPods"
    }
}

/// `meta.SetStatusCondition` for `DisruptionAllowed`: the transition time moves only when the
/// status changes.
fn set_condition(
    conditions: &mut Vec<Condition>,
    status: &str,
    reason: &str,
    message: &str,
    generation: i64,
) {
    let now = Time(Timestamp::now());
    match conditions
        .iter_mut()
        .find(|condition| condition.type_ == "DisruptionAllowed")
    {
        Some(condition) => {
            if condition.status != status {
                condition.last_transition_time = now;
            }
            condition.status = status.to_owned();
            condition.reason = reason.to_owned();
            condition.message = message.to_owned();
            condition.observed_generation = Some(generation);
        }
        None => conditions.push(Condition {
            type_: "DisruptionAllowed".into(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            observed_generation: Some(generation),
            last_transition_time: now,
        }),
    }
}
