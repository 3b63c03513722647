//! Scaling without rolling (upstream's `sync.go`): one ReplicaSet resized with its annotations,
//! scaling events detected, replicas spread proportionally across the active ReplicaSets, and
//! the history beyond `revisionHistoryLimit` cleaned up.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use kube::ResourceExt;
use kube::api::{DeleteParams, PostParams};
use kubers_client::events::NORMAL;

use super::{by_creation, min_ready_seconds, status_of};
use crate::deployment::DeploymentController;
use crate::deployment::util;
use crate::error::{Error, Result, is_not_found};

impl DeploymentController {
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

    /// Scales `rs` to `size` unless it has that size already.
    pub(super) async fn scale_if_needed(
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

    /// Whether the replicas changed since the ReplicaSets were last scaled.
    pub(in crate::deployment) fn is_scaling_event(
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
    pub(in crate::deployment) async fn sync_scale(
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
    pub(super) async fn cleanup(&self, deployment: &Deployment, old: &[ReplicaSet]) -> Result<()> {
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
}
