//! rustls client configurations the way every kubers component builds them: the `ring` provider,
//! trust roots and client identities from PEM, and the server-certificate check that is skipped
//! where upstream skips it (HTTPS probes, the API server's requests to kubelets without
//! `--kubelet-certificate-authority`, the first CA download of a join). Building a configuration
//! reads no file and opens no connection.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The crypto provider every kubers TLS configuration uses, passed explicitly so nothing depends
/// on a process-wide default.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why PEM could not become trust roots or a client identity.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The PEM text is malformed.
    #[error(transparent)]
    Pem(#[from] pem::Error),
    /// A certificate rustls refuses as a trust anchor.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    /// The bundle holds no certificate.
    #[error("no certificate")]
    NoCertificate,
}

/// The trust roots of a CA bundle in PEM; at least one certificate.
pub fn roots_from_pem(ca_pem: &[u8]) -> Result<RootCertStore, PemError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert?)?;
    }
    if roots.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(roots)
}

/// A certificate chain and its private key, presented as a TLS client certificate.
#[derive(Debug)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

/// Which half of a client identity could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The certificate chain.
    #[error("certificate: {0}")]
    Certificate(#[source] pem::Error),
    /// The private key.
    #[error("key: {0}")]
    Key(#[source] pem::Error),
}

impl ClientIdentity {
    /// The identity in a certificate chain and a private key, both PEM.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, IdentityError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(IdentityError::Certificate)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(IdentityError::Key)?;
        Ok(ClientIdentity { chain, key })
    }
}

/// How a client checks the server's certificate.
#[derive(Debug)]
pub enum ServerCheck {
    /// The certificate must chain to one of these roots and name the server.
    Roots(RootCertStore),
    /// Any certificate is accepted (the handshake signatures are still checked with it).
    Skip,
}

/// A client configuration: safe default protocol versions, the server checked as `check` says,
/// and `identity` as the client certificate when given. No ALPN protocols are set.
pub fn client_config(
    check: ServerCheck,
    identity: Option<ClientIdentity>,
) -> Result<ClientConfig, rustls::Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match check {
        ServerCheck::Roots(roots) => builder.with_root_certificates(roots),
        ServerCheck::Skip => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider))),
    };
    match identity {
        Some(ClientIdentity { chain, key }) => builder.with_client_auth_cert(chain, key),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Accepts any server certificate, still checking the handshake signatures with it.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";

    #[test]
    fn an_empty_bundle_has_no_roots() {
        assert!(matches!(roots_from_pem(b""), Err(PemError::NoCertificate)));
        assert_eq!(
            roots_from_pem(b"").map(|_| ()).unwrap_err().to_string(),
            "no certificate"
        );
        assert!(matches!(roots_from_pem(NOT_PEM), Err(PemError::Pem(_))));
    }

    #[test]
    fn identity_errors_name_the_part() {
        let error = ClientIdentity::from_pem(NOT_PEM, b"").unwrap_err();
        assert!(error.to_string().starts_with("certificate: "), "{error}");
        let error = ClientIdentity::from_pem(b"", b"").unwrap_err();
        assert!(error.to_string().starts_with("key: "), "{error}");
    }

    #[test]
    fn configs_build_with_and_without_verification() {
        let skip = client_config(ServerCheck::Skip, None).unwrap();
        assert!(skip.alpn_protocols.is_empty());
        assert!(!skip.client_auth_cert_resolver.has_certs());
        let roots = client_config(ServerCheck::Roots(RootCertStore::empty()), None).unwrap();
        assert!(!roots.client_auth_cert_resolver.has_certs());
    }
}
