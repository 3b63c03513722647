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

#[cfg(test)]
mod tests {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn a_self_signed_certificate_for_another_name_is_accepted() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["probe.invalid".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        let config = rustls::ServerConfig::builder_with_provider(kubers_core::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let address = listener.local_addr().expect("address");
        let served = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accepted");
            let mut tls = acceptor.accept(tcp).await.expect("handshake");
            tls.write_all(b"ok").await.expect("written");
            tls.shutdown().await.expect("closed");
        });
        let tcp = TcpStream::connect(address).await.expect("connected");
        let mut tls = connect(tcp, "127.0.0.1").await.expect("handshake");
        let mut answer = Vec::new();
        tls.read_to_end(&mut answer).await.expect("read");
        assert_eq!(answer, b"ok");
        served.await.expect("server task");
    }
}
