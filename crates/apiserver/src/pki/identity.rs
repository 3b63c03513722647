//! The user a client certificate names, by the Kubernetes convention: the subject's common name
//! is the user name and each organization is a group.

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// The user a verified client certificate names: CN = user name, O = groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// The subject common name.
    pub user: String,
    /// The subject organizations, in certificate order.
    pub groups: Vec<String>,
}

/// Reads the identity from a DER certificate, or `None` when it does not parse or names no user.
///
/// This does not verify the certificate; call it only on a chain the TLS layer has verified.
pub fn identity_from_der(der: &[u8]) -> Option<CertIdentity> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    if user.is_empty() {
        return None;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|attr| attr.as_str().ok())
        .map(str::to_string)
        .collect();
    Some(CertIdentity { user, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_has_no_identity() {
        assert_eq!(identity_from_der(b"not a certificate"), None);
    }
}
