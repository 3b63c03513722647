//! The kubelet's HTTPS endpoint on `NODE_IP:10250`, the one the API server proxies `pods/log`,
//! `pods/exec`, `pods/attach` and `pods/portforward` to, with upstream's paths:
//!
//! - `GET /healthz`;
//! - `GET /containerLogs/{namespace}/{pod}/{container}` (`logs`);
//! - `GET|POST /exec/{namespace}/{pod}[/{uid}]/{container}` and `/attach/...` (`streams`);
//! - `GET|POST /portForward/{namespace}/{pod}[/{uid}]` (`streams`);
//! - `GET /stats/summary[?only_cpu_and_memory=true]` (`crate::stats`).
//!
//! Every request is authenticated by its client certificate and authorized by the API server
//! (`auth`); the certificates are `tls`'s.

mod auth;
mod http;
mod logs;
mod pods;
mod streams;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use self::auth::{Authorizer, Identity};
use self::http::{Body, Failure};
use self::streams::{Command, Target};
use crate::node::register::KUBELET_PORT;
use crate::pods::NodeContext;
use crate::stats;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The CA for client certificates is unusable.
    #[error("the cluster CA for client certificates: {0}")]
    ClientCa(String),
    /// The serving certificate files cannot be read.
    #[error("the serving certificate: {0}")]
    ServingCertificate(String),
    /// The serving certificate could not be generated.
    #[error("generating the serving certificate: {0}")]
    Certificate(#[source] rcgen::Error),
    /// The TLS configuration was refused.
    #[error("TLS configuration: {0}")]
    Tls(#[source] rustls::Error),
    /// The port could not be opened.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// What request handlers share.
struct Server {
    context: Arc<NodeContext>,
    authorizer: Authorizer,
    stats: stats::Collector,
}

/// Serves the endpoint until the process ends.
pub async fn run(context: Arc<NodeContext>) -> Result<(), Error> {
    let tls = tls::server_config(&context.config)?;
    let port = u16::try_from(KUBELET_PORT).unwrap_or(10250);
    let address = SocketAddr::new(context.config.node_ip, port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| Error::Listen { address, source })?;
    tracing::info!(%address, "serving the kubelet endpoint");
    let server = Arc::new(Server {
        authorizer: Authorizer::new(context.client.clone(), context.config.node_name.clone()),
        context,
        stats: stats::Collector::new(),
    });
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a kubelet connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%error, %peer, "kubelet tls handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let identity = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|cert| auth::identity(cert.as_ref()));
            let service = hyper::service::service_fn(move |request| {
                let server = Arc::clone(&server);
                let identity = identity.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        server.handle(identity.as_ref(), request).await,
                    )
                }
            });
            let served = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, %peer, "kubelet connection ended with an error");
            }
        });
    }
}

impl Server {
    async fn handle(
        &self,
        identity: Option<&Identity>,
        request: Request<Incoming>,
    ) -> Response<Body> {
        let path = request.uri().path().to_string();
        if let Err(failure) = self
            .authorizer
            .check(identity, request.method(), &path)
            .await
        {
            return failure.into_response();
        }
        match self.route(request, &path).await {
            Ok(response) => response,
            Err(failure) => failure.into_response(),
        }
    }

    async fn route(
        &self,
        request: Request<Incoming>,
        path: &str,
    ) -> Result<Response<Body>, Failure> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let method = request.method().clone();
        let streaming = method == Method::GET || method == Method::POST;
        let target = |namespace, pod, uid, container| Target {
            namespace,
            pod,
            uid,
            container,
        };
        match segments.as_slice() {
            ["healthz"] if method == Method::GET => Ok(http::text(StatusCode::OK, "ok")),
            ["stats", "summary"] if method == Method::GET => {
                let query = request.uri().query().unwrap_or("");
                self.summary(query).await
            }
            ["containerLogs", namespace, pod, container] if method == Method::GET => {
                let query = request.uri().query().unwrap_or("");
                logs::serve(Arc::clone(&self.context), query, namespace, pod, container).await
            }
            [kind @ ("exec" | "attach"), namespace, pod, rest @ ..] if streaming => {
                let command = if *kind == "exec" {
                    Command::Exec
                } else {
                    Command::Attach
                };
                let target = match rest {
                    [container] => target(*namespace, *pod, None, Some(*container)),
                    [uid, container] => target(*namespace, *pod, Some(*uid), Some(*container)),
                    _ => return Err(not_found()),
                };
                streams::serve_command(&self.context, request, command, &target).await
            }
            ["portForward", namespace, pod, rest @ ..] if streaming => {
                let target = match rest {
                    [] => target(*namespace, *pod, None, None),
                    [uid] => target(*namespace, *pod, Some(*uid), None),
                    _ => return Err(not_found()),
                };
                streams::serve_port_forward(&self.context, request, &target).await
            }
            _ => Err(not_found()),
        }
    }
}

impl Server {
    /// `GET /stats/summary`.
    async fn summary(&self, query: &str) -> Result<Response<Body>, Failure> {
        let only_cpu_and_memory = form_urlencoded::parse(query.as_bytes())
            .any(|(key, value)| key == "only_cpu_and_memory" && value == "true");
        let scope = if only_cpu_and_memory {
            stats::Scope::CpuAndMemory
        } else {
            stats::Scope::Full
        };
        let summary = self
            .stats
            .summary(&self.context, scope)
            .await
            .map_err(|error| Failure::internal(format!("failed to get summary stats: {error}")))?;
        let body = serde_json::to_vec(&summary).map_err(|error| {
            Failure::internal(format!("failed to encode summary stats: {error}"))
        })?;
        Ok(http::json(StatusCode::OK, body))
    }
}

fn not_found() -> Failure {
    Failure::not_found("404 page not found")
}
