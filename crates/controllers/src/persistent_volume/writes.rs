//! The writes of the binding protocol, in upstream's order (volume `claimRef`, volume phase, claim
//! `volumeName` and annotations, claim status), each skipped when nothing would change and each
//! result remembered, so the next step builds on what was stored.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus,
    PersistentVolumeStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kubers_core::volumes::{
    ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, claim_volume_name, is_bound_to_claim,
};

use super::Controller;
use crate::error::{Context, Result};

/// The `claimRef` of a volume bound to `claim`.
pub fn claim_reference(claim: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: claim.namespace(),
        name: Some(claim.name_any()),
        uid: claim.uid(),
        resource_version: claim.resource_version(),
        ..ObjectReference::default()
    }
}

fn set_annotation(
    meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> bool {
    let annotations = meta.annotations.get_or_insert_default();
    if annotations.contains_key(key) {
        return false;
    }
    annotations.insert(key.to_owned(), "yes".to_owned());
    true
}

impl Controller {
    fn volume_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn claim_api(&self, claim: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), &claim.namespace().unwrap_or_default())
    }

    fn keep_volume(&self, volume: PersistentVolume) -> Arc<PersistentVolume> {
        self.fresh_volumes.record(volume.name_any(), volume)
    }

    fn keep_claim(&self, claim: PersistentVolumeClaim) -> Arc<PersistentVolumeClaim> {
        let key = format!(
            "{}/{}",
            claim.namespace().unwrap_or_default(),
            claim.name_any()
        );
        self.fresh_claims.record(key, claim)
    }

    /// Binds `volume` and `claim` to each other, finishing whatever part of the binding is missing
    /// (upstream's `bind`).
    pub(super) async fn bind(
        &self,
        volume: Arc<PersistentVolume>,
        claim: Arc<PersistentVolumeClaim>,
    ) -> Result<()> {
        tracing::debug!(volume = %volume.name_any(), claim = %claim.name_any(), "binding");
        let volume = self.bind_volume_to_claim(volume, &claim).await?;
        let volume = self.update_volume_phase(volume, "Bound", None).await?;
        let claim = self.bind_claim_to_volume(claim, &volume).await?;
        self.update_claim_status(claim, "Bound", Some(&volume))
            .await?;
        Ok(())
    }

    /// Points the volume's `claimRef` at the claim (upstream's `GetBindVolumeToClaim`).
    async fn bind_volume_to_claim(
        &self,
        volume: Arc<PersistentVolume>,
        claim: &PersistentVolumeClaim,
    ) -> Result<Arc<PersistentVolume>> {
        let mut updated = (*volume).clone();
        let mut dirty = false;
        let bound_by_user = is_bound_to_claim(&volume, claim);
        let spec = updated.spec.get_or_insert_default();
        let same = spec.claim_ref.as_ref().is_some_and(|reference| {
            reference.name.as_deref() == claim.metadata.name.as_deref()
                && reference.namespace == claim.metadata.namespace
                && reference.uid == claim.metadata.uid
        });
        if !same {
            spec.claim_ref = Some(claim_reference(claim));
            dirty = true;
        }
        if !bound_by_user {
            dirty |= set_annotation(&mut updated.metadata, ANN_BOUND_BY_CONTROLLER);
        }
        if !dirty {
            return Ok(volume);
        }
        let name = volume.name_any();
        let stored = self
            .volume_api()
            .replace(&name, &PostParams::default(), &updated)
            .await
            .context(|| format!("binding volume {name} to claim {}", claim.name_any()))?;
        Ok(self.keep_volume(stored))
    }

    /// Sets a volume's phase (and message) unless it has it already.
    pub(super) async fn update_volume_phase(
        &self,
        volume: Arc<PersistentVolume>,
        phase: &str,
        message: Option<&str>,
    ) -> Result<Arc<PersistentVolume>> {
        let status = volume.status.as_ref();
        if status.and_then(|status| status.phase.as_deref()) == Some(phase)
            && status.and_then(|status| status.message.as_deref()) == message
        {
            return Ok(volume);
        }
        let mut updated = (*volume).clone();
        let previous = updated.status.take().unwrap_or_default();
        updated.status = Some(PersistentVolumeStatus {
            phase: Some(phase.to_owned()),
            message: message.map(str::to_owned),
            reason: None,
            last_phase_transition_time: if previous.phase.as_deref() == Some(phase) {
                previous.last_phase_transition_time
            } else {
                Some(Time(k8s_openapi::jiff::Timestamp::now()))
            },
        });
        let name = volume.name_any();
        let stored = self
            .volume_api()
            .replace_status(&name, &PostParams::default(), &updated)
            .await
            .context(|| format!("setting volume {name} {phase}"))?;
        Ok(self.keep_volume(stored))
    }

    /// Replaces a volume (its spec and metadata).
    pub(super) async fn update_volume(
        &self,
        volume: PersistentVolume,
    ) -> Result<Arc<PersistentVolume>> {
        let name = volume.name_any();
        let stored = self
            .volume_api()
            .replace(&name, &PostParams::default(), &volume)
            .await
            .context(|| format!("updating volume {name}"))?;
        Ok(self.keep_volume(stored))
    }

    /// Sets the claim's `volumeName` and binding annotations (upstream's `bindClaimToVolume`).
    async fn bind_claim_to_volume(
        &self,
        claim: Arc<PersistentVolumeClaim>,
        volume: &PersistentVolume,
    ) -> Result<Arc<PersistentVolumeClaim>> {
        let mut updated = (*claim).clone();
        let mut dirty = false;
        let name = volume.name_any();
        if claim_volume_name(&claim) != Some(name.as_str()) {
            updated.spec.get_or_insert_default().volume_name = Some(name.clone());
            set_annotation(&mut updated.metadata, ANN_BOUND_BY_CONTROLLER);
            dirty = true;
        }
        dirty |= set_annotation(&mut updated.metadata, ANN_BIND_COMPLETED);
        if !dirty {
            return Ok(claim);
        }
        self.update_claim(updated).await
    }

    /// Replaces a claim (its spec and metadata).
    pub(super) async fn update_claim(
        &self,
        claim: PersistentVolumeClaim,
    ) -> Result<Arc<PersistentVolumeClaim>> {
        let stored = self
            .claim_api(&claim)
            .replace(&claim.name_any(), &PostParams::default(), &claim)
            .await
            .context(|| format!("updating claim {}", claim.name_any()))?;
        Ok(self.keep_claim(stored))
    }

    /// Sets a claim's phase, and its access modes and capacity from the volume it is bound to
    /// (upstream's `updateClaimStatus`: capacity only as the claim becomes Bound).
    pub(super) async fn update_claim_status(
        &self,
        claim: Arc<PersistentVolumeClaim>,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<Arc<PersistentVolumeClaim>> {
        let current = claim.status.clone().unwrap_or_default();
        let mut status = PersistentVolumeClaimStatus {
            phase: Some(phase.to_owned()),
            ..current.clone()
        };
        match volume {
            None => {
                status.access_modes = None;
                status.capacity = None;
            }
            Some(volume) => {
                let spec = volume.spec.as_ref();
                status.access_modes = spec.and_then(|spec| spec.access_modes.clone());
                if current.phase.as_deref() != Some(phase) {
                    status.capacity = spec.and_then(|spec| spec.capacity.clone());
                }
            }
        }
        if status == current {
            return Ok(claim);
        }
        let mut updated = (*claim).clone();
        updated.status = Some(status);
        let stored = self
            .claim_api(&claim)
            .replace_status(&claim.name_any(), &PostParams::default(), &updated)
            .await
            .context(|| format!("setting claim {} {phase}", claim.name_any()))?;
        Ok(self.keep_claim(stored))
    }
}
