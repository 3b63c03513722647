//! TLS of the kubelet's endpoint: a serving certificate for the node and client certificates
//! verified against the cluster CA the agent trusts for the API server. The serving certificate is
//! the one the server signed when the agent joined (`AgentConfig::serving_cert`, upstream's
//! `--tls-cert-file`); otherwise one is generated at every start and kept in memory only, signed
//! by the cluster CA when its key is at hand (the agent embedded in `kubers server`), self-signed
//! else, like upstream's kubelet without `--tls-cert-file`.
//!
//! The API server does not verify this certificate yet (upstream's default without
//! `--kubelet-certificate-authority`).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

use super::Error;
use crate::config::{AgentConfig, TlsFiles};

/// How long the serving certificate is valid.
const VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// How far `not_before` is back-dated, for clock skew.
const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// The endpoint's rustls configuration.
pub fn server_config(config: &AgentConfig) -> Result<Arc<rustls::ServerConfig>, Error> {
    let provider = kubers_core::tls::provider();
    let mut roots = RootCertStore::empty();
    for cert in client_ca(config)? {
        roots.add(cert).map_err(Error::Tls)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|error| Error::ClientCa(error.to_string()))?;
    let (chain, key) = match &config.serving_cert {
        Some(files) => load_serving_certificate(files)?,
        None => serving_certificate(
            &config.data_dir.join("server").join("tls"),
            &config.node_name,
            config.node_ip,
        )?,
    };
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(Error::Tls)?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

/// The CA client certificates must chain to: the one the agent trusts for the API server.
fn client_ca(config: &AgentConfig) -> Result<Vec<CertificateDer<'static>>, Error> {
    if let Some(ders) = config
        .kube
        .root_cert
        .as_ref()
        .filter(|ders| !ders.is_empty())
    {
        return Ok(ders
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect());
    }
    let file = config
        .kube
        .root_cert_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("server").join("tls").join("ca.crt"));
    let certs = CertificateDer::pem_file_iter(&file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| Error::ClientCa(format!("{}: {error}", file.display())))?;
    if certs.is_empty() {
        return Err(Error::ClientCa(format!(
            "no certificate in {}",
            file.display()
        )));
    }
    Ok(certs)
}

/// A serving certificate and its key from files.
fn load_serving_certificate(
    files: &TlsFiles,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let unreadable = |path: &Path, error: rustls::pki_types::pem::Error| {
        Error::ServingCertificate(format!("{}: {error}", path.display()))
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| unreadable(&files.cert, error))?;
    if chain.is_empty() {
        return Err(Error::ServingCertificate(format!(
            "no certificate in {}",
            files.cert.display()
        )));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|error| unreadable(&files.key, error))?;
    Ok((chain, key))
}

/// A new serving certificate for the node: signed by the CA in `ca_dir` when both its files can
/// be read, self-signed otherwise.
fn serving_certificate(
    ca_dir: &Path,
    node_name: &str,
    node_ip: IpAddr,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{node_name}@{}", now.as_secs()));
    let mut names = vec![SanType::IpAddress(node_ip)];
    if let Ok(name) = node_name.to_string().try_into() {
        names.push(SanType::DnsName(name));
    }
    params.subject_alt_names = names;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let start = rcgen::date_time_ymd(1970, 1, 1) + now;
    params.not_before = start - BACKDATE;
    params.not_after = start + VALIDITY;
    let key = KeyPair::generate().map_err(Error::Certificate)?;
    let ca = std::fs::read_to_string(ca_dir.join("ca.crt"))
        .ok()
        .zip(std::fs::read_to_string(ca_dir.join("ca.key")).ok());
    let chain = match ca {
        Some((ca_cert, ca_key)) => {
            let issuer = KeyPair::from_pem(&ca_key)
                .and_then(|ca_key| Issuer::from_ca_cert_pem(&ca_cert, ca_key))
                .map_err(Error::Certificate)?;
            let cert = params
                .signed_by(&key, &issuer)
                .map_err(Error::Certificate)?;
            let ca = CertificateDer::from_pem_slice(ca_cert.as_bytes())
                .map_err(|error| Error::ClientCa(error.to_string()))?;
            vec![cert.der().clone(), ca]
        }
        None => vec![
            params
                .self_signed(&key)
                .map_err(Error::Certificate)?
                .der()
                .clone(),
        ],
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((chain, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_without_a_ca() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (chain, _) =
            serving_certificate(dir.path(), "node-1", "192.168.1.2".parse().expect("ip"))
                .expect("generated");
        assert_eq!(chain.len(), 1);
    }

    #[test]
    fn serving_certificate_files_are_loaded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(vec!["node-1".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let files = TlsFiles {
            cert: dir.path().join("serving.crt"),
            key: dir.path().join("serving.key"),
        };
        std::fs::write(&files.cert, cert.pem()).expect("cert written");
        std::fs::write(&files.key, key.serialize_pem()).expect("key written");
        let (chain, _) = load_serving_certificate(&files).expect("loaded");
        assert_eq!(chain, vec![cert.der().clone()]);
        std::fs::remove_file(&files.key).expect("key removed");
        let error = load_serving_certificate(&files).expect_err("no key");
        assert!(error.to_string().contains("serving.key"), "{error}");
    }
}
