//! Key and value rules shared by every backend, so both accept and refuse exactly the same input.

use crate::{Error, Result};

/// The longest key accepted, in bytes (an API key is `/registry/<group>/<resource>/<namespace>/<name>`).
pub const MAX_KEY_BYTES: usize = 2048;

/// The largest value accepted, in bytes: etcd's default request limit of 1.5 MiB less room for the key
/// and the request's framing, so that a value either backend accepts fits the other one too.
pub const MAX_VALUE_BYTES: usize = 1536 * 1024 - 8 * 1024;

/// Checks that `key` is a well-formed key: non-empty, starting with `/`, at most [`MAX_KEY_BYTES`], with
/// no NUL or other control characters.
pub fn validate_key(key: &str) -> Result<()> {
    check_path(key)?;
    if key.ends_with('/') {
        return Err(invalid(key, "must not end with '/'"));
    }
    Ok(())
}

/// Checks that `prefix` is a well-formed key prefix (a key that may end with `/`).
pub fn validate_prefix(prefix: &str) -> Result<()> {
    check_path(prefix)
}

/// Checks that a value for `key` is within [`MAX_VALUE_BYTES`].
pub fn validate_value(key: &str, value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::TooLarge {
            key: key.to_owned(),
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// The smallest key greater than every key that starts with `prefix` (etcd's range end for a prefix).
///
/// Keys never contain byte 0xFF (they are UTF-8), so incrementing the last byte is always possible.
pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn check_path(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    if !key.starts_with('/') {
        return Err(invalid(key, "must start with '/'"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(invalid(key, "is longer than 2048 bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err(invalid(key, "must not contain control characters"));
    }
    Ok(())
}

fn invalid(key: &str, reason: &'static str) -> Error {
    let mut shown: String = key.chars().take(128).collect();
    if shown.len() < key.len() {
        shown.push_str("...");
    }
    Error::InvalidKey { key: shown, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(validate_key("/registry/pods/default/a").is_ok());
        for bad in ["", "registry", "/a/", "/a\0b", "/a\nb"] {
            assert!(
                matches!(validate_key(bad), Err(Error::InvalidKey { .. })),
                "{bad:?}"
            );
        }
        assert!(validate_key(&format!("/{}", "a".repeat(MAX_KEY_BYTES))).is_err());
        assert!(validate_prefix("/registry/pods/").is_ok());
        assert!(validate_prefix("/").is_ok());
    }

    #[test]
    fn values() {
        assert!(validate_value("/k", &vec![0; MAX_VALUE_BYTES]).is_ok());
        assert!(matches!(
            validate_value("/k", &vec![0; MAX_VALUE_BYTES + 1]),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end("/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end("/"), b"0".to_vec());
    }
}
