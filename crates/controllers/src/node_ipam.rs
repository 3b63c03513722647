//! Node IPAM: assigns each Node without one the lowest free `/24` of the cluster CIDR as
//! `spec.podCIDR`/`spec.podCIDRs`, like upstream's range allocator.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;

/// Prefix length of each node's pod range.
pub const NODE_MASK: u8 = 24;

/// An IPv4 range such as `10.42.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Range {
    base: u32,
    prefix: u8,
}

impl Ipv4Range {
    /// Parses `a.b.c.d/n` (n from 8 to 24).
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = text.split_once('/')?;
        let address: Ipv4Addr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        if !(8..=NODE_MASK).contains(&prefix) {
            return None;
        }
        let mask = u32::MAX << (32 - prefix);
        Some(Ipv4Range {
            base: u32::from(address) & mask,
            prefix,
        })
    }

    /// How many node ranges fit.
    fn node_ranges(&self) -> u32 {
        1 << (NODE_MASK - self.prefix)
    }

    /// The `index`-th node range.
    fn node_range(&self, index: u32) -> String {
        let base = self.base + (index << (32 - NODE_MASK));
        format!("{}/{NODE_MASK}", Ipv4Addr::from(base))
    }
}

/// Runs the allocator forever.
pub async fn run(client: kube::Client, range: Ipv4Range) {
    let nodes: Api<Node> = Api::all(client);
    let mut events = watcher(nodes.clone(), watcher::Config::default()).boxed();
    let mut used: BTreeSet<String> = BTreeSet::new();
    // Ranges this allocator wrote, by node: the watch may still deliver older versions of the node
    // without a podCIDR after the patch went through.
    let mut assigned: HashMap<String, String> = HashMap::new();
    let mut pending: Vec<String> = Vec::new();
    // Where the search for a free range starts: after the last one handed out, as upstream's
    // allocator does, so that assigning a range does not test every range before it.
    let mut next: u32 = 0;
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => {
                used.clear();
                used.extend(assigned.values().cloned());
                pending.clear();
            }
            Ok(watcher::Event::InitApply(node) | watcher::Event::Apply(node)) => {
                match node.spec.as_ref().and_then(|spec| spec.pod_cidr.clone()) {
                    Some(cidr) => {
                        used.insert(cidr);
                    }
                    None => {
                        let name = node.metadata.name.clone().unwrap_or_default();
                        if !assigned.contains_key(&name) && !pending.contains(&name) {
                            pending.push(name);
                        }
                    }
                }
            }
            Ok(watcher::Event::Delete(node)) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    if let Some(cidr) = assigned.remove(name) {
                        used.remove(&cidr);
                    }
                }
                if let Some(cidr) = node.spec.and_then(|spec| spec.pod_cidr) {
                    used.remove(&cidr);
                }
            }
            Ok(watcher::Event::InitDone) => {}
            Err(error) => {
                tracing::warn!(%error, "watching nodes failed; retrying");
                continue;
            }
        }
        for name in std::mem::take(&mut pending) {
            let total = range.node_ranges();
            let Some((index, cidr)) = (0..total)
                .map(|step| (next + step) % total)
                .map(|index| (index, range.node_range(index)))
                .find(|(_, cidr)| !used.contains(cidr))
            else {
                tracing::error!(node = %name, "no pod CIDR left in the cluster CIDR");
                continue;
            };
            let patch = serde_json::json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
            match nodes
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    tracing::info!(node = %name, %cidr, "assigned a pod CIDR");
                    next = (index + 1) % total;
                    used.insert(cidr.clone());
                    assigned.insert(name, cidr);
                }
                Err(error) => tracing::warn!(node = %name, %error, "assigning a pod CIDR failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ipv4Range;

    #[test]
    fn node_ranges_split_the_cluster_range() {
        let range = Ipv4Range::parse("10.42.0.0/16").unwrap();
        assert_eq!(range.node_ranges(), 256);
        assert_eq!(range.node_range(0), "10.42.0.0/24");
        assert_eq!(range.node_range(7), "10.42.7.0/24");
        assert!(Ipv4Range::parse("10.42.0.0/25").is_none());
    }
}
