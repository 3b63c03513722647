//! The Node object: registration, its status and conditions, and the heartbeat Lease.

pub mod lease;
pub mod register;
pub mod system;

/// The kubelet version reported in `status.nodeInfo.kubeletVersion`.
pub const KUBELET_VERSION: &str = "v1.34.0+kubers";

/// Pods one node runs at most (`status.capacity.pods`).
pub const MAX_PODS: u32 = 110;
