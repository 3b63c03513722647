//! VolumeRestrictions, the part kubers needs: a claim with the `ReadWriteOncePod` access mode serves
//! one pod in the whole cluster, so while another pod uses it no node fits (preemption may evict
//! that pod). Missing claims are refused first, as upstream's PreFilter does. The in-tree disk
//! conflicts (GCE PD, EBS, RBD, iSCSI) are not checked: kubers has none of those volume types.

use std::collections::HashMap;

use super::{FilterResult, Rejection};
use crate::cache::Cache;
use crate::model::node::NodeInfo;
use crate::model::pod::PodInfo;

/// Upstream's `ErrReasonReadWriteOncePodConflict`.
pub const RWOP_CONFLICT: &str =
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";

/// The pod's `ReadWriteOncePod` claims and where other pods use them.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Names of the pod's claims with the `ReadWriteOncePod` mode.
    claims: Vec<String>,
    /// Pods using one of them, by node.
    users: HashMap<String, usize>,
    /// Their total.
    total: usize,
}

fn uses(other: &PodInfo, pod: &PodInfo, claims: &[String]) -> bool {
    other.uid != pod.uid
        && other.namespace == pod.namespace
        && other
            .spec
            .claims
            .iter()
            .any(|claim| claims.contains(&claim.name))
}

/// The PreFilter: `None` when the pod has no `ReadWriteOncePod` claim.
pub fn prefilter(pod: &PodInfo, cache: &Cache) -> Result<Option<State>, Rejection> {
    let mut claims = Vec::new();
    for claim_ref in &pod.spec.claims {
        let Some(claim) = cache.volumes.claim(&pod.namespace, &claim_ref.name) else {
            if claim_ref.ephemeral {
                // The VolumeBinding PreFilter explains these.
                continue;
            }
            return Err(Rejection::unresolvable(format!(
                "persistentvolumeclaim {:?} not found",
                claim_ref.name
            )));
        };
        let rwop = claim
            .spec
            .as_ref()
            .and_then(|spec| spec.access_modes.as_ref())
            .is_some_and(|modes| modes.iter().any(|mode| mode == "ReadWriteOncePod"));
        if rwop {
            claims.push(claim_ref.name.clone());
        }
    }
    if claims.is_empty() {
        return Ok(None);
    }
    let mut state = State {
        claims,
        ..State::default()
    };
    for info in cache.nodes() {
        let count = info
            .pods
            .iter()
            .filter(|other| uses(other, pod, &state.claims))
            .count();
        if count > 0 {
            state.users.insert(info.name().to_owned(), count);
            state.total += count;
        }
    }
    Ok(Some(state))
}

/// The Filter: users elsewhere, plus users among the node's pods as given (preemption passes the
/// node without its victims).
pub fn filter(state: &State, pod: &PodInfo, info: &NodeInfo) -> FilterResult {
    let elsewhere = state.total - state.users.get(info.name()).copied().unwrap_or(0);
    let here = info
        .pods
        .iter()
        .filter(|other| uses(other, pod, &state.claims))
        .count();
    if elsewhere + here > 0 {
        Err(Rejection::unschedulable(RWOP_CONFLICT))
    } else {
        Ok(())
    }
}
