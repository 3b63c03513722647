//! `kubers server`: its flags (named and defaulted like k3s) and their translation into the API server's
//! configuration.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use kubers_apiserver::{ApiServerConfig, Ipv4Cidr};
use kubers_controllers::node_ipam::Ipv4Range;

/// Flags of `kubers server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Folder for the server's state: certificates, token, database.
    #[arg(long, default_value = "/var/lib/kubers")]
    data_dir: PathBuf,
    /// Where to write the admin kubeconfig (mode 0600).
    #[arg(long, default_value = "/etc/kubers/kubeconfig.yaml")]
    write_kubeconfig: PathBuf,
    /// Port of the HTTPS API.
    #[arg(long, default_value_t = 6443)]
    https_listen_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// This node's IP address (added to the serving certificate).
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// This node's name (defaults to the hostname).
    #[arg(long)]
    node_name: Option<String>,
    /// Datastore: empty for embedded SQLite, or etcd endpoints `http://host:2379[,http://host2:2379]`.
    #[arg(long, default_value = "")]
    datastore_endpoint: String,
    /// Node join token (generated on first start when absent).
    #[arg(long)]
    token: Option<String>,
    /// Run the control plane only, without the embedded node agent.
    #[arg(long)]
    disable_agent: bool,
    /// Do not run the scheduler.
    #[arg(long)]
    disable_scheduler: bool,
    /// Where the local-path provisioner makes volumes on nodes (default `<data-dir>/storage`).
    #[arg(long)]
    default_local_storage_path: Option<PathBuf>,
    /// Do not run the controller manager.
    #[arg(long)]
    disable_controller_manager: bool,
    /// Pod network range.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// Service network range.
    #[arg(long, default_value = "10.43.0.0/16")]
    service_cidr: String,
    /// Cluster DNS service IP.
    #[arg(long, default_value = "10.43.0.10")]
    cluster_dns: IpAddr,
    /// Cluster domain.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// Static token file, as kube-apiserver's: one `token,user,uid,"group1,group2"` line per user.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Authorizers, in order, as kube-apiserver's (AlwaysAllow, AlwaysDeny); members of
    /// `system:masters` are always allowed.
    #[arg(long, value_delimiter = ',', default_value = "AlwaysAllow")]
    authorization_mode: Vec<String>,
}

/// Runs the server until interrupted.
pub async fn run(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    let service_cidr = Ipv4Cidr::parse(&args.service_cidr).ok_or_else(|| {
        format!(
            "invalid --service-cidr {:?}: expected an IPv4 range like 10.43.0.0/16 (prefix 8 to 30)",
            args.service_cidr
        )
    })?;
    let cluster_cidr = Ipv4Range::parse(&args.cluster_cidr).ok_or_else(|| {
        format!(
            "invalid --cluster-cidr {:?}: expected an IPv4 range like 10.42.0.0/16 (prefix 8 to 24)",
            args.cluster_cidr
        )
    })?;
    let agent = if args.disable_agent {
        None
    } else {
        let node_ip = match args.node_ip {
            Some(ip) => ip,
            None => crate::node_ip::default_node_ip()
                .ok_or("cannot find this machine's address on the default route; pass --node-ip")?,
        };
        Some(crate::agent::EmbeddedAgent {
            data_dir: args.data_dir.clone(),
            node_name: match args.node_name.clone() {
                Some(name) => name,
                None => crate::node_ip::hostname()
                    .ok_or("cannot read this machine's hostname; pass --node-name")?,
            },
            node_ip,
            cluster_dns: args.cluster_dns,
            cluster_domain: args.cluster_domain.clone(),
            cluster_cidr: args.cluster_cidr.clone(),
        })
    };
    let kubeconfig = args.write_kubeconfig.clone();
    let controllers =
        (!args.disable_controller_manager).then(|| kubers_controllers::ControllerConfig {
            cluster_cidr,
            root_ca_file: Some(args.data_dir.join("server/tls/ca.crt")),
            local_storage_path: args
                .default_local_storage_path
                .clone()
                .unwrap_or_else(|| args.data_dir.join("storage")),
        });
    let scheduler = !args.disable_scheduler;
    tokio::spawn(async move {
        if let Err(error) =
            run_in_cluster_components(kubeconfig, controllers, scheduler, agent).await
        {
            tracing::error!(%error, "cluster components stopped");
        }
    });
    let config = ApiServerConfig {
        data_dir: args.data_dir,
        kubeconfig_path: args.write_kubeconfig,
        bind_address: args.bind_address,
        port: args.https_listen_port,
        node_ip: args.node_ip,
        datastore_endpoint: args.datastore_endpoint,
        token: args.token,
        service_cidr,
        token_auth_file: args.token_auth_file,
        authorization_mode: args.authorization_mode,
        service_account_issuer: format!(
            "https://kubernetes.default.svc.{}",
            args.cluster_domain.trim_end_matches('.')
        ),
    };
    kubers_apiserver::run(config, shutdown_signal()).await?;
    Ok(())
}

/// Starts, unless disabled, the controller manager (which runs the controllers while it holds its
/// Lease), the scheduler and the embedded agent once the API answers, as API clients with the admin
/// kubeconfig.
async fn run_in_cluster_components(
    kubeconfig: PathBuf,
    controllers: Option<kubers_controllers::ControllerConfig>,
    scheduler: bool,
    agent: Option<crate::agent::EmbeddedAgent>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let kube_config = crate::agent::wait_for_api(&kubeconfig).await?;
    let host = crate::node_ip::hostname().unwrap_or_else(|| "kubers".to_string());
    let controllers = controllers.map(|controllers| {
        tokio::spawn(kubers_controllers::manager::run_elected(
            with_user_agent(&kube_config, "kube-controller-manager"),
            controllers,
            kubers_client::leader_election::identity(&host),
        ))
    });
    if scheduler {
        kubers_scheduler::start_on_own_threads(
            with_user_agent(&kube_config, "kube-scheduler"),
            kubers_scheduler::SchedulerConfig::new(&host),
        )?;
    }
    let kube_config = with_user_agent(&kube_config, "kubelet");
    if let Some(agent) = agent {
        let mut labels = std::collections::BTreeMap::new();
        labels.insert(
            "node-role.kubernetes.io/control-plane".to_string(),
            "true".to_string(),
        );
        let config = agent.into_config(kube_config, labels);
        kubers_kubelet::run(config).await?;
    }
    if let Some(controllers) = controllers {
        controllers.await?;
    }
    Ok(())
}

/// A client configuration whose requests name `component` in their User-Agent, as upstream's
/// components do (`kube-controller-manager/v1.34.0+kubers (linux/amd64) kubernetes/kubers`); the API
/// server derives field managers and audit identities from it.
pub(crate) fn with_user_agent(config: &kube::Config, component: &str) -> kube::Config {
    let mut config = config.clone();
    let value = format!(
        "{component}/v1.34.0+kubers ({}/{}) kubernetes/kubers",
        std::env::consts::OS,
        kubers_kubelet::images::oci::oci_architecture()
    );
    if let Ok(value) = http::HeaderValue::from_str(&value) {
        config.headers.push((http::header::USER_AGENT, value));
    }
    config
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}
