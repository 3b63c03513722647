//! The new ReplicaSet of a rollout (upstream's `getNewReplicaSet`): found by template or created
//! with the template hash in its name and selector, hash collisions counted in `collisionCount`,
//! and the revision annotations of the Deployment and its ReplicaSets kept up to date.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubers_client::events::{NORMAL, WARNING};
use serde_json::json;

use super::{by_creation, min_ready_seconds, set_progressing, template_of};
use crate::deployment::DeploymentController;
use crate::deployment::util::{self, reasons};
use crate::error::{Error, Result, is_not_found};
use crate::pods::{controller_of, controller_reference};

impl DeploymentController {
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
                set_progressing(
                    deployment,
                    "True",
                    reasons::FOUND_NEW_REPLICA_SET,
                    format!("Found new replica set {:?}", rs.name_any()),
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
                    set_progressing(
                        deployment,
                        "True",
                        reasons::NEW_REPLICA_SET,
                        format!("Created new replica set {name:?}"),
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
                    set_progressing(
                        deployment,
                        "False",
                        reasons::FAILED_RS_CREATE,
                        message.clone(),
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
}
