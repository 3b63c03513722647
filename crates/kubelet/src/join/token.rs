//! The join token as k3s agents read it: `K10<sha256 of the CA bundle>::<user>:<secret>`, the
//! same without a hash (`K10::<user>:<secret>`), or a bare secret. The hash pins the CA the agent
//! downloads; the secret is the credential.

use std::fmt::Write as _;

/// The prefix of a full token (k3s' token format version 1).
const PREFIX: &str = "K10";
/// The length of a hex SHA-256.
const HASH_LENGTH: usize = 64;

/// A parsed join token.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// The CA hash, when the token carries one.
    pub ca_hash: Option<String>,
    /// The secret the server accepts as bearer token.
    pub secret: String,
}

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is deliberately left out.
        f.debug_struct("JoinToken")
            .field("ca_hash", &self.ca_hash)
            .finish_non_exhaustive()
    }
}

impl JoinToken {
    /// Parses a token with k3s' rules and messages.
    pub fn parse(token: &str) -> Result<JoinToken, String> {
        let token = token.trim();
        if token.is_empty() {
            return Err("token must not be empty".to_string());
        }
        let Some(rest) = token.strip_prefix(PREFIX) else {
            return Ok(JoinToken {
                ca_hash: None,
                secret: token.to_string(),
            });
        };
        let (hash, credentials) = rest.split_once("::").unwrap_or(("", rest));
        if !hash.is_empty() && hash.len() != HASH_LENGTH {
            return Err("invalid token CA hash length".to_string());
        }
        let secret = match credentials.split_once(':') {
            Some((_user, secret)) if !secret.is_empty() => secret,
            _ => return Err("invalid token format".to_string()),
        };
        Ok(JoinToken {
            ca_hash: (!hash.is_empty()).then(|| hash.to_ascii_lowercase()),
            secret: secret.to_string(),
        })
    }

    /// Checks a downloaded CA bundle against the token's hash (nothing to check without one).
    pub fn verify_ca(&self, ca_pem: &[u8]) -> Result<(), String> {
        let Some(expected) = &self.ca_hash else {
            return Ok(());
        };
        let actual = ca_hash(ca_pem);
        if *expected == actual {
            Ok(())
        } else {
            Err(format!(
                "token CA hash does not match the Cluster CA certificate hash: {expected} != {actual}"
            ))
        }
    }
}

/// The hash a token carries for a CA bundle of one certificate: the SHA-256 of the PEM file, hex.
pub fn ca_hash(ca_pem: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, ca_pem)
        .as_ref()
        .iter()
        .fold(String::with_capacity(HASH_LENGTH), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_hashless_and_bare_tokens() {
        let hash = ca_hash(b"ca");
        assert_eq!(
            JoinToken::parse(&format!("K10{hash}::server:s3cret")),
            Ok(JoinToken {
                ca_hash: Some(hash),
                secret: "s3cret".into()
            })
        );
        assert_eq!(
            JoinToken::parse("K10::node:s3cret"),
            Ok(JoinToken {
                ca_hash: None,
                secret: "s3cret".into()
            })
        );
        assert_eq!(
            JoinToken::parse(" s3cret\n"),
            Ok(JoinToken {
                ca_hash: None,
                secret: "s3cret".into()
            })
        );
    }

    #[test]
    fn refuses_malformed_tokens_as_k3s() {
        assert_eq!(JoinToken::parse(""), Err("token must not be empty".into()));
        assert_eq!(
            JoinToken::parse("K10abc::server:x"),
            Err("invalid token CA hash length".into())
        );
        assert_eq!(
            JoinToken::parse(&format!("K10{}::server:", ca_hash(b"x"))),
            Err("invalid token format".into())
        );
        assert_eq!(
            JoinToken::parse("K10::nocolon"),
            Err("invalid token format".into())
        );
    }

    #[test]
    fn checks_the_ca_against_the_hash() {
        let token = JoinToken::parse(&format!("K10{}::server:s", ca_hash(b"right"))).unwrap();
        assert_eq!(token.verify_ca(b"right"), Ok(()));
        let error = token.verify_ca(b"wrong").unwrap_err();
        assert!(
            error.starts_with("token CA hash does not match the Cluster CA certificate hash: "),
            "{error}"
        );
        assert_eq!(JoinToken::parse("bare").unwrap().verify_ca(b"any"), Ok(()));
    }

    #[test]
    fn hash_matches_the_server_token_hash() {
        assert_eq!(
            ca_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
