//! The kubers controller manager: control loops, each an ordinary API client that watches what it
//! needs and writes through the API server.
//!
//! - [`node_ipam`]: gives every Node a pod CIDR (a `/24` of the cluster CIDR).

pub mod node_ipam;

/// Runs every controller until one of them ends.
pub async fn run(client: kube::Client, config: ControllerConfig) {
    node_ipam::run(client, config.cluster_cidr).await;
}

/// Settings shared by the controllers.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// The pod network of the cluster, split into per-node `/24`s.
    pub cluster_cidr: node_ipam::Ipv4Range,
}
