//! The agent's configuration and the layout of its data folder (`DIR/agent/`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What the agent needs to run a node.
#[derive(Clone)]
pub struct AgentConfig {
    /// The data folder; the agent keeps everything under `DIR/agent/`.
    pub data_dir: PathBuf,
    /// The Node's name.
    pub node_name: String,
    /// The node's address (InternalIP).
    pub node_ip: IpAddr,
    /// A CRI socket to use instead of a supervised containerd.
    pub runtime_endpoint: Option<PathBuf>,
    /// The cluster DNS service address written into pods' resolv.conf.
    pub cluster_dns: IpAddr,
    /// The cluster domain (`cluster.local`).
    pub cluster_domain: String,
    /// The pod network of the whole cluster (`10.42.0.0/16`); pod traffic to it is not masqueraded.
    pub cluster_cidr: String,
    /// Labels set on the Node at registration besides the well-known ones.
    pub node_labels: BTreeMap<String, String>,
    /// How to reach the API server.
    pub kube: kube::Config,
    /// The endpoint's serving certificate (a joined agent's, signed by the server); `None`: one
    /// is generated at every start.
    pub serving_cert: Option<TlsFiles>,
}

/// A certificate (PEM, the leaf first) and its private key (PEM), as files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("data_dir", &self.data_dir)
            .field("node_name", &self.node_name)
            .field("node_ip", &self.node_ip)
            .field("runtime_endpoint", &self.runtime_endpoint)
            .finish_non_exhaustive()
    }
}

/// Paths under `DIR/agent/`.
#[derive(Debug, Clone)]
pub struct AgentPaths {
    root: PathBuf,
}

impl AgentPaths {
    /// The layout under `data_dir/agent`.
    pub fn new(data_dir: &Path) -> Self {
        AgentPaths {
            root: data_dir.join("agent"),
        }
    }

    /// `DIR/agent`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// containerd's folder (config, root, state, sockets, log).
    pub fn containerd(&self) -> PathBuf {
        self.root.join("containerd")
    }

    /// containerd's gRPC socket.
    pub fn containerd_socket(&self) -> PathBuf {
        self.containerd().join("containerd.sock")
    }

    /// The CNI configuration folder.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.root.join("cni").join("net.d")
    }

    /// host-local IPAM's allocation records.
    pub fn cni_ipam_dir(&self) -> PathBuf {
        self.root.join("cni").join("networks")
    }

    /// Image archives imported at start.
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }

    /// Static pod manifests.
    pub fn pod_manifests(&self) -> PathBuf {
        self.root.join("pod-manifests")
    }

    /// The folder of the pods' own folders.
    pub fn pods_dir(&self) -> PathBuf {
        self.root.join("pods")
    }

    /// A pod's own folder (volumes, etc.).
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.pods_dir().join(uid)
    }

    /// The folder of the pods' log folders (upstream's `/var/log/pods`).
    pub fn pod_logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// A pod's log folder, as upstream names it under `/var/log/pods`.
    pub fn pod_log_dir(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.pod_logs_dir()
            .join(format!("{namespace}_{name}_{uid}"))
    }

    /// The cgroup parent of this node's pods (relative to every hierarchy's root).
    pub fn cgroup_parent(&self, node_name: &str) -> String {
        format!("/kubers/{node_name}")
    }
}
