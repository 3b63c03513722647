//! The Deployment controller, as upstream's: owns ReplicaSets (adopting and releasing them by
//! selector), finds or creates the ReplicaSet of the current template (`pod-template-hash`), rolls
//! out with RollingUpdate (maxSurge, maxUnavailable) or Recreate, scales proportionally, keeps
//! revisions and `revisionHistoryLimit`, honours `paused`, and reports replicas and the
//! Available and Progressing conditions (with the progress deadline).

mod rollout;
pub mod util;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kubers_client::events::Recorder;
use serde_json::json;

use crate::error::{Context, Error, Result, is_not_found};
use crate::informer::{Change, Informer, Informers};
use crate::pods::{controller_of, controller_reference};
use crate::queue::{WorkQueue, run_workers};
use crate::selector::Selector;

/// Workers (upstream runs 5).
const WORKERS: usize = 4;

/// The controller's caches and clients.
pub struct DeploymentController {
    client: kube::Client,
    deployments: Arc<Informer<Deployment>>,
    replica_sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
    recorder: Recorder,
}

fn key_of(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn selector_of(deployment: &Deployment) -> Selector {
    Selector::from_label_selector(deployment.spec.as_ref().map(|spec| &spec.selector))
}

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(DeploymentController {
        recorder: Recorder::new(client.clone(), "deployment-controller"),
        client,
        deployments: informers.get::<Deployment>(),
        replica_sets: informers.get::<ReplicaSet>(),
        pods: informers.get::<Pod>(),
        queue: WorkQueue::new(),
    });
    {
        let queue = Arc::clone(&controller.queue);
        controller.deployments.on_change(move |change| {
            let deployment = change.object();
            queue.add(key_of(
                &deployment.namespace().unwrap_or_default(),
                &deployment.name_any(),
            ));
        });
    }
    {
        let handler = Arc::clone(&controller);
        controller
            .replica_sets
            .on_change(move |change| handler.replica_set_changed(change));
    }
    {
        let handler = Arc::clone(&controller);
        controller.pods.on_change(move |change| {
            // A Recreate rollout waits for the old pods to be gone.
            if let Change::Deleted(pod) = change
                && let Some(deployment) = handler.deployment_of_pod(pod)
                && util::is_recreate(&deployment)
            {
                handler.enqueue(&deployment);
            }
        });
    }
    tokio::spawn(async move {
        controller.deployments.synced().await;
        controller.replica_sets.synced().await;
        controller.pods.synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers(
            "deployment-controller",
            queue,
            WORKERS,
            move |key: String| {
                let controller = Arc::clone(&controller);
                async move { controller.sync(&key).await }
            },
        );
    });
}

impl DeploymentController {
    fn enqueue(&self, deployment: &Deployment) {
        self.queue.add(key_of(
            &deployment.namespace().unwrap_or_default(),
            &deployment.name_any(),
        ));
    }

    /// The Deployment a ReplicaSet's controller reference names, if it exists.
    fn deployment_of(&self, rs: &ReplicaSet) -> Option<Arc<Deployment>> {
        let reference = controller_of(&rs.metadata)?;
        if reference.kind != "Deployment" {
            return None;
        }
        let deployment = self
            .deployments
            .get(&rs.namespace().unwrap_or_default(), &reference.name)?;
        (deployment.uid().as_deref() == Some(reference.uid.as_str())).then_some(deployment)
    }

    fn deployment_of_pod(&self, pod: &Pod) -> Option<Arc<Deployment>> {
        let reference = controller_of(&pod.metadata)?;
        if reference.kind != "ReplicaSet" {
            return None;
        }
        let rs = self
            .replica_sets
            .get(&pod.namespace().unwrap_or_default(), &reference.name)?;
        self.deployment_of(&rs)
    }

    fn matching_deployments(&self, rs: &ReplicaSet) -> Vec<Arc<Deployment>> {
        self.deployments
            .list_namespace(&rs.namespace().unwrap_or_default())
            .into_iter()
            .filter(|deployment| {
                let selector = selector_of(deployment);
                !selector.is_everything() && selector.matches(rs.metadata.labels.as_ref())
            })
            .collect()
    }

    fn replica_set_changed(&self, change: Change<'_, ReplicaSet>) {
        match change {
            Change::Added(rs) | Change::Deleted(rs) => {
                if let Some(deployment) = self.deployment_of(rs) {
                    self.enqueue(&deployment);
                } else if controller_of(&rs.metadata).is_none()
                    && !matches!(change, Change::Deleted(_))
                {
                    for deployment in self.matching_deployments(rs) {
                        self.enqueue(&deployment);
                    }
                }
            }
            Change::Updated { old, new } => {
                if old.resource_version() == new.resource_version() {
                    return;
                }
                let ref_changed = controller_of(&old.metadata) != controller_of(&new.metadata);
                if ref_changed && let Some(deployment) = self.deployment_of(old) {
                    self.enqueue(&deployment);
                }
                if let Some(deployment) = self.deployment_of(new) {
                    self.enqueue(&deployment);
                    return;
                }
                if controller_of(&new.metadata).is_none()
                    && (ref_changed || old.metadata.labels != new.metadata.labels)
                {
                    for deployment in self.matching_deployments(new) {
                        self.enqueue(&deployment);
                    }
                }
            }
        }
    }

    async fn sync(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(cached) = self.deployments.get(namespace, name) else {
            return Ok(());
        };
        let mut deployment = (*cached).clone();
        let selector = selector_of(&deployment);
        if selector.is_everything() {
            self.recorder.event(
                &deployment,
                kubers_client::events::WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            );
            let status = deployment.status.get_or_insert_with(Default::default);
            if status.observed_generation < deployment.metadata.generation {
                status.observed_generation = deployment.metadata.generation;
                self.write_status(&mut deployment).await?;
            }
            return Ok(());
        }
        let replica_sets = self.claim_replica_sets(&deployment, &selector).await?;
        if deployment.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&mut deployment, &replica_sets).await;
        }
        self.check_paused_conditions(&mut deployment).await?;
        let paused = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.paused)
            .unwrap_or(false);
        if paused || self.is_scaling_event(&deployment, &replica_sets) {
            return self
                .sync_scale(&mut deployment, &replica_sets, paused)
                .await;
        }
        if util::is_recreate(&deployment) {
            self.rollout_recreate(&mut deployment, &replica_sets).await
        } else {
            self.rollout_rolling(&mut deployment, &replica_sets).await
        }
    }

    /// The ReplicaSets this Deployment controls after adopting matching orphans and releasing
    /// those that no longer match.
    async fn claim_replica_sets(
        &self,
        deployment: &Deployment,
        selector: &Selector,
    ) -> Result<Vec<ReplicaSet>> {
        let uid = deployment.uid().unwrap_or_default();
        let deleting = deployment.metadata.deletion_timestamp.is_some();
        let mut owned = Vec::new();
        let mut adoptable: Option<bool> = None;
        let namespace = deployment.namespace().unwrap_or_default();
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &namespace);
        for rs in self.replica_sets.list_namespace(&namespace) {
            let matches = selector.matches(rs.metadata.labels.as_ref());
            match controller_of(&rs.metadata) {
                Some(reference) if reference.uid == uid => {
                    if matches {
                        owned.push((*rs).clone());
                    } else if !deleting {
                        let kept: Vec<_> = rs
                            .owner_references()
                            .iter()
                            .filter(|owner| owner.uid != uid)
                            .collect();
                        let patch = json!({"metadata": {
                            "ownerReferences": if kept.is_empty() { serde_json::Value::Null } else { json!(kept) },
                            "resourceVersion": rs.resource_version(),
                        }});
                        match api
                            .patch(
                                &rs.name_any(),
                                &PatchParams::default(),
                                &Patch::Merge(&patch),
                            )
                            .await
                        {
                            Ok(_) => {}
                            Err(error) if is_not_found(&error) => {}
                            Err(source) => {
                                return Err(Error::Api {
                                    action: format!("releasing replica set {}", rs.name_any()),
                                    source,
                                });
                            }
                        }
                    }
                }
                Some(_) => {}
                None if !matches || deleting || rs.metadata.deletion_timestamp.is_some() => {}
                None => {
                    if adoptable.is_none() {
                        let fresh: Api<Deployment> =
                            Api::namespaced(self.client.clone(), &namespace);
                        let live = fresh
                            .get_opt(&deployment.name_any())
                            .await
                            .context(|| format!("reading deployment {}", deployment.name_any()))?;
                        adoptable = Some(live.is_some_and(|live| {
                            live.uid() == deployment.uid()
                                && live.metadata.deletion_timestamp.is_none()
                        }));
                    }
                    if adoptable != Some(true) {
                        continue;
                    }
                    let mut references = rs.owner_references().to_vec();
                    references.push(controller_reference(deployment));
                    let patch = json!({"metadata": {
                        "ownerReferences": references,
                        "resourceVersion": rs.resource_version(),
                    }});
                    match api
                        .patch(
                            &rs.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&patch),
                        )
                        .await
                    {
                        Ok(adopted) => owned.push(adopted),
                        Err(error) if is_not_found(&error) => {}
                        Err(source) => {
                            return Err(Error::Api {
                                action: format!("adopting replica set {}", rs.name_any()),
                                source,
                            });
                        }
                    }
                }
            }
        }
        Ok(owned)
    }
}
