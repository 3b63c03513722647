//! Certificates for joining nodes, signed from the node's certificate signing request as k3s'
//! `/v1-k3s/client-kubelet.crt` and `/v1-k3s/serving-kubelet.crt` do: the private key never leaves
//! the node, and the server alone decides what the certificate says (only the request's public key
//! is used; its subject and extensions are ignored).

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose, SanType,
};
use rustls::pki_types::CertificateSigningRequestDer;

use super::{Error, Pki, Result, certs};

/// The group of every node's client certificate (upstream's `user.NodesGroup`).
pub const NODES_GROUP: &str = "system:nodes";
/// The prefix of a node's user name (upstream's `system:node:<name>`).
pub const NODE_USER_PREFIX: &str = "system:node:";

impl Pki {
    /// Signs the client certificate of node `node_name` (`system:node:<name>` in `system:nodes`,
    /// EKU clientAuth) for the public key of the DER request `csr_der`.
    ///
    /// Returns the certificate followed by the CA certificate, PEM, as k3s answers.
    pub fn sign_node_client(&self, csr_der: &[u8], node_name: &str) -> Result<String> {
        let mut params = certs::leaf_params(&format!("{NODE_USER_PREFIX}{node_name}"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, NODES_GROUP);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign_request(csr_der, params, || {
            format!("client certificate for node {node_name}")
        })
    }

    /// Signs the kubelet serving certificate of node `node_name` (CN and DNS name `node_name`, plus
    /// `localhost`, 127.0.0.1 and `ips`; EKU serverAuth) for the public key of `csr_der`.
    ///
    /// Returns the certificate followed by the CA certificate, PEM.
    pub fn sign_kubelet_serving(
        &self,
        csr_der: &[u8],
        node_name: &str,
        ips: &[IpAddr],
    ) -> Result<String> {
        let what = || format!("kubelet serving certificate for node {node_name}");
        let mut params = certs::leaf_params(node_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let mut sans = Vec::new();
        for name in [node_name, "localhost"] {
            let name = name.try_into().map_err(|source| Error::Generate {
                what: what(),
                source,
            })?;
            sans.push(SanType::DnsName(name));
        }
        let mut addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        for ip in ips {
            if !addresses.contains(ip) {
                addresses.push(*ip);
            }
        }
        sans.extend(addresses.into_iter().map(SanType::IpAddress));
        params.subject_alt_names = sans;
        self.sign_request(csr_der, params, what)
    }

    /// Signs `params` for the public key of the request `csr_der` after checking its signature.
    fn sign_request(
        &self,
        csr_der: &[u8],
        params: CertificateParams,
        what: impl Fn() -> String,
    ) -> Result<String> {
        let der = CertificateSigningRequestDer::from(csr_der);
        let mut request = CertificateSigningRequestParams::from_der(&der)
            .map_err(|source| Error::SigningRequest { source })?;
        request.params = params;
        let issuer = self.ca().issuer()?;
        let cert = request
            .signed_by(&issuer)
            .map_err(|source| Error::Generate {
                what: what(),
                source,
            })?;
        let mut bundle = cert.pem();
        if !bundle.ends_with('\n') {
            bundle.push('\n');
        }
        bundle.push_str(&self.ca_cert_pem);
        Ok(bundle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{PkiConfig, certs::San};
    use rcgen::KeyPair;
    use x509_parser::prelude::FromDer;

    fn pki(dir: &std::path::Path) -> Pki {
        Pki::load_or_create(&PkiConfig {
            dir: dir.join("tls"),
            token_path: dir.join("token"),
            ..PkiConfig::default()
        })
        .unwrap()
    }

    /// A request for `subject` by a fresh key.
    fn request(subject: &str) -> (KeyPair, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["evil.example".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, subject);
        let csr = params.serialize_request(&key).unwrap();
        (key, csr.der().to_vec())
    }

    fn first_der(bundle: &str) -> Vec<u8> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(bundle.as_bytes()).unwrap();
        pem.contents
    }

    #[test]
    fn node_client_certificates_name_the_node_whatever_the_request_says() {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki(dir.path());
        let (key, csr) = request("system:admin");
        let bundle = pki.sign_node_client(&csr, "worker-1").unwrap();
        assert!(bundle.ends_with(pki.ca_cert_pem()), "{bundle}");
        let der = first_der(&bundle);
        let identity = crate::pki::identity_from_der(&der).unwrap();
        assert_eq!(identity.user, "system:node:worker-1");
        assert_eq!(identity.groups, vec!["system:nodes".to_string()]);
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der).unwrap();
        assert_eq!(
            cert.public_key().subject_public_key.data.as_ref(),
            key.public_key_raw()
        );
        assert!(certs::cert_sans(&cert).is_empty());
        // It chains to the CA and matches the key, like any leaf the PKI issues.
        let pair = (bundle.clone(), key.serialize_pem());
        assert_eq!(certs::check_leaf(&pair, pki.ca_cert_pem(), &[]), Ok(()));
    }

    #[test]
    fn serving_certificates_cover_the_node_name_and_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki(dir.path());
        let (_, csr) = request("anything");
        let ip: IpAddr = "192.168.5.2".parse().unwrap();
        let bundle = pki.sign_kubelet_serving(&csr, "worker-1", &[ip]).unwrap();
        let der = first_der(&bundle);
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der).unwrap();
        let sans = certs::cert_sans(&cert);
        for expected in [
            San::Dns("worker-1".into()),
            San::Dns("localhost".into()),
            San::Ip(ip),
            San::Ip("127.0.0.1".parse().unwrap()),
        ] {
            assert!(sans.contains(&expected), "{expected:?} in {sans:?}");
        }
        assert!(!sans.contains(&San::Dns("evil.example".into())));
    }

    #[test]
    fn garbage_and_forged_requests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki(dir.path());
        assert!(matches!(
            pki.sign_node_client(b"not a request", "n"),
            Err(Error::SigningRequest { .. })
        ));
        let (_, mut csr) = request("n");
        let last = csr.len() - 1;
        csr[last] ^= 0x01;
        assert!(matches!(
            pki.sign_node_client(&csr, "n"),
            Err(Error::SigningRequest { .. })
        ));
    }
}
