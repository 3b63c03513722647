//! NodeResourcesFit and NodeResourcesBalancedAllocation: the filter that a node has room for the
//! pod's requests and a pod slot, the `LeastAllocated` score (favours emptier nodes) and the
//! balanced-allocation score (favours nodes whose CPU and memory use stay even).

use std::borrow::Cow;

use super::{Code, FilterResult, MAX_NODE_SCORE, Rejection};
use crate::model::node::NodeInfo;
use crate::model::pod::PodInfo;
use crate::model::resources::Resources;

/// Resources held on the node for pods nominated there by preemption (added to its requests).
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// Their requests.
    pub requests: Resources,
    /// How many pods.
    pub pods: usize,
}

/// The filter: every requested resource fits what is left of the node's allocatable, and a pod
/// slot is free. Every shortage is a reason of its own, like upstream's `fitsRequest`.
pub fn filter(pod: &PodInfo, node: &NodeInfo, held: Option<&Held>) -> FilterResult {
    let allocatable = node
        .node
        .as_ref()
        .map(|node| &node.allocatable)
        .cloned()
        .unwrap_or_default();
    let mut used = node.requested.clone();
    let mut pods = node.pods.len();
    if let Some(held) = held {
        used.add(&held.requests);
        pods += held.pods;
    }
    let request = &pod.spec.requests;
    let mut reasons: Vec<Cow<'static, str>> = Vec::new();
    if pods as i64 + 1 > allocatable.pods {
        reasons.push("Too many pods".into());
    }
    if !request.is_zero() {
        if request.milli_cpu > 0 && request.milli_cpu > allocatable.milli_cpu - used.milli_cpu {
            reasons.push("Insufficient cpu".into());
        }
        if request.memory > 0 && request.memory > allocatable.memory - used.memory {
            reasons.push("Insufficient memory".into());
        }
        if request.ephemeral_storage > 0
            && request.ephemeral_storage > allocatable.ephemeral_storage - used.ephemeral_storage
        {
            reasons.push("Insufficient ephemeral-storage".into());
        }
        for (name, quantity) in &request.scalars {
            if *quantity > 0 && *quantity > allocatable.scalar(name) - used.scalar(name) {
                reasons.push(format!("Insufficient {name}").into());
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            code: Code::Unschedulable,
            reasons,
        })
    }
}

/// `LeastAllocated` with upstream's default resources (CPU and memory, weight 1 each): the share of
/// each resource left free after placing the pod, counting non-zero defaults for pods without
/// requests.
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(spec) = &node.node else {
        return 0;
    };
    let pairs = [
        (
            spec.allocatable.milli_cpu,
            node.non_zero_requested.milli_cpu + pod.spec.non_zero.milli_cpu,
        ),
        (
            spec.allocatable.memory,
            node.non_zero_requested.memory + pod.spec.non_zero.memory,
        ),
    ];
    let (mut total, mut weights) = (0, 0);
    for (allocatable, requested) in pairs {
        if allocatable == 0 {
            continue;
        }
        let score = if requested > allocatable {
            0
        } else {
            (allocatable - requested) * MAX_NODE_SCORE / allocatable
        };
        total += score;
        weights += 1;
    }
    if weights == 0 { 0 } else { total / weights }
}

/// Whether the balanced-allocation score applies: it is skipped for pods requesting no CPU and no
/// memory (upstream, since kubernetes/kubernetes#129138).
pub fn balanced_applies(pod: &PodInfo) -> bool {
    pod.spec.requests.milli_cpu != 0 || pod.spec.requests.memory != 0
}

/// `NodeResourcesBalancedAllocation`: 100 × (1 − the standard deviation of the CPU and memory
/// fractions requested after placing the pod), on actual requests.
pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(spec) = &node.node else {
        return 0;
    };
    let pairs = [
        (
            spec.allocatable.milli_cpu,
            node.requested.milli_cpu + pod.spec.requests.milli_cpu,
        ),
        (
            spec.allocatable.memory,
            node.requested.memory + pod.spec.requests.memory,
        ),
    ];
    let fractions: Vec<f64> = pairs
        .iter()
        .filter(|(allocatable, _)| *allocatable != 0)
        .map(|(allocatable, requested)| (*requested as f64 / *allocatable as f64).min(1.0))
        .collect();
    let deviation = match fractions.as_slice() {
        [a, b] => ((a - b) / 2.0).abs(),
        [] | [_] => 0.0,
        many => {
            let mean = many.iter().sum::<f64>() / many.len() as f64;
            (many.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / many.len() as f64).sqrt()
        }
    };
    ((1.0 - deviation) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::node;
    use crate::model::pod::build::pod;
    use std::sync::Arc;

    const GI: i64 = 1 << 30;

    fn node_with(pods: &[PodInfo]) -> NodeInfo {
        let mut info = NodeInfo::new(node("n", 4000, 16 * GI, 3));
        for p in pods {
            info.add_pod(Arc::new(p.clone()));
        }
        info
    }

    #[test]
    fn fit_lists_every_shortage() {
        let info = node_with(&[pod("a", 3000, 8 * GI), pod("b", 500, 0)]);
        assert!(filter(&pod("p", 500, 8 * GI), &info, None).is_ok());
        let rejection = filter(&pod("p", 600, 9 * GI), &info, None).unwrap_err();
        assert_eq!(rejection.code, Code::Unschedulable);
        assert_eq!(
            rejection.reasons,
            vec!["Insufficient cpu", "Insufficient memory"]
        );
        let full = node_with(&[pod("a", 0, 0), pod("b", 0, 0), pod("c", 0, 0)]);
        assert_eq!(
            filter(&pod("p", 0, 0), &full, None).unwrap_err().reasons,
            vec!["Too many pods"]
        );
        let mut gpu = pod("p", 0, 0);
        gpu.spec
            .requests
            .scalars
            .insert("example.com/gpu".into(), 1);
        assert_eq!(
            filter(&gpu, &info, None).unwrap_err().reasons,
            vec!["Insufficient example.com/gpu"]
        );
        let held = Held {
            requests: pod("n", 500, 0).spec.requests,
            pods: 1,
        };
        assert!(filter(&pod("p", 500, 0), &info, Some(&held)).is_err());
    }

    #[test]
    fn least_allocated_matches_upstream_examples() {
        // Upstream's least_allocated_test: node 4000m/10000 bytes with 3000m/5000 requested by a
        // pod of 3000m/5000: cpu (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50.
        let mut info = NodeInfo::new(node("n", 4000, 10000, 10));
        if let Some(n) = info.node.as_mut() {
            n.allocatable.memory = 10000;
        }
        let p = pod("p", 3000, 5000);
        assert_eq!(least_allocated(&p, &info), (25 + 50) / 2);
        let empty = pod("e", 0, 0);
        // Non-zero defaults: 100m of 4000m and 200 MiB of 10000 bytes (over: 0).
        assert_eq!(least_allocated(&empty, &info), 97 / 2);
    }

    #[test]
    fn balanced_allocation_matches_upstream_examples() {
        // Upstream's balanced_allocation_test: a 3000m/5000 pod on a 4000m/10000 node:
        // fractions 0.75 and 0.5, std 0.125, score 87.
        let mut info = NodeInfo::new(node("n", 4000, 10000, 10));
        if let Some(n) = info.node.as_mut() {
            n.allocatable.memory = 10000;
        }
        assert_eq!(balanced_allocation(&pod("p", 3000, 5000), &info), 87);
        assert!(!balanced_applies(&pod("e", 0, 0)));
        assert!(balanced_applies(&pod("e", 1, 0)));
    }
}
