//! The node join token, in k3s' "secure" format `K10<sha256 of the CA PEM>::server:<secret>`: the
//! hash lets a joining node pin the CA it downloads, the secret authenticates the node.

use std::fmt::Write as _;
use std::path::Path;

use super::{Result, SECRET_MODE, files};

/// Prefix of a secure token (k3s' token format version 1, "K10").
const PREFIX: &str = "K10";
/// The user part of a server token.
const USER: &str = "server";

/// Loads the token at `path`, creating it when absent.
///
/// A stored token is reused unchanged, except that a secure token whose CA hash no longer matches
/// `ca_cert_pem` (the CA was regenerated) keeps its secret but gets the new hash.
pub(super) fn load_or_create(
    path: &Path,
    ca_cert_pem: &str,
    given: Option<&str>,
) -> Result<String> {
    let ca_hash = sha256_hex(ca_cert_pem.as_bytes());
    let stored = files::read_optional(path)?;
    let stored = stored.as_deref().map(str::trim).filter(|t| !t.is_empty());
    // `--token`: a full `K10...` token as given, anything else as the secret of one (like k3s).
    if let Some(given) = given.map(str::trim).filter(|t| !t.is_empty()) {
        let token = match parse(given) {
            Parsed::Secure { .. } => given.to_owned(),
            Parsed::Other => format_token(&ca_hash, given),
        };
        if stored != Some(token.as_str()) {
            files::write_atomic(path, format!("{token}\n").as_bytes(), SECRET_MODE)?;
        }
        return Ok(token);
    }
    let token = match stored {
        None => format_token(&ca_hash, &random_secret()),
        Some(token) => match parse(token) {
            Parsed::Secure { hash, secret } if hash != ca_hash => format_token(&ca_hash, secret),
            _ => return Ok(token.to_string()),
        },
    };
    files::write_atomic(path, format!("{token}\n").as_bytes(), SECRET_MODE)?;
    Ok(token)
}

/// A token split into its parts.
#[derive(Debug, PartialEq, Eq)]
enum Parsed<'a> {
    /// `K10<hash>::<user>:<secret>`.
    Secure { hash: &'a str, secret: &'a str },
    /// Anything else, e.g. a plain shared secret given by the administrator.
    Other,
}

/// Splits a token into its parts.
fn parse(token: &str) -> Parsed<'_> {
    let secure = token.strip_prefix(PREFIX).and_then(|rest| {
        let (hash, credentials) = rest.split_once("::")?;
        let (_user, secret) = credentials.split_once(':')?;
        Some(Parsed::Secure { hash, secret })
    });
    secure.unwrap_or(Parsed::Other)
}

/// Formats a secure server token.
fn format_token(ca_hash: &str, secret: &str) -> String {
    format!("{PREFIX}{ca_hash}::{USER}:{secret}")
}

/// 16 random bytes as 32 hex digits.
fn random_secret() -> String {
    hex(&rand::random::<[u8; 16]>())
}

/// The SHA-256 of `data`, hex.
pub(super) fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parse_splits_secure_tokens() {
        assert_eq!(
            parse("K10abc::server:s3cret"),
            Parsed::Secure {
                hash: "abc",
                secret: "s3cret"
            }
        );
        assert_eq!(parse("just-a-secret"), Parsed::Other);
    }

    #[test]
    fn token_is_created_reused_and_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server/token");
        let first = load_or_create(&path, "ca one", None).unwrap();
        let hash = sha256_hex(b"ca one");
        assert!(first.starts_with(&format!("K10{hash}::server:")), "{first}");
        assert_eq!(first.rsplit(':').next().unwrap().len(), 32);
        assert_eq!(load_or_create(&path, "ca one", None).unwrap(), first);

        let rehashed = load_or_create(&path, "ca two", None).unwrap();
        assert!(rehashed.starts_with(&format!("K10{}::", sha256_hex(b"ca two"))));
        assert_eq!(rehashed.rsplit(':').next(), first.rsplit(':').next());

        std::fs::write(&path, "plain\n").unwrap();
        assert_eq!(load_or_create(&path, "ca two", None).unwrap(), "plain");

        // `--token` wins: a secret becomes a full token, and the file follows.
        let given = load_or_create(&path, "ca two", Some("s3cret")).unwrap();
        assert_eq!(
            given,
            format!("K10{}::server:s3cret", sha256_hex(b"ca two"))
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), given);
    }
}
