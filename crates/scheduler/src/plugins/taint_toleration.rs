//! TaintToleration: a node's `NoSchedule`/`NoExecute` taints keep off pods that do not tolerate
//! them; its `PreferNoSchedule` taints lower its score by how many the pod does not tolerate.

use super::{FilterResult, Rejection, default_normalize};
use crate::model::node::NodeSpec;
use crate::model::pod::PodInfo;
use crate::model::taints::{Toleration, tolerated, untolerated};

/// Upstream's filter reason since kubernetes/kubernetes#134740 (1.35, and 1.34 patch releases):
/// taint keys and values are no longer put in pod status and events.
pub const REASON: &str = "node(s) had untolerated taint(s)";

/// The filter.
pub fn filter(pod: &PodInfo, node: &NodeSpec) -> FilterResult {
    match untolerated(&node.taints, &pod.spec.tolerations) {
        None => Ok(()),
        Some(taint) => {
            tracing::trace!(node = %node.name, pod = %pod.key(), taint = %taint.key, "untolerated taint");
            Err(Rejection::unresolvable(REASON))
        }
    }
}

/// The tolerations that count for scoring: those with no effect or `PreferNoSchedule`.
pub fn scoring_tolerations(pod: &PodInfo) -> Vec<Toleration> {
    pod.spec
        .tolerations
        .iter()
        .filter(|t| t.effect.is_empty() || t.effect == "PreferNoSchedule")
        .cloned()
        .collect()
}

/// The raw score: how many `PreferNoSchedule` taints are not tolerated (lower is better).
pub fn score(tolerations: &[Toleration], node: &NodeSpec) -> i64 {
    node.taints
        .iter()
        .filter(|taint| taint.effect == "PreferNoSchedule" && !tolerated(tolerations, taint))
        .count() as i64
}

/// Normalisation: reversed, so the node with the fewest untolerated taints scores 100.
pub fn normalize(scores: &mut [i64]) {
    default_normalize(scores, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::{node, with_taint};
    use crate::model::pod::build::pod;

    #[test]
    fn hard_taints_filter_and_soft_taints_score() {
        let plain = pod("p", 0, 0);
        let tainted = with_taint(node("a", 1, 1, 1), "dedicated", "gpu", "NoSchedule");
        assert_eq!(filter(&plain, &tainted).unwrap_err().reasons, vec![REASON]);
        let soft = with_taint(node("b", 1, 1, 1), "spot", "", "PreferNoSchedule");
        assert!(filter(&plain, &soft).is_ok());
        let softer = with_taint(soft.clone(), "old", "", "PreferNoSchedule");
        let tolerations = scoring_tolerations(&plain);
        let mut scores = vec![
            score(&tolerations, &node("c", 1, 1, 1)),
            score(&tolerations, &soft),
            score(&tolerations, &softer),
        ];
        assert_eq!(scores, vec![0, 1, 2]);
        normalize(&mut scores);
        assert_eq!(scores, vec![100, 50, 0]);
        let mut tolerant = plain.clone();
        tolerant.spec.tolerations.push(Toleration {
            key: "spot".into(),
            operator: "Exists".into(),
            value: String::new(),
            effect: "PreferNoSchedule".into(),
        });
        assert_eq!(score(&scoring_tolerations(&tolerant), &softer), 1);
    }
}
