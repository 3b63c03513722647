//! Defaults for a node's name and address: the hostname, and the IPv4 address of the interface that
//! holds the default route (read from `/proc/net/route`, like k3s picks it).

use std::net::IpAddr;

/// The machine's hostname.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_lowercase())
        .filter(|name| !name.is_empty())
}

/// The IPv4 address of the default route's interface.
pub fn default_node_ip() -> Option<IpAddr> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    let interface = routes.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&"00000000")).then(|| fields[0].to_string())
    })?;
    let addresses = nix::ifaddrs::getifaddrs().ok()?;
    addresses
        .filter(|address| address.interface_name == interface)
        .find_map(|address| {
            address
                .address?
                .as_sockaddr_in()
                .map(|socket| IpAddr::V4(socket.ip()))
        })
}
