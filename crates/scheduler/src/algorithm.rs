//! One scheduling decision, as upstream's `schedulePod`: prepare the per-pod state, filter nodes
//! round-robin until enough feasible ones are found (all of them below 100 nodes, an adaptive share
//! above), score the feasible nodes with the default weights and pick the best (ties at random).
//! When no node fits, the per-node rejections make the `FailedScheduling` message.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rand::Rng;

use crate::cache::Cache;
use crate::model::node::NodeInfo;
use crate::model::pod::PodInfo;
use crate::plugins::node_resources::Held;
use crate::plugins::volume_binding::{self, PodVolumes};
use crate::plugins::{
    Plugin, Rejection, events, image_locality, inter_pod_affinity, node_affinity, node_name,
    node_ports, node_resources, node_unschedulable, taint_toleration, topology_spread,
    volume_restrictions, weights,
};

/// Upstream's message when the cluster has no nodes.
pub const NO_NODES: &str = "no nodes available to schedule pods";

/// Below this many nodes every node is evaluated (upstream's `minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The smallest share of nodes evaluated in large clusters (`minFeasibleNodesPercentageToFind`).
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// A successful decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The chosen node.
    pub node: String,
    /// How many nodes were filtered.
    pub evaluated: usize,
    /// How many of them fit.
    pub feasible: usize,
}

/// Why no node was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unschedulable {
    /// The cluster has no nodes.
    NoNodes,
    /// Every node rejected the pod.
    NoFit(Diagnosis),
}

/// Every node's rejection of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// How many nodes the cluster has.
    pub node_count: usize,
    /// Each rejecting node, the plugin that rejected it, and why.
    pub rejections: Vec<(String, Plugin, Rejection)>,
    /// A PreFilter that rejected the pod before any node was looked at, and why.
    pub pre_filter: Option<(Plugin, Rejection)>,
}

impl Diagnosis {
    /// The cluster events after which the pod is worth retrying.
    pub fn wakes_on(&self) -> u32 {
        self.rejections
            .iter()
            .map(|(_, plugin, _)| plugin)
            .chain(self.pre_filter.iter().map(|(plugin, _)| plugin))
            .fold(0, |mask, plugin| mask | plugin.wakes_on())
    }

    /// `0/N nodes are available: <count> <reason>, ...` with reasons sorted like upstream's
    /// `FitError.Error()`, each group ending with a period; a PreFilter's reasons instead of the
    /// histogram when one rejected the pod.
    pub fn message(&self) -> String {
        if let Some((_, rejection)) = &self.pre_filter {
            let reasons: Vec<&str> = rejection.reasons.iter().map(|r| r.as_ref()).collect();
            return format!(
                "0/{} nodes are available: {}.",
                self.node_count,
                reasons.join(", ")
            );
        }
        histogram_message(self.node_count, self.rejections.iter().map(|(_, _, r)| r))
    }
}

/// Formats upstream's `0/N nodes are available: ...` message for rejections.
pub fn histogram_message<'a>(
    node_count: usize,
    rejections: impl Iterator<Item = &'a Rejection>,
) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for rejection in rejections {
        for reason in &rejection.reasons {
            *counts.entry(reason.as_ref()).or_default() += 1;
        }
    }
    let mut reasons: Vec<String> = counts
        .into_iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    reasons.sort();
    let mut message = format!("0/{node_count} nodes are available:");
    if !reasons.is_empty() {
        message.push_str(&format!(" {}.", reasons.join(", ")));
    }
    message
}

/// Upstream's adaptive `numFeasibleNodesToFind` (percentageOfNodesToScore unset).
pub fn nodes_to_find(node_count: usize) -> usize {
    if node_count < MIN_FEASIBLE_NODES_TO_FIND {
        return node_count;
    }
    let percentage = 50usize
        .saturating_sub(node_count / 125)
        .max(MIN_FEASIBLE_NODES_PERCENTAGE);
    (node_count * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The per-pod state filters share.
pub struct Cycle<'a> {
    /// The pod being scheduled.
    pub pod: &'a PodInfo,
    spread: Option<topology_spread::HardState>,
    affinity: Option<inter_pod_affinity::FilterState>,
    restrictions: Option<volume_restrictions::State>,
    volumes: Option<volume_binding::State>,
    /// A PreFilter's rejection: the pod fits no node.
    rejected: Option<(Plugin, Rejection)>,
    nominations: bool,
}

impl<'a> Cycle<'a> {
    /// Runs the pre-filters.
    pub fn new(pod: &'a PodInfo, cache: &Cache) -> Cycle<'a> {
        let mut rejected = None;
        let restrictions = volume_restrictions::prefilter(pod, cache)
            .map_err(|rejection| rejected = Some((Plugin::VolumeRestrictions, rejection)))
            .ok()
            .flatten();
        let volumes = if rejected.is_none() {
            volume_binding::prefilter(pod, cache)
                .map_err(|rejection| rejected = Some((Plugin::VolumeBinding, rejection)))
                .ok()
                .flatten()
        } else {
            None
        };
        Cycle {
            pod,
            spread: topology_spread::prefilter(pod, cache),
            affinity: inter_pod_affinity::prefilter(pod, cache),
            restrictions,
            volumes,
            rejected,
            nominations: cache.has_nominations(),
        }
    }

    /// The PreFilter rejection, if one rejected the pod.
    pub fn rejected(&self) -> Option<&(Plugin, Rejection)> {
        self.rejected.as_ref()
    }

    /// What binding the pod to `node` needs written first (upstream's PreBind input).
    pub fn pod_volumes(&self, node: &str, cache: &Cache) -> PodVolumes {
        let (Some(state), Some(info)) = (&self.volumes, cache.node(node)) else {
            return PodVolumes::default();
        };
        let Some(spec) = &info.node else {
            return PodVolumes::default();
        };
        volume_binding::find_pod_volumes(state, spec, cache).unwrap_or_default()
    }

    /// Runs every filter on a node in upstream's order; the first rejection wins.
    pub fn filter(&self, info: &NodeInfo, cache: &Cache) -> Result<(), (Plugin, Rejection)> {
        if let Some(rejected) = &self.rejected {
            return Err(rejected.clone());
        }
        let Some(node) = &info.node else {
            return Err((
                Plugin::NodeName,
                Rejection::unresolvable("node(s) not found"),
            ));
        };
        let pod = self.pod;
        let tag = |plugin| move |rejection| (plugin, rejection);
        node_unschedulable::filter(pod, node).map_err(tag(Plugin::NodeUnschedulable))?;
        node_name::filter(pod, node).map_err(tag(Plugin::NodeName))?;
        taint_toleration::filter(pod, node).map_err(tag(Plugin::TaintToleration))?;
        node_affinity::filter(pod, node).map_err(tag(Plugin::NodeAffinity))?;
        node_ports::filter(pod, info).map_err(tag(Plugin::NodePorts))?;
        let held = self.nominations.then(|| held_for(pod, &node.name, cache));
        node_resources::filter(pod, info, held.as_ref()).map_err(tag(Plugin::NodeResourcesFit))?;
        if let Some(state) = &self.restrictions {
            volume_restrictions::filter(state, pod, info)
                .map_err(tag(Plugin::VolumeRestrictions))?;
        }
        if let Some(state) = &self.volumes {
            volume_binding::filter(state, node, cache).map_err(tag(Plugin::VolumeBinding))?;
        }
        if let Some(state) = &self.spread {
            topology_spread::filter(state, pod, node).map_err(tag(Plugin::PodTopologySpread))?;
        }
        if let Some(state) = &self.affinity {
            inter_pod_affinity::filter(state, pod, node).map_err(tag(Plugin::InterPodAffinity))?;
        }
        Ok(())
    }
}

/// Resources held on a node for nominated pods at least as important as `pod`.
fn held_for(pod: &PodInfo, node: &str, cache: &Cache) -> Held {
    let mut held = Held::default();
    for nominated in cache.nominated_on(node) {
        if nominated.uid != pod.uid && nominated.priority >= pod.priority {
            held.requests.add(&nominated.spec.requests);
            held.pods += 1;
        }
    }
    held
}

/// Chooses a node for `pod`. `next_start` is the round-robin position, advanced past the nodes
/// evaluated.
pub fn schedule(
    cache: &Cache,
    pod: &PodInfo,
    next_start: &mut usize,
    rng: &mut impl Rng,
) -> Result<Decision, Unschedulable> {
    let node_count = cache.node_count();
    if node_count == 0 {
        return Err(Unschedulable::NoNodes);
    }
    let cycle = Cycle::new(pod, cache);
    if let Some(rejected) = cycle.rejected() {
        return Err(Unschedulable::NoFit(Diagnosis {
            node_count,
            rejections: Vec::new(),
            pre_filter: Some(rejected.clone()),
        }));
    }
    if !pod.nominated_node.is_empty()
        && let Some(info) = cache.node(&pod.nominated_node)
        && cycle.filter(info, cache).is_ok()
    {
        return Ok(Decision {
            node: pod.nominated_node.clone(),
            evaluated: 1,
            feasible: 1,
        });
    }
    let entries = cache.nodes();
    let wanted = nodes_to_find(node_count);
    let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(wanted.min(entries.len()));
    let mut rejections = Vec::new();
    let mut processed = 0;
    let start = *next_start % entries.len().max(1);
    for offset in 0..entries.len() {
        if feasible.len() >= wanted {
            break;
        }
        let info = &entries[(start + offset) % entries.len()];
        if info.node.is_none() {
            continue;
        }
        processed += 1;
        match cycle.filter(info, cache) {
            Ok(()) => feasible.push(info),
            Err((plugin, rejection)) => {
                rejections.push((info.name().to_owned(), plugin, rejection))
            }
        }
    }
    *next_start = (start + processed) % entries.len().max(1);
    if feasible.is_empty() {
        return Err(Unschedulable::NoFit(Diagnosis {
            node_count,
            rejections,
            pre_filter: None,
        }));
    }
    let evaluated = processed;
    let feasible_count = feasible.len();
    if feasible.len() == 1 {
        return Ok(Decision {
            node: feasible[0].name().to_owned(),
            evaluated,
            feasible: feasible_count,
        });
    }
    let totals = score(cache, pod, &feasible);
    let best = select(&totals, rng);
    Ok(Decision {
        node: feasible[best].name().to_owned(),
        evaluated,
        feasible: feasible_count,
    })
}

/// The weighted, normalised total score of each feasible node.
pub fn score(cache: &Cache, pod: &PodInfo, feasible: &[&NodeInfo]) -> Vec<i64> {
    let mut totals = vec![0i64; feasible.len()];
    let mut add = |scores: &[i64], weight: i64| {
        for (total, score) in totals.iter_mut().zip(scores) {
            *total += score * weight;
        }
    };
    let placeholder = crate::model::node::NodeSpec::default();
    let specs: Vec<&crate::model::node::NodeSpec> = feasible
        .iter()
        .map(|info| info.node.as_ref().unwrap_or(&placeholder))
        .collect();

    let tolerations = taint_toleration::scoring_tolerations(pod);
    let mut scores: Vec<i64> = specs
        .iter()
        .map(|node| taint_toleration::score(&tolerations, node))
        .collect();
    taint_toleration::normalize(&mut scores);
    add(&scores, weights::TAINT_TOLERATION);

    if node_affinity::scores(pod) {
        let mut scores: Vec<i64> = specs
            .iter()
            .map(|node| node_affinity::score(pod, node))
            .collect();
        node_affinity::normalize(&mut scores);
        add(&scores, weights::NODE_AFFINITY);
    }

    let scores: Vec<i64> = feasible
        .iter()
        .map(|info| node_resources::least_allocated(pod, info))
        .collect();
    add(&scores, weights::NODE_RESOURCES_FIT);

    if let Some(state) = topology_spread::prescore(pod, cache, feasible) {
        let raw: Vec<Option<i64>> = feasible
            .iter()
            .map(|info| topology_spread::score(&state, pod, info))
            .collect();
        add(
            &topology_spread::normalize(&raw),
            weights::POD_TOPOLOGY_SPREAD,
        );
    }

    if let Some(state) = inter_pod_affinity::prescore(pod, cache) {
        let mut scores: Vec<i64> = specs
            .iter()
            .map(|node| inter_pod_affinity::score(&state, node))
            .collect();
        inter_pod_affinity::normalize(&mut scores);
        add(&scores, weights::INTER_POD_AFFINITY);
    }

    if node_resources::balanced_applies(pod) {
        let scores: Vec<i64> = feasible
            .iter()
            .map(|info| node_resources::balanced_allocation(pod, info))
            .collect();
        add(&scores, weights::BALANCED_ALLOCATION);
    }

    if !pod.spec.images.is_empty() {
        let scores: Vec<i64> = specs
            .iter()
            .map(|node| image_locality::score(pod, node, cache))
            .collect();
        add(&scores, weights::IMAGE_LOCALITY);
    }
    totals
}

/// The index of the highest total; ties are broken uniformly at random (reservoir sampling, as
/// upstream's `selectHost`).
pub fn select(totals: &[i64], rng: &mut impl Rng) -> usize {
    let mut best = 0;
    let mut ties = 0u32;
    for (index, total) in totals.iter().enumerate() {
        if *total > totals[best] {
            best = index;
            ties = 1;
        } else if *total == totals[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = index;
            }
        }
    }
    best
}

impl Unschedulable {
    /// The cluster events after which the pod is worth retrying.
    pub fn wakes_on(&self) -> u32 {
        match self {
            Unschedulable::NoNodes => events::NODE_ADD,
            Unschedulable::NoFit(diagnosis) => diagnosis.wakes_on(),
        }
    }
}

/// The message for an unschedulable pod, without the preemption part.
pub fn unschedulable_message(error: &Unschedulable) -> Cow<'static, str> {
    match error {
        Unschedulable::NoNodes => NO_NODES.into(),
        Unschedulable::NoFit(diagnosis) => diagnosis.message().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::{node, with_labels, with_taint};
    use crate::model::pod::build::pod;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::sync::Arc;

    const GI: i64 = 1 << 30;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn adaptive_share_of_nodes() {
        assert_eq!(nodes_to_find(50), 50);
        assert_eq!(nodes_to_find(100), 100);
        assert_eq!(nodes_to_find(1000), 420);
        assert_eq!(nodes_to_find(5000), 500);
        assert_eq!(nodes_to_find(10000), 500);
        assert_eq!(nodes_to_find(200), 100);
    }

    #[test]
    fn upstream_message_format() {
        let diagnosis = Diagnosis {
            node_count: 3,
            rejections: vec![
                (
                    "a".into(),
                    Plugin::TaintToleration,
                    Rejection::unresolvable(taint_toleration::REASON),
                ),
                (
                    "b".into(),
                    Plugin::NodeResourcesFit,
                    Rejection {
                        code: crate::plugins::Code::Unschedulable,
                        reasons: vec!["Insufficient cpu".into(), "Insufficient memory".into()],
                    },
                ),
                (
                    "c".into(),
                    Plugin::NodeResourcesFit,
                    Rejection::unschedulable("Insufficient cpu"),
                ),
            ],
            pre_filter: None,
        };
        assert_eq!(
            diagnosis.message(),
            "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint(s), 2 Insufficient cpu."
        );
    }

    #[test]
    fn picks_the_emptier_node_and_sees_assumed_pods() {
        let mut cache = Cache::new();
        cache.upsert_node(node("a", 4000, 16 * GI, 110));
        cache.upsert_node(node("b", 4000, 16 * GI, 110));
        let mut busy = pod("busy", 2000, 4 * GI);
        busy.node_name = "a".into();
        cache.add_assigned_pod(Arc::new(busy));
        let mut start = 0;
        let decision = schedule(&cache, &pod("p", 1000, GI), &mut start, &mut rng()).unwrap();
        assert_eq!(decision.node, "b");
        assert_eq!((decision.evaluated, decision.feasible), (2, 2));
        cache.assume(&pod("p", 1000, GI), "b");
        cache.assume(&pod("q", 1000, 12 * GI), "b");
        let decision = schedule(&cache, &pod("r", 1000, GI), &mut start, &mut rng()).unwrap();
        assert_eq!(decision.node, "a", "assumed pods count");
    }

    #[test]
    fn taints_and_selectors_steer_and_explain() {
        let mut cache = Cache::new();
        cache.upsert_node(with_taint(
            node("a", 4000, 16 * GI, 110),
            "gpu",
            "true",
            "NoSchedule",
        ));
        cache.upsert_node(with_labels(
            node("b", 4000, 16 * GI, 110),
            &[("disk", "hdd")],
        ));
        cache.upsert_node(with_labels(
            node("c", 1000, 16 * GI, 110),
            &[("disk", "ssd")],
        ));
        let mut p = pod("p", 2000, GI);
        let mut start = 0;
        assert_eq!(
            schedule(&cache, &p, &mut start, &mut rng()).unwrap().node,
            "b"
        );
        p.spec.node_selector.insert("disk".into(), "ssd".into());
        let Err(Unschedulable::NoFit(diagnosis)) = schedule(&cache, &p, &mut start, &mut rng())
        else {
            panic!("no node fits");
        };
        assert_eq!(
            diagnosis.message(),
            "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint(s)."
        );
        assert_eq!(
            schedule(&Cache::new(), &p, &mut start, &mut rng()),
            Err(Unschedulable::NoNodes)
        );
    }

    #[test]
    fn soft_taints_lose_to_clean_nodes() {
        let mut cache = Cache::new();
        cache.upsert_node(with_taint(
            node("a", 4000, 16 * GI, 110),
            "spot",
            "",
            "PreferNoSchedule",
        ));
        cache.upsert_node(node("b", 4000, 16 * GI, 110));
        for seed in 0..10 {
            let mut start = seed;
            let decision = schedule(
                &cache,
                &pod("p", 100, GI),
                &mut start,
                &mut StdRng::seed_from_u64(seed as u64),
            );
            assert_eq!(decision.unwrap().node, "b");
        }
    }

    #[test]
    fn large_clusters_evaluate_a_share_round_robin() {
        let mut cache = Cache::new();
        for i in 0..1000 {
            cache.upsert_node(node(&format!("n{i}"), 4000, 16 * GI, 110));
        }
        let mut start = 0;
        let decision = schedule(&cache, &pod("p", 100, GI), &mut start, &mut rng()).unwrap();
        assert_eq!((decision.evaluated, decision.feasible), (420, 420));
        assert_eq!(start, 420);
        schedule(&cache, &pod("q", 100, GI), &mut start, &mut rng()).unwrap();
        assert_eq!(start, 840);
    }

    #[test]
    fn ties_are_broken_at_random() {
        let mut picked = [0; 3];
        let mut rng = rng();
        for _ in 0..300 {
            picked[select(&[5, 5, 5], &mut rng)] += 1;
        }
        assert!(picked.iter().all(|count| *count > 50), "{picked:?}");
        assert_eq!(select(&[1, 9, 3], &mut rng), 1);
    }

    #[test]
    fn nominated_pods_hold_their_resources() {
        let mut cache = Cache::new();
        cache.upsert_node(node("a", 1000, 16 * GI, 110));
        let mut nominee = pod("nominee", 800, 0);
        nominee.priority = 100;
        nominee.nominated_node = "a".into();
        cache.nominate(Arc::new(nominee.clone()));
        let mut start = 0;
        assert!(schedule(&cache, &pod("low", 500, 0), &mut start, &mut rng()).is_err());
        assert_eq!(
            schedule(&cache, &nominee, &mut start, &mut rng())
                .unwrap()
                .node,
            "a",
            "the nominee itself fits"
        );
    }
}
