//! The Deployment controller's sync paths: the new ReplicaSet and revisions, rolling and recreate
//! rollouts, proportional scaling, history cleanup and status, after upstream's `sync.go`,
//! `rolling.go`, `recreate.go` and `progress.go`.

mod new_rs;
mod progress;
mod recreate;
mod rolling;
mod scaling;

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use super::DeploymentController;
use super::util::{self, reasons};
use crate::error::{Error, Result, is_not_found};

/// Oldest first; the name breaks ties.
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let time = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|time| time.0);
    time(a)
        .cmp(&time(b))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// `(replicas, readyReplicas, availableReplicas)` of a ReplicaSet's status.
fn status_of(rs: &ReplicaSet) -> (i32, i32, i32) {
    rs.status.as_ref().map_or((0, 0, 0), |status| {
        (
            status.replicas,
            status.ready_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
        )
    })
}

/// The Deployment's pod template.
fn template_of(deployment: &Deployment) -> k8s_openapi::api::core::v1::PodTemplateSpec {
    deployment
        .spec
        .as_ref()
        .map(|spec| spec.template.clone())
        .unwrap_or_default()
}

/// The Deployment's `minReadySeconds`.
fn min_ready_seconds(deployment: &Deployment) -> Option<i32> {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.min_ready_seconds)
}

/// Sets the Deployment's Progressing condition.
fn set_progressing(deployment: &mut Deployment, status: &str, reason: &str, message: String) {
    util::set_condition(
        deployment
            .status
            .get_or_insert_with(DeploymentStatus::default),
        util::condition(reasons::PROGRESSING, status, reason, message),
    );
}

impl DeploymentController {
    /// The ReplicaSets of the Deployment's namespace.
    fn rs_api(&self, deployment: &Deployment) -> Api<ReplicaSet> {
        Api::namespaced(
            self.client.clone(),
            &deployment.namespace().unwrap_or_default(),
        )
    }

    /// Writes the status and keeps the new resourceVersion for later writes of this sync.
    pub(super) async fn write_status(&self, deployment: &mut Deployment) -> Result<()> {
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
}
