//! Upstream's default scheduling plugins, as pure functions over the cache: one file per plugin, each
//! with its filter (why a node cannot take the pod, worded like upstream) and/or its score (0-100 per
//! node before normalisation), and the weights of the default profile.
//!
//! Filters run in upstream's order and stop at the first rejection of a node: NodeUnschedulable,
//! NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeRestrictions,
//! VolumeBinding, PodTopologySpread, InterPodAffinity.

use std::borrow::Cow;

pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources;
pub mod node_unschedulable;
pub mod taint_toleration;
pub mod topology_spread;
pub mod volume_binding;
pub mod volume_restrictions;

/// The highest score a plugin gives a node.
pub const MAX_NODE_SCORE: i64 = 100;

/// Weights of the default profile's score plugins (upstream's `getDefaultPlugins`).
pub mod weights {
    /// TaintToleration.
    pub const TAINT_TOLERATION: i64 = 3;
    /// NodeAffinity.
    pub const NODE_AFFINITY: i64 = 2;
    /// NodeResourcesFit (LeastAllocated).
    pub const NODE_RESOURCES_FIT: i64 = 1;
    /// PodTopologySpread.
    pub const POD_TOPOLOGY_SPREAD: i64 = 2;
    /// InterPodAffinity.
    pub const INTER_POD_AFFINITY: i64 = 2;
    /// NodeResourcesBalancedAllocation.
    pub const BALANCED_ALLOCATION: i64 = 1;
    /// ImageLocality.
    pub const IMAGE_LOCALITY: i64 = 1;
}

/// A filter plugin, named as upstream names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plugin {
    /// `NodeUnschedulable`.
    NodeUnschedulable,
    /// `NodeName`.
    NodeName,
    /// `TaintToleration`.
    TaintToleration,
    /// `NodeAffinity`.
    NodeAffinity,
    /// `NodePorts`.
    NodePorts,
    /// `NodeResourcesFit`.
    NodeResourcesFit,
    /// `PodTopologySpread`.
    PodTopologySpread,
    /// `InterPodAffinity`.
    InterPodAffinity,
    /// `VolumeRestrictions`.
    VolumeRestrictions,
    /// `VolumeBinding`.
    VolumeBinding,
}

/// Cluster changes that may make a pending pod schedulable, as a bit set.
pub mod events {
    /// A node was added.
    pub const NODE_ADD: u32 = 1;
    /// A node's labels, taints, allocatable resources or cordon changed.
    pub const NODE_UPDATE: u32 = 1 << 1;
    /// A pod was assigned to a node.
    pub const POD_ADD: u32 = 1 << 2;
    /// An assigned pod's labels changed.
    pub const POD_UPDATE: u32 = 1 << 3;
    /// An assigned pod went away.
    pub const POD_DELETE: u32 = 1 << 4;
    /// A namespace's labels changed.
    pub const NAMESPACE: u32 = 1 << 5;
    /// A PersistentVolumeClaim was added or changed.
    pub const CLAIM: u32 = 1 << 6;
    /// A PersistentVolume was added or changed.
    pub const VOLUME: u32 = 1 << 7;
    /// A StorageClass was added or changed.
    pub const STORAGE_CLASS: u32 = 1 << 8;
    /// Every event.
    pub const ALL: u32 = u32::MAX;
}

impl Plugin {
    /// The events after which a pod this plugin rejected is worth retrying (upstream's
    /// `EventsToRegister`).
    pub fn wakes_on(self) -> u32 {
        use events::*;
        match self {
            Plugin::NodeUnschedulable | Plugin::TaintToleration | Plugin::NodeAffinity => {
                NODE_ADD | NODE_UPDATE
            }
            Plugin::NodeName => NODE_ADD,
            Plugin::NodePorts => POD_DELETE,
            Plugin::NodeResourcesFit => NODE_ADD | NODE_UPDATE | POD_DELETE,
            Plugin::PodTopologySpread => NODE_ADD | NODE_UPDATE | POD_ADD | POD_UPDATE | POD_DELETE,
            Plugin::InterPodAffinity => {
                NODE_ADD | NODE_UPDATE | POD_ADD | POD_UPDATE | POD_DELETE | NAMESPACE
            }
            Plugin::VolumeRestrictions => POD_DELETE | CLAIM,
            Plugin::VolumeBinding => NODE_ADD | NODE_UPDATE | CLAIM | VOLUME | STORAGE_CLASS,
        }
    }
}

/// Whether removing pods could help a rejected node (the status code upstream's preemption reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Preemption may make the node fit (resources, ports, anti-affinity, spreading).
    Unschedulable,
    /// Nothing on the node can change the outcome (taints, affinity, labels).
    UnschedulableAndUnresolvable,
}

/// Why a node cannot take the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Whether preemption could help.
    pub code: Code,
    /// One or more reasons, each counted in the `FailedScheduling` message.
    pub reasons: Vec<Cow<'static, str>>,
}

impl Rejection {
    /// A rejection preemption cannot resolve.
    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }

    /// A rejection preemption may resolve.
    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }
}

/// The outcome of one filter on one node.
pub type FilterResult = Result<(), Rejection>;

/// Upstream's `DefaultNormalizeScore`: scales scores so the highest is [`MAX_NODE_SCORE`], reversed
/// when lower raw scores are better.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0).max(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|score| *score = MAX_NODE_SCORE);
        }
        return;
    }
    for score in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *score / max;
        *score = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalisation() {
        let mut scores = vec![0, 2, 4];
        default_normalize(&mut scores, false);
        assert_eq!(scores, vec![0, 50, 100]);
        let mut scores = vec![0, 1, 3];
        default_normalize(&mut scores, true);
        assert_eq!(scores, vec![100, 67, 0]);
        let mut zeros = vec![0, 0];
        default_normalize(&mut zeros, true);
        assert_eq!(zeros, vec![100, 100]);
        let mut zeros = vec![0, 0];
        default_normalize(&mut zeros, false);
        assert_eq!(zeros, vec![0, 0]);
    }
}
