//! `kubers server`: its flags (named and defaulted like k3s) and their translation into the API server's
//! configuration.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use kubers_apiserver::ApiServerConfig;

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
}

/// Runs the server until interrupted.
pub async fn run(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    let first_service_ip = first_ip(&args.service_cidr)
        .ok_or_else(|| format!("invalid --service-cidr {:?}", args.service_cidr))?;
    if !args.disable_agent {
        tracing::warn!(
            "the node agent is not part of this build yet; running the control plane only"
        );
    }
    let config = ApiServerConfig {
        data_dir: args.data_dir,
        kubeconfig_path: args.write_kubeconfig,
        bind_address: args.bind_address,
        port: args.https_listen_port,
        node_ip: args.node_ip,
        datastore_endpoint: args.datastore_endpoint,
        token: args.token,
        first_service_ip,
    };
    kubers_apiserver::run(config, shutdown_signal()).await?;
    Ok(())
}

/// The first host address of an IPv4 CIDR (`10.43.0.0/16` gives `10.43.0.1`).
fn first_ip(cidr: &str) -> Option<IpAddr> {
    let (address, bits) = cidr.split_once('/')?;
    let bits: u32 = bits.parse().ok()?;
    match address.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) if bits <= 30 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            Some(IpAddr::V4((u32::from(v4) & mask).wrapping_add(1).into()))
        }
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::first_ip;

    #[test]
    fn first_service_ip() {
        assert_eq!(
            first_ip("10.43.0.0/16"),
            Some("10.43.0.1".parse().expect("ip"))
        );
        assert_eq!(
            first_ip("10.96.0.0/12"),
            Some("10.96.0.1".parse().expect("ip"))
        );
        assert_eq!(first_ip("nonsense"), None);
    }
}
