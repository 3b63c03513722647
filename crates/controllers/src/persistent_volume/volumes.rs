//! A volume's sync, as upstream's `syncVolume`: a volume without a claim is Available; one whose
//! claim is bound to it is Bound; one whose claim is gone is Released and then reclaimed by its
//! policy (`Retain` keeps it; `Delete` leaves dynamically provisioned volumes to their provisioner
//! and deletes static ones only where upstream's in-tree deleter could); one the controller bound
//! to a claim that went elsewhere is made Available again.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Preconditions};
use kubers_client::events::WARNING;
use kubers_core::volumes::{
    ANN_BOUND_BY_CONTROLLER, ANN_DYNAMICALLY_PROVISIONED, claim_volume_name, reclaim_policy,
    volume_mode_mismatch, volume_phase,
};

use super::{Controller, Key};
use crate::error::{Context, Result, is_not_found};

fn annotation<'a>(volume: &'a PersistentVolume, key: &str) -> Option<&'a str> {
    volume
        .metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// Whether an external provisioner made the volume (and so deletes it).
fn externally_provisioned(volume: &PersistentVolume) -> bool {
    annotation(volume, ANN_DYNAMICALLY_PROVISIONED)
        .is_some_and(|provisioner| !provisioner.starts_with("kubernetes.io/"))
}

/// Why upstream's in-tree deleters cannot delete a static volume, if they cannot: only hostPath
/// volumes under `/tmp/` are deletable (and kubers deletes the object, not the node's directory).
fn undeletable(volume: &PersistentVolume) -> Option<String> {
    let name = volume.name_any();
    let prefix = format!("error getting deleter volume plugin for volume {name:?}");
    match volume
        .spec
        .as_ref()
        .and_then(|spec| spec.host_path.as_ref())
    {
        None => Some(format!("{prefix}: no deletable volume plugin matched")),
        Some(host_path) => {
            let path = host_path.path.as_str();
            let in_tmp = path
                .strip_prefix("/tmp/")
                .is_some_and(|rest| !rest.is_empty());
            (!in_tmp).then(|| {
                format!(
                    "{prefix}: host_path deleter only supports /tmp/.+ but received provided {path}"
                )
            })
        }
    }
}

impl Controller {
    pub(super) async fn sync_volume(&self, volume: Arc<PersistentVolume>) -> Result<()> {
        let Some(reference) = volume.spec.as_ref().and_then(|spec| spec.claim_ref.clone()) else {
            self.update_volume_phase(volume, "Available", None).await?;
            return Ok(());
        };
        if reference.uid.as_deref().unwrap_or("").is_empty() {
            // Pre-bound by a user to a claim name; the claim's sync binds it.
            self.update_volume_phase(volume, "Available", None).await?;
            return Ok(());
        }
        let namespace = reference.namespace.clone().unwrap_or_default();
        let name = reference.name.clone().unwrap_or_default();
        let claim = match self.claim(&namespace, &name) {
            Some(claim) => Some(claim),
            // The cache may not have seen a new claim yet: ask the API before releasing.
            None => self.live_claim(&namespace, &name).await?,
        }
        .filter(|claim| claim.metadata.uid == reference.uid);
        let Some(claim) = claim else {
            return self.release(volume).await;
        };
        match claim_volume_name(&claim) {
            None => {
                if volume_mode_mismatch(&claim, &volume) {
                    self.recorder.event(
                        &*volume,
                        WARNING,
                        "VolumeMismatch",
                        format!(
                            "Cannot bind PersistentVolume to requested PersistentVolumeClaim {:?} due to incompatible volumeMode.",
                            claim.name_any()
                        ),
                    );
                    return Ok(());
                }
                // The claim's sync completes the binding.
                self.queue.add(Key::Claim(namespace, name));
                Ok(())
            }
            Some(bound) if bound == volume.name_any() => {
                self.update_volume_phase(volume, "Bound", None).await?;
                Ok(())
            }
            Some(_) => {
                if externally_provisioned(&volume) && reclaim_policy(&volume) == "Delete" {
                    return self.release(volume).await;
                }
                if annotation(&volume, ANN_BOUND_BY_CONTROLLER).is_some() {
                    // The controller bound it to a claim that found another volume: free it.
                    let mut updated = (*volume).clone();
                    if let Some(spec) = updated.spec.as_mut() {
                        spec.claim_ref = None;
                    }
                    if let Some(annotations) = updated.metadata.annotations.as_mut() {
                        annotations.remove(ANN_BOUND_BY_CONTROLLER);
                    }
                    let updated = self.update_volume(updated).await?;
                    self.update_volume_phase(updated, "Available", None).await?;
                }
                Ok(())
            }
        }
    }

    async fn live_claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<PersistentVolumeClaim>>> {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let claim = api
            .get_opt(name)
            .await
            .context(|| format!("reading claim {namespace}/{name}"))?;
        Ok(claim.map(Arc::new))
    }

    /// The volume's claim is gone: Released, then reclaimed (upstream's `reclaimVolume`).
    async fn release(&self, volume: Arc<PersistentVolume>) -> Result<()> {
        let phase = volume_phase(&volume);
        let volume = if phase != "Released" && phase != "Failed" {
            tracing::info!(volume = %volume.name_any(), policy = reclaim_policy(&volume), "volume released");
            self.update_volume_phase(volume, "Released", None).await?
        } else {
            volume
        };
        match reclaim_policy(&volume) {
            "Delete" if externally_provisioned(&volume) => {
                // Its provisioner deletes it.
                Ok(())
            }
            "Delete" => match undeletable(&volume) {
                Some(message) => {
                    if volume_phase(&volume) != "Failed" {
                        self.recorder.event(
                            &*volume,
                            WARNING,
                            "VolumeFailedDelete",
                            message.clone(),
                        );
                        self.update_volume_phase(volume, "Failed", Some(&message))
                            .await?;
                    }
                    Ok(())
                }
                None => self.delete_volume(&volume).await,
            },
            "Recycle" => {
                if volume_phase(&volume) != "Failed" {
                    let message = "No recycler plugin found for the volume!";
                    self.recorder
                        .event(&*volume, WARNING, "VolumeFailedRecycle", message);
                    self.update_volume_phase(volume, "Failed", Some(message))
                        .await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Deletes the volume object (the in-tree deleter's last step).
    async fn delete_volume(&self, volume: &PersistentVolume) -> Result<()> {
        let name = volume.name_any();
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: volume.uid(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(crate::error::Error::Api {
                action: format!("deleting volume {name}"),
                source,
            }),
        }
    }
}
