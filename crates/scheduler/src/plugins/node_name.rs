//! NodeName: a pod that names a node (`spec.nodeName`) fits only that node.

use super::{FilterResult, Rejection};
use crate::model::node::NodeSpec;
use crate::model::pod::PodInfo;

/// Upstream's `ErrReason`.
pub const REASON: &str = "node(s) didn't match the requested node name";

/// The filter.
pub fn filter(pod: &PodInfo, node: &NodeSpec) -> FilterResult {
    if pod.node_name.is_empty() || pod.node_name == node.name {
        Ok(())
    } else {
        Err(Rejection::unresolvable(REASON))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::node;
    use crate::model::pod::build::pod;

    #[test]
    fn only_the_named_node() {
        let mut named = pod("p", 0, 0);
        assert!(filter(&named, &node("a", 1, 1, 1)).is_ok());
        named.node_name = "a".into();
        assert!(filter(&named, &node("a", 1, 1, 1)).is_ok());
        assert_eq!(
            filter(&named, &node("b", 1, 1, 1)).unwrap_err().reasons,
            vec![REASON]
        );
    }
}
