//! The Recreate strategy (upstream's `recreate.go`): every old pod is gone before the new
//! ReplicaSet grows.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::ResourceExt;

use super::status_of;
use crate::deployment::DeploymentController;
use crate::deployment::util;
use crate::error::Result;
use crate::pods::controller_of;

impl DeploymentController {
    /// Recreate: every old pod goes before the new ReplicaSet grows.
    pub(in crate::deployment) async fn rollout_recreate(
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
}
