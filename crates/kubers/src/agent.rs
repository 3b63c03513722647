//! `kubers agent` and the agent embedded in `kubers server`: flags and their translation into the
//! node agent's configuration. `kubers agent --server URL --token TOKEN` joins like a k3s agent
//! (`kubers_kubelet::join`); `--kubeconfig` uses credentials made elsewhere.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubers_kubelet::AgentConfig;

/// The agent inside `kubers server`.
#[derive(Debug, Clone)]
pub struct EmbeddedAgent {
    /// The server's data folder (the agent uses `DIR/agent`).
    pub data_dir: PathBuf,
    /// The node's name.
    pub node_name: String,
    /// The node's address.
    pub node_ip: IpAddr,
    /// Cluster DNS address.
    pub cluster_dns: IpAddr,
    /// Cluster domain.
    pub cluster_domain: String,
    /// Pod network of the cluster.
    pub cluster_cidr: String,
}

impl EmbeddedAgent {
    /// The agent's configuration with these API credentials and extra node labels.
    pub fn into_config(
        self,
        kube: kube::Config,
        node_labels: BTreeMap<String, String>,
    ) -> AgentConfig {
        AgentConfig {
            data_dir: self.data_dir,
            node_name: self.node_name,
            node_ip: self.node_ip,
            runtime_endpoint: None,
            cluster_dns: self.cluster_dns,
            cluster_domain: self.cluster_domain,
            cluster_cidr: self.cluster_cidr,
            node_labels,
            kube,
            serving_cert: None,
        }
    }
}

/// Flags of `kubers agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The API server, `https://HOST:6443`.
    #[arg(long, env = "KUBERS_URL")]
    server: String,
    /// The server's join token (its `DIR/server/token`): `K10<CA hash>::server:<secret>`, or the
    /// secret alone (then the downloaded CA is not checked).
    #[arg(long, env = "KUBERS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding the join token (instead of `--token`).
    #[arg(long, env = "KUBERS_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Kubeconfig with the node's credentials (instead of `--token`).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Folder for the agent's state.
    #[arg(long, default_value = "/var/lib/kubers")]
    data_dir: PathBuf,
    /// This node's name (defaults to the hostname).
    #[arg(long)]
    node_name: Option<String>,
    /// This node's IP address (defaults to the address on the default route).
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// A CRI socket to use instead of a supervised containerd (`unix:///PATH`).
    #[arg(long)]
    container_runtime_endpoint: Option<PathBuf>,
    /// Cluster DNS service IP.
    #[arg(long, default_value = "10.43.0.10")]
    cluster_dns: IpAddr,
    /// Cluster domain.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// Pod network range of the cluster.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
}

/// Flags of `kubers killall`.
#[derive(Debug, Args)]
pub struct KillallArgs {
    /// The agent's data folder.
    #[arg(long, default_value = "/var/lib/kubers")]
    data_dir: PathBuf,
    /// The node's name, to remove its cgroup folders (defaults to the hostname).
    #[arg(long)]
    node_name: Option<String>,
}

/// Stops every pod sandbox of the agent and its supervised containerd.
pub async fn killall(args: KillallArgs) -> Result<(), Box<dyn std::error::Error>> {
    let paths = kubers_kubelet::AgentPaths::new(&args.data_dir);
    let node_name = args.node_name.or_else(crate::node_ip::hostname);
    kubers_kubelet::cleanup::stop_all(&paths, node_name.as_deref()).await?;
    Ok(())
}

/// Runs `kubers agent` until it fails.
pub async fn run(args: AgentArgs) -> Result<(), Box<dyn std::error::Error>> {
    let node_ip = match args.node_ip {
        Some(ip) => ip,
        None => crate::node_ip::default_node_ip()
            .ok_or("cannot find this machine's address on the default route; pass --node-ip")?,
    };
    let node_name = match args.node_name {
        Some(name) => name,
        None => crate::node_ip::hostname().ok_or("cannot read the hostname; pass --node-name")?,
    };
    let token = match (args.token, &args.token_file) {
        (Some(token), _) => Some(token),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|error| format!("reading --token-file {}: {error}", path.display()))?,
        ),
        (None, None) => None,
    };
    let (kube, serving_cert) = match (token, &args.kubeconfig) {
        (Some(token), _) => {
            let joined = kubers_kubelet::join::join(&kubers_kubelet::join::JoinConfig {
                server: args.server.clone(),
                token,
                data_dir: args.data_dir.clone(),
                node_name: node_name.clone(),
                node_ip,
            })
            .await?;
            let kube = load_kubeconfig(&joined.kubeconfig)
                .await
                .map_err(|error| error.to_string())?;
            (kube, Some(joined.serving))
        }
        (None, Some(kubeconfig)) => {
            let mut kube = load_kubeconfig(kubeconfig)
                .await
                .map_err(|error| error.to_string())?;
            kube.cluster_url = args.server.parse()?;
            (kube, None)
        }
        (None, None) => {
            return Err(
                "kubers agent needs --token (the server's DIR/server/token) or --kubeconfig".into(),
            );
        }
    };
    let config = AgentConfig {
        data_dir: args.data_dir,
        node_name,
        node_ip,
        runtime_endpoint: args.container_runtime_endpoint,
        cluster_dns: args.cluster_dns,
        cluster_domain: args.cluster_domain,
        cluster_cidr: args.cluster_cidr,
        node_labels: BTreeMap::new(),
        kube: crate::server::with_user_agent(&kube, "kubelet"),
        serving_cert,
    };
    kubers_kubelet::run(config).await?;
    Ok(())
}

/// Loads a kubeconfig, waiting for the file to appear (60 s at most). The API server need not
/// answer: a joined agent runs its static pods without it.
pub async fn load_kubeconfig(
    path: &Path,
) -> Result<kube::Config, Box<dyn std::error::Error + Send + Sync>> {
    for _ in 0..600 {
        if path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kubeconfig = Kubeconfig::read_from(path)?;
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
}

/// Loads a kubeconfig (waiting for the file to appear) and waits until the API server answers.
pub async fn wait_for_api(
    path: &Path,
) -> Result<kube::Config, Box<dyn std::error::Error + Send + Sync>> {
    let config = load_kubeconfig(path).await?;
    let client = kube::Client::try_from(config.clone())?;
    let mut last_error = None;
    for _ in 0..600 {
        match client.apiserver_version().await {
            Ok(_) => return Ok(config),
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the API server did not answer within 60 s: {last_error:?}").into())
}
