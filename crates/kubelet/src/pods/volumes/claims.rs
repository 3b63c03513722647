//! persistentVolumeClaim volumes: the claim (in the pod's namespace) must be Bound to a
//! PersistentVolume whose `claimRef` points back at it, as upstream's desired-state populator
//! requires, with its messages. Which volume source the PV carries is the caller's business.

use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource,
};
use kube::api::Api;

use super::super::NodeContext;

/// A claim resolved to its PersistentVolume.
#[derive(Debug, Clone)]
pub(super) struct BoundClaim {
    /// The PersistentVolume's name (upstream names the volume after it in mount messages).
    pub pv_name: String,
    /// The PersistentVolume.
    pub pv: PersistentVolume,
    /// Whether the pod's volume source asks for a read-only mount.
    pub read_only: bool,
}

/// Resolves a pod's claim. The error is upstream's `error processing PVC NS/NAME: ...`.
pub(super) async fn resolve(
    context: &NodeContext,
    namespace: &str,
    source: &PersistentVolumeClaimVolumeSource,
) -> Result<BoundClaim, String> {
    resolve_inner(context, namespace, source)
        .await
        .map_err(|message| {
            format!(
                "error processing PVC {namespace}/{}: {message}",
                source.claim_name
            )
        })
}

async fn resolve_inner(
    context: &NodeContext,
    namespace: &str,
    source: &PersistentVolumeClaimVolumeSource,
) -> Result<BoundClaim, String> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(context.client.clone(), namespace);
    let claim = claims.get(&source.claim_name).await.map_err(|error| {
        format!(
            "failed to fetch PVC from API server: {}",
            api_message(&error)
        )
    })?;
    let pv_name = bound_volume_name(&claim)?;
    let volumes: Api<PersistentVolume> = Api::all(context.client.clone());
    let pv = volumes.get(&pv_name).await.map_err(|error| {
        format!(
            "failed to fetch PV {pv_name} from API server: {}",
            api_message(&error)
        )
    })?;
    check_claim_ref(
        &pv,
        &pv_name,
        claim.metadata.uid.as_deref().unwrap_or_default(),
    )?;
    Ok(BoundClaim {
        pv_name,
        pv,
        read_only: source.read_only.unwrap_or(false),
    })
}

/// The PV a claim is bound to, or why the pod cannot use the claim yet.
fn bound_volume_name(claim: &PersistentVolumeClaim) -> Result<String, String> {
    if claim.metadata.deletion_timestamp.is_some() {
        return Err("PVC is being deleted".to_string());
    }
    let phase = claim
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref());
    if phase != Some("Bound") {
        return Err("PVC is not bound".to_string());
    }
    match claim
        .spec
        .as_ref()
        .and_then(|spec| spec.volume_name.clone())
        .filter(|name| !name.is_empty())
    {
        Some(name) => Ok(name),
        None => Err("PVC has empty pvc.Spec.VolumeName".to_string()),
    }
}

/// The PV must be bound to exactly this claim.
fn check_claim_ref(pv: &PersistentVolume, name: &str, claim_uid: &str) -> Result<(), String> {
    let Some(claim_ref) = pv.spec.as_ref().and_then(|spec| spec.claim_ref.as_ref()) else {
        return Err(format!(
            "found PV object {name} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim"
        ));
    };
    let uid = claim_ref.uid.as_deref().unwrap_or_default();
    if uid != claim_uid {
        return Err(format!(
            "found PV object {name} but its pv.Spec.ClaimRef.UID {uid} does not point to claim.UID {claim_uid}"
        ));
    }
    Ok(())
}

/// The API server's message for an API error (`persistentvolumeclaims "x" not found`), as client-go
/// prints it.
fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(yaml: &str) -> PersistentVolumeClaim {
        serde_yaml::from_str(yaml).expect("a claim")
    }

    #[test]
    fn only_a_bound_claim_with_a_volume_name_resolves() {
        let pending =
            claim("metadata: {name: c}\nspec: {volumeName: pv1}\nstatus: {phase: Pending}");
        assert_eq!(bound_volume_name(&pending).unwrap_err(), "PVC is not bound");
        let unnamed = claim("metadata: {name: c}\nspec: {}\nstatus: {phase: Bound}");
        assert_eq!(
            bound_volume_name(&unnamed).unwrap_err(),
            "PVC has empty pvc.Spec.VolumeName"
        );
        let deleting = claim(
            "metadata: {name: c, deletionTimestamp: '2024-01-01T00:00:00Z'}\nspec: {volumeName: pv1}\nstatus: {phase: Bound}",
        );
        assert_eq!(
            bound_volume_name(&deleting).unwrap_err(),
            "PVC is being deleted"
        );
        let bound = claim("metadata: {name: c}\nspec: {volumeName: pv1}\nstatus: {phase: Bound}");
        assert_eq!(bound_volume_name(&bound).unwrap(), "pv1");
    }

    #[test]
    fn the_volume_must_point_back_at_the_claim() {
        let pv = |yaml: &str| -> PersistentVolume { serde_yaml::from_str(yaml).expect("a pv") };
        let unbound = pv("metadata: {name: pv1}\nspec: {hostPath: {path: /x}}");
        assert_eq!(
            check_claim_ref(&unbound, "pv1", "u1").unwrap_err(),
            "found PV object pv1 but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim"
        );
        let other = pv("metadata: {name: pv1}\nspec: {claimRef: {uid: u2}, hostPath: {path: /x}}");
        assert_eq!(
            check_claim_ref(&other, "pv1", "u1").unwrap_err(),
            "found PV object pv1 but its pv.Spec.ClaimRef.UID u2 does not point to claim.UID u1"
        );
        let mine = pv("metadata: {name: pv1}\nspec: {claimRef: {uid: u1}, hostPath: {path: /x}}");
        assert!(check_claim_ref(&mine, "pv1", "u1").is_ok());
    }
}
