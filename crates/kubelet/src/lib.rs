//! The kubers node agent (kubelet): registers the Node and keeps its Lease, runs the Pods bound to it
//! through CRI on a supervised containerd, sets up their volumes and reports their status.
//!
//! Containers are touched only through CRI; host side effects (cgroup folders, CNI configuration,
//! volume files) live in `cgroups`, `cni` and `pods::volumes`. `server` is the HTTPS endpoint the API
//! server proxies logs, exec, attach and port-forward to; `join` gets a node's credentials from the
//! server with the join token.

pub mod agent;
pub mod cgroups;
pub mod cleanup;
pub mod cni;
pub mod config;
pub mod containerd;
pub mod cri;
pub mod error;
pub mod events;
pub mod images;
pub mod join;
pub mod node;
pub mod pods;
pub mod probes;
pub mod server;
pub mod stats;

pub use agent::run;
pub use config::{AgentConfig, AgentPaths, TlsFiles};
pub use error::{Error, Result};
