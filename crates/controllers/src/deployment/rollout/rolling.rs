//! The RollingUpdate strategy (upstream's `rolling.go`): the new ReplicaSet grows within
//! maxSurge while old ones shrink within maxUnavailable, unhealthy replicas first.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::{by_creation, status_of};
use crate::deployment::DeploymentController;
use crate::deployment::util;
use crate::error::Result;

impl DeploymentController {
    /// RollingUpdate: grow the new ReplicaSet within maxSurge, shrink old ones within
    /// maxUnavailable, clean up history once complete.
    pub(in crate::deployment) async fn rollout_rolling(
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
}
