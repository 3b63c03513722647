//! NodeAffinity: `spec.nodeSelector` and required node affinity filter nodes; preferred node
//! affinity terms add their weights to the nodes they match.

use super::{FilterResult, Rejection, default_normalize};
use crate::model::node::NodeSpec;
use crate::model::pod::PodInfo;

/// Upstream's `ErrReasonPod`.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// Whether the node satisfies the pod's node selector and required node affinity.
pub fn required_matches(pod: &PodInfo, node: &NodeSpec) -> bool {
    let selector_matches = pod
        .spec
        .node_selector
        .iter()
        .all(|(key, value)| node.labels.get(key) == Some(value));
    selector_matches
        && pod
            .spec
            .required_node_affinity
            .as_ref()
            .is_none_or(|affinity| affinity.matches(&node.labels, &node.name))
}

/// The filter.
pub fn filter(pod: &PodInfo, node: &NodeSpec) -> FilterResult {
    if required_matches(pod, node) {
        Ok(())
    } else {
        Err(Rejection::unresolvable(REASON))
    }
}

/// Whether the pod has preferred terms (the score is skipped otherwise).
pub fn scores(pod: &PodInfo) -> bool {
    !pod.spec.preferred_node_affinity.is_empty()
}

/// The raw score: the sum of the weights of the preferred terms the node matches.
pub fn score(pod: &PodInfo, node: &NodeSpec) -> i64 {
    pod.spec
        .preferred_node_affinity
        .iter()
        .filter(|(_, term)| term.matches(&node.labels, &node.name))
        .map(|(weight, _)| i64::from(*weight))
        .sum()
}

/// Normalisation: the best node scores 100.
pub fn normalize(scores: &mut [i64]) {
    default_normalize(scores, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::{node, with_labels};
    use crate::model::pod::build::pod;
    use crate::model::selector::{NodeSelector, NodeTerm};
    use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};

    fn term(key: &str, operator: &str, values: &[&str]) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: key.into(),
                operator: operator.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            match_fields: None,
        }
    }

    #[test]
    fn selector_and_required_affinity_both_apply() {
        let ssd = with_labels(node("a", 1, 1, 1), &[("disk", "ssd"), ("zone", "z1")]);
        let hdd = with_labels(node("b", 1, 1, 1), &[("disk", "hdd"), ("zone", "z1")]);
        let mut p = pod("p", 0, 0);
        p.spec.node_selector.insert("disk".into(), "ssd".into());
        assert!(filter(&p, &ssd).is_ok());
        assert_eq!(filter(&p, &hdd).unwrap_err().reasons, vec![REASON]);
        p.spec.required_node_affinity = Some(NodeSelector::parse(&[term("zone", "In", &["z2"])]));
        assert!(filter(&p, &ssd).is_err(), "both must hold");
    }

    #[test]
    fn preferred_terms_add_weights() {
        let mut p = pod("p", 0, 0);
        p.spec.preferred_node_affinity = vec![
            (80, NodeTerm::parse(&term("zone", "In", &["z1"]))),
            (20, NodeTerm::parse(&term("disk", "Exists", &[]))),
        ];
        let nodes = [
            with_labels(node("a", 1, 1, 1), &[("zone", "z1"), ("disk", "ssd")]),
            with_labels(node("b", 1, 1, 1), &[("zone", "z2"), ("disk", "ssd")]),
            node("c", 1, 1, 1),
        ];
        let mut scores: Vec<i64> = nodes.iter().map(|n| score(&p, n)).collect();
        assert_eq!(scores, vec![100, 20, 0]);
        normalize(&mut scores);
        assert_eq!(scores, vec![100, 20, 0]);
    }
}
