//! The credentials a joined agent keeps under `DIR/agent/` (k3s' names): `server-ca.crt`,
//! `client-kubelet.crt`/`.key` (its identity at the API server), `serving-kubelet.crt`/`.key` (its
//! HTTPS endpoint) and `kubelet.kubeconfig` pointing at them. A restart reuses them while they
//! still fit: issued by the CA the token names, for this node's name and address, and not within
//! 90 days of expiry.

use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use kubers_core::tls::provider;
use rcgen::KeyPair;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use x509_parser::certificate::X509Certificate;

use super::token::JoinToken;
use crate::config::TlsFiles;

/// A certificate this close to expiry is replaced (k3s renews within the same window).
const RENEW_BEFORE_SECS: i64 = 90 * 24 * 60 * 60;
/// Mode of private keys and the kubeconfig.
const SECRET_MODE: u32 = 0o600;
/// Mode of certificates.
const PUBLIC_MODE: u32 = 0o644;

/// The credential files of a joined agent.
#[derive(Debug, Clone)]
pub struct Files {
    root: PathBuf,
}

impl Files {
    /// The files under `agent_dir` (`DIR/agent`).
    pub fn new(agent_dir: &Path) -> Self {
        Files {
            root: agent_dir.to_path_buf(),
        }
    }

    /// The cluster CA as downloaded.
    pub fn server_ca(&self) -> PathBuf {
        self.root.join("server-ca.crt")
    }

    /// The node's client certificate and key.
    pub fn client(&self) -> TlsFiles {
        TlsFiles {
            cert: self.root.join("client-kubelet.crt"),
            key: self.root.join("client-kubelet.key"),
        }
    }

    /// The kubelet's serving certificate and key.
    pub fn serving(&self) -> TlsFiles {
        TlsFiles {
            cert: self.root.join("serving-kubelet.crt"),
            key: self.root.join("serving-kubelet.key"),
        }
    }

    /// The kubeconfig the agent reaches the API server with.
    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join("kubelet.kubeconfig")
    }

    /// Why the stored credentials cannot be reused for `node_name` at `node_ip`, if they cannot.
    pub fn unusable(&self, token: &JoinToken, node_name: &str, node_ip: IpAddr) -> Option<String> {
        let ca = match std::fs::read(self.server_ca()) {
            Ok(ca) => ca,
            Err(error) => return Some(format!("{}: {error}", self.server_ca().display())),
        };
        if let Err(reason) = token.verify_ca(&ca) {
            return Some(reason);
        }
        let roots = match roots(&ca) {
            Ok(roots) => roots,
            Err(reason) => return Some(format!("{}: {reason}", self.server_ca().display())),
        };
        let client = Check::new(&self.client()).and_then(|check| {
            check.common_name(&format!("system:node:{node_name}"))?;
            check.verify_client(&roots)
        });
        let serving = Check::new(&self.serving()).and_then(|check| {
            check.verify_serving(&roots, node_name)?;
            check.verify_serving(&roots, &node_ip.to_string())
        });
        client.and(serving).err()
    }

    /// Stores a fresh set of credentials.
    pub fn store(&self, issued: &Issued) -> Result<(), std::io::Error> {
        std::fs::create_dir_all(&self.root)?;
        let client = self.client();
        let serving = self.serving();
        write(&client.key, issued.client_key.as_bytes(), SECRET_MODE)?;
        write(&client.cert, issued.client_cert.as_bytes(), PUBLIC_MODE)?;
        write(&serving.key, issued.serving_key.as_bytes(), SECRET_MODE)?;
        write(&serving.cert, issued.serving_cert.as_bytes(), PUBLIC_MODE)?;
        // The CA last: without it nothing above is reused, so a crash midway means a new join.
        write(&self.server_ca(), &issued.ca, PUBLIC_MODE)
    }

    /// Writes the kubeconfig for the API server at `server` (rewritten at every start).
    pub fn write_kubeconfig(&self, server: &str) -> Result<(), std::io::Error> {
        let path = |path: PathBuf| path.display().to_string();
        let client = self.client();
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": {
                "server": server,
                "certificate-authority": path(self.server_ca()),
            }}],
            "users": [{"name": "user", "user": {
                "client-certificate": path(client.cert),
                "client-key": path(client.key),
            }}],
            "contexts": [{"name": "Default", "context": {
                "cluster": "local",
                "namespace": "default",
                "user": "user",
            }}],
            "current-context": "Default",
            "preferences": {},
        });
        let text = serde_yaml::to_string(&config).map_err(std::io::Error::other)?;
        write(&self.kubeconfig(), text.as_bytes(), SECRET_MODE)
    }
}

/// Credentials the server just issued, PEM.
pub struct Issued {
    /// The cluster CA as downloaded.
    pub ca: Vec<u8>,
    /// The client certificate (with the CA after it).
    pub client_cert: String,
    /// The client key.
    pub client_key: String,
    /// The serving certificate (with the CA after it).
    pub serving_cert: String,
    /// The serving key.
    pub serving_key: String,
}

/// A stored certificate and key that passed the common checks.
struct Check {
    leaf: CertificateDer<'static>,
    intermediates: Vec<CertificateDer<'static>>,
    path: PathBuf,
}

impl Check {
    /// Reads `files` and checks that the key matches the certificate and that the certificate does
    /// not expire within 90 days.
    fn new(files: &TlsFiles) -> Result<Check, String> {
        let unreadable =
            |path: &Path, error: &dyn std::fmt::Display| format!("{}: {error}", path.display());
        let mut chain = CertificateDer::pem_file_iter(&files.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| unreadable(&files.cert, &error))?;
        let key =
            std::fs::read_to_string(&files.key).map_err(|error| unreadable(&files.key, &error))?;
        let key = KeyPair::from_pem(&key).map_err(|error| unreadable(&files.key, &error))?;
        if chain.is_empty() {
            return Err(format!("{}: no certificate", files.cert.display()));
        }
        let leaf = chain.remove(0);
        let check = Check {
            leaf,
            intermediates: chain,
            path: files.cert.clone(),
        };
        let cert = check.leaf()?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(format!("{}: the key does not match", check.path.display()));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or_default();
        if cert.validity().not_after.timestamp() - now < RENEW_BEFORE_SECS {
            return Err(format!("{}: expires within 90 days", check.path.display()));
        }
        Ok(check)
    }

    fn leaf(&self) -> Result<X509Certificate<'_>, String> {
        parse_cert(&self.leaf).map_err(|reason| format!("{}: {reason}", self.path.display()))
    }

    /// Whether the certificate names `expected` as its common name.
    fn common_name(&self, expected: &str) -> Result<(), String> {
        let cert = self.leaf()?;
        let name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|name| name.as_str().ok())
            .unwrap_or("");
        if name == expected {
            Ok(())
        } else {
            Err(format!(
                "{}: issued to {name}, not {expected}",
                self.path.display()
            ))
        }
    }

    /// Whether the cluster CA issued this client certificate.
    fn verify_client(&self, roots: &Arc<RootCertStore>) -> Result<(), String> {
        let failed = |error: &dyn std::fmt::Display| {
            format!(
                "{}: not a client certificate of the cluster CA: {error}",
                self.path.display()
            )
        };
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::clone(roots), provider())
            .build()
            .map_err(|error| failed(&error))?;
        verifier
            .verify_client_cert(&self.leaf, &self.intermediates, UnixTime::now())
            .map(|_| ())
            .map_err(|error| failed(&error))
    }

    /// Whether the cluster CA issued this serving certificate for `name` (a DNS name or address).
    fn verify_serving(&self, roots: &Arc<RootCertStore>, name: &str) -> Result<(), String> {
        let failed = |error: &dyn std::fmt::Display| {
            format!(
                "{}: not a serving certificate of the cluster CA for {name}: {error}",
                self.path.display()
            )
        };
        let server_name = ServerName::try_from(name.to_string()).map_err(|error| failed(&error))?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::clone(roots), provider())
            .build()
            .map_err(|error| failed(&error))?;
        verifier
            .verify_server_cert(
                &self.leaf,
                &self.intermediates,
                &server_name,
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
            .map_err(|error| failed(&error))
    }
}

/// The trust roots of a CA bundle.
fn roots(ca_pem: &[u8]) -> Result<Arc<RootCertStore>, String> {
    kubers_core::tls::roots_from_pem(ca_pem)
        .map(Arc::new)
        .map_err(|error| error.to_string())
}

/// A certificate from DER.
fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    use x509_parser::prelude::FromDer as _;
    X509Certificate::from_der(der)
        .map(|(_, cert)| cert)
        .map_err(|error| format!("unreadable certificate: {error}"))
}

/// Writes `data` to `path` with `mode` through a temporary file and a rename.
fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), std::io::Error> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)?;
    file.write_all(data)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::join::token::ca_hash;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

    /// A CA, and credentials it issued for `node` at `ip`.
    fn issued(node: &str, ip: IpAddr) -> Issued {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "test-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let ca_pem = ca.pem();
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
        let leaf = |cn: &str, sans: Vec<SanType>| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.subject_alt_names = sans;
            let cert = params.signed_by(&key, &issuer).unwrap();
            (format!("{}{ca_pem}", cert.pem()), key.serialize_pem())
        };
        let (client_cert, client_key) = leaf(&format!("system:node:{node}"), Vec::new());
        let (serving_cert, serving_key) = leaf(
            node,
            vec![
                SanType::DnsName(node.try_into().unwrap()),
                SanType::IpAddress(ip),
            ],
        );
        Issued {
            ca: ca_pem.into_bytes(),
            client_cert,
            client_key,
            serving_cert,
            serving_key,
        }
    }

    fn token_for(ca: &[u8]) -> JoinToken {
        JoinToken::parse(&format!("K10{}::server:s", ca_hash(ca))).unwrap()
    }

    #[test]
    fn stored_credentials_are_reused_only_while_they_fit() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path());
        let ip: IpAddr = "192.168.7.2".parse().unwrap();
        let token = JoinToken::parse("bare").unwrap();
        assert!(
            files.unusable(&token, "n1", ip).is_some(),
            "nothing stored yet"
        );

        let issued = issued("n1", ip);
        files.store(&issued).unwrap();
        let token = token_for(&issued.ca);
        assert_eq!(files.unusable(&token, "n1", ip), None);

        let renamed = files.unusable(&token, "n2", ip).unwrap();
        assert!(renamed.contains("not system:node:n2"), "{renamed}");
        let moved = files
            .unusable(&token, "n1", "192.168.7.3".parse().unwrap())
            .unwrap();
        assert!(moved.contains("for 192.168.7.3"), "{moved}");
        let other_cluster = files.unusable(&token_for(b"another ca"), "n1", ip).unwrap();
        assert!(
            other_cluster.starts_with("token CA hash does not match"),
            "{other_cluster}"
        );

        // A key that is not the certificate's.
        let other = issued_key();
        std::fs::write(files.client().key, other).unwrap();
        let mismatch = files.unusable(&token, "n1", ip).unwrap();
        assert!(mismatch.contains("the key does not match"), "{mismatch}");
    }

    #[test]
    fn certificates_from_another_ca_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path());
        let ip: IpAddr = "192.168.7.2".parse().unwrap();
        let first = issued("n1", ip);
        files.store(&first).unwrap();
        let second = issued("n1", ip);
        std::fs::write(files.server_ca(), &second.ca).unwrap();
        let reason = files.unusable(&token_for(&second.ca), "n1", ip).unwrap();
        assert!(
            reason.contains("not a client certificate of the cluster CA"),
            "{reason}"
        );
    }

    #[test]
    fn the_kubeconfig_points_at_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path());
        files.write_kubeconfig("https://10.0.0.1:6443").unwrap();
        let text = std::fs::read_to_string(files.kubeconfig()).unwrap();
        let config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(
            config["clusters"][0]["cluster"]["server"],
            "https://10.0.0.1:6443"
        );
        assert_eq!(
            config["clusters"][0]["cluster"]["certificate-authority"],
            files.server_ca().display().to_string()
        );
        assert_eq!(
            config["users"][0]["user"]["client-key"],
            files.client().key.display().to_string()
        );
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(files.kubeconfig())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    fn issued_key() -> String {
        KeyPair::generate().unwrap().serialize_pem()
    }
}
