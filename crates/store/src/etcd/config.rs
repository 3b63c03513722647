//! Where the etcd backend connects and how long it waits: endpoints, key prefix and timeouts.

use std::time::Duration;

use crate::{Error, Result};

/// How to reach etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs of the etcd members, `http://host:port` (or `https://`).
    pub endpoints: Vec<String>,
    /// Prepended to every key sent to etcd and stripped from every key read back, like
    /// kube-apiserver's `--etcd-prefix`; empty keeps keys as they are (`/registry/...`). Keep it
    /// short: an update names its key three times, and a write with the longest key and value
    /// leaves about 2 KiB of etcd's default 1.5 MiB request limit for the prefixes and framing.
    pub key_prefix: String,
    /// How long [`super::EtcdStore::connect`] waits for etcd to answer.
    pub connect_timeout: Duration,
    /// How long any single request may take.
    pub request_timeout: Duration,
}

impl EtcdConfig {
    /// A configuration for `endpoints` with no key prefix and the default timeouts (5 s to connect,
    /// 10 s per request).
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            key_prefix: String::new(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }

    /// Parses a `--datastore-endpoint` style list: `http://h1:2379,http://h2:2379`.
    ///
    /// Blanks around entries are ignored; an empty list, an empty entry or one that is not an
    /// `http://` or `https://` URL with a host fails with [`Error::Unavailable`] naming the entry.
    pub fn from_endpoint_list(list: &str) -> Result<Self> {
        let endpoints = list
            .split(',')
            .map(str::trim)
            .map(|endpoint| check_endpoint(list, endpoint).map(|()| endpoint.to_owned()))
            .collect::<Result<Vec<_>>>()?;
        Ok(EtcdConfig::new(endpoints))
    }

    /// The endpoints as one string for error messages: `http://h1:2379,http://h2:2379`.
    pub(super) fn endpoint_list(&self) -> String {
        self.endpoints.join(",")
    }
}

fn check_endpoint(list: &str, endpoint: &str) -> Result<()> {
    let invalid = |reason: &str| Error::Unavailable {
        message: format!("invalid etcd endpoint list {list:?}: {reason}"),
    };
    if endpoint.is_empty() {
        return Err(invalid("empty endpoint"));
    }
    let Some(authority) = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
    else {
        return Err(invalid(&format!(
            "endpoint {endpoint:?} is not an http:// or https:// url"
        )));
    };
    let host = authority.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(invalid(&format!("endpoint {endpoint:?} has no host")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_has_defaults() {
        let config = EtcdConfig::new(["http://127.0.0.1:2379"]);
        assert_eq!(config.endpoints, vec!["http://127.0.0.1:2379".to_owned()]);
        assert_eq!(config.key_prefix, "");
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn endpoint_lists_parse() {
        let config = EtcdConfig::from_endpoint_list("http://h1:2379, https://h2:2379");
        assert!(
            matches!(&config, Ok(c) if c.endpoints == ["http://h1:2379", "https://h2:2379"]),
            "{config:?}"
        );
        let single = EtcdConfig::from_endpoint_list("http://127.0.0.1:2379");
        assert!(matches!(single, Ok(c) if c.endpoint_list() == "http://127.0.0.1:2379"));
    }

    #[test]
    fn bad_endpoint_lists_are_refused() {
        for bad in [
            "",
            " ",
            "http://h1:2379,",
            "h1:2379",
            "unix:///run/etcd.sock",
            "http://",
            "http://:2379",
        ] {
            let result = EtcdConfig::from_endpoint_list(bad);
            assert!(
                matches!(&result, Err(Error::Unavailable { message }) if message.contains("invalid etcd endpoint")),
                "{bad:?}: {result:?}"
            );
        }
    }
}
