//! VolumeBinding: a pod's PersistentVolumeClaims must exist (and not be lost or deleting) and be
//! bound, except claims of `WaitForFirstConsumer` classes, which wait for this pod: on each node they
//! need an Available volume that fits the node (node affinity), or a class that can provision there.
//! Volumes already bound filter nodes by their node affinity. The chosen node's bindings are made
//! before the pod is bound (upstream's PreBind): a matched volume gets its `claimRef`, a claim to
//! provision gets `volume.kubernetes.io/selected-node`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kubers_core::volumes::{
    ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, CandidateNode, claim_class,
    claim_volume_name, find_matching_volume, is_bound_to_claim, is_delay_binding,
    node_affinity_matches,
};

use super::{FilterResult, Rejection};
use crate::cache::Cache;
use crate::model::node::NodeSpec;
use crate::model::pod::PodInfo;

/// Upstream's PreFilter reason for claims the PersistentVolume controller has not bound yet.
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// `ErrReasonNodeConflict`.
pub const NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// `ErrReasonBindConflict`.
pub const BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
/// `ErrReasonPVNotExist`.
pub const PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";

/// The provisioner of classes that cannot provision (local volumes).
const NOT_SUPPORTED_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// The pod's claims, sorted by upstream's `GetPodVolumeClaims`.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Claims bound to a volume.
    bound: Vec<Arc<PersistentVolumeClaim>>,
    /// Unbound claims of `WaitForFirstConsumer` classes.
    delayed: Vec<Arc<PersistentVolumeClaim>>,
}

/// What has to be written before the pod is bound to a node.
#[derive(Debug, Clone, Default)]
pub struct PodVolumes {
    /// Volumes to bind, with their `claimRef` set.
    pub bindings: Vec<Arc<PersistentVolume>>,
    /// Claims to provision, with their `selected-node` annotation set.
    pub provisions: Vec<Arc<PersistentVolumeClaim>>,
}

impl PodVolumes {
    /// Whether nothing has to be written.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty() && self.provisions.is_empty()
    }
}

fn annotated(claim: &PersistentVolumeClaim, key: &str) -> Option<String> {
    claim.metadata.annotations.as_ref()?.get(key).cloned()
}

/// Whether the claim is bound for good (`volumeName` and the controller's `bind-completed`).
pub fn fully_bound(claim: &PersistentVolumeClaim) -> bool {
    claim_volume_name(claim).is_some() && annotated(claim, ANN_BIND_COMPLETED).is_some()
}

/// The PreFilter: `None` for pods without claims; a rejection for missing, lost, deleting or
/// unbound immediate claims.
pub fn prefilter(pod: &PodInfo, cache: &Cache) -> Result<Option<State>, Rejection> {
    if pod.spec.claims.is_empty() {
        return Ok(None);
    }
    let volumes = &cache.volumes;
    let mut state = State::default();
    let mut immediate = false;
    for claim_ref in &pod.spec.claims {
        let Some(claim) = volumes.claim(&pod.namespace, &claim_ref.name) else {
            let message = if claim_ref.ephemeral {
                format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim {:?}",
                    claim_ref.name
                )
            } else {
                format!("persistentvolumeclaim {:?} not found", claim_ref.name)
            };
            return Err(Rejection::unresolvable(message));
        };
        let phase = claim
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref());
        if phase == Some("Lost") {
            return Err(Rejection::unresolvable(format!(
                "persistentvolumeclaim {:?} bound to non-existent persistentvolume {:?}",
                claim_ref.name,
                claim_volume_name(claim).unwrap_or("")
            )));
        }
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(Rejection::unresolvable(format!(
                "persistentvolumeclaim {:?} is being deleted",
                claim_ref.name
            )));
        }
        if fully_bound(claim) {
            state.bound.push(Arc::clone(claim));
            continue;
        }
        let delayed = volumes
            .class(claim_class(claim))
            .is_some_and(|class| is_delay_binding(class));
        if delayed && claim_volume_name(claim).is_none() {
            state.delayed.push(Arc::clone(claim));
        } else {
            immediate = true;
        }
    }
    if immediate {
        return Err(Rejection::unresolvable(UNBOUND_IMMEDIATE));
    }
    Ok(Some(state))
}

/// The Filter: upstream's `FindPodVolumes` reasons for the node.
pub fn filter(state: &State, node: &NodeSpec, cache: &Cache) -> FilterResult {
    match find_pod_volumes(state, node, cache) {
        Ok(_) => Ok(()),
        Err(reasons) => Err(Rejection {
            code: super::Code::UnschedulableAndUnresolvable,
            reasons,
        }),
    }
}

/// What binding the pod to the node needs, or why the node cannot take it.
pub fn find_pod_volumes(
    state: &State,
    node: &NodeSpec,
    cache: &Cache,
) -> Result<PodVolumes, Vec<std::borrow::Cow<'static, str>>> {
    let volumes = &cache.volumes;
    let mut bound_satisfied = true;
    let mut bound_found = true;
    for claim in &state.bound {
        let name = claim_volume_name(claim).unwrap_or("");
        match volumes.volume(name) {
            None => {
                bound_found = false;
                break;
            }
            Some(volume) => {
                if !node_affinity_matches(volume, &node.name, &node.labels) {
                    bound_satisfied = false;
                    break;
                }
            }
        }
    }
    let mut unbound_satisfied = true;
    let mut result = PodVolumes::default();
    let mut errors = Vec::new();
    if bound_satisfied && bound_found && !state.delayed.is_empty() {
        let mut to_match = Vec::new();
        let mut to_provision = Vec::new();
        for claim in &state.delayed {
            match annotated(claim, ANN_SELECTED_NODE) {
                Some(selected) if selected != node.name => {
                    unbound_satisfied = false;
                    break;
                }
                Some(_) => to_provision.push(Arc::clone(claim)),
                None => to_match.push(Arc::clone(claim)),
            }
        }
        if unbound_satisfied {
            let mut chosen: HashSet<String> = HashSet::new();
            let candidate = CandidateNode {
                name: &node.name,
                labels: &node.labels,
            };
            for claim in to_match {
                let class = claim_class(&claim);
                let candidates = volumes.volumes_of_class(class);
                match find_matching_volume(&claim, &candidates, Some(candidate), &chosen, true) {
                    Some(volume) => {
                        let name = volume.metadata.name.clone().unwrap_or_default();
                        chosen.insert(name);
                        result.bindings.push(Arc::new(bind_volume(volume, &claim)));
                    }
                    None => to_provision.push(claim),
                }
            }
            for claim in to_provision {
                match can_provision(&claim, &node.labels, cache) {
                    Ok(true) => {
                        let mut selected = (*claim).clone();
                        selected
                            .metadata
                            .annotations
                            .get_or_insert_default()
                            .insert(ANN_SELECTED_NODE.to_owned(), node.name.clone());
                        result.provisions.push(Arc::new(selected));
                    }
                    Ok(false) => {
                        unbound_satisfied = false;
                        break;
                    }
                    Err(error) => {
                        errors.push(error.into());
                        break;
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut reasons = Vec::new();
    if !bound_satisfied {
        reasons.push(NODE_CONFLICT.into());
    }
    if !unbound_satisfied {
        reasons.push(BIND_CONFLICT.into());
    }
    if !bound_found {
        reasons.push(PV_NOT_EXIST.into());
    }
    if reasons.is_empty() {
        Ok(result)
    } else {
        Err(reasons)
    }
}

/// The volume with its `claimRef` pointing at the claim (upstream's `GetBindVolumeToClaim`).
fn bind_volume(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> PersistentVolume {
    let mut bound = volume.clone();
    let bound_by_user = is_bound_to_claim(volume, claim);
    let spec = bound.spec.get_or_insert_default();
    spec.claim_ref = Some(k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: claim.metadata.namespace.clone(),
        name: claim.metadata.name.clone(),
        uid: claim.metadata.uid.clone(),
        resource_version: claim.metadata.resource_version.clone(),
        ..Default::default()
    });
    if !bound_by_user {
        bound
            .metadata
            .annotations
            .get_or_insert_default()
            .entry(ANN_BOUND_BY_CONTROLLER.to_owned())
            .or_insert_with(|| "yes".to_owned());
    }
    bound
}

/// Whether the claim's class can provision a volume on a node with these labels (upstream's
/// `checkVolumeProvisions`); an error for a claim without a (known) class.
fn can_provision(
    claim: &PersistentVolumeClaim,
    labels: &BTreeMap<String, String>,
    cache: &Cache,
) -> Result<bool, String> {
    let class_name = claim_class(claim);
    if class_name.is_empty() {
        return Err(format!(
            "no class for claim \"{}/{}\"",
            claim.metadata.namespace.as_deref().unwrap_or(""),
            claim.metadata.name.as_deref().unwrap_or("")
        ));
    }
    let Some(class) = cache.volumes.class(class_name) else {
        return Err(format!("failed to find storage class {class_name:?}"));
    };
    if class.provisioner.is_empty() || class.provisioner == NOT_SUPPORTED_PROVISIONER {
        return Ok(false);
    }
    let topologies = class.allowed_topologies.as_deref().unwrap_or_default();
    let allowed = topologies.is_empty()
        || topologies.iter().any(|term| {
            term.match_label_expressions
                .iter()
                .flatten()
                .all(|requirement| {
                    labels
                        .get(&requirement.key)
                        .is_some_and(|value| requirement.values.contains(value))
                })
        });
    Ok(allowed)
}

#[cfg(test)]
mod tests;
