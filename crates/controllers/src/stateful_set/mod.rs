//! The StatefulSet controller, as upstream's: pods with stable names `<set>-<ordinal>` (hostname,
//! the governing Service as subdomain, `statefulset.kubernetes.io/pod-name` and
//! `apps.kubernetes.io/pod-index` labels), PersistentVolumeClaims `<template>-<pod>` from the
//! volumeClaimTemplates, created in order and each only once the previous one runs and is ready
//! (`OrderedReady`) or all at once (`Parallel`), removed from the highest ordinal down, and rolled
//! from the highest ordinal down to the partition one pod at a time. Each template is a
//! ControllerRevision ([`revisions`]); pods carry their revision's name as `controller-revision-hash`,
//! and pods below the partition are made from the current revision.

pub mod revisions;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use kubers_client::events::{NORMAL, Recorder};

use crate::error::{Error, Result, is_not_found};
use crate::history::{self, History};
use crate::informer::{Informer, Informers};
use crate::pods::{controller_of, controller_reference, from_template, is_available, is_ready};
use crate::queue::{WorkQueue, key_of, run_workers};

/// The label with the pod's name.
const POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
/// The label with the pod's ordinal.
const POD_INDEX: &str = "apps.kubernetes.io/pod-index";
/// The label with the pod's revision.
const REVISION: &str = "controller-revision-hash";

struct StatefulSetController {
    client: kube::Client,
    sets: Arc<Informer<StatefulSet>>,
    pods: Arc<Informer<Pod>>,
    history: History,
    queue: Arc<WorkQueue<String>>,
    recorder: Recorder,
}

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(StatefulSetController {
        recorder: Recorder::new(client.clone(), "statefulset-controller"),
        history: History::new(client.clone(), informers.get::<ControllerRevision>()),
        client,
        sets: informers.get::<StatefulSet>(),
        pods: informers.get::<Pod>(),
        queue: WorkQueue::new(),
    });
    {
        let queue = Arc::clone(&controller.queue);
        controller.sets.on_change(move |change| {
            let set = change.object();
            queue.add(key_of(
                &set.namespace().unwrap_or_default(),
                &set.name_any(),
            ));
        });
    }
    {
        let handler = Arc::clone(&controller);
        controller.pods.on_change(move |change| {
            let pod = change.object();
            if let Some(owner) = controller_of(&pod.metadata)
                && owner.kind == "StatefulSet"
            {
                handler
                    .queue
                    .add(key_of(&pod.namespace().unwrap_or_default(), &owner.name));
            }
        });
    }
    tokio::spawn(async move {
        controller.sets.synced().await;
        controller.pods.synced().await;
        controller.history.informer().synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers("statefulset-controller", queue, 2, move |key: String| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(&key).await }
        });
    });
}

fn running_and_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        == Some("Running")
        && is_ready(pod)
}

fn finished(pod: &Pod) -> bool {
    matches!(
        pod.status
            .as_ref()
            .and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The ordinal of a pod named `<set>-<ordinal>`.
fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

/// What one pass decides to do first (one step at a time in `OrderedReady`).
enum Step {
    Create(i32),
    Delete(Arc<Pod>),
    Wait,
}

/// The steps of one pass over the slots and the condemned pods (upstream's
/// `updateStatefulSet` ordering), pure.
fn plan(
    slots: &[(i32, Option<Arc<Pod>>)],
    condemned: &[Arc<Pod>],
    parallel: bool,
    update_revision: &str,
    partition: Option<i32>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    for (ordinal, pod) in slots {
        match pod {
            None => {
                steps.push(Step::Create(*ordinal));
                if !parallel {
                    return steps;
                }
            }
            Some(pod) if finished(pod) && pod.metadata.deletion_timestamp.is_none() => {
                steps.push(Step::Delete(Arc::clone(pod)));
                if !parallel {
                    return steps;
                }
            }
            Some(pod) if !parallel && !running_and_ready(pod) => {
                steps.push(Step::Wait);
                return steps;
            }
            Some(_) => {}
        }
    }
    for pod in condemned {
        if pod.metadata.deletion_timestamp.is_some() {
            if !parallel {
                steps.push(Step::Wait);
                return steps;
            }
            continue;
        }
        steps.push(Step::Delete(Arc::clone(pod)));
        if !parallel {
            return steps;
        }
    }
    if let Some(partition) = partition {
        for (ordinal, pod) in slots.iter().rev() {
            if *ordinal < partition {
                break;
            }
            let Some(pod) = pod else {
                return steps;
            };
            if pod.labels().get(REVISION).map(String::as_str) != Some(update_revision) {
                if pod.metadata.deletion_timestamp.is_none() {
                    steps.push(Step::Delete(Arc::clone(pod)));
                }
                return steps;
            }
            if !running_and_ready(pod) {
                return steps;
            }
        }
    }
    steps
}

impl StatefulSetController {
    async fn sync(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(set) = self.sets.get(namespace, name) else {
            return Ok(());
        };
        let spec = set.spec.clone().unwrap_or_default();
        let uid = set.uid().unwrap_or_default();
        let replicas = spec.replicas.unwrap_or(1).max(0);
        let start = spec
            .ordinals
            .as_ref()
            .and_then(|ordinals| ordinals.start)
            .unwrap_or(0);
        let revisions = self.history.owned(namespace, &uid);
        let chosen = revisions::resolve(&self.history, &set, &revisions).await?;
        let update_revision = chosen.update.name_any();
        let current_template = history::template_of(&chosen.current);
        let mut owned: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
        for pod in self.pods.list_namespace(namespace) {
            if controller_of(&pod.metadata).is_some_and(|owner| owner.uid == uid)
                && let Some(ordinal) = ordinal_of(name, &pod.name_any())
            {
                owned.insert(ordinal, pod);
            }
        }
        let slots: Vec<(i32, Option<Arc<Pod>>)> = (start..start + replicas)
            .map(|ordinal| (ordinal, owned.get(&ordinal).cloned()))
            .collect();
        let condemned: Vec<Arc<Pod>> = owned
            .iter()
            .rev()
            .filter(|(ordinal, _)| **ordinal < start || **ordinal >= start + replicas)
            .map(|(_, pod)| Arc::clone(pod))
            .collect();
        let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        let partition = (strategy.type_.as_deref() != Some("OnDelete")).then(|| {
            strategy
                .rolling_update
                .as_ref()
                .and_then(|rolling| rolling.partition)
                .unwrap_or(0)
        });
        for step in plan(&slots, &condemned, parallel, &update_revision, partition) {
            match step {
                // Below the partition pods keep the current revision (upstream's
                // `newVersionedStatefulSetPod`).
                Step::Create(ordinal)
                    if partition.is_some_and(|partition| ordinal < start + partition)
                        && let Some(template) = current_template.as_ref() =>
                {
                    self.create(&set, ordinal, template, &chosen.current.name_any())
                        .await?;
                }
                Step::Create(ordinal) => {
                    self.create(&set, ordinal, &spec.template, &update_revision)
                        .await?;
                }
                Step::Delete(pod) => self.delete(&set, &pod).await?,
                Step::Wait => {}
            }
        }
        self.update_status(&set, &owned, &chosen).await?;
        let live: Vec<&Arc<Pod>> = owned.values().collect();
        revisions::truncate(&self.history, &set, &live, &revisions, &chosen).await
    }

    async fn create(
        &self,
        set: &StatefulSet,
        ordinal: i32,
        template: &PodTemplateSpec,
        revision: &str,
    ) -> Result<()> {
        let namespace = set.namespace().unwrap_or_default();
        let set_name = set.name_any();
        let spec = set.spec.clone().unwrap_or_default();
        let pod_name = format!("{set_name}-{ordinal}");
        let mut pod = from_template(template, controller_reference(set), &namespace);
        pod.metadata.generate_name = None;
        pod.metadata.name = Some(pod_name.clone());
        let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
        labels.insert(POD_NAME.to_owned(), pod_name.clone());
        labels.insert(POD_INDEX.to_owned(), ordinal.to_string());
        labels.insert(REVISION.to_owned(), revision.to_owned());
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        if let Some(pod_spec) = pod.spec.as_mut() {
            pod_spec.hostname = Some(pod_name.clone());
            if let Some(service) = spec.service_name.clone().filter(|s| !s.is_empty()) {
                pod_spec.subdomain = Some(service);
            }
            for template in spec.volume_claim_templates.iter().flatten() {
                let template_name = template.name_any();
                let claim_name = format!("{template_name}-{pod_name}");
                let volumes = pod_spec.volumes.get_or_insert_with(Vec::new);
                volumes.retain(|volume| volume.name != template_name);
                volumes.push(Volume {
                    name: template_name.clone(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: claim_name.clone(),
                        read_only: None,
                    }),
                    ..Volume::default()
                });
                let mut claim = template.clone();
                claim.metadata.name = Some(claim_name.clone());
                claim.metadata.namespace = Some(namespace.clone());
                let claim_labels = claim.metadata.labels.get_or_insert_with(BTreeMap::new);
                for (key, value) in spec.selector.match_labels.iter().flatten() {
                    claim_labels.insert(key.clone(), value.clone());
                }
                claim.status = None;
                match claims.create(&PostParams::default(), &claim).await {
                    Ok(_) => self.recorder.event(
                        set,
                        NORMAL,
                        "SuccessfulCreate",
                        format!(
                            "create Claim {claim_name} Pod {pod_name} in StatefulSet {set_name} success"
                        ),
                    ),
                    Err(kube::Error::Api(status)) if status.code == 409 => {}
                    Err(source) => {
                        return Err(Error::Api {
                            action: format!("creating claim {claim_name}"),
                            source,
                        });
                    }
                }
            }
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        match api.create(&PostParams::default(), &pod).await {
            Ok(_) => {
                self.recorder.event(
                    set,
                    NORMAL,
                    "SuccessfulCreate",
                    format!("create Pod {pod_name} in StatefulSet {set_name} successful"),
                );
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 403 => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("creating pod {pod_name}"),
                source,
            }),
        }
    }

    async fn delete(&self, set: &StatefulSet, pod: &Pod) -> Result<()> {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        match api.delete(&pod.name_any(), &DeleteParams::default()).await {
            Ok(_) => {
                self.recorder.event(
                    set,
                    NORMAL,
                    "SuccessfulDelete",
                    format!(
                        "delete Pod {} in StatefulSet {} successful",
                        pod.name_any(),
                        set.name_any()
                    ),
                );
                Ok(())
            }
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("deleting pod {}", pod.name_any()),
                source,
            }),
        }
    }

    async fn update_status(
        &self,
        set: &StatefulSet,
        owned: &BTreeMap<i32, Arc<Pod>>,
        chosen: &revisions::Revisions,
    ) -> Result<()> {
        let update_revision = chosen.update.name_any();
        let update_revision = update_revision.as_str();
        let spec = set.spec.clone().unwrap_or_default();
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let now = k8s_openapi::jiff::Timestamp::now();
        let active: Vec<&Arc<Pod>> = owned
            .values()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .collect();
        let previous = set.status.clone().unwrap_or_default();
        let current_revision = chosen.current.name_any();
        let revision_count = |revision: &str| {
            i32::try_from(
                active
                    .iter()
                    .filter(|pod| pod.labels().get(REVISION).map(String::as_str) == Some(revision))
                    .count(),
            )
            .unwrap_or(0)
        };
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let replicas = count(active.len());
        let updated = revision_count(update_revision);
        let desired = spec.replicas.unwrap_or(1);
        // A finished rollout makes the update revision the current one.
        let current_revision = if updated == desired && replicas == desired {
            update_revision.to_owned()
        } else {
            current_revision
        };
        let status = StatefulSetStatus {
            observed_generation: set.metadata.generation,
            replicas,
            ready_replicas: Some(count(active.iter().filter(|pod| is_ready(pod)).count())),
            available_replicas: Some(count(
                active
                    .iter()
                    .filter(|pod| is_available(pod, min_ready, now))
                    .count(),
            )),
            current_replicas: Some(revision_count(&current_revision)),
            updated_replicas: Some(updated),
            current_revision: Some(current_revision),
            update_revision: Some(update_revision.to_owned()),
            collision_count: (chosen.collision_count > 0)
                .then_some(chosen.collision_count)
                .or(previous.collision_count),
            conditions: previous.conditions.clone(),
        };
        if set.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut stored = set.clone();
        stored.status = Some(status);
        let api: Api<StatefulSet> =
            Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        match api
            .replace_status(&set.name_any(), &PostParams::default(), &stored)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("updating the status of stateful set {}", set.name_any()),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, ready: bool, revision: &str) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(BTreeMap::from([(REVISION.to_owned(), revision.to_owned())])),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some(if ready { "Running" } else { "Pending" }.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
        })
    }

    fn describe(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|step| match step {
                Step::Create(ordinal) => format!("create {ordinal}"),
                Step::Delete(pod) => format!("delete {}", pod.name_any()),
                Step::Wait => "wait".to_owned(),
            })
            .collect()
    }

    #[test]
    fn ordered_ready_creates_one_pod_after_the_other() {
        let slots = vec![(0, None), (1, None), (2, None)];
        assert_eq!(
            describe(&plan(&slots, &[], false, "r1", Some(0))),
            ["create 0"]
        );
        let slots = vec![(0, Some(pod("web-0", false, "r1"))), (1, None)];
        assert_eq!(describe(&plan(&slots, &[], false, "r1", Some(0))), ["wait"]);
        let slots = vec![(0, Some(pod("web-0", true, "r1"))), (1, None)];
        assert_eq!(
            describe(&plan(&slots, &[], false, "r1", Some(0))),
            ["create 1"]
        );
        let slots = vec![(0, None), (1, None)];
        assert_eq!(
            describe(&plan(&slots, &[], true, "r1", Some(0))),
            ["create 0", "create 1"]
        );
    }

    #[test]
    fn updates_go_from_the_highest_ordinal_down_to_the_partition() {
        let slots = vec![
            (0, Some(pod("web-0", true, "r1"))),
            (1, Some(pod("web-1", true, "r1"))),
            (2, Some(pod("web-2", true, "r1"))),
        ];
        assert_eq!(
            describe(&plan(&slots, &[], false, "r2", Some(0))),
            ["delete web-2"]
        );
        let slots = vec![
            (0, Some(pod("web-0", true, "r1"))),
            (1, Some(pod("web-1", true, "r1"))),
            (2, Some(pod("web-2", true, "r2"))),
        ];
        assert_eq!(
            describe(&plan(&slots, &[], false, "r2", Some(2))),
            Vec::<String>::new()
        );
        assert_eq!(
            describe(&plan(&slots, &[], false, "r2", Some(1))),
            ["delete web-1"]
        );
        // Scale down removes the highest ordinal first.
        let condemned = vec![pod("web-3", true, "r2")];
        assert_eq!(
            describe(&plan(&slots, &condemned, false, "r2", None)),
            ["delete web-3"]
        );
    }
}
