//! A claim's sync, as upstream's `syncClaim`: an unbound claim is bound to the best matching volume
//! or to the volume it names, or waits (for its first consumer, for a provisioner, for a volume);
//! a bound claim finishes its binding or, when its volume is gone or bound elsewhere, is Lost.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::ResourceExt;
use kubers_client::events::{NORMAL, WARNING};
use kubers_core::volumes::{
    ANN_BETA_STORAGE_PROVISIONER, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER, check_volume_satisfies_claim, claim_class, claim_has_class,
    claim_volume_name, default_class, find_best_match_for_claim, is_bound_to_claim,
    is_delay_binding,
};

use super::Controller;
use crate::error::{Error, Result};

/// Upstream's message for a claim with nothing to bind to and no class to provision from.
pub const NO_VOLUMES: &str =
    "no persistent volumes available for this claim and no storage class is set";
/// Upstream's message for a claim of a `WaitForFirstConsumer` class without a consumer yet.
pub const WAITING_FOR_CONSUMER: &str = "waiting for first consumer to be created before binding";

fn has_annotation(claim: &PersistentVolumeClaim, key: &str) -> bool {
    claim
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|annotations| annotations.contains_key(key))
}

impl Controller {
    pub(super) async fn sync_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<()> {
        if has_annotation(&claim, ANN_BIND_COMPLETED) {
            self.sync_bound_claim(claim).await
        } else {
            self.sync_unbound_claim(claim).await
        }
    }

    async fn sync_unbound_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<()> {
        let Some(name) = claim_volume_name(&claim).map(str::to_owned) else {
            return self.sync_unnamed_claim(claim).await;
        };
        // The user asked for a particular volume.
        let Some(volume) = self.volume(&name) else {
            tracing::debug!(claim = %claim.name_any(), volume = %name, "requested volume not found");
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        };
        let claimed = volume
            .spec
            .as_ref()
            .and_then(|spec| spec.claim_ref.as_ref())
            .is_some();
        if !claimed {
            if let Err(reason) = check_volume_satisfies_claim(&volume, &claim) {
                self.recorder.event(
                    &*claim,
                    WARNING,
                    "VolumeMismatch",
                    format!("Cannot bind to requested volume {name:?}: {reason}"),
                );
                self.update_claim_status(claim, "Pending", None).await?;
                return Ok(());
            }
            return self.bind(volume, claim).await;
        }
        if is_bound_to_claim(&volume, &claim) {
            return self.bind(volume, claim).await;
        }
        if has_annotation(&claim, ANN_BOUND_BY_CONTROLLER) {
            // Someone removed the bind-completed annotation of a claim the controller bound.
            return Err(Error::Retry(format!(
                "invalid binding of claim {} to volume {name}: the volume is bound to another claim",
                claim.name_any()
            )));
        }
        self.recorder.event(
            &*claim,
            WARNING,
            "FailedBinding",
            format!("volume {name:?} already bound to a different claim."),
        );
        self.update_claim_status(claim, "Pending", None).await?;
        Ok(())
    }

    /// A claim that names no volume: the best match, or provisioning, or waiting.
    async fn sync_unnamed_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<()> {
        if !claim_has_class(&claim) {
            let classes = self.classes.list();
            if let Some(default) = default_class(classes.iter().map(|class| &**class)) {
                // Retroactive default class assignment.
                let mut updated = (*claim).clone();
                updated.spec.get_or_insert_default().storage_class_name = Some(default.name_any());
                self.update_claim(updated).await?;
                return Ok(());
            }
        }
        let class_name = claim_class(&claim).to_owned();
        let class = self.class(&class_name);
        let delay = class.as_deref().is_some_and(is_delay_binding);
        let volumes = self.all_volumes();
        let refs: Vec<&PersistentVolume> = volumes.iter().map(|volume| &**volume).collect();
        if let Some(volume) = find_best_match_for_claim(&claim, &refs, delay) {
            let volume = Arc::new(volume.clone());
            return self.bind(volume, claim).await;
        }
        if delay && !has_annotation(&claim, ANN_SELECTED_NODE) {
            self.recorder.event(
                &*claim,
                NORMAL,
                "WaitForFirstConsumer",
                WAITING_FOR_CONSUMER,
            );
        } else if !class_name.is_empty() {
            self.provision(Arc::clone(&claim), &class_name, class.as_deref())
                .await?;
            // Provisioning may have updated the claim.
            let claim = self
                .claim(&claim.namespace().unwrap_or_default(), &claim.name_any())
                .unwrap_or(claim);
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        } else {
            self.recorder
                .event(&*claim, NORMAL, "FailedBinding", NO_VOLUMES);
        }
        self.update_claim_status(claim, "Pending", None).await?;
        Ok(())
    }

    /// Asks the class's provisioner for a volume: kubers has no in-tree provisioners, so every
    /// provisioner outside `kubernetes.io/` is external and is told through the claim's
    /// `storage-provisioner` annotations (upstream's `provisionClaim` for external provisioners).
    async fn provision(
        &self,
        claim: Arc<PersistentVolumeClaim>,
        class_name: &str,
        class: Option<&k8s_openapi::api::storage::v1::StorageClass>,
    ) -> Result<()> {
        let Some(class) = class else {
            self.recorder.event(
                &*claim,
                WARNING,
                "ProvisioningFailed",
                format!("storageclass.storage.k8s.io {class_name:?} not found"),
            );
            return Ok(());
        };
        let provisioner = class.provisioner.as_str();
        if provisioner.starts_with("kubernetes.io/") {
            self.recorder.event(
                &*claim,
                WARNING,
                "ProvisioningFailed",
                format!("no provisionable volume plugin matched name: {provisioner}"),
            );
            return Ok(());
        }
        let annotations = claim.metadata.annotations.clone().unwrap_or_default();
        let current = |key: &str| annotations.get(key).map(String::as_str);
        if current(ANN_STORAGE_PROVISIONER) != Some(provisioner)
            || current(ANN_BETA_STORAGE_PROVISIONER) != Some(provisioner)
        {
            let mut updated = (*claim).clone();
            let annotations = updated.metadata.annotations.get_or_insert_default();
            for key in [ANN_STORAGE_PROVISIONER, ANN_BETA_STORAGE_PROVISIONER] {
                annotations.insert(key.to_owned(), provisioner.to_owned());
            }
            self.update_claim(updated).await?;
        }
        self.recorder.event(
            &*claim,
            NORMAL,
            "ExternalProvisioning",
            format!(
                "waiting for a volume to be created, either by external provisioner {provisioner:?} or manually created by system administrator"
            ),
        );
        Ok(())
    }

    async fn sync_bound_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<()> {
        let Some(name) = claim_volume_name(&claim).map(str::to_owned) else {
            self.claim_lost(
                claim,
                "ClaimLost",
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
            )
            .await;
            return Ok(());
        };
        let Some(volume) = self.volume(&name) else {
            self.claim_lost(
                claim,
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
            )
            .await;
            return Ok(());
        };
        let claimed = volume
            .spec
            .as_ref()
            .and_then(|spec| spec.claim_ref.as_ref())
            .is_some();
        if !claimed || is_bound_to_claim(&volume, &claim) {
            return self.bind(volume, claim).await;
        }
        self.claim_lost(
            claim,
            "ClaimMisbound",
            "Two claims are bound to the same volume, this one is bound incorrectly",
        )
        .await;
        Ok(())
    }

    /// Marks a claim Lost with a warning (once: a claim already Lost is left alone).
    async fn claim_lost(&self, claim: Arc<PersistentVolumeClaim>, reason: &str, message: &str) {
        let phase = claim
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref());
        if phase == Some("Lost") {
            return;
        }
        self.recorder.event(&*claim, WARNING, reason, message);
        let name = claim.name_any();
        if let Err(error) = self.update_claim_status(claim, "Lost", None).await {
            tracing::warn!(claim = %name, %error, "cannot mark the claim Lost");
        }
    }
}
