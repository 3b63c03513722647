//! The API server: the Kubernetes REST API over the store, served over HTTPS to real clients.
//!
//! - [`pki`]: the cluster's certificates, keys, join token and the admin kubeconfig.
//! - `server`: the TLS listener (HTTP/2 and HTTP/1.1 with upgrades).
//! - `auth`: who sent a request (client certificates, static tokens, the join token,
//!   service-account tokens) and whether they may make it (the authorizer seam).
//! - `admission`: the mutating and validating plugins writes pass before they are stored.
//! - `routes`: health, version and discovery endpoints, and the node join endpoints.
//! - `rest`: the generic REST store behind every resource URL.
//! - `cache`: the watch cache that serves lists and watches without reading the store.
//! - `metrics`: `/metrics` (requests, stored objects, the store's own metrics).
//! - `bootstrap`: objects every cluster starts with (the default namespaces).

mod admission;
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

use crate::admission::Admission;
use crate::auth::authn::{
    Authenticator, JoinTokenAuthenticator, ServiceAccountAuthenticator, TokenAuthenticator,
    TokenFile,
};
use crate::auth::authz::Authorizer;
use crate::auth::tokens::Issuer;

/// What request handlers share.
#[derive(Clone)]
pub struct App {
    /// The store every object lives in.
    pub store: Arc<dyn Store>,
    /// Who sent a request.
    pub authenticator: Authenticator,
    /// Whether they may make it.
    pub authorizer: Arc<dyn Authorizer>,
    /// The admission plugins every write passes.
    pub admission: Arc<Admission>,
    /// Signs and checks service-account tokens.
    pub token_issuer: Arc<Issuer>,
    /// The address clients reach this server at (for `/api`'s `serverAddressByClientCIDRs`).
    pub advertise_address: String,
    /// Request and store metrics for `/metrics`.
    pub metrics: metrics::SharedMetrics,
    /// Where service cluster IPs come from.
    pub service_cidr: Ipv4Cidr,
    /// The watch caches, one per resource, started on first use.
    pub caches: Arc<cache::Caches>,
    /// Reaches kubelets for logs, exec, attach and port-forward.
    pub kubelet: rest::proxy::KubeletClient,
}

impl App {
    /// What admission plugins read: the store behind the watch caches.
    pub fn reads(&self) -> admission::Reads<'_> {
        admission::Reads::new(self.store.as_ref(), Some(&self.caches))
    }
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
    /// The authentication or authorization settings are unusable.
    #[error("{0}")]
    Auth(String),
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
    let token_issuer = Arc::new(
        Issuer::new(
            pki.service_account_key_pem(),
            &config.service_account_issuer,
            Vec::new(),
        )
        .map_err(|error| Error::Auth(error.to_string()))?,
    );
    let mut token_authenticators: Vec<Box<dyn TokenAuthenticator>> = Vec::new();
    if let Some(path) = &config.token_auth_file {
        let file = TokenFile::read(path).map_err(|error| Error::Auth(error.to_string()))?;
        tracing::info!(path = %path.display(), tokens = file.token_count(), "static token file loaded");
        token_authenticators.push(Box::new(file));
    }
    token_authenticators.push(Box::new(ServiceAccountAuthenticator::new(
        Arc::clone(&token_issuer),
        Arc::clone(&storage.store),
    )));
    token_authenticators.push(Box::new(JoinTokenAuthenticator::new(pki.token())));
    let authorizer = auth::authz::from_modes(&config.authorization_mode).map_err(Error::Auth)?;
    let app = App {
        store: Arc::clone(&storage.store),
        authenticator: Authenticator::new(token_authenticators),
        authorizer,
        admission: Arc::new(Admission::standard()),
        token_issuer,
        advertise_address: format!("{advertise}:{}", config.port),
        metrics: Arc::new(metrics::Metrics::new(storage.store.as_ref())),
        service_cidr: config.service_cidr,
        caches: Arc::new(cache::Caches::new(
            Arc::clone(&storage.store),
            cache::CacheConfig::default(),
        )),
        kubelet: rest::proxy::KubeletClient::new(&pki).map_err(Error::Auth)?,
    };
    let address = SocketAddr::new(config.bind_address, config.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::Listen { address, source })?;
    tracing::info!(%address, kubeconfig = %config.kubeconfig_path.display(), "serving the Kubernetes API");
    let router = routes::router(app).merge(routes::join::router(pki));
    server::serve(listener, tls, router, shutdown).await;
    drop(storage);
    Ok(())
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}
