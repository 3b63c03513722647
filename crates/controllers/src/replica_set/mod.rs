//! The ReplicaSet and ReplicationController controller, as upstream's: keeps `replicas` active pods
//! from the template, adopting matching orphans and releasing pods that no longer match (controller
//! owner references), creating in slow-start batches and deleting the pods ranked first
//! ([`ranking`]), never overshooting thanks to [`crate::expectations`], and reporting replicas,
//! fully labeled, ready and available pods in the status.

pub mod ranking;
pub mod workload;

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubers_client::events::{NORMAL, Recorder, WARNING};
use serde_json::json;

use self::workload::{ReplicaStatus, Workload};
use crate::error::{Context, Error, Result, is_not_found};
use crate::expectations::Expectations;
use crate::informer::{Change, Informer, Informers};
use crate::pods::{
    controller_of, controller_reference, from_template, is_active, is_available, is_ready,
};
use crate::queue::{WorkQueue, key_of, run_workers};

/// Most pods created or deleted in one sync (upstream's `BurstReplicas`).
const BURST_REPLICAS: usize = 500;
/// Workers per kind (upstream runs 5).
const WORKERS: usize = 4;

/// The controller of one workload kind.
pub struct ReplicaController<W: Workload> {
    client: kube::Client,
    owners: Arc<Informer<W>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
    expectations: Expectations,
    recorder: Recorder,
}

fn pod_key(pod: &Pod) -> String {
    key_of(&pod.namespace().unwrap_or_default(), &pod.name_any())
}

/// Registers the controller of `W` with the informers and starts its workers once they synced.
pub fn start<W: Workload>(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(ReplicaController::<W> {
        recorder: Recorder::new(client.clone(), W::COMPONENT),
        client,
        owners: informers.get::<W>(),
        pods: informers.get::<Pod>(),
        queue: WorkQueue::new(),
        expectations: Expectations::default(),
    });
    {
        let controller = Arc::clone(&controller);
        controller.owners.clone().on_change(move |change| {
            let owner = change.object();
            let key = key_of(&owner.namespace().unwrap_or_default(), &owner.name_any());
            if let Change::Deleted(_) = change {
                controller.expectations.forget(&key);
            }
            controller.queue.add(key);
        });
    }
    {
        let controller = Arc::clone(&controller);
        controller
            .pods
            .clone()
            .on_change(move |change| controller.pod_changed(change));
    }
    tokio::spawn(async move {
        controller.owners.synced().await;
        controller.pods.synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers(W::COMPONENT, queue, WORKERS, move |key: String| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(&key).await }
        });
    });
}

impl<W: Workload> ReplicaController<W> {
    /// The owner the controller reference of `pod` names, if it is one of ours and still exists.
    fn controller_of_pod(&self, pod: &Pod) -> Option<Arc<W>> {
        let reference = controller_of(&pod.metadata)?;
        if reference.kind != W::kind(&()) {
            return None;
        }
        let owner = self
            .owners
            .get(&pod.namespace().unwrap_or_default(), &reference.name)?;
        (owner.uid().as_deref() == Some(reference.uid.as_str())).then_some(owner)
    }

    fn enqueue(&self, owner: &W) {
        self.queue.add(key_of(
            &owner.namespace().unwrap_or_default(),
            &owner.name_any(),
        ));
    }

    /// Owners whose selector matches an orphan pod.
    fn matching_owners(&self, pod: &Pod) -> Vec<Arc<W>> {
        self.owners
            .list_namespace(&pod.namespace().unwrap_or_default())
            .into_iter()
            .filter(|owner| {
                let selector = owner.selector();
                !selector.is_everything() && selector.matches(pod.metadata.labels.as_ref())
            })
            .collect()
    }

    fn pod_deleted(&self, pod: &Pod) {
        if let Some(owner) = self.controller_of_pod(pod) {
            let key = key_of(&owner.namespace().unwrap_or_default(), &owner.name_any());
            self.expectations.deletion_observed(&key, &pod_key(pod));
            self.queue.add(key);
        }
    }

    fn pod_changed(&self, change: Change<'_, Pod>) {
        match change {
            Change::Added(pod) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    self.pod_deleted(pod);
                    return;
                }
                if let Some(owner) = self.controller_of_pod(pod) {
                    let key = key_of(&owner.namespace().unwrap_or_default(), &owner.name_any());
                    self.expectations.creation_observed(&key);
                    self.queue.add(key);
                    return;
                }
                if controller_of(&pod.metadata).is_none() {
                    for owner in self.matching_owners(pod) {
                        self.enqueue(&owner);
                    }
                }
            }
            Change::Updated { old, new } => {
                if old.resource_version() == new.resource_version() {
                    return;
                }
                let labels_changed = old.metadata.labels != new.metadata.labels;
                if new.metadata.deletion_timestamp.is_some() {
                    self.pod_deleted(new);
                    if labels_changed {
                        self.pod_deleted(old);
                    }
                    return;
                }
                let old_ref = controller_of(&old.metadata);
                let new_ref = controller_of(&new.metadata);
                let ref_changed = old_ref != new_ref;
                if ref_changed && let Some(owner) = self.controller_of_pod(old) {
                    self.enqueue(&owner);
                }
                if let Some(owner) = self.controller_of_pod(new) {
                    self.enqueue(&owner);
                    let min_ready = owner.min_ready_seconds();
                    if min_ready > 0 && !is_ready(old) && is_ready(new) {
                        self.queue.add_after(
                            key_of(&owner.namespace().unwrap_or_default(), &owner.name_any()),
                            Duration::from_secs(u64::try_from(min_ready).unwrap_or(0) + 1),
                        );
                    }
                    return;
                }
                if new_ref.is_none() && (labels_changed || ref_changed) {
                    for owner in self.matching_owners(new) {
                        self.enqueue(&owner);
                    }
                }
            }
            Change::Deleted(pod) => self.pod_deleted(pod),
        }
    }

    async fn sync(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(owner) = self.owners.get(namespace, name) else {
            self.expectations.forget(key);
            return Ok(());
        };
        let needs_sync = self.expectations.satisfied(key);
        let active: Vec<Arc<Pod>> = self
            .pods
            .list_namespace(namespace)
            .into_iter()
            .filter(|pod| is_active(pod))
            .collect();
        let claimed = self.claim_pods(&owner, active).await?;
        let managed = if needs_sync && owner.meta().deletion_timestamp.is_none() {
            self.manage_replicas(&owner, key, &claimed).await
        } else {
            Ok(())
        };
        let status = self.calculate_status(&owner, &claimed, managed.as_ref().err());
        self.update_status(&owner, status.clone()).await?;
        managed?;
        let min_ready = owner.min_ready_seconds();
        if min_ready > 0 && status.ready == owner.replicas() && status.available != owner.replicas()
        {
            self.queue.add_after(
                key.to_owned(),
                Duration::from_secs(u64::try_from(min_ready).unwrap_or(0)),
            );
        }
        Ok(())
    }

    /// The active pods this owner controls after adopting matching orphans and releasing owned pods
    /// that no longer match.
    async fn claim_pods(&self, owner: &W, active: Vec<Arc<Pod>>) -> Result<Vec<Arc<Pod>>> {
        let selector = owner.selector();
        let uid = owner.uid().unwrap_or_default();
        let deleting = owner.meta().deletion_timestamp.is_some();
        let mut claimed = Vec::new();
        let mut adoptable: Option<bool> = None;
        for pod in active {
            let matches = selector.matches(pod.metadata.labels.as_ref());
            match controller_of(&pod.metadata) {
                Some(reference) if reference.uid == uid => {
                    if matches {
                        claimed.push(pod);
                    } else if !deleting {
                        self.release(owner, &pod).await?;
                    }
                }
                Some(_) => {}
                None => {
                    if !matches || deleting || selector.is_everything() {
                        continue;
                    }
                    // Adopt only if a fresh read says the owner still exists and is not being deleted.
                    if adoptable.is_none() {
                        adoptable = Some(self.can_adopt(owner).await?);
                    }
                    if adoptable == Some(true) && self.adopt(owner, &pod).await? {
                        claimed.push(pod);
                    }
                }
            }
        }
        Ok(claimed)
    }

    async fn can_adopt(&self, owner: &W) -> Result<bool> {
        let api: Api<W> =
            Api::namespaced(self.client.clone(), &owner.namespace().unwrap_or_default());
        let fresh = api
            .get_opt(&owner.name_any())
            .await
            .context(|| format!("reading {} {}", W::kind(&()), owner.name_any()))?;
        Ok(fresh.is_some_and(|fresh| {
            fresh.uid() == owner.uid() && fresh.meta().deletion_timestamp.is_none()
        }))
    }

    fn pods_api(&self, pod: &Pod) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default())
    }

    /// Adds a controller reference to an orphan; false when the pod is gone.
    async fn adopt(&self, owner: &W, pod: &Pod) -> Result<bool> {
        let mut references = pod.owner_references().to_vec();
        references.push(controller_reference(owner));
        let patch = json!({"metadata": {
            "ownerReferences": references,
            "resourceVersion": pod.resource_version(),
        }});
        match self
            .pods_api(pod)
            .patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if is_not_found(&error) => Ok(false),
            Err(source) => Err(Error::Api {
                action: format!("adopting pod {}", pod.name_any()),
                source,
            }),
        }
    }

    /// Removes this owner's reference from a pod that no longer matches.
    async fn release(&self, owner: &W, pod: &Pod) -> Result<()> {
        let uid = owner.uid().unwrap_or_default();
        let kept: Vec<_> = pod
            .owner_references()
            .iter()
            .filter(|reference| reference.uid != uid)
            .collect();
        let patch = json!({"metadata": {
            "ownerReferences": if kept.is_empty() { serde_json::Value::Null } else { json!(kept) },
            "resourceVersion": pod.resource_version(),
        }});
        match self
            .pods_api(pod)
            .patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("releasing pod {}", pod.name_any()),
                source,
            }),
        }
    }

    async fn manage_replicas(&self, owner: &W, key: &str, claimed: &[Arc<Pod>]) -> Result<()> {
        let wanted = usize::try_from(owner.replicas()).unwrap_or(0);
        if claimed.len() < wanted {
            let count = (wanted - claimed.len()).min(BURST_REPLICAS);
            self.expectations.expect_creations(key, count);
            let Some(template) = owner.template() else {
                for _ in 0..count {
                    self.expectations.creation_observed(key);
                }
                return Err(Error::Retry(format!("{key} has no pod template")));
            };
            let namespace = owner.namespace().unwrap_or_default();
            let pod = from_template(template, controller_reference(owner), &namespace);
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            let params = PostParams::default();
            let mut created = 0;
            let mut batch = 1;
            let mut failure = None;
            while created < count && failure.is_none() {
                let size = batch.min(count - created);
                let results = join_all((0..size).map(|_| api.create(&params, &pod))).await;
                for result in results {
                    match result {
                        Ok(made) => {
                            created += 1;
                            self.recorder.event(
                                owner,
                                NORMAL,
                                "SuccessfulCreate",
                                format!("Created pod: {}", made.name_any()),
                            );
                        }
                        Err(error) => {
                            created += 1;
                            self.expectations.creation_observed(key);
                            let terminating = matches!(&error, kube::Error::Api(status)
                                if status.code == 403 && status.message.contains("being terminated"));
                            if !terminating {
                                self.recorder.event(
                                    owner,
                                    WARNING,
                                    "FailedCreate",
                                    format!("Error creating: {}", status_message(&error)),
                                );
                            }
                            failure.get_or_insert(error);
                        }
                    }
                }
                batch *= 2;
            }
            // Pods of batches never started will not be seen either.
            for _ in created..count {
                self.expectations.creation_observed(key);
            }
            return match failure {
                None => Ok(()),
                Some(source) => Err(Error::Api {
                    action: format!("creating pods for {key}"),
                    source,
                }),
            };
        }
        if claimed.len() > wanted {
            let count = (claimed.len() - wanted).min(BURST_REPLICAS);
            let related = self.related_pods(owner);
            let victims = ranking::pods_to_delete(
                claimed,
                &related,
                count,
                k8s_openapi::jiff::Timestamp::now(),
            );
            self.expectations
                .expect_deletions(key, victims.iter().map(|pod| pod_key(pod)));
            let results = join_all(victims.iter().map(|pod| async move {
                let result = self
                    .pods_api(pod)
                    .delete(&pod.name_any(), &DeleteParams::default())
                    .await;
                (pod, result)
            }))
            .await;
            let mut failure = None;
            for (pod, result) in results {
                match result {
                    Ok(_) => self.recorder.event(
                        owner,
                        NORMAL,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", pod.name_any()),
                    ),
                    Err(error) if is_not_found(&error) => {
                        self.expectations.deletion_observed(key, &pod_key(pod));
                    }
                    Err(error) => {
                        self.expectations.deletion_observed(key, &pod_key(pod));
                        self.recorder.event(
                            owner,
                            WARNING,
                            "FailedDelete",
                            format!("Error deleting: {}", status_message(&error)),
                        );
                        failure.get_or_insert(error);
                    }
                }
            }
            return match failure {
                None => Ok(()),
                Some(source) => Err(Error::Api {
                    action: format!("deleting pods of {key}"),
                    source,
                }),
            };
        }
        Ok(())
    }

    /// Active pods of every owner that shares this owner's controller (the ReplicaSets of one
    /// Deployment), or of this owner alone.
    fn related_pods(&self, owner: &W) -> Vec<Arc<Pod>> {
        let namespace = owner.namespace().unwrap_or_default();
        let siblings: Vec<String> = match controller_of(owner.meta()) {
            Some(parent) => self
                .owners
                .list_namespace(&namespace)
                .iter()
                .filter(|other| controller_of(other.meta()).is_some_and(|p| p.uid == parent.uid))
                .filter_map(|other| other.uid())
                .collect(),
            None => owner.uid().into_iter().collect(),
        };
        self.pods
            .list_namespace(&namespace)
            .into_iter()
            .filter(|pod| is_active(pod))
            .filter(|pod| {
                controller_of(&pod.metadata)
                    .is_some_and(|reference| siblings.contains(&reference.uid))
            })
            .collect()
    }

    fn calculate_status(
        &self,
        owner: &W,
        claimed: &[Arc<Pod>],
        failure: Option<&Error>,
    ) -> ReplicaStatus {
        let template_labels = owner
            .template()
            .and_then(|template| template.metadata.as_ref())
            .and_then(|metadata| metadata.labels.clone())
            .unwrap_or_default();
        let now = k8s_openapi::jiff::Timestamp::now();
        let min_ready = owner.min_ready_seconds();
        let mut status = ReplicaStatus {
            replicas: count(claimed.len()),
            observed_generation: owner.meta().generation,
            ..owner.replica_status()
        };
        status.fully_labeled = count(
            claimed
                .iter()
                .filter(|pod| {
                    let labels = pod.metadata.labels.clone().unwrap_or_default();
                    template_labels
                        .iter()
                        .all(|(key, value)| labels.get(key) == Some(value))
                })
                .count(),
        );
        status.ready = count(claimed.iter().filter(|pod| is_ready(pod)).count());
        status.available = count(
            claimed
                .iter()
                .filter(|pod| is_available(pod, min_ready, now))
                .count(),
        );
        match (failure, &status.failure) {
            (Some(error), None) => {
                let reason = if claimed.len() < usize::try_from(owner.replicas()).unwrap_or(0) {
                    "FailedCreate"
                } else {
                    "FailedDelete"
                };
                status.failure = Some((
                    reason.to_owned(),
                    error.to_string(),
                    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)),
                ));
            }
            (None, Some(_)) => status.failure = None,
            _ => {}
        }
        status
    }

    async fn update_status(&self, owner: &W, status: ReplicaStatus) -> Result<()> {
        if owner.replica_status() == status {
            return Ok(());
        }
        let mut updated = owner.clone();
        updated.set_replica_status(status);
        let api: Api<W> =
            Api::namespaced(self.client.clone(), &owner.namespace().unwrap_or_default());
        match api
            .replace_status(&owner.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!(
                    "updating the status of {} {}",
                    W::kind(&()),
                    owner.name_any()
                ),
                source,
            }),
        }
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The API's message of an error (what upstream's events quote).
fn status_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}
