//! InterPodAffinity: required pod affinity (the node's domain must hold a matching pod), required
//! anti-affinity (it must not, both the incoming pod's and existing pods' terms), and the score from
//! preferred terms of both sides plus existing pods' required affinity (weight 1, upstream's
//! `hardPodAffinityWeight`).

use std::collections::HashMap;

use super::{FilterResult, MAX_NODE_SCORE, Rejection};
use crate::cache::Cache;
use crate::model::node::NodeSpec;
use crate::model::pod::{AffinityTerm, PodInfo, WeightedTerm};
use crate::model::selector::{Labels, Selector};

/// Upstream's `ErrReasonAffinityRulesNotMatch`.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Upstream's `ErrReasonAntiAffinityRulesNotMatch`.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Upstream's `ErrReasonExistingAntiAffinityRulesNotMatch`.
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Counts by topology key, then value.
#[derive(Debug, Default)]
struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    fn add(&mut self, node: &NodeSpec, key: &str, delta: i64) {
        if let Some(value) = node.labels.get(key) {
            *self
                .0
                .entry(key.to_owned())
                .or_default()
                .entry(value.clone())
                .or_insert(0) += delta;
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|values| values.get(value))
            .copied()
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0
            .values()
            .all(|values| values.values().all(|v| *v == 0))
    }
}

/// Replaces a term's namespace selector by the namespaces it selects now (upstream's
/// `mergeAffinityTermNamespacesIfNotEmpty`).
fn merge_namespaces(term: &AffinityTerm, cache: &Cache) -> AffinityTerm {
    let mut merged = term.clone();
    if merged.namespace_selector != Selector::Nothing {
        for (name, labels) in cache.namespaces() {
            if merged.namespace_selector.matches(labels) && !merged.namespaces.contains(name) {
                merged.namespaces.push(name.clone());
            }
        }
        merged.namespace_selector = Selector::Nothing;
    }
    merged
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo) -> bool {
    !terms.is_empty() && terms.iter().all(|term| term.matches(pod, None))
}

/// What the filter needs, computed once per pod over all nodes.
#[derive(Debug)]
pub struct FilterState {
    required: Vec<AffinityTerm>,
    required_anti: Vec<AffinityTerm>,
    existing_anti: TopologyCounts,
    affinity: TopologyCounts,
    anti: TopologyCounts,
}

/// Prepares the filter; `None` when neither the pod nor any existing pod has required terms that
/// concern it.
pub fn prefilter(pod: &PodInfo, cache: &Cache) -> Option<FilterState> {
    let required: Vec<AffinityTerm> = pod
        .spec
        .affinity
        .required
        .iter()
        .map(|t| merge_namespaces(t, cache))
        .collect();
    let required_anti: Vec<AffinityTerm> = pod
        .spec
        .affinity
        .required_anti
        .iter()
        .map(|t| merge_namespaces(t, cache))
        .collect();
    let namespace_labels = cache.namespace_labels(&pod.namespace);
    let mut existing_anti = TopologyCounts::default();
    if cache.any_required_anti_affinity() {
        for info in cache.nodes() {
            let (Some(node), true) = (&info.node, info.pods_with_required_anti_affinity > 0) else {
                continue;
            };
            for existing in &info.pods {
                for term in &existing.spec.affinity.required_anti {
                    if term.matches(pod, namespace_labels) {
                        existing_anti.add(node, &term.topology_key, 1);
                    }
                }
            }
        }
    }
    let mut affinity = TopologyCounts::default();
    let mut anti = TopologyCounts::default();
    if !required.is_empty() || !required_anti.is_empty() {
        for info in cache.nodes() {
            let Some(node) = &info.node else { continue };
            for existing in &info.pods {
                if matches_all(&required, existing) {
                    for term in &required {
                        affinity.add(node, &term.topology_key, 1);
                    }
                }
                for term in &required_anti {
                    if term.matches(existing, None) {
                        anti.add(node, &term.topology_key, 1);
                    }
                }
            }
        }
    }
    if existing_anti.is_empty() && required.is_empty() && required_anti.is_empty() {
        return None;
    }
    Some(FilterState {
        required,
        required_anti,
        existing_anti,
        affinity,
        anti,
    })
}

/// The filter.
pub fn filter(state: &FilterState, pod: &PodInfo, node: &NodeSpec) -> FilterResult {
    let mut pods_exist = true;
    for term in &state.required {
        match node.labels.get(&term.topology_key) {
            Some(value) => {
                if state.affinity.get(&term.topology_key, value) <= 0 {
                    pods_exist = false;
                }
            }
            None => return Err(Rejection::unresolvable(REASON_AFFINITY)),
        }
    }
    // The first pod of a group with affinity to itself may go anywhere with the topology labels.
    if !(pods_exist || state.affinity.is_empty() && matches_all(&state.required, pod)) {
        return Err(Rejection::unresolvable(REASON_AFFINITY));
    }
    for term in &state.required_anti {
        if let Some(value) = node.labels.get(&term.topology_key)
            && state.anti.get(&term.topology_key, value) > 0
        {
            return Err(Rejection::unschedulable(REASON_ANTI_AFFINITY));
        }
    }
    if !state.existing_anti.is_empty()
        && node
            .labels
            .iter()
            .any(|(key, value)| state.existing_anti.get(key, value) > 0)
    {
        return Err(Rejection::unschedulable(REASON_EXISTING_ANTI_AFFINITY));
    }
    Ok(())
}

/// What the score needs: the summed weights by topology domain.
#[derive(Debug)]
pub struct ScoreState {
    scores: TopologyCounts,
}

/// Prepares scoring; `None` when no term on either side can give a node a score.
pub fn prescore(pod: &PodInfo, cache: &Cache) -> Option<ScoreState> {
    let preferred: Vec<WeightedTerm> = pod
        .spec
        .affinity
        .preferred
        .iter()
        .map(|t| WeightedTerm {
            weight: t.weight,
            term: merge_namespaces(&t.term, cache),
        })
        .collect();
    let preferred_anti: Vec<WeightedTerm> = pod
        .spec
        .affinity
        .preferred_anti
        .iter()
        .map(|t| WeightedTerm {
            weight: t.weight,
            term: merge_namespaces(&t.term, cache),
        })
        .collect();
    let has_preferred = !preferred.is_empty() || !preferred_anti.is_empty();
    if !has_preferred && !cache.any_pod_affinity() {
        return None;
    }
    let namespace_labels: Option<&Labels> = cache.namespace_labels(&pod.namespace);
    let mut scores = TopologyCounts::default();
    for info in cache.nodes() {
        let Some(node) = &info.node else { continue };
        if node.labels.is_empty() || (!has_preferred && info.pods_with_affinity == 0) {
            continue;
        }
        for existing in &info.pods {
            for t in &preferred {
                if t.term.matches(existing, None) {
                    scores.add(node, &t.term.topology_key, i64::from(t.weight));
                }
            }
            for t in &preferred_anti {
                if t.term.matches(existing, None) {
                    scores.add(node, &t.term.topology_key, -i64::from(t.weight));
                }
            }
            let theirs = &existing.spec.affinity;
            for term in &theirs.required {
                if term.matches(pod, namespace_labels) {
                    scores.add(node, &term.topology_key, 1);
                }
            }
            for t in &theirs.preferred {
                if t.term.matches(pod, namespace_labels) {
                    scores.add(node, &t.term.topology_key, i64::from(t.weight));
                }
            }
            for t in &theirs.preferred_anti {
                if t.term.matches(pod, namespace_labels) {
                    scores.add(node, &t.term.topology_key, -i64::from(t.weight));
                }
            }
        }
    }
    if scores.0.is_empty() {
        return None;
    }
    Some(ScoreState { scores })
}

/// The raw score: the weights of the node's domains.
pub fn score(state: &ScoreState, node: &NodeSpec) -> i64 {
    state
        .scores
        .0
        .iter()
        .filter_map(|(key, values)| values.get(node.labels.get(key)?))
        .sum()
}

/// Normalisation: min-max scaled to 0-100.
pub fn normalize(scores: &mut [i64]) {
    let (Some(&minimum), Some(&maximum)) = (scores.iter().min(), scores.iter().max()) else {
        return;
    };
    let spread = maximum - minimum;
    for score in scores.iter_mut() {
        *score = if spread > 0 {
            (MAX_NODE_SCORE as f64 * ((*score - minimum) as f64 / spread as f64)) as i64
        } else {
            0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::{node, with_labels};
    use crate::model::pod::build::{pod, term, with_labels as pod_labels};
    use std::sync::Arc;

    const HOST: &str = "kubernetes.io/hostname";

    fn cache_with(pods: &[(&str, PodInfo)], nodes: &[&str]) -> Cache {
        let mut cache = Cache::new();
        for name in nodes {
            cache.upsert_node(with_labels(
                node(name, 4000, 1 << 34, 110),
                &[("zone", "z")],
            ));
        }
        for (node_name, p) in pods {
            let mut p = p.clone();
            p.node_name = node_name.to_string();
            cache.add_assigned_pod(Arc::new(p));
        }
        cache
    }

    fn spec(cache: &Cache, name: &str) -> NodeSpec {
        cache.node(name).and_then(|n| n.node.clone()).unwrap()
    }

    #[test]
    fn required_anti_affinity_spreads_replicas() {
        let web = pod_labels(pod("web-0", 0, 0), &[("app", "web")]);
        let cache = cache_with(&[("a", web)], &["a", "b"]);
        let mut p = pod_labels(pod("web-1", 0, 0), &[("app", "web")]);
        p.spec.affinity.required_anti = vec![term("app", "web", HOST)];
        let state = prefilter(&p, &cache).unwrap();
        assert_eq!(
            filter(&state, &p, &spec(&cache, "a")).unwrap_err().reasons,
            vec![REASON_ANTI_AFFINITY]
        );
        assert!(filter(&state, &p, &spec(&cache, "b")).is_ok());
    }

    #[test]
    fn existing_pods_anti_affinity_is_respected() {
        let mut loner = pod_labels(pod("loner", 0, 0), &[("app", "loner")]);
        loner.spec.affinity.required_anti = vec![term("app", "web", HOST)];
        let cache = cache_with(&[("a", loner)], &["a", "b"]);
        let p = pod_labels(pod("web", 0, 0), &[("app", "web")]);
        let state = prefilter(&p, &cache).unwrap();
        assert_eq!(
            filter(&state, &p, &spec(&cache, "a")).unwrap_err().reasons,
            vec![REASON_EXISTING_ANTI_AFFINITY]
        );
        assert!(filter(&state, &p, &spec(&cache, "b")).is_ok());
        assert!(prefilter(&pod("plain", 0, 0), &cache_with(&[], &["a"])).is_none());
    }

    #[test]
    fn required_affinity_follows_matching_pods_or_starts_a_group() {
        let db = pod_labels(pod("db", 0, 0), &[("app", "db")]);
        let cache = cache_with(&[("a", db)], &["a", "b"]);
        let mut p = pod_labels(pod("web", 0, 0), &[("app", "web")]);
        p.spec.affinity.required = vec![term("app", "db", HOST)];
        let state = prefilter(&p, &cache).unwrap();
        assert!(filter(&state, &p, &spec(&cache, "a")).is_ok());
        assert_eq!(
            filter(&state, &p, &spec(&cache, "b")).unwrap_err().reasons,
            vec![REASON_AFFINITY]
        );
        // A pod with affinity to its own kind may start the group anywhere.
        let mut first = pod_labels(pod("cache-0", 0, 0), &[("app", "cache")]);
        first.spec.affinity.required = vec![term("app", "cache", HOST)];
        let state = prefilter(&first, &cache).unwrap();
        assert!(filter(&state, &first, &spec(&cache, "b")).is_ok());
        // But not on a node without the topology label.
        let mut zoned = first.clone();
        zoned.spec.affinity.required = vec![term("app", "cache", "rack")];
        let state = prefilter(&zoned, &cache).unwrap();
        assert!(filter(&state, &zoned, &spec(&cache, "b")).is_err());
    }

    #[test]
    fn preferred_terms_score_domains() {
        let db = pod_labels(pod("db", 0, 0), &[("app", "db")]);
        let cache = cache_with(&[("a", db)], &["a", "b", "c"]);
        let mut p = pod_labels(pod("web", 0, 0), &[("app", "web")]);
        p.spec.affinity.preferred = vec![WeightedTerm {
            weight: 50,
            term: term("app", "db", HOST),
        }];
        let state = prescore(&p, &cache).unwrap();
        let mut scores: Vec<i64> = ["a", "b", "c"]
            .iter()
            .map(|n| score(&state, &spec(&cache, n)))
            .collect();
        assert_eq!(scores, vec![50, 0, 0]);
        normalize(&mut scores);
        assert_eq!(scores, vec![100, 0, 0]);
        p.spec.affinity.preferred = vec![];
        p.spec.affinity.preferred_anti = vec![WeightedTerm {
            weight: 10,
            term: term("app", "db", "zone"),
        }];
        let state = prescore(&p, &cache).unwrap();
        let mut scores: Vec<i64> = ["a", "b"]
            .iter()
            .map(|n| score(&state, &spec(&cache, n)))
            .collect();
        assert_eq!(scores, vec![-10, -10], "the whole zone");
        normalize(&mut scores);
        assert_eq!(scores, vec![0, 0]);
        assert!(prescore(&pod("plain", 0, 0), &cache).is_none());
    }
}
