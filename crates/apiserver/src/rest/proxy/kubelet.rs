//! Reaching a node's kubelet: its address and port from the Node object (upstream's
//! `NodeConnectionInfoGetter`), and HTTPS requests to it with the API server's client
//! certificate (`kube-apiserver-kubelet-client` in `system:masters`, signed by the cluster CA).
//!
//! The kubelet's serving certificate is not verified, as upstream without
//! `--kubelet-certificate-authority`: agents generate their own.

use std::net::IpAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use kubers_core::registry;
use kubers_core::tls::{ClientIdentity, ServerCheck, client_config};
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::App;
use crate::errors::ApiError;
use crate::pki::Pki;

/// The kubelet port when the Node does not say (upstream's default).
const DEFAULT_PORT: u16 = 10250;
/// How long connecting to a kubelet may take (upstream's dialer timeout).
const DIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The user the API server is at kubelets.
const CLIENT_USER: &str = "kube-apiserver-kubelet-client";

/// Where a node's kubelet listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its address.
    pub host: String,
    /// Its port.
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// The kubelet endpoint of `node` (a Node object): the first InternalIP, else Hostname, else
/// ExternalIP address, and the port of `status.daemonEndpoints.kubeletEndpoint`.
pub fn endpoint(node: &Value) -> Result<Endpoint, String> {
    let addresses = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let host = ["InternalIP", "Hostname", "ExternalIP"]
        .iter()
        .find_map(|kind| {
            addresses
                .iter()
                .find(|address| address["type"] == *kind)
                .and_then(|address| address["address"].as_str())
                .filter(|address| !address.is_empty())
        })
        .ok_or_else(|| {
            let known: Vec<String> = addresses
                .iter()
                .map(|address| {
                    format!(
                        "{{{} {}}}",
                        address["type"].as_str().unwrap_or(""),
                        address["address"].as_str().unwrap_or("")
                    )
                })
                .collect();
            format!(
                "no preferred addresses found; known addresses: [{}]",
                known.join(" ")
            )
        })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port > 0)
        .unwrap_or(DEFAULT_PORT);
    Ok(Endpoint {
        host: host.to_string(),
        port,
    })
}

/// The kubelet endpoint of the node called `name`.
pub async fn node_endpoint(app: &App, name: &str) -> Result<Endpoint, ApiError> {
    let info = registry::find("", "v1", "nodes").ok_or_else(ApiError::no_such_path)?;
    let key = registry::storage_key(info, None, Some(name));
    let stored = app
        .store
        .get(&key)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::not_found(info.group_resource(), name))?;
    let node: Value = serde_json::from_slice(&stored.value).map_err(ApiError::internal)?;
    endpoint(&node).map_err(|message| ApiError::status(500, "InternalError", message))
}

/// HTTPS client for kubelets. Cheap to clone.
#[derive(Clone)]
pub struct KubeletClient {
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeletClient")
    }
}

impl KubeletClient {
    /// A client presenting a fresh certificate from the cluster CA of `pki`.
    pub fn new(pki: &Pki) -> Result<Self, String> {
        let (cert, key) = pki
            .issue_client_cert(CLIENT_USER, &["system:masters"])
            .map_err(|error| format!("kubelet client certificate: {error}"))?;
        let identity = ClientIdentity::from_pem(cert.as_bytes(), key.as_bytes())
            .map_err(|error| format!("kubelet client {error}"))?;
        Self::build(Some(identity))
    }

    /// A client without a certificate (kubelets answer it 401); for tests.
    pub fn anonymous() -> Result<Self, String> {
        Self::build(None)
    }

    fn build(identity: Option<ClientIdentity>) -> Result<Self, String> {
        let mut config =
            client_config(ServerCheck::Skip, identity).map_err(|error| error.to_string())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient {
            tls: Arc::new(config),
        })
    }

    /// Sends `request` (whose URI is the path and query) to the kubelet at `endpoint` on a new
    /// connection that stays usable for an upgrade.
    pub async fn send<B>(
        &self,
        endpoint: &Endpoint,
        mut request: hyper::Request<B>,
    ) -> Result<hyper::Response<Incoming>, ApiError>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let url = format!("https://{endpoint}{}", request.uri());
        let method = title_case(request.method().as_str());
        let failed =
            |error: &dyn std::fmt::Display| proxy_error(format!("{method} \"{url}\": {error}"));
        let connect = TcpStream::connect((endpoint.host.as_str(), endpoint.port));
        let tcp = tokio::time::timeout(DIAL_TIMEOUT, connect)
            .await
            .map_err(|_| failed(&format!("dial tcp {endpoint}: i/o timeout")))?
            .map_err(|error| failed(&format!("dial tcp {endpoint}: {error}")))?;
        let _ = tcp.set_nodelay(true);
        let server_name = match endpoint.host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => {
                ServerName::try_from(endpoint.host.clone()).map_err(|error| failed(&error))?
            }
        };
        let tls = TlsConnector::from(Arc::clone(&self.tls))
            .connect(server_name, tcp)
            .await
            .map_err(|error| failed(&error))?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|error| failed(&error))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "kubelet connection ended");
            }
        });
        let host = hyper::header::HeaderValue::from_str(&endpoint.to_string())
            .map_err(|error| failed(&error))?;
        request.headers_mut().insert(hyper::header::HOST, host);
        sender
            .send_request(request)
            .await
            .map_err(|error| failed(&error))
    }
}

/// `GET` as Go's `http.Client` errors spell it: `Get`.
fn title_case(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => lower,
    }
}

/// A failure to reach the kubelet, as upstream reports an error that is not a Status: code 500
/// and the error text.
pub fn proxy_error(message: String) -> ApiError {
    ApiError(kubers_core::status::StatusError {
        code: 500,
        body: serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "code": 500,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_nodes() {
        let node = serde_json::json!({"status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10255}},
        }});
        assert_eq!(
            endpoint(&node),
            Ok(Endpoint {
                host: "10.0.0.5".into(),
                port: 10255
            })
        );
        let bare =
            serde_json::json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}});
        assert_eq!(
            endpoint(&bare).map(|e| e.to_string()),
            Ok("n1:10250".into())
        );
        let v6 = serde_json::json!({"status": {"addresses": [{"type": "InternalIP", "address": "fd00::1"}]}});
        assert_eq!(
            endpoint(&v6).map(|e| e.to_string()),
            Ok("[fd00::1]:10250".into())
        );
        assert_eq!(
            endpoint(
                &serde_json::json!({"status": {"addresses": [{"type": "InternalDNS", "address": "x"}]}})
            ),
            Err("no preferred addresses found; known addresses: [{InternalDNS x}]".into())
        );
    }

    #[test]
    fn go_style_methods() {
        assert_eq!(title_case("GET"), "Get");
        assert_eq!(title_case("POST"), "Post");
    }
}
