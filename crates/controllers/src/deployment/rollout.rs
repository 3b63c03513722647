//! The Deployment controller's sync paths: the new ReplicaSet and revisions, rolling and recreate
//! rollouts, proportional scaling, history cleanup and status, after upstream's `sync.go`,
//! `rolling.go`, `recreate.go` and `progress.go`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::util::{self, reasons};
use super::{DeploymentController, key_of};
use crate::error::{Error, Result, is_not_found};
use crate::events::{NORMAL, WARNING};
use crate::pods::{controller_of, controller_reference};

fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let time = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|time| time.0);
    time(a)
        .cmp(&time(b))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

fn status_of(rs: &ReplicaSet) -> (i32, i32, i32) {
    rs.status.as_ref().map_or((0, 0, 0), |status| {
        (
            status.replicas,
            status.ready_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
        )
    })
}

fn template_of(deployment: &Deployment) -> k8s_openapi::api::core::v1::PodTemplateSpec {
    deployment
        .spec
        .as_ref()
        .map(|spec| spec.template.clone())
        .unwrap_or_default()
}

fn min_ready_seconds(deployment: &Deployment) -> Option<i32> {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.min_ready_seconds)
}

impl DeploymentController {
    fn rs_api(&self, deployment: &Deployment) -> Api<ReplicaSet> {
        Api::namespaced(
            self.client.clone(),
            &deployment.namespace().unwrap_or_default(),
        )
    }

    /// Writes the status and keeps the new resourceVersion for later writes of this sync.
    async fn write_status(&self, deployment: &mut Deployment) -> Result<()> {
        let api: Api<Deployment> = Api::namespaced(
            self.client.clone(),
            &deployment.namespace().unwrap_or_default(),
        );
        match api
            .replace_status(&deployment.name_any(), &PostParams::default(), deployment)
            .await
        {
            Ok(updated) => {
                deployment.metadata.resource_version = updated.metadata.resource_version;
                Ok(())
            }
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!(
                    "updating the status of deployment {}",
                    deployment.name_any()
                ),
                source,
            }),
        }
    }

    /// Sets the Deployment's revision annotation (a metadata write, not a status one).
    async fn set_deployment_revision(
        &self,
        deployment: &mut Deployment,
        revision: &str,
    ) -> Result<()> {
        let current = deployment
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(util::REVISION));
        if current.map(String::as_str) == Some(revision) {
            return Ok(());
        }
        let api: Api<Deployment> = Api::namespaced(
            self.client.clone(),
            &deployment.namespace().unwrap_or_default(),
        );
        let patch = json!({"metadata": {"annotations": {util::REVISION: revision}}});
        match api
            .patch(
                &deployment.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(updated) => {
                deployment.metadata.annotations = updated.metadata.annotations;
                deployment.metadata.resource_version = updated.metadata.resource_version;
                Ok(())
            }
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!(
                    "setting the revision of deployment {}",
                    deployment.name_any()
                ),
                source,
            }),
        }
    }

    /// The new ReplicaSet (created when `create` and missing) and the old ones, with revisions
    /// and annotations brought up to date.
    pub(super) async fn new_and_old(
        &self,
        deployment: &mut Deployment,
        replica_sets: &[ReplicaSet],
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
        let template = template_of(deployment);
        let mut sorted: Vec<ReplicaSet> = replica_sets.to_vec();
        sorted.sort_by(by_creation);
        let new_index = sorted.iter().position(|rs| {
            rs.spec
                .as_ref()
                .and_then(|spec| spec.template.as_ref())
                .is_some_and(|rs_template| util::equal_ignore_hash(rs_template, &template))
        });
        let existing = new_index.map(|index| sorted.remove(index));
        let old = sorted;
        let max_old = old.iter().map(util::revision).max().unwrap_or(0);
        let new_revision = max_old + 1;
        if let Some(mut rs) = existing {
            let annotations_changed =
                util::set_new_rs_annotations(deployment, &mut rs, new_revision, true);
            let min_ready = min_ready_seconds(deployment);
            let spec = rs.spec.get_or_insert_with(ReplicaSetSpec::default);
            let min_ready_changed = spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0);
            if annotations_changed || min_ready_changed {
                spec.min_ready_seconds = min_ready;
                rs = self
                    .rs_api(deployment)
                    .replace(&rs.name_any(), &PostParams::default(), &rs)
                    .await
                    .map_err(|source| Error::Api {
                        action: format!("updating replica set {}", rs.name_any()),
                        source,
                    })?;
            }
            let revision = util::revision(&rs).to_string();
            self.set_deployment_revision(deployment, &revision).await?;
            let no_progress_condition = deployment
                .status
                .as_ref()
                .is_none_or(|status| util::get_condition(status, reasons::PROGRESSING).is_none());
            if util::has_progress_deadline(deployment) && no_progress_condition {
                let condition = util::condition(
                    reasons::PROGRESSING,
                    "True",
                    reasons::FOUND_NEW_REPLICA_SET,
                    format!("Found new replica set {:?}", rs.name_any()),
                );
                util::set_condition(
                    deployment
                        .status
                        .get_or_insert_with(DeploymentStatus::default),
                    condition,
                );
                self.write_status(deployment).await?;
            }
            return Ok((Some(rs), old));
        }
        if !create {
            return Ok((None, old));
        }
        let collision_count = deployment
            .status
            .as_ref()
            .and_then(|status| status.collision_count);
        let hash = util::template_hash(&template, collision_count);
        let mut new_template = template.clone();
        let metadata = new_template
            .metadata
            .get_or_insert_with(ObjectMeta::default);
        let labels = metadata.labels.get_or_insert_with(BTreeMap::new);
        labels.insert(util::HASH_LABEL.to_owned(), hash.clone());
        let labels = labels.clone();
        let mut selector = deployment
            .spec
            .as_ref()
            .map(|spec| spec.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(util::HASH_LABEL.to_owned(), hash.clone());
        let name = format!("{}-{hash}", deployment.name_any());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: deployment.namespace(),
                owner_references: Some(vec![controller_reference(deployment)]),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: min_ready_seconds(deployment),
                selector,
                template: Some(new_template),
            }),
            status: None,
        };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&rs)).collect();
        let replicas = util::new_rs_new_replicas(deployment, &all, &rs);
        if let Some(spec) = rs.spec.as_mut() {
            spec.replicas = Some(replicas);
        }
        util::set_new_rs_annotations(deployment, &mut rs, new_revision, false);
        let created = match self
            .rs_api(deployment)
            .create(&PostParams::default(), &rs)
            .await
        {
            Ok(created) => {
                if replicas > 0 {
                    self.recorder.event(
                        deployment,
                        NORMAL,
                        "ScalingReplicaSet",
                        format!("Scaled up replica set {name} from 0 to {replicas}"),
                    );
                }
                if util::has_progress_deadline(deployment) {
                    util::set_condition(
                        deployment
                            .status
                            .get_or_insert_with(DeploymentStatus::default),
                        util::condition(
                            reasons::PROGRESSING,
                            "True",
                            reasons::NEW_REPLICA_SET,
                            format!("Created new replica set {name:?}"),
                        ),
                    );
                }
                created
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // Made by an earlier sync whose result the cache has not shown yet, or a hash
                // collision with a ReplicaSet of another template.
                let found = self
                    .replica_sets
                    .get(&deployment.namespace().unwrap_or_default(), &name);
                let ours = found.as_ref().is_some_and(|found| {
                    controller_of(&found.metadata)
                        .is_some_and(|owner| Some(&owner.uid) == deployment.metadata.uid.as_ref())
                        && found
                            .spec
                            .as_ref()
                            .and_then(|spec| spec.template.as_ref())
                            .is_some_and(|t| util::equal_ignore_hash(t, &template))
                });
                if ours && let Some(found) = found {
                    (*found).clone()
                } else {
                    let status = deployment
                        .status
                        .get_or_insert_with(DeploymentStatus::default);
                    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                    self.write_status(deployment).await?;
                    return Err(Error::Retry(format!(
                        "hash collision for replica set {name}; collisionCount raised"
                    )));
                }
            }
            Err(kube::Error::Api(status))
                if status.code == 403 && status.message.contains("being terminated") =>
            {
                return Ok((None, old));
            }
            Err(error) => {
                let message = format!("Failed to create new replica set {name:?}: {error}");
                if util::has_progress_deadline(deployment) {
                    util::set_condition(
                        deployment
                            .status
                            .get_or_insert_with(DeploymentStatus::default),
                        util::condition(
                            reasons::PROGRESSING,
                            "False",
                            reasons::FAILED_RS_CREATE,
                            message.clone(),
                        ),
                    );
                    let _ = self.write_status(deployment).await;
                }
                self.recorder
                    .event(deployment, WARNING, reasons::FAILED_RS_CREATE, message);
                return Err(Error::Api {
                    action: format!("creating replica set {name}"),
                    source: error,
                });
            }
        };
        self.set_deployment_revision(deployment, &new_revision.to_string())
            .await?;
        if util::has_progress_deadline(deployment) {
            self.write_status(deployment).await?;
        }
        Ok((Some(created), old))
    }

    /// Scales a ReplicaSet (and refreshes its replicas annotations and minReadySeconds); records
    /// `ScalingReplicaSet`. Returns whether the size changed, and the ReplicaSet as stored.
    async fn scale_replica_set(
        &self,
        deployment: &Deployment,
        rs: &ReplicaSet,
        size: i32,
    ) -> Result<(bool, ReplicaSet)> {
        let old_size = util::rs_replicas(rs);
        let desired = util::replicas(deployment);
        let mut updated = rs.clone();
        let annotations_changed = util::set_replicas_annotations(
            &mut updated,
            desired,
            desired + util::max_surge(deployment),
        );
        let spec = updated.spec.get_or_insert_with(ReplicaSetSpec::default);
        let min_ready = min_ready_seconds(deployment);
        let min_ready_changed = spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0);
        if old_size == size && !annotations_changed && !min_ready_changed {
            return Ok((false, rs.clone()));
        }
        spec.replicas = Some(size);
        spec.min_ready_seconds = min_ready;
        let stored = self
            .rs_api(deployment)
            .replace(&rs.name_any(), &PostParams::default(), &updated)
            .await
            .map_err(|source| Error::Api {
                action: format!("scaling replica set {}", rs.name_any()),
                source,
            })?;
        if old_size != size {
            let direction = if old_size < size { "up" } else { "down" };
            self.recorder.event(
                deployment,
                NORMAL,
                "ScalingReplicaSet",
                format!(
                    "Scaled {direction} replica set {} from {old_size} to {size}",
                    rs.name_any()
                ),
            );
        }
        Ok((old_size != size, stored))
    }

    async fn scale_if_needed(
        &self,
        deployment: &Deployment,
        rs: &ReplicaSet,
        size: i32,
    ) -> Result<(bool, ReplicaSet)> {
        if util::rs_replicas(rs) == size {
            return Ok((false, rs.clone()));
        }
        self.scale_replica_set(deployment, rs, size).await
    }

    /// RollingUpdate: grow the new ReplicaSet within maxSurge, shrink old ones within
    /// maxUnavailable, clean up history once complete.
    pub(super) async fn rollout_rolling(
        &self,
        deployment: &mut Deployment,
        replica_sets: &[ReplicaSet],
    ) -> Result<()> {
        let (new_rs, mut old) = self.new_and_old(deployment, replica_sets, true).await?;
        let Some(mut new_rs) = new_rs else {
            return Ok(());
        };
        // Scale up.
        let desired = util::replicas(deployment);
        let new_size = util::rs_replicas(&new_rs);
        if new_size != desired {
            let target = if new_size > desired {
                desired
            } else {
                let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new_rs)).collect();
                util::new_rs_new_replicas(deployment, &all, &new_rs)
            };
            let (scaled, stored) = self.scale_if_needed(deployment, &new_rs, target).await?;
            new_rs = stored;
            if scaled {
                return self
                    .sync_rollout_status(deployment, &old, Some(&new_rs))
                    .await;
            }
        }
        // Scale down.
        if self.reconcile_old(deployment, &mut old, &new_rs).await? {
            return self
                .sync_rollout_status(deployment, &old, Some(&new_rs))
                .await;
        }
        let status = self.calculate_status(deployment, &old, Some(&new_rs));
        if util::complete(deployment, &status) {
            self.cleanup(deployment, &old).await?;
        }
        self.sync_rollout_status(deployment, &old, Some(&new_rs))
            .await
    }

    /// Shrinks old ReplicaSets as far as maxUnavailable allows; true when something shrank.
    async fn reconcile_old(
        &self,
        deployment: &Deployment,
        old: &mut [ReplicaSet],
        new_rs: &ReplicaSet,
    ) -> Result<bool> {
        let old_pods: i32 = old.iter().map(util::rs_replicas).sum();
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods = old_pods + util::rs_replicas(new_rs);
        let min_available = util::replicas(deployment) - util::max_unavailable(deployment);
        let new_unavailable = util::rs_replicas(new_rs) - status_of(new_rs).2;
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        old.sort_by(by_creation);
        // Unhealthy replicas first: they would block the rollout.
        let mut cleaned = 0;
        for rs in old.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let size = util::rs_replicas(rs);
            let available = status_of(rs).2;
            if size == 0 || size == available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(size - available);
            let (_, stored) = self.scale_if_needed(deployment, rs, size - down).await?;
            *rs = stored;
            cleaned += down;
        }
        // Then healthy ones, keeping minAvailable.
        let available: i32 = old
            .iter()
            .chain(std::iter::once(new_rs))
            .map(|rs| status_of(rs).2)
            .sum();
        let mut scaled_down = 0;
        if available > min_available {
            let total = available - min_available;
            for rs in old.iter_mut() {
                if scaled_down >= total {
                    break;
                }
                let size = util::rs_replicas(rs);
                if size == 0 {
                    continue;
                }
                let down = size.min(total - scaled_down);
                let (_, stored) = self.scale_if_needed(deployment, rs, size - down).await?;
                *rs = stored;
                scaled_down += down;
            }
        }
        Ok(cleaned + scaled_down > 0)
    }

    /// Recreate: every old pod goes before the new ReplicaSet grows.
    pub(super) async fn rollout_recreate(
        &self,
        deployment: &mut Deployment,
        replica_sets: &[ReplicaSet],
    ) -> Result<()> {
        let (mut new_rs, mut old) = self.new_and_old(deployment, replica_sets, false).await?;
        let mut scaled_down = false;
        for rs in old.iter_mut().filter(|rs| util::rs_replicas(rs) > 0) {
            let (scaled, stored) = self.scale_if_needed(deployment, rs, 0).await?;
            *rs = stored;
            scaled_down |= scaled;
        }
        if scaled_down || self.old_pods_running(&old) {
            return self
                .sync_rollout_status(deployment, &old, new_rs.as_ref())
                .await;
        }
        if new_rs.is_none() {
            let (created, refreshed) = self.new_and_old(deployment, replica_sets, true).await?;
            new_rs = created;
            old = refreshed;
        }
        if let Some(rs) = new_rs.as_mut() {
            let (_, stored) = self
                .scale_if_needed(deployment, rs, util::replicas(deployment))
                .await?;
            *rs = stored;
        }
        let status = self.calculate_status(deployment, &old, new_rs.as_ref());
        if util::complete(deployment, &status) {
            self.cleanup(deployment, &old).await?;
        }
        self.sync_rollout_status(deployment, &old, new_rs.as_ref())
            .await
    }

    /// Whether any pod of an old ReplicaSet may still run.
    fn old_pods_running(&self, old: &[ReplicaSet]) -> bool {
        if old.iter().any(|rs| status_of(rs).0 > 0) {
            return true;
        }
        let uids: Vec<String> = old.iter().filter_map(|rs| rs.uid()).collect();
        old.first().is_some_and(|first| {
            self.pods
                .list_namespace(&first.namespace().unwrap_or_default())
                .iter()
                .any(|pod| {
                    controller_of(&pod.metadata).is_some_and(|owner| uids.contains(&owner.uid))
                        && !matches!(
                            pod.status
                                .as_ref()
                                .and_then(|status| status.phase.as_deref()),
                            Some("Failed" | "Succeeded")
                        )
                })
        })
    }

    /// Whether the replicas changed since the ReplicaSets were last scaled.
    pub(super) fn is_scaling_event(
        &self,
        deployment: &Deployment,
        replica_sets: &[ReplicaSet],
    ) -> bool {
        let desired = util::replicas(deployment);
        replica_sets
            .iter()
            .filter(|rs| util::rs_replicas(rs) > 0)
            .any(|rs| {
                util::desired_replicas_annotation(rs).is_some_and(|annotated| annotated != desired)
            })
    }

    /// A scaling event or a paused Deployment: scale without rolling.
    pub(super) async fn sync_scale(
        &self,
        deployment: &mut Deployment,
        replica_sets: &[ReplicaSet],
        paused: bool,
    ) -> Result<()> {
        let (new_rs, mut old) = self.new_and_old(deployment, replica_sets, false).await?;
        let new_rs = self.scale(deployment, new_rs, &mut old).await?;
        if paused {
            self.cleanup(deployment, &old).await?;
        }
        self.sync_status(deployment, &old, new_rs.as_ref()).await
    }

    /// Proportional scaling across the active ReplicaSets (upstream's `scale`).
    async fn scale(
        &self,
        deployment: &Deployment,
        new_rs: Option<ReplicaSet>,
        old: &mut [ReplicaSet],
    ) -> Result<Option<ReplicaSet>> {
        let desired = util::replicas(deployment);
        // One active ReplicaSet (or none: the newest) takes every replica.
        old.sort_by(|a, b| by_creation(b, a));
        let mut candidates: Vec<&ReplicaSet> = old.iter().collect();
        if let Some(new) = new_rs.as_ref() {
            candidates.push(new);
        }
        let active: Vec<&ReplicaSet> = candidates
            .iter()
            .copied()
            .filter(|rs| util::rs_replicas(rs) > 0)
            .collect();
        let target = match active.len() {
            0 => new_rs.as_ref().or(old.first()),
            1 => active.first().copied(),
            _ => None,
        }
        .map(|rs| rs.name_any());
        if let Some(target) = target {
            let mut new_rs = new_rs;
            for rs in new_rs.iter_mut().chain(old.iter_mut()) {
                if rs.name_any() == target && util::rs_replicas(rs) != desired {
                    let (_, stored) = self.scale_replica_set(deployment, rs, desired).await?;
                    *rs = stored;
                }
            }
            return Ok(new_rs);
        }
        // A saturated new ReplicaSet: the old ones go to zero.
        if let Some(new) = new_rs.as_ref()
            && util::rs_replicas(new) == desired
            && util::desired_replicas_annotation(new) == Some(desired)
            && status_of(new).2 == desired
        {
            for rs in old.iter_mut().filter(|rs| util::rs_replicas(rs) > 0) {
                let (_, stored) = self.scale_if_needed(deployment, rs, 0).await?;
                *rs = stored;
            }
            return Ok(new_rs);
        }
        if util::is_recreate(deployment) {
            return Ok(new_rs);
        }
        let mut all: Vec<ReplicaSet> = old
            .iter()
            .cloned()
            .chain(new_rs.iter().cloned())
            .filter(|rs| util::rs_replicas(rs) > 0)
            .collect();
        let current: i32 = all.iter().map(util::rs_replicas).sum();
        let allowed = if desired > 0 {
            desired + util::max_surge(deployment)
        } else {
            0
        };
        let to_add = allowed - current;
        match to_add.cmp(&0) {
            // Larger first; among equals newer first when growing, older first when shrinking.
            Ordering::Greater => all.sort_by(|a, b| {
                util::rs_replicas(b)
                    .cmp(&util::rs_replicas(a))
                    .then_with(|| by_creation(b, a))
            }),
            Ordering::Less => all.sort_by(|a, b| {
                util::rs_replicas(b)
                    .cmp(&util::rs_replicas(a))
                    .then_with(|| by_creation(a, b))
            }),
            Ordering::Equal => {}
        }
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::new();
        for rs in &all {
            let share = util::proportion(rs, deployment, to_add, added);
            sizes.push(util::rs_replicas(rs) + share);
            added += share;
        }
        if let Some(first) = sizes.first_mut()
            && to_add != 0
        {
            *first = (*first + to_add - added).max(0);
        }
        let mut new_rs = new_rs;
        for (rs, size) in all.iter().zip(sizes) {
            let (_, stored) = self.scale_replica_set(deployment, rs, size).await?;
            let name = stored.name_any();
            for slot in new_rs.iter_mut().chain(old.iter_mut()) {
                if slot.name_any() == name {
                    *slot = stored.clone();
                }
            }
        }
        Ok(new_rs)
    }

    /// Deletes the oldest empty ReplicaSets beyond `revisionHistoryLimit`.
    async fn cleanup(&self, deployment: &Deployment, old: &[ReplicaSet]) -> Result<()> {
        let Some(limit) = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.revision_history_limit)
        else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let excess = i32::try_from(cleanable.len()).unwrap_or(i32::MAX) - limit;
        if excess <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| {
            util::revision(a)
                .cmp(&util::revision(b))
                .then_with(|| by_creation(a, b))
        });
        for rs in cleanable
            .into_iter()
            .take(usize::try_from(excess).unwrap_or(0))
        {
            let observed = rs
                .status
                .as_ref()
                .and_then(|status| status.observed_generation);
            if status_of(rs).0 != 0
                || util::rs_replicas(rs) != 0
                || rs.metadata.generation > observed
            {
                continue;
            }
            match self
                .rs_api(deployment)
                .delete(&rs.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(error) if is_not_found(&error) => {}
                Err(source) => {
                    return Err(Error::Api {
                        action: format!("deleting old replica set {}", rs.name_any()),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// The status the ReplicaSets add up to, with the Available condition.
    pub(super) fn calculate_status(
        &self,
        deployment: &Deployment,
        old: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> DeploymentStatus {
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs).collect();
        let available: i32 = all.iter().map(|rs| status_of(rs).2).sum();
        let total: i32 = all.iter().map(|rs| util::rs_replicas(rs)).sum();
        let previous = deployment.status.clone().unwrap_or_default();
        let mut status = DeploymentStatus {
            observed_generation: deployment.metadata.generation,
            replicas: Some(all.iter().map(|rs| status_of(rs).0).sum()),
            updated_replicas: Some(new_rs.map_or(0, |rs| status_of(rs).0)),
            ready_replicas: Some(all.iter().map(|rs| status_of(rs).1).sum()),
            available_replicas: Some(available),
            unavailable_replicas: Some((total - available).max(0)),
            collision_count: previous.collision_count,
            conditions: previous.conditions.clone(),
            terminating_replicas: previous.terminating_replicas,
        };
        let desired = util::replicas(deployment);
        if available >= desired - util::max_unavailable(deployment) {
            util::set_condition(
                &mut status,
                util::condition(
                    reasons::AVAILABLE,
                    "True",
                    reasons::MINIMUM_REPLICAS_AVAILABLE,
                    "Deployment has minimum availability.".to_owned(),
                ),
            );
        } else {
            util::set_condition(
                &mut status,
                util::condition(
                    reasons::AVAILABLE,
                    "False",
                    reasons::MINIMUM_REPLICAS_UNAVAILABLE,
                    "Deployment does not have minimum availability.".to_owned(),
                ),
            );
        }
        status
    }

    /// Writes the plain status (scaling, paused, deleting).
    async fn sync_status(
        &self,
        deployment: &mut Deployment,
        old: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<()> {
        let status = self.calculate_status(deployment, old, new_rs);
        if deployment.status.as_ref() == Some(&status) {
            return Ok(());
        }
        deployment.status = Some(status);
        self.write_status(deployment).await
    }

    /// A Deployment being deleted only reports.
    pub(super) async fn sync_status_only(
        &self,
        deployment: &mut Deployment,
        replica_sets: &[ReplicaSet],
    ) -> Result<()> {
        let (new_rs, old) = self.new_and_old(deployment, replica_sets, false).await?;
        self.sync_status(deployment, &old, new_rs.as_ref()).await
    }

    /// The status with the Progressing condition measured against the progress deadline; a
    /// Deployment without progress is looked at again when its deadline passes.
    async fn sync_rollout_status(
        &self,
        deployment: &mut Deployment,
        old: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<()> {
        let mut status = self.calculate_status(deployment, old, new_rs);
        let name = deployment.name_any();
        if !util::has_progress_deadline(deployment) {
            util::remove_condition(&mut status, reasons::PROGRESSING);
        }
        let current = deployment
            .status
            .as_ref()
            .and_then(|status| util::get_condition(status, reasons::PROGRESSING))
            .cloned();
        let finished = status.replicas == status.updated_replicas
            && current
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(reasons::NEW_RS_AVAILABLE));
        if util::has_progress_deadline(deployment) && !finished {
            let subject = |verb: &str| match new_rs {
                Some(rs) => format!("ReplicaSet {:?} {verb}", rs.name_any()),
                None => format!("Deployment {name:?} {verb}"),
            };
            if util::complete(deployment, &status) {
                util::set_condition(
                    &mut status,
                    util::condition(
                        reasons::PROGRESSING,
                        "True",
                        reasons::NEW_RS_AVAILABLE,
                        subject("has successfully progressed."),
                    ),
                );
            } else if util::progressing(deployment, &status) {
                let mut condition = util::condition(
                    reasons::PROGRESSING,
                    "True",
                    reasons::REPLICA_SET_UPDATED,
                    subject("is progressing."),
                );
                if let Some(current) = &current {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    util::remove_condition(&mut status, reasons::PROGRESSING);
                }
                util::set_condition(&mut status, condition);
            } else if let Some(reason) = util::get_condition(&status, reasons::PROGRESSING)
                .and_then(|condition| condition.reason.clone())
                && reason != reasons::NEW_RS_AVAILABLE
                && (reason == reasons::TIMED_OUT
                    || util::deadline_left(deployment, &status).is_some_and(|left| left < 0))
            {
                util::set_condition(
                    &mut status,
                    util::condition(
                        reasons::PROGRESSING,
                        "False",
                        reasons::TIMED_OUT,
                        subject("has timed out progressing."),
                    ),
                );
            }
        }
        // The ReplicaFailure of a ReplicaSet (the new one first) shows on the Deployment.
        let failure = new_rs.into_iter().chain(old).find_map(|rs| {
            rs.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == reasons::REPLICA_FAILURE)
                .cloned()
        });
        match failure {
            Some(failure) => util::set_condition(
                &mut status,
                util::condition(
                    reasons::REPLICA_FAILURE,
                    &failure.status,
                    failure.reason.as_deref().unwrap_or(""),
                    failure.message.unwrap_or_default(),
                ),
            ),
            None => util::remove_condition(&mut status, reasons::REPLICA_FAILURE),
        }
        if deployment.status.as_ref() == Some(&status) {
            self.requeue_stuck(deployment, &status);
            return Ok(());
        }
        deployment.status = Some(status);
        self.write_status(deployment).await
    }

    /// Looks at a rollout without progress again when its deadline passes.
    fn requeue_stuck(&self, deployment: &Deployment, status: &DeploymentStatus) {
        let Some(current) = util::get_condition(status, reasons::PROGRESSING) else {
            return;
        };
        if util::complete(deployment, status)
            || current.reason.as_deref() == Some(reasons::TIMED_OUT)
        {
            return;
        }
        let Some(left) = util::deadline_left(deployment, status) else {
            return;
        };
        let key = key_of(
            &deployment.namespace().unwrap_or_default(),
            &deployment.name_any(),
        );
        if left < 1 {
            self.queue.add_rate_limited(key);
        } else {
            self.queue.add_after(
                key,
                Duration::from_secs(u64::try_from(left).unwrap_or(0) + 1),
            );
        }
    }

    /// Reports pausing and resuming in the Progressing condition.
    pub(super) async fn check_paused_conditions(&self, deployment: &mut Deployment) -> Result<()> {
        if !util::has_progress_deadline(deployment) {
            return Ok(());
        }
        let status = deployment
            .status
            .get_or_insert_with(DeploymentStatus::default);
        let reason = util::get_condition(status, reasons::PROGRESSING)
            .and_then(|condition| condition.reason.clone());
        if reason.as_deref() == Some(reasons::TIMED_OUT) {
            return Ok(());
        }
        let paused_reported = reason.as_deref() == Some(reasons::PAUSED);
        let paused = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.paused)
            .unwrap_or(false);
        let condition = if paused && !paused_reported {
            util::condition(
                reasons::PROGRESSING,
                "Unknown",
                reasons::PAUSED,
                "Deployment is paused".to_owned(),
            )
        } else if !paused && paused_reported {
            util::condition(
                reasons::PROGRESSING,
                "Unknown",
                reasons::RESUMED,
                "Deployment is resumed".to_owned(),
            )
        } else {
            return Ok(());
        };
        util::set_condition(
            deployment
                .status
                .get_or_insert_with(DeploymentStatus::default),
            condition,
        );
        self.write_status(deployment).await
    }
}
