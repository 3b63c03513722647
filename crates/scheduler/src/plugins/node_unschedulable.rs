//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use super::{FilterResult, Rejection};
use crate::model::node::NodeSpec;
use crate::model::pod::PodInfo;
use crate::model::taints::{Taint, tolerated};

/// Upstream's `ErrReasonUnschedulable`.
pub const REASON: &str = "node(s) were unschedulable";

/// The filter.
pub fn filter(pod: &PodInfo, node: &NodeSpec) -> FilterResult {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: "node.kubernetes.io/unschedulable".into(),
        value: String::new(),
        effect: "NoSchedule".into(),
    };
    if tolerated(&pod.spec.tolerations, &taint) {
        return Ok(());
    }
    Err(Rejection::unresolvable(REASON))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::node;
    use crate::model::pod::build::pod;
    use crate::model::taints::Toleration;

    #[test]
    fn cordoned_nodes_need_a_toleration() {
        let mut cordoned = node("n1", 1000, 1000, 10);
        let plain = pod("p", 0, 0);
        assert!(filter(&plain, &cordoned).is_ok());
        cordoned.unschedulable = true;
        let rejection = filter(&plain, &cordoned).unwrap_err();
        assert_eq!(rejection.reasons, vec![REASON]);
        let mut tolerant = plain.clone();
        tolerant.spec.tolerations.push(Toleration {
            key: "node.kubernetes.io/unschedulable".into(),
            operator: "Exists".into(),
            value: String::new(),
            effect: "NoSchedule".into(),
        });
        assert!(filter(&tolerant, &cordoned).is_ok());
    }
}
