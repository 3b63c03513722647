//! Pods on this node: one worker per pod converging it through CRI, and the status it reports.

pub mod atomic_writer;
pub mod cri_config;
pub mod env;
pub mod hooks;
pub mod labels;
pub mod manager;
pub mod network;
pub mod runtime;
pub mod services;
pub mod static_pods;
pub mod status;
pub mod volumes;
pub mod worker;

use crate::config::{AgentConfig, AgentPaths};
use crate::cri::Cri;
use crate::events::Recorder;
use crate::node::system::SystemInfo;
use crate::probes::ProbeResults;

/// What every pod worker shares.
#[derive(Clone)]
pub struct NodeContext {
    /// The CRI client.
    pub cri: Cri,
    /// The API client.
    pub client: kube::Client,
    /// The agent's configuration.
    pub config: AgentConfig,
    /// The agent's folders.
    pub paths: AgentPaths,
    /// The machine's facts.
    pub system: SystemInfo,
    /// Records pod events.
    pub recorder: Recorder,
    /// Probe results of running containers.
    pub probes: ProbeResults,
    /// The cluster's Services, for containers' service variables.
    pub services: services::ServiceCache,
}

impl std::fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeContext")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
