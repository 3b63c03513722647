//! What the API server needs to know at start: where its state lives, where it listens, which store.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// The API server's settings (the `kubers server` flags that concern it).
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    /// `--data-dir`: certificates under `server/tls`, the token at `server/token`, SQLite under
    /// `server/db`.
    pub data_dir: PathBuf,
    /// `--write-kubeconfig`: where the admin kubeconfig goes (mode 0600).
    pub kubeconfig_path: PathBuf,
    /// `--bind-address`.
    pub bind_address: IpAddr,
    /// `--https-listen-port`.
    pub port: u16,
    /// `--node-ip`: added to the serving certificate.
    pub node_ip: Option<IpAddr>,
    /// `--datastore-endpoint`: empty for the embedded SQLite store, else etcd endpoints.
    pub datastore_endpoint: String,
    /// `--token`: the node join token; generated when empty.
    pub token: Option<String>,
    /// `--service-cidr`: where service cluster IPs come from; its first address is the `kubernetes`
    /// service's, also in the serving certificate.
    pub service_cidr: Ipv4Cidr,
    /// `--token-auth-file`: a static token file (`token,user,uid,"group1,group2"` lines).
    pub token_auth_file: Option<PathBuf>,
    /// `--authorization-mode`: the authorizers, in order (`AlwaysAllow`, `AlwaysDeny`);
    /// `system:masters` is always allowed first.
    pub authorization_mode: Vec<String>,
    /// The `iss` of service-account tokens and the API server's audience:
    /// `https://kubernetes.default.svc.<cluster domain>`.
    pub service_account_issuer: String,
}

/// An IPv4 range in CIDR notation (`10.43.0.0/16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    network: u32,
    prefix: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n` (n from 8 to 30); `None` when malformed.
    pub fn parse(text: &str) -> Option<Ipv4Cidr> {
        let (address, prefix) = text.split_once('/')?;
        let address: Ipv4Addr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        if !(8..=30).contains(&prefix) {
            return None;
        }
        let mask = u32::MAX << (32 - u32::from(prefix));
        Some(Ipv4Cidr {
            network: u32::from(address) & mask,
            prefix,
        })
    }

    /// The number of assignable addresses (without the network and broadcast addresses).
    pub fn size(&self) -> u32 {
        (1u32 << (32 - u32::from(self.prefix))) - 2
    }

    /// The `index`th assignable address (0 is the first after the network address).
    pub fn nth(&self, index: u32) -> Option<Ipv4Addr> {
        (index < self.size()).then(|| Ipv4Addr::from(self.network + 1 + index))
    }

    /// The position of `address` among the assignable addresses, if it is one.
    pub fn index_of(&self, address: Ipv4Addr) -> Option<u32> {
        let offset = u32::from(address).checked_sub(self.network + 1)?;
        (offset < self.size()).then_some(offset)
    }

    /// The first assignable address.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

impl ApiServerConfig {
    /// `<data-dir>/server`.
    pub fn server_dir(&self) -> PathBuf {
        self.data_dir.join("server")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let cidr = Ipv4Cidr::parse("10.43.0.0/16").expect("valid");
        assert_eq!(cidr.first(), Ipv4Addr::new(10, 43, 0, 1));
        assert_eq!(cidr.size(), 65534);
        assert_eq!(cidr.nth(65533), Some(Ipv4Addr::new(10, 43, 255, 254)));
        assert_eq!(cidr.nth(65534), None);
        assert_eq!(cidr.index_of(Ipv4Addr::new(10, 43, 0, 10)), Some(9));
        assert_eq!(cidr.index_of(Ipv4Addr::new(10, 44, 0, 1)), None);
        assert_eq!(
            Ipv4Cidr::parse("10.43.7.9/24").map(|c| c.to_string()),
            Some("10.43.7.0/24".into())
        );
        assert!(Ipv4Cidr::parse("10.43.0.0/31").is_none());
        assert!(Ipv4Cidr::parse("nonsense").is_none());
    }
}
