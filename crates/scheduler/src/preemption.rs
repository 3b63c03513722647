//! Preemption, as upstream's `DefaultPreemption` post-filter: when no node fits a pod, find nodes
//! where removing lower-priority pods would make it fit, keep as many of those pods as possible
//! (most important first), pick the node whose victims matter least, and nominate the pod there.
//! Pure: the caller deletes the victims and records the nomination.

use std::sync::Arc;

use rand::Rng;

use crate::algorithm::{Cycle, Diagnosis, histogram_message};
use crate::cache::Cache;
use crate::model::node::NodeInfo;
use crate::model::pod::PodInfo;
use crate::plugins::{Code, Rejection};

/// Upstream's status for nodes where removing pods cannot help.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Upstream's status for nodes without lower-priority pods.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// At least this many candidate nodes are evaluated (upstream's `minCandidateNodesAbsolute`).
const MIN_CANDIDATES: usize = 100;
/// At least this share of candidate nodes is evaluated (`minCandidateNodesPercentage`).
const MIN_CANDIDATES_PERCENTAGE: usize = 10;

/// What preemption decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The pod may not preempt; the message explains why (appended after `preemption: `).
    NotEligible(String),
    /// No node can be freed; the message is upstream's `0/N nodes are available: ...`.
    NoCandidate(String),
    /// Delete `victims` and nominate the pod to `node`.
    Nominate {
        /// The chosen node.
        node: String,
        /// The pods to evict, most important first.
        victims: Vec<Arc<PodInfo>>,
        /// Lower-priority pods nominated to the same node, whose nominations are cleared.
        displaced: Vec<Arc<PodInfo>>,
    },
}

/// Runs preemption for a pod no node fits.
pub fn preempt(cache: &Cache, pod: &PodInfo, diagnosis: &Diagnosis, rng: &mut impl Rng) -> Outcome {
    if pod.spec.never_preempts {
        return Outcome::NotEligible("not eligible due to preemptionPolicy=Never.".into());
    }
    if !pod.nominated_node.is_empty() {
        let unresolvable_there = diagnosis.rejections.iter().any(|(node, _, r)| {
            *node == pod.nominated_node && r.code == Code::UnschedulableAndUnresolvable
        });
        let terminating_victim = cache.node(&pod.nominated_node).is_some_and(|info| {
            info.pods
                .iter()
                .any(|p| p.priority < pod.priority && p.terminating)
        });
        if !unresolvable_there && terminating_victim {
            return Outcome::NotEligible(
                "not eligible due to a terminating pod on the nominated node.".into(),
            );
        }
    }
    let mut statuses: Vec<Rejection> = Vec::new();
    let potential: Vec<&str> = diagnosis
        .rejections
        .iter()
        .filter_map(|(node, _, rejection)| {
            if rejection.code == Code::Unschedulable {
                Some(node.as_str())
            } else {
                statuses.push(Rejection::unresolvable(NOT_HELPFUL));
                None
            }
        })
        .collect();
    let cycle = Cycle::new(pod, cache);
    let wanted = (potential.len() * MIN_CANDIDATES_PERCENTAGE / 100)
        .max(MIN_CANDIDATES)
        .min(potential.len());
    let offset = if potential.is_empty() {
        0
    } else {
        rng.random_range(0..potential.len())
    };
    let mut candidates: Vec<(String, Vec<Arc<PodInfo>>)> = Vec::new();
    let mut evaluated = 0;
    for index in 0..potential.len() {
        if candidates.len() >= wanted {
            break;
        }
        let name = potential[(offset + index) % potential.len()];
        let Some(info) = cache.node(name) else {
            continue;
        };
        evaluated += 1;
        match victims_on(&cycle, pod, info, cache) {
            Ok(victims) => candidates.push((name.to_owned(), victims)),
            Err(rejection) => statuses.push(rejection),
        }
    }
    if candidates.is_empty() {
        let absent = diagnosis.node_count.saturating_sub(statuses.len());
        let not_helpful = Rejection::unresolvable(NOT_HELPFUL);
        let message = histogram_message(
            diagnosis.node_count,
            statuses
                .iter()
                .chain(std::iter::repeat_n(&not_helpful, absent)),
        );
        tracing::debug!(pod = %pod.key(), evaluated, "no preemption candidate");
        return Outcome::NoCandidate(message);
    }
    let (node, victims) = pick(candidates);
    let displaced = cache
        .nominated_on(&node)
        .filter(|other| other.uid != pod.uid && other.priority < pod.priority)
        .cloned()
        .collect();
    Outcome::Nominate {
        node,
        victims,
        displaced,
    }
}

/// Upstream's `MoreImportantPod`: higher priority, then earlier start.
fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.started_ms.cmp(&b.started_ms))
}

/// The fewest lower-priority pods to remove from the node for the pod to fit.
fn victims_on(
    cycle: &Cycle<'_>,
    pod: &PodInfo,
    info: &NodeInfo,
    cache: &Cache,
) -> Result<Vec<Arc<PodInfo>>, Rejection> {
    let mut node = info.clone();
    let mut potential: Vec<Arc<PodInfo>> = info
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Rejection::unresolvable(NO_VICTIMS));
    }
    for victim in &potential {
        node.remove_pod(&victim.uid);
    }
    cycle
        .filter(&node, cache)
        .map_err(|(_, rejection)| rejection)?;
    potential.sort_by(|a, b| more_important(a, b));
    let mut victims = Vec::new();
    for candidate in potential {
        node.add_pod(Arc::clone(&candidate));
        if cycle.filter(&node, cache).is_err() {
            node.remove_pod(&candidate.uid);
            victims.push(candidate);
        }
    }
    if victims.is_empty() {
        return Err(Rejection::unresolvable(NO_VICTIMS));
    }
    Ok(victims)
}

/// Upstream's `pickOneNodeForPreemption` (no PodDisruptionBudgets counted): the lowest
/// highest-priority victim, then the lowest priority sum, then the fewest victims, then the latest
/// start of the most important victims, then the first.
fn pick(candidates: Vec<(String, Vec<Arc<PodInfo>>)>) -> (String, Vec<Arc<PodInfo>>) {
    let key = |victims: &Vec<Arc<PodInfo>>| {
        let highest = victims.iter().map(|v| v.priority).max().unwrap_or(i32::MIN);
        let sum: i64 = victims
            .iter()
            .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
            .sum();
        let earliest_of_highest = victims
            .iter()
            .filter(|v| v.priority == highest)
            .map(|v| v.started_ms)
            .min()
            .unwrap_or(0);
        (
            highest,
            sum,
            victims.len(),
            std::cmp::Reverse(earliest_of_highest),
        )
    };
    let mut best: Option<(String, Vec<Arc<PodInfo>>)> = None;
    for candidate in candidates {
        let better = match &best {
            None => true,
            Some((_, current)) => key(&candidate.1) < key(current),
        };
        if better {
            best = Some(candidate);
        }
    }
    best.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::{Unschedulable, schedule};
    use crate::model::node::build::{node, with_taint};
    use crate::model::pod::build::pod;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn running(
        name: &str,
        node: &str,
        milli_cpu: i64,
        priority: i32,
        started_ms: i64,
    ) -> Arc<PodInfo> {
        let mut p = pod(name, milli_cpu, 0);
        p.node_name = node.into();
        p.priority = priority;
        p.started_ms = started_ms;
        Arc::new(p)
    }

    fn diagnose(cache: &Cache, p: &PodInfo) -> Diagnosis {
        match schedule(cache, p, &mut 0, &mut StdRng::seed_from_u64(1)) {
            Err(Unschedulable::NoFit(diagnosis)) => diagnosis,
            other => panic!("expected no fit, got {other:?}"),
        }
    }

    #[test]
    fn evicts_the_fewest_least_important_pods() {
        let mut cache = Cache::new();
        cache.upsert_node(node("a", 1000, 1 << 30, 110));
        cache.upsert_node(node("b", 1000, 1 << 30, 110));
        // a: two low pods (priority 1); b: one pod of priority 5.
        cache.add_assigned_pod(running("a1", "a", 500, 1, 10));
        cache.add_assigned_pod(running("a2", "a", 500, 1, 20));
        cache.add_assigned_pod(running("b1", "b", 1000, 5, 10));
        let mut high = pod("high", 500, 0);
        high.priority = 10;
        let diagnosis = diagnose(&cache, &high);
        let Outcome::Nominate { node, victims, .. } =
            preempt(&cache, &high, &diagnosis, &mut StdRng::seed_from_u64(1))
        else {
            panic!("a node can be freed");
        };
        assert_eq!(node, "a", "lower highest-priority victim wins");
        assert_eq!(victims.len(), 1, "one 500m pod is enough");
        assert_eq!(
            victims[0].name, "a2",
            "the later-started one is less important"
        );
    }

    #[test]
    fn explains_when_preemption_cannot_help() {
        let mut cache = Cache::new();
        cache.upsert_node(with_taint(
            node("a", 1000, 1 << 30, 110),
            "k",
            "v",
            "NoSchedule",
        ));
        cache.upsert_node(node("b", 1000, 1 << 30, 110));
        cache.add_assigned_pod(running("b1", "b", 1000, 5, 10));
        let p = pod("same", 500, 0);
        let diagnosis = diagnose(&cache, &p);
        let Outcome::NoCandidate(message) =
            preempt(&cache, &p, &diagnosis, &mut StdRng::seed_from_u64(1))
        else {
            panic!("nothing to preempt");
        };
        assert_eq!(
            format!("{} preemption: {message}", diagnosis.message()),
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). \
             preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, \
             1 Preemption is not helpful for scheduling."
        );
        let mut never = p.clone();
        never.priority = 100;
        never.spec.never_preempts = true;
        assert_eq!(
            preempt(&cache, &never, &diagnosis, &mut StdRng::seed_from_u64(1)),
            Outcome::NotEligible("not eligible due to preemptionPolicy=Never.".into())
        );
    }

    #[test]
    fn pick_prefers_fewer_and_later_started_victims() {
        let v = |name: &str, priority, started| running(name, "x", 0, priority, started);
        let (node, _) = pick(vec![
            ("two".into(), vec![v("a", 1, 5), v("b", 1, 5)]),
            ("one-early".into(), vec![v("c", 1, 1)]),
            ("one-late".into(), vec![v("d", 1, 9)]),
        ]);
        assert_eq!(node, "one-late");
    }
}
