//! The API server: the Kubernetes REST API over the store, served over HTTPS to real clients.
//!
//! - [`pki`]: the cluster's certificates, keys, join token and the admin kubeconfig.
//! - `server`: the TLS listener (HTTP/2 and HTTP/1.1 with upgrades).
//! - `auth`: who sent a request (client certificate or bearer token).
//! - `routes`: health, version and discovery endpoints.
//! - `rest`: the generic REST store behind every resource URL.
//! - `cache`: the watch cache that serves lists and watches without reading the store.
//! - `metrics`: `/metrics` (requests, stored objects, the store's own metrics).
//! - `bootstrap`: objects every cluster starts with (the default namespaces).

mod auth;
mod bootstrap;
mod cache;
mod config;
mod errors;
mod metrics;
pub mod pki;
mod rest;
mod routes;
mod server;
mod storage;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use kubers_store::Store;

pub use config::{ApiServerConfig, Ipv4Cidr};

use crate::auth::Authenticator;

/// What request handlers share.
#[derive(Clone)]
pub struct App {
    /// The store every object lives in.
    pub store: Arc<dyn Store>,
    /// Bearer token checks.
    pub authenticator: Authenticator,
    /// The address clients reach this server at (for `/api`'s `serverAddressByClientCIDRs`).
    pub advertise_address: String,
    /// Request and store metrics for `/metrics`.
    pub metrics: metrics::SharedMetrics,
    /// Where service cluster IPs come from.
    pub service_cidr: Ipv4Cidr,
    /// The watch caches, one per resource, started on first use.
    pub caches: Arc<cache::Caches>,
}

/// A failure to start the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The certificates, keys or kubeconfig could not be prepared.
    #[error("pki: {0}")]
    Pki(#[from] pki::Error),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] kubers_store::Error),
    /// The listening socket could not be opened.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Runs the API server until `shutdown` completes.
pub async fn run(config: ApiServerConfig, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let server_dir = config.server_dir();
    let mut ips = vec![config.bind_address, IpAddr::V4(config.service_cidr.first())];
    ips.extend(config.node_ip);
    let hostnames = hostname().into_iter().collect();
    let pki = pki::Pki::load_or_create(&pki::PkiConfig {
        dir: server_dir.join("tls"),
        token_path: server_dir.join("token"),
        token: config.token.clone(),
        hostnames,
        ips,
    })?;
    let server_url = format!("https://127.0.0.1:{}", config.port);
    pki::write_kubeconfig(&config.kubeconfig_path, &server_url, &pki)?;
    let tls = Arc::new(pki.server_tls_config()?);
    let storage = storage::Storage::open(&config).await?;
    let advertise = config
        .node_ip
        .unwrap_or(if config.bind_address.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            config.bind_address
        });
    let endpoint = bootstrap::ApiEndpoint {
        ip: advertise,
        port: config.port,
    };
    bootstrap::ensure(storage.store.as_ref(), config.service_cidr, endpoint).await?;
    let app = App {
        store: Arc::clone(&storage.store),
        authenticator: Authenticator::new(pki.token()),
        advertise_address: format!("{advertise}:{}", config.port),
        metrics: Arc::new(metrics::Metrics::new(storage.store.as_ref())),
        service_cidr: config.service_cidr,
        caches: Arc::new(cache::Caches::new(
            Arc::clone(&storage.store),
            cache::CacheConfig::default(),
        )),
    };
    let address = SocketAddr::new(config.bind_address, config.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::Listen { address, source })?;
    tracing::info!(%address, kubeconfig = %config.kubeconfig_path.display(), "serving the Kubernetes API");
    server::serve(listener, tls, routes::router(app), shutdown).await;
    drop(storage);
    Ok(())
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}
