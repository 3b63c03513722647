//! The rustls server configuration of the API server: the serving certificate, ALPN h2 and
//! http/1.1, and optional client certificates verified against the cluster CA.
//!
//! The ring provider (`kubers_core::tls::provider`) is passed explicitly, so nothing depends on a
//! process-wide default provider.

use std::path::Path;
use std::sync::Arc;

use kubers_core::tls::provider;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::{CA_CERT, Error, Pki, Result, SERVING_CERT, SERVING_KEY};

/// ALPN protocols offered, most preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Builds the API server's TLS configuration; see the module docs.
pub(super) fn server_config(pki: &Pki) -> Result<ServerConfig> {
    let provider = provider();
    let ca_path = pki.dir.join(CA_CERT);
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(&pki.ca_cert_pem, &ca_path)? {
        roots.add(cert).map_err(|source| tls_err(pki, source))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|source| Error::ClientVerifier {
            path: ca_path.clone(),
            source,
        })?;

    let chain = parse_certs(&pki.serving_cert_pem, &pki.dir.join(SERVING_CERT))?;
    let key = parse_key(&pki.serving_key_pem, &pki.dir.join(SERVING_KEY))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| tls_err(pki, source))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|source| tls_err(pki, source))?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Every certificate in `pem` (read from `path`); at least one.
fn parse_certs(pem: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem_err = |source| Error::Pem {
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err)?;
    if certs.is_empty() {
        return Err(pem_err(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// The private key in `pem` (read from `path`).
fn parse_key(pem: &str, path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|source| Error::Pem {
        path: path.to_path_buf(),
        source,
    })
}

/// A rustls error while building the config for `pki`.
fn tls_err(pki: &Pki, source: rustls::Error) -> Error {
    Error::Tls {
        dir: pki.dir.clone(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{PkiConfig, identity_from_der};
    use kubers_core::tls::{self, ClientIdentity, ServerCheck, roots_from_pem};
    use rustls::ClientConfig;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    fn pki_in(dir: &Path) -> Pki {
        Pki::load_or_create(&PkiConfig {
            dir: dir.join("tls"),
            token_path: dir.join("token"),
            ..PkiConfig::default()
        })
        .unwrap()
    }

    fn client_config(pki: &Pki, client_cert: Option<(String, String)>) -> ClientConfig {
        let roots = roots_from_pem(pki.ca_cert_pem().as_bytes()).unwrap();
        let identity = client_cert
            .map(|(cert, key)| ClientIdentity::from_pem(cert.as_bytes(), key.as_bytes()).unwrap());
        let mut config = tls::client_config(ServerCheck::Roots(roots), identity).unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        config
    }

    /// What the server saw of one connection: the negotiated ALPN and the peer certificate.
    struct Seen {
        alpn: Option<Vec<u8>>,
        peer: Option<Vec<u8>>,
    }

    /// Runs one handshake (and a one-byte echo) between `server` and `client`.
    async fn handshake(server: &Pki, client: ClientConfig) -> Result<Seen, String> {
        let acceptor =
            tokio_rustls::TlsAcceptor::from(Arc::new(server.server_tls_config().unwrap()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server_side = async move {
            let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
            tls.write_all(&byte).await.map_err(|e| e.to_string())?;
            tls.flush().await.map_err(|e| e.to_string())?;
            let (_, conn) = tls.get_ref();
            Ok::<_, String>(Seen {
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                peer: conn
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .map(|cert| cert.to_vec()),
            })
        };
        let client_side = async move {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
            let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let name = ServerName::try_from("kubernetes.default.svc").unwrap();
            let mut tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| e.to_string())?;
            tls.write_all(b"x").await.map_err(|e| e.to_string())?;
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        };
        let (server_result, client_result) = tokio::join!(server_side, client_side);
        client_result?;
        server_result
    }

    #[test]
    fn server_config_offers_h2_and_http1() {
        let dir = tempfile::tempdir().unwrap();
        let config = pki_in(dir.path()).server_tls_config().unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[tokio::test]
    async fn handshake_with_admin_cert_yields_identity() {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki_in(dir.path());
        let admin = (
            pki.admin_cert_pem().to_string(),
            pki.admin_key_pem().to_string(),
        );
        let seen = handshake(&pki, client_config(&pki, Some(admin)))
            .await
            .unwrap();
        assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
        let identity = identity_from_der(&seen.peer.unwrap()).unwrap();
        assert_eq!(identity.user, "system:admin");
        assert_eq!(identity.groups, vec!["system:masters".to_string()]);
    }

    #[tokio::test]
    async fn handshake_without_client_cert_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki_in(dir.path());
        let seen = handshake(&pki, client_config(&pki, None)).await.unwrap();
        assert!(seen.peer.is_none());
    }

    #[tokio::test]
    async fn handshake_with_issued_node_cert_yields_identity() {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki_in(dir.path());
        let node = pki
            .issue_client_cert("system:node:worker-1", &["system:nodes", "extra"])
            .unwrap();
        let seen = handshake(&pki, client_config(&pki, Some(node)))
            .await
            .unwrap();
        let identity = identity_from_der(&seen.peer.unwrap()).unwrap();
        assert_eq!(identity.user, "system:node:worker-1");
        assert_eq!(
            identity.groups,
            vec!["system:nodes".to_string(), "extra".to_string()]
        );
    }

    #[tokio::test]
    async fn handshake_with_foreign_client_cert_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki_in(&dir.path().join("one"));
        let other = pki_in(&dir.path().join("two"));
        let foreign = (
            other.admin_cert_pem().to_string(),
            other.admin_key_pem().to_string(),
        );
        assert!(
            handshake(&pki, client_config(&pki, Some(foreign)))
                .await
                .is_err()
        );
    }
}
