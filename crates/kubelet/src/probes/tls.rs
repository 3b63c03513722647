//! TLS for HTTPS probes: like upstream, the kubelet does not verify the container's certificate.

use std::sync::Arc;

use kubers_core::tls::{ServerCheck, client_config};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Opens TLS over `stream` without verifying the peer.
pub async fn connect(stream: TcpStream, host: &str) -> std::io::Result<TlsStream<TcpStream>> {
    let config = client_config(ServerCheck::Skip, None).map_err(std::io::Error::other)?;
    let name = ServerName::try_from(host.to_string()).map_err(std::io::Error::other)?;
    TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
}
