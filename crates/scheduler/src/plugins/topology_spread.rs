//! PodTopologySpread: `DoNotSchedule` constraints filter nodes whose domain would exceed `maxSkew`
//! over the least-loaded domain; `ScheduleAnyway` constraints (or, for pods without constraints that
//! belong to a Service or workload, upstream's system defaults: zone skew 5, hostname skew 3) score
//! nodes in emptier domains higher.

use std::collections::HashMap;

use super::{FilterResult, MAX_NODE_SCORE, Rejection, node_affinity};
use crate::cache::Cache;
use crate::model::node::{NodeInfo, NodeSpec};
use crate::model::pod::{PodInfo, SpreadConstraint};
use crate::model::selector::Selector;
use crate::model::taints::untolerated;

/// Upstream's `ErrReasonConstraintsNotMatch`.
pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
/// Upstream's `ErrReasonNodeLabelNotMatch`.
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

/// What the filter needs, computed once per pod over all nodes.
#[derive(Debug)]
pub struct HardState {
    constraints: Vec<SpreadConstraint>,
    /// Matching pods per domain, per constraint.
    counts: Vec<HashMap<String, i64>>,
    /// The global minimum per constraint (0 when there are fewer domains than `minDomains`).
    minimum: Vec<i64>,
}

/// Whether a node counts for a constraint (upstream's node inclusion policies).
fn included(constraint: &SpreadConstraint, pod: &PodInfo, node: &NodeSpec) -> bool {
    (!constraint.honor_node_affinity || node_affinity::required_matches(pod, node))
        && (!constraint.honor_node_taints
            || untolerated(&node.taints, &pod.spec.tolerations).is_none())
}

/// Pods on the node in `namespace` that the selector selects, terminating ones excluded (an empty
/// selector counts nothing, like upstream's `countPodsMatchSelector`).
fn count_matching(node: &NodeInfo, selector: &Selector, namespace: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    node.pods
        .iter()
        .filter(|p| !p.terminating && p.namespace == namespace && selector.matches(&p.labels))
        .count() as i64
}

fn has_all_keys(node: &NodeSpec, constraints: &[SpreadConstraint]) -> bool {
    constraints
        .iter()
        .all(|c| node.labels.contains_key(&c.topology_key))
}

/// Prepares the filter; `None` when the pod has no `DoNotSchedule` constraint.
pub fn prefilter(pod: &PodInfo, cache: &Cache) -> Option<HardState> {
    let constraints: Vec<SpreadConstraint> =
        pod.spec.spread.iter().filter(|c| c.hard).cloned().collect();
    if constraints.is_empty() {
        return None;
    }
    let mut counts = vec![HashMap::new(); constraints.len()];
    for info in cache.nodes() {
        let Some(node) = &info.node else { continue };
        if !has_all_keys(node, &constraints) {
            continue;
        }
        for (i, constraint) in constraints.iter().enumerate() {
            if !included(constraint, pod, node) {
                continue;
            }
            let value = node.labels[&constraint.topology_key].clone();
            *counts[i].entry(value).or_insert(0) +=
                count_matching(info, &constraint.selector, &pod.namespace);
        }
    }
    let minimum = constraints
        .iter()
        .zip(&counts)
        .map(|(constraint, domains)| {
            if (domains.len() as i64) < i64::from(constraint.min_domains) {
                0
            } else {
                domains.values().copied().min().unwrap_or(i64::MAX)
            }
        })
        .collect();
    Some(HardState {
        constraints,
        counts,
        minimum,
    })
}

/// The filter.
pub fn filter(state: &HardState, pod: &PodInfo, node: &NodeSpec) -> FilterResult {
    for (i, constraint) in state.constraints.iter().enumerate() {
        let Some(value) = node.labels.get(&constraint.topology_key) else {
            return Err(Rejection::unresolvable(REASON_MISSING_LABEL));
        };
        let self_match = i64::from(constraint.selector.matches(&pod.labels));
        let matching = state.counts[i].get(value).copied().unwrap_or(0);
        let skew = matching + self_match - state.minimum[i];
        if skew > i64::from(constraint.max_skew) {
            return Err(Rejection::unschedulable(REASON));
        }
    }
    Ok(())
}

/// The selector upstream's default spreading uses for a pod without constraints: the selectors of
/// the Services selecting it merged with its controller's (ReplicaSet, StatefulSet,
/// ReplicationController) selector.
pub fn default_selector(pod: &PodInfo, cache: &Cache) -> Selector {
    let mut labels = crate::model::selector::Labels::new();
    for selector in cache
        .workloads
        .services
        .get(&pod.namespace)
        .into_iter()
        .flat_map(|services| services.values())
    {
        if selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
            labels.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut selector = Selector::from_map(&labels);
    if let Some(owner) = &pod.spec.controller {
        let group = owner.api_version.split('/').next().unwrap_or("");
        let known = matches!(
            (group, owner.kind.as_str()),
            ("apps", "ReplicaSet") | ("apps", "StatefulSet") | ("v1", "ReplicationController")
        );
        let key = (
            owner.kind.clone(),
            pod.namespace.clone(),
            owner.name.clone(),
        );
        if let (true, Some(Selector::All(requirements))) =
            (known, cache.workloads.controllers.get(&key))
        {
            selector.and(requirements.iter().cloned());
        }
    }
    selector
}

/// What the score needs, computed once per pod.
#[derive(Debug)]
pub struct SoftState {
    constraints: Vec<SpreadConstraint>,
    require_all: bool,
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

/// Prepares scoring over the feasible nodes; `None` when there is nothing to score (no
/// `ScheduleAnyway` constraint and no default spreading).
pub fn prescore(pod: &PodInfo, cache: &Cache, feasible: &[&NodeInfo]) -> Option<SoftState> {
    let explicit = !pod.spec.spread.is_empty();
    let constraints: Vec<SpreadConstraint> = if explicit {
        pod.spec
            .spread
            .iter()
            .filter(|c| !c.hard)
            .cloned()
            .collect()
    } else {
        let selector = default_selector(pod, cache);
        if selector.is_empty() {
            return None;
        }
        [(ZONE, 5), (HOSTNAME, 3)]
            .into_iter()
            .map(|(key, max_skew)| SpreadConstraint {
                max_skew,
                topology_key: key.into(),
                selector: selector.clone(),
                min_domains: 1,
                hard: false,
                honor_node_affinity: true,
                honor_node_taints: false,
            })
            .collect()
    };
    if constraints.is_empty() || cache.node_count() == 0 {
        return None;
    }
    let require_all = explicit;
    let mut counts = vec![HashMap::new(); constraints.len()];
    let mut ignored = 0;
    for info in feasible {
        let Some(node) = &info.node else { continue };
        if require_all && !has_all_keys(node, &constraints) {
            ignored += 1;
            continue;
        }
        for (i, constraint) in constraints.iter().enumerate() {
            if constraint.topology_key == HOSTNAME {
                continue;
            }
            if let Some(value) = node.labels.get(&constraint.topology_key) {
                counts[i].entry(value.clone()).or_insert(0);
            }
        }
    }
    let weights = constraints
        .iter()
        .enumerate()
        .map(|(i, constraint)| {
            let size = if constraint.topology_key == HOSTNAME {
                feasible.len() - ignored
            } else {
                counts[i].len()
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    for info in cache.nodes() {
        let Some(node) = &info.node else { continue };
        if require_all && !has_all_keys(node, &constraints) {
            continue;
        }
        for (i, constraint) in constraints.iter().enumerate() {
            if constraint.topology_key == HOSTNAME || !included(constraint, pod, node) {
                continue;
            }
            let Some(value) = node.labels.get(&constraint.topology_key) else {
                continue;
            };
            if let Some(count) = counts[i].get_mut(value) {
                *count += count_matching(info, &constraint.selector, &pod.namespace);
            }
        }
    }
    Some(SoftState {
        constraints,
        require_all,
        counts,
        weights,
    })
}

/// The raw score (matching pods in the node's domains, weighted; lower is better), `None` for a
/// node that misses a topology key of explicit constraints.
pub fn score(state: &SoftState, pod: &PodInfo, info: &NodeInfo) -> Option<i64> {
    let node = info.node.as_ref()?;
    if state.require_all && !has_all_keys(node, &state.constraints) {
        return None;
    }
    let mut score = 0.0;
    for (i, constraint) in state.constraints.iter().enumerate() {
        let Some(value) = node.labels.get(&constraint.topology_key) else {
            continue;
        };
        let count = if constraint.topology_key == HOSTNAME {
            count_matching(info, &constraint.selector, &pod.namespace)
        } else {
            state.counts[i].get(value).copied().unwrap_or(0)
        };
        score += count as f64 * state.weights[i] + f64::from(constraint.max_skew - 1);
    }
    Some(score.round() as i64)
}

/// Normalisation: the node with the fewest matching pods around scores 100; ignored nodes 0.
pub fn normalize(raw: &[Option<i64>]) -> Vec<i64> {
    let scored = raw.iter().flatten();
    let minimum = scored.clone().copied().min().unwrap_or(0);
    let maximum = scored.copied().max().unwrap_or(0).max(0);
    raw.iter()
        .map(|score| match score {
            None => 0,
            Some(_) if maximum == 0 => MAX_NODE_SCORE,
            Some(score) => MAX_NODE_SCORE * (maximum + minimum - score) / maximum,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::{node, with_labels};
    use crate::model::pod::build::{pod, with_labels as pod_labels};
    use crate::model::selector::Labels;
    use std::sync::Arc;

    fn constraint(key: &str, max_skew: i32, hard: bool) -> SpreadConstraint {
        SpreadConstraint {
            max_skew,
            topology_key: key.into(),
            selector: Selector::from_map(&Labels::from([("app".to_string(), "web".to_string())])),
            min_domains: 1,
            hard,
            honor_node_affinity: true,
            honor_node_taints: false,
        }
    }

    fn cluster(zones: &[(&str, &str, usize)]) -> Cache {
        let mut cache = Cache::new();
        for (name, zone, web_pods) in zones {
            cache.upsert_node(with_labels(
                node(name, 4000, 1 << 34, 110),
                &[("zone", zone)],
            ));
            for i in 0..*web_pods {
                let mut p = pod_labels(pod(&format!("{name}-{i}"), 0, 0), &[("app", "web")]);
                p.node_name = name.to_string();
                cache.add_assigned_pod(Arc::new(p));
            }
        }
        cache
    }

    fn spec(cache: &Cache, name: &str) -> NodeSpec {
        cache.node(name).and_then(|n| n.node.clone()).unwrap()
    }

    #[test]
    fn hard_constraints_keep_the_skew() {
        // Zones z1: 2 pods, z2: 1 pod, z3: 0 pods; maxSkew 1.
        let cache = cluster(&[("a", "z1", 2), ("b", "z2", 1), ("c", "z3", 0)]);
        let mut p = pod_labels(pod("new", 0, 0), &[("app", "web")]);
        p.spec.spread = vec![constraint("zone", 1, true)];
        let state = prefilter(&p, &cache).unwrap();
        assert_eq!(filter(&state, &p, &spec(&cache, "c")), Ok(()));
        assert_eq!(
            filter(&state, &p, &spec(&cache, "b")).unwrap_err().reasons,
            vec![REASON]
        );
        assert!(filter(&state, &p, &spec(&cache, "a")).is_err());
        let unlabeled = node("d", 1, 1, 1);
        assert_eq!(
            filter(&state, &p, &unlabeled).unwrap_err().reasons,
            vec![REASON_MISSING_LABEL]
        );
        // Other pods' labels do not count themselves.
        let other = pod_labels(pod("other", 0, 0), &[("app", "db")]);
        let mut other_spec = other.clone();
        other_spec.spec.spread = vec![constraint("zone", 1, true)];
        let state = prefilter(&other_spec, &cache).unwrap();
        assert!(filter(&state, &other_spec, &spec(&cache, "b")).is_ok());
        assert!(filter(&state, &other_spec, &spec(&cache, "a")).is_err());
    }

    #[test]
    fn min_domains_makes_the_minimum_zero() {
        let cache = cluster(&[("a", "z1", 1), ("b", "z2", 1)]);
        let mut p = pod_labels(pod("new", 0, 0), &[("app", "web")]);
        let mut c = constraint("zone", 1, true);
        c.min_domains = 3;
        p.spec.spread = vec![c];
        let state = prefilter(&p, &cache).unwrap();
        assert!(
            filter(&state, &p, &spec(&cache, "a")).is_err(),
            "1 + 1 - 0 > 1"
        );
    }

    #[test]
    fn soft_constraints_prefer_emptier_domains() {
        let cache = cluster(&[("a", "z1", 3), ("b", "z2", 1), ("c", "z2", 0)]);
        let mut p = pod_labels(pod("new", 0, 0), &[("app", "web")]);
        p.spec.spread = vec![constraint("zone", 1, false)];
        let feasible: Vec<&NodeInfo> = cache.nodes().iter().collect();
        let state = prescore(&p, &cache, &feasible).unwrap();
        let raw: Vec<Option<i64>> = feasible.iter().map(|n| score(&state, &p, n)).collect();
        // Two zones: weight ln(4) = 1.386; z1 3 pods -> 4, z2 1 pod -> 1.
        assert_eq!(raw, vec![Some(4), Some(1), Some(1)]);
        assert_eq!(normalize(&raw), vec![25, 100, 100]);
    }

    #[test]
    fn default_spreading_uses_service_selectors() {
        let mut cache = cluster(&[("a", "z1", 2), ("b", "z1", 0)]);
        let p = pod_labels(pod("new", 0, 0), &[("app", "web")]);
        let feasible: Vec<&NodeInfo> = cache.nodes().iter().collect();
        assert!(
            prescore(&p, &cache, &feasible).is_none(),
            "no service, no default spreading"
        );
        cache.workloads.services.insert(
            "default".into(),
            HashMap::from([(
                "web".to_string(),
                Labels::from([("app".to_string(), "web".to_string())]),
            )]),
        );
        let feasible: Vec<&NodeInfo> = cache.nodes().iter().collect();
        let state = prescore(&p, &cache, &feasible).unwrap();
        let raw: Vec<Option<i64>> = feasible.iter().map(|n| score(&state, &p, n)).collect();
        // No zone label: only hostname counts, weight ln(4); a: 2 pods -> 2*1.386+2 = 4.77 -> 5.
        assert_eq!(raw, vec![Some(5), Some(2)]);
        let normalized = normalize(&raw);
        assert!(normalized[1] > normalized[0]);
    }
}
