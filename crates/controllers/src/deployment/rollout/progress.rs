//! The Deployment's status (upstream's `progress.go` and `calculateStatus`): replica counts, the
//! Available condition, the Progressing condition measured against the progress deadline,
//! pausing and resuming, and the ReplicaFailure of its ReplicaSets.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use kube::ResourceExt;

use super::{set_progressing, status_of};
use crate::deployment::util::{self, reasons};
use crate::deployment::{DeploymentController, key_of};
use crate::error::Result;

impl DeploymentController {
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
    pub(super) async fn sync_status(
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
    pub(in crate::deployment) async fn sync_status_only(
        &self,
        deployment: &mut Deployment,
        replica_sets: &[ReplicaSet],
    ) -> Result<()> {
        let (new_rs, old) = self.new_and_old(deployment, replica_sets, false).await?;
        self.sync_status(deployment, &old, new_rs.as_ref()).await
    }

    /// The status with the Progressing condition measured against the progress deadline; a
    /// Deployment without progress is looked at again when its deadline passes.
    pub(super) async fn sync_rollout_status(
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
    pub(in crate::deployment) async fn check_paused_conditions(
        &self,
        deployment: &mut Deployment,
    ) -> Result<()> {
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
        let (reason, message) = if paused && !paused_reported {
            (reasons::PAUSED, "Deployment is paused")
        } else if !paused && paused_reported {
            (reasons::RESUMED, "Deployment is resumed")
        } else {
            return Ok(());
        };
        set_progressing(deployment, "Unknown", reason, message.to_owned());
        self.write_status(deployment).await
    }
}
