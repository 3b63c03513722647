//! NodePorts: a pod's host ports must be free on the node (same protocol and port, on the same IP
//! or on `0.0.0.0`, conflict).

use super::{FilterResult, Rejection};
use crate::model::node::NodeInfo;
use crate::model::pod::PodInfo;

/// Upstream's `ErrReason`.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// The filter.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let conflict = pod
        .spec
        .host_ports
        .iter()
        .any(|wanted| node.used_ports.iter().any(|used| used.conflicts(wanted)));
    if conflict {
        Err(Rejection::unschedulable(REASON))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::node;
    use crate::model::pod::HostPort;
    use crate::model::pod::build::pod;
    use std::sync::Arc;

    fn port(ip: &str, protocol: &str, port: i32) -> HostPort {
        HostPort {
            ip: ip.into(),
            protocol: protocol.into(),
            port,
        }
    }

    fn with_ports(name: &str, ports: &[HostPort]) -> PodInfo {
        let mut p = pod(name, 0, 0);
        p.spec.host_ports = ports.to_vec();
        p
    }

    #[test]
    fn conflicting_ports() {
        let mut info = NodeInfo::new(node("n", 1000, 1000, 10));
        info.add_pod(Arc::new(with_ports("old", &[port("10.0.0.1", "TCP", 80)])));
        let cases = [
            (port("0.0.0.0", "TCP", 80), false),
            (port("10.0.0.1", "TCP", 80), false),
            (port("10.0.0.2", "TCP", 80), true),
            (port("10.0.0.1", "UDP", 80), true),
            (port("0.0.0.0", "TCP", 81), true),
        ];
        for (wanted, fits) in cases {
            let result = filter(&with_ports("new", std::slice::from_ref(&wanted)), &info);
            assert_eq!(result.is_ok(), fits, "{wanted:?}");
        }
        assert_eq!(
            filter(&with_ports("new", &[port("0.0.0.0", "TCP", 80)]), &info)
                .unwrap_err()
                .reasons,
            vec![REASON]
        );
    }
}
