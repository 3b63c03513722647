//! What the API server needs to know at start: where its state lives, where it listens, which store.

use std::net::IpAddr;
use std::path::PathBuf;

/// The API server's settings (the `kubers server` flags that concern it).
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    /// `--data-dir`: certificates under `server/tls`, the token at `server/token`, SQLite under
    /// `server/db`.
    pub data_dir: PathBuf,
    /// `--write-kubeconfig`: where the admin kubeconfig goes (mode 0600).
    pub kubeconfig_path: PathBuf,
    /// `--bind-address`.
    pub bind_address: IpAddr,
    /// `--https-listen-port`.
    pub port: u16,
    /// `--node-ip`: added to the serving certificate.
    pub node_ip: Option<IpAddr>,
    /// `--datastore-endpoint`: empty for the embedded SQLite store, else etcd endpoints.
    pub datastore_endpoint: String,
    /// `--token`: the node join token; generated when empty.
    pub token: Option<String>,
    /// `--service-cidr`: its first address is the `kubernetes` service IP, also in the certificate.
    pub first_service_ip: IpAddr,
}

impl ApiServerConfig {
    /// `<data-dir>/server`.
    pub fn server_dir(&self) -> PathBuf {
        self.data_dir.join("server")
    }
}
