//! The server's public key infrastructure: a cluster CA, the HTTPS serving certificate, the admin
//! client certificate, the service-account signing key, the node join token, and the certificates
//! signed for joining nodes (`join`).
//!
//! Everything lives as PEM files under one directory (`<data-dir>/server/tls`), is generated on
//! first start and reused unchanged on every restart. Only leaf certificates are ever reissued in
//! place, by the same CA so clients holding the CA keep working: the serving certificate when it
//! no longer covers the names the server must answer to, and any leaf close to expiry.

mod ca;
mod certs;
mod files;
mod identity;
mod join;
mod kubeconfig;
mod tls;
mod token;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use identity::{CertIdentity, identity_from_der};
pub use kubeconfig::write_kubeconfig;

/// File names inside [`PkiConfig::dir`].
const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVING_CERT: &str = "serving.crt";
const SERVING_KEY: &str = "serving.key";
const ADMIN_CERT: &str = "admin.crt";
const ADMIN_KEY: &str = "admin.key";
const SA_KEY: &str = "service-account.key";
const SA_PUB: &str = "service-account.pub";

/// Mode of every private key and secret file.
const SECRET_MODE: u32 = 0o600;
/// Mode of certificates and public keys.
const PUBLIC_MODE: u32 = 0o644;

/// Errors of the PKI module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("failed to read {}", path.display())]
    Read {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("failed to write {}", path.display())]
    Write {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored key or certificate could not be parsed.
    #[error("failed to parse {}", path.display())]
    Parse {
        /// The file that failed to parse.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: rcgen::Error,
    },
    /// A PEM file held no usable object of the expected kind.
    #[error("invalid pem in {}", path.display())]
    Pem {
        /// The file whose content was read.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The CA certificate exists but its private key does not, so nothing can be signed.
    #[error("ca certificate {} exists but its key {} is missing", cert.display(), key.display())]
    MissingCaKey {
        /// The CA certificate path.
        cert: PathBuf,
        /// The missing key path.
        key: PathBuf,
    },
    /// A key or certificate could not be generated.
    #[error("failed to generate {what}")]
    Generate {
        /// What was being generated, naming its file or issuer.
        what: String,
        /// The underlying rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// A client certificate was asked for with more organizations than can be encoded.
    #[error(
        "client certificate for {common_name} names {count} organizations, at most 2 are supported"
    )]
    TooManyOrganizations {
        /// The requested common name.
        common_name: String,
        /// How many organizations were asked for.
        count: usize,
    },
    /// The TLS server configuration could not be built from the certificates.
    #[error("failed to build tls config from {}", dir.display())]
    Tls {
        /// The certificate directory.
        dir: PathBuf,
        /// The underlying rustls error.
        #[source]
        source: rustls::Error,
    },
    /// The client certificate verifier could not be built from the CA.
    #[error("failed to build client certificate verifier from {}", path.display())]
    ClientVerifier {
        /// The CA certificate path.
        path: PathBuf,
        /// The underlying rustls error.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// A joining node sent a certificate signing request that cannot be used.
    #[error("invalid certificate signing request: {source}")]
    SigningRequest {
        /// What was wrong with it.
        #[source]
        source: rcgen::Error,
    },
    /// A kubeconfig could not be serialized.
    #[error("failed to serialize kubeconfig {}", path.display())]
    Kubeconfig {
        /// The kubeconfig path.
        path: PathBuf,
        /// The underlying YAML error.
        #[source]
        source: serde_yaml::Error,
    },
}

/// The result type of the PKI module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the PKI lives and which names the serving certificate must cover.
#[derive(Debug, Clone, Default)]
pub struct PkiConfig {
    /// Directory holding every certificate and key: `<data-dir>/server/tls`.
    pub dir: PathBuf,
    /// The node join token file: `<data-dir>/server/token`.
    pub token_path: PathBuf,
    /// `--token`: the join token (or its secret) to use instead of a generated one.
    pub token: Option<String>,
    /// Extra DNS names for the serving certificate (the machine hostname, ...).
    pub hostnames: Vec<String>,
    /// Extra IP addresses for the serving certificate (node IP, bind address, first service IP).
    pub ips: Vec<IpAddr>,
}

/// The loaded PKI: every certificate and key as PEM text.
#[derive(Clone)]
pub struct Pki {
    dir: PathBuf,
    ca_cert_pem: String,
    ca_key_pem: String,
    serving_cert_pem: String,
    serving_key_pem: String,
    admin_cert_pem: String,
    admin_key_pem: String,
    service_account_key_pem: String,
    service_account_pub_pem: String,
    token: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Private keys and the token are deliberately left out.
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads the PKI from [`PkiConfig::dir`], generating whatever is missing.
    ///
    /// The first start generates everything; restarts reuse every file unchanged. A leaf
    /// certificate (serving, admin) that is unreadable, does not match its key, was not issued by
    /// the current CA or expires within 90 days is reissued by the CA, and so is a serving
    /// certificate that lacks a now-required name. A CA certificate without its key is an error.
    pub fn load_or_create(config: &PkiConfig) -> Result<Pki> {
        files::ensure_dir(&config.dir, 0o700)?;
        let dir = config.dir.clone();

        let ca = ca::load_or_create(&dir.join(CA_CERT), &dir.join(CA_KEY))?;

        let sans = certs::serving_sans(&config.hostnames, &config.ips);
        let (serving_cert_pem, serving_key_pem) = certs::load_or_issue(
            &dir.join(SERVING_CERT),
            &dir.join(SERVING_KEY),
            &ca,
            &sans,
            || certs::issue_serving(&ca, &sans),
        )?;
        let (admin_cert_pem, admin_key_pem) = certs::load_or_issue(
            &dir.join(ADMIN_CERT),
            &dir.join(ADMIN_KEY),
            &ca,
            &[],
            || certs::issue_client(&ca, "system:admin", &["system:masters"]),
        )?;

        let (service_account_key_pem, service_account_pub_pem) =
            certs::load_or_create_signing_key(&dir.join(SA_KEY), &dir.join(SA_PUB))?;

        let token =
            token::load_or_create(&config.token_path, &ca.cert_pem, config.token.as_deref())?;

        Ok(Pki {
            dir,
            ca_cert_pem: ca.cert_pem,
            ca_key_pem: ca.key_pem,
            serving_cert_pem,
            serving_key_pem,
            admin_cert_pem,
            admin_key_pem,
            service_account_key_pem,
            service_account_pub_pem,
            token,
        })
    }

    /// The directory the PKI was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cluster CA certificate (PEM).
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// The HTTPS serving certificate (PEM).
    pub fn serving_cert_pem(&self) -> &str {
        &self.serving_cert_pem
    }

    /// The node join token, `K10<sha256 of the CA PEM>::server:<secret>`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The admin client certificate (PEM): `system:admin` in `system:masters`.
    pub fn admin_cert_pem(&self) -> &str {
        &self.admin_cert_pem
    }

    /// The admin client private key (PEM).
    pub fn admin_key_pem(&self) -> &str {
        &self.admin_key_pem
    }

    /// The service-account token signing key (PKCS#8 PEM, ECDSA P-256, for ES256).
    pub fn service_account_key_pem(&self) -> &str {
        &self.service_account_key_pem
    }

    /// The public half of the service-account signing key (SPKI PEM).
    pub fn service_account_pub_pem(&self) -> &str {
        &self.service_account_pub_pem
    }

    /// Signs a client certificate (for tests and for future node/kubelet identities).
    ///
    /// Returns `(certificate PEM, private key PEM)`; nothing is written to disk.
    pub fn issue_client_cert(
        &self,
        common_name: &str,
        organizations: &[&str],
    ) -> Result<(String, String)> {
        certs::issue_client(&self.ca(), common_name, organizations)
    }

    /// The loaded CA, to sign with.
    fn ca(&self) -> ca::Ca {
        ca::Ca {
            cert_pem: self.ca_cert_pem.clone(),
            key_pem: self.ca_key_pem.clone(),
            cert_path: self.dir.join(CA_CERT),
            key_path: self.dir.join(CA_KEY),
            fresh: false,
        }
    }

    /// The rustls server configuration for the API server: the serving certificate, ALPN `h2` and
    /// `http/1.1`, and client certificates optional but verified against the CA when presented.
    pub fn server_tls_config(&self) -> Result<rustls::ServerConfig> {
        tls::server_config(self)
    }
}
