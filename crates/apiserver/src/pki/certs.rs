//! Leaf certificates signed by the cluster CA (the HTTPS serving certificate and client
//! certificates) and the service-account signing key.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::ca::{self, Ca};
use super::{Error, PUBLIC_MODE, Result, SECRET_MODE, files};

/// How long a leaf certificate is valid (k3s: one year, rotated on restart near expiry).
const LEAF_VALIDITY_DAYS: u64 = 365;
/// A leaf certificate this close to expiry is reissued on load (k3s uses the same window).
const RENEW_BEFORE_SECS: i64 = 90 * 24 * 60 * 60;
/// The DNS names every serving certificate covers: the in-cluster names of the API server.
const DEFAULT_DNS_NAMES: &[&str] = &[
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];
/// OID of the X.520 organizationName attribute.
const ORGANIZATION_OID: &[u64] = &[2, 5, 4, 10];

/// A subject alternative name the serving certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum San {
    /// A DNS name, lowercase.
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

/// A certificate and its private key, both PEM.
pub(super) type Pair = (String, String);

/// The names the serving certificate must cover: the defaults plus `hostnames` and `ips`,
/// deduplicated in order. A "hostname" that parses as an IP address is taken as one.
pub(super) fn serving_sans(hostnames: &[String], ips: &[IpAddr]) -> Vec<San> {
    let defaults_ip = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let names = DEFAULT_DNS_NAMES
        .iter()
        .map(|name| name.to_string())
        .chain(
            hostnames
                .iter()
                .map(|name| name.trim().to_ascii_lowercase()),
        )
        .filter(|name| !name.is_empty())
        .map(|name| match name.parse::<IpAddr>() {
            Ok(ip) => San::Ip(ip),
            Err(_) => San::Dns(name),
        });
    let all = defaults_ip
        .into_iter()
        .chain(ips.iter().copied())
        .map(San::Ip);
    let mut seen = HashSet::new();
    names
        .chain(all)
        .filter(|san| seen.insert(san.clone()))
        .collect()
}

/// Reads a certificate and its key; `None` unless both exist.
fn load_pair(cert_path: &Path, key_path: &Path) -> Result<Option<Pair>> {
    let cert = files::read_optional(cert_path)?;
    let key = files::read_optional(key_path)?;
    Ok(cert.zip(key))
}

/// Reuses the leaf pair at `cert_path`/`key_path` when [`check_leaf`] accepts it, otherwise
/// issues a new one with `issue` and stores it.
pub(super) fn load_or_issue(
    cert_path: &Path,
    key_path: &Path,
    ca: &Ca,
    required: &[San],
    issue: impl FnOnce() -> Result<Pair>,
) -> Result<Pair> {
    if let Some(pair) = load_pair(cert_path, key_path)? {
        let verdict = if ca.fresh {
            Err("the ca was regenerated".to_string())
        } else {
            check_leaf(&pair, &ca.cert_pem, required)
        };
        match verdict {
            Ok(()) => return Ok(pair),
            Err(reason) => {
                tracing::info!(path = %cert_path.display(), %reason, "reissuing certificate");
            }
        }
    }
    let pair = issue()?;
    store_pair(cert_path, key_path, &pair)?;
    Ok(pair)
}

/// Writes a certificate (mode 0644) and its key (mode 0600), key first.
fn store_pair(cert_path: &Path, key_path: &Path, pair: &Pair) -> Result<()> {
    files::write_atomic(key_path, pair.1.as_bytes(), SECRET_MODE)?;
    files::write_atomic(cert_path, pair.0.as_bytes(), PUBLIC_MODE)
}

/// Checks that a stored leaf pair can be reused: both parse, the key matches the certificate,
/// the certificate was issued by the CA, is not close to expiry and carries every name in
/// `required`. Returns why not otherwise.
pub(super) fn check_leaf(pair: &Pair, ca_cert_pem: &str, required: &[San]) -> Result<(), String> {
    let (cert_pem, key_pem) = pair;
    let key = KeyPair::from_pem(key_pem).map_err(|err| format!("unreadable key: {err}"))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|err| format!("unreadable certificate: {err}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|err| format!("unreadable certificate: {err}"))?;
    let (_, ca_pem) = x509_parser::pem::parse_x509_pem(ca_cert_pem.as_bytes())
        .map_err(|err| format!("unreadable ca certificate: {err}"))?;
    let ca_cert = ca_pem
        .parse_x509()
        .map_err(|err| format!("unreadable ca certificate: {err}"))?;

    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err("key does not match certificate".to_string());
    }
    if cert.issuer().to_string() != ca_cert.subject().to_string() {
        return Err(format!(
            "issued by {}, not by the current ca",
            cert.issuer()
        ));
    }
    let now = ca::unix_now().as_secs() as i64;
    if cert.validity().not_after.timestamp() - now < RENEW_BEFORE_SECS {
        return Err("expires within 90 days".to_string());
    }
    let present = cert_sans(&cert);
    if let Some(missing) = required.iter().find(|san| !present.contains(san)) {
        return Err(format!("lacks subject alternative name {missing:?}"));
    }
    Ok(())
}

/// The DNS and IP subject alternative names of `cert`.
pub(super) fn cert_sans(cert: &X509Certificate<'_>) -> HashSet<San> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return HashSet::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(San::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(IpAddr::from)
                    .map(San::Ip),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(IpAddr::from)
                    .map(San::Ip),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Issues the HTTPS serving certificate: CN "kubers", the given names, EKU serverAuth.
pub(super) fn issue_serving(ca: &Ca, sans: &[San]) -> Result<Pair> {
    let what = || format!("serving certificate signed by {}", ca.cert_path.display());
    let mut params = leaf_params("kubers");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.subject_alt_names = sans
        .iter()
        .map(|san| match san {
            San::Dns(name) => name.as_str().try_into().map(SanType::DnsName),
            San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        })
        .collect::<Result<_, rcgen::Error>>()
        .map_err(|source| Error::Generate {
            what: what(),
            source,
        })?;
    sign(ca, &params, what)
}

/// Issues a client certificate: CN = user name, O = groups (at most two), EKU clientAuth.
pub(super) fn issue_client(ca: &Ca, common_name: &str, organizations: &[&str]) -> Result<Pair> {
    // rcgen keeps one value per attribute type, so a second organization goes in under the
    // same OID spelled as a custom type; more cannot be expressed.
    if organizations.len() > 2 {
        return Err(Error::TooManyOrganizations {
            common_name: common_name.to_string(),
            count: organizations.len(),
        });
    }
    let mut params = leaf_params(common_name);
    let types = [
        DnType::OrganizationName,
        DnType::CustomDnType(ORGANIZATION_OID.to_vec()),
    ];
    for (ty, organization) in types.into_iter().zip(organizations) {
        params.distinguished_name.push(ty, *organization);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    sign(ca, &params, || {
        format!(
            "client certificate for {common_name} signed by {}",
            ca.cert_path.display()
        )
    })
}

/// Parameters shared by every leaf certificate.
pub(super) fn leaf_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.use_authority_key_identifier_extension = true;
    ca::set_validity(&mut params, LEAF_VALIDITY_DAYS);
    params
}

/// Generates a key and signs `params` for it with the CA.
fn sign(ca: &Ca, params: &CertificateParams, what: impl Fn() -> String) -> Result<Pair> {
    let issuer = ca.issuer()?;
    let key = KeyPair::generate().map_err(|source| Error::Generate {
        what: what(),
        source,
    })?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|source| Error::Generate {
            what: what(),
            source,
        })?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Loads the service-account signing key (ECDSA P-256, PKCS#8) and its public key (SPKI),
/// generating the key when absent and rewriting the public key when missing or not matching.
pub(super) fn load_or_create_signing_key(key_path: &Path, pub_path: &Path) -> Result<Pair> {
    let key_pem = match files::read_optional(key_path)? {
        Some(pem) => pem,
        None => {
            let key = KeyPair::generate().map_err(|source| Error::Generate {
                what: format!("service-account key {}", key_path.display()),
                source,
            })?;
            let pem = key.serialize_pem();
            files::write_atomic(key_path, pem.as_bytes(), SECRET_MODE)?;
            pem
        }
    };
    let key = KeyPair::from_pem(&key_pem).map_err(|source| Error::Parse {
        path: key_path.to_path_buf(),
        source,
    })?;
    let pub_pem = key.public_key_pem();
    if files::read_optional(pub_path)?.as_deref() != Some(pub_pem.as_str()) {
        files::write_atomic(pub_path, pub_pem.as_bytes(), PUBLIC_MODE)?;
    }
    Ok((key_pem, pub_pem))
}
