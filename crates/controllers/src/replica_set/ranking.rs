//! Which pods a shrinking ReplicaSet deletes first, as upstream's `ActivePodsWithRanks`: unassigned
//! before assigned, Pending before Unknown before Running, not ready before ready, lower
//! `controller.kubernetes.io/pod-deletion-cost` first, pods doubled up on a node first, then the
//! most recently ready, the most restarted and the newest (in logarithmic age buckets).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::pods::{is_active, is_ready, ready_since};

/// The annotation that orders deletions explicitly.
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `count` pods of `pods` to delete first; `related` are the active pods of the same workload
/// (all its ReplicaSets), for spotting pods doubled up on a node.
pub fn pods_to_delete(
    pods: &[Arc<Pod>],
    related: &[Arc<Pod>],
    count: usize,
    now: Timestamp,
) -> Vec<Arc<Pod>> {
    if count >= pods.len() {
        return pods.to_vec();
    }
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|pod| is_active(pod)) {
        *on_node.entry(node_name(pod)).or_default() += 1;
    }
    let mut ranked: Vec<(usize, &Arc<Pod>)> = pods
        .iter()
        .map(|pod| (on_node.get(node_name(pod)).copied().unwrap_or(0), pod))
        .collect();
    ranked.sort_by(|(rank_a, a), (rank_b, b)| compare(a, *rank_a, b, *rank_b, now));
    ranked
        .into_iter()
        .take(count)
        .map(|(_, pod)| Arc::clone(pod))
        .collect()
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .unwrap_or("")
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
    {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(DELETION_COST))
        .and_then(|cost| cost.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .map(|status| {
            status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(status.container_statuses.iter().flatten())
                .map(|container| container.restart_count)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The logarithmic age bucket of `time` at `now`.
fn age_bucket(time: Timestamp, now: Timestamp) -> i64 {
    let nanos = now.as_nanosecond() - time.as_nanosecond();
    if nanos > 0 {
        // The integer part of log2, as upstream's int64(math.Log2(float64(d))).
        127 - i64::from(u128::try_from(nanos).unwrap_or(1).leading_zeros())
    } else {
        -1
    }
}

/// Newer (or unknown) times first, by logarithmic bucket; `None` when equal.
fn newer_first(a: Option<Timestamp>, b: Option<Timestamp>, now: Timestamp) -> Option<Ordering> {
    match (a, b) {
        (a, b) if a == b => None,
        (None, _) => Some(Ordering::Less),
        (_, None) => Some(Ordering::Greater),
        (Some(a), Some(b)) => match age_bucket(a, now).cmp(&age_bucket(b, now)) {
            Ordering::Equal => None,
            other => Some(other),
        },
    }
}

fn compare(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> Ordering {
    let (node_a, node_b) = (node_name(a), node_name(b));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return if node_a.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let by_phase = phase_ordinal(a).cmp(&phase_ordinal(b));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    if is_ready(a) != is_ready(b) {
        return if is_ready(a) {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    let by_cost = deletion_cost(a).cmp(&deletion_cost(b));
    if by_cost != Ordering::Equal {
        return by_cost;
    }
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    if is_ready(a) && is_ready(b) {
        let since = |pod: &Pod| ready_since(pod).flatten();
        if let Some(order) = newer_first(since(a), since(b), now) {
            return order;
        }
    }
    let by_restarts = max_restarts(b).cmp(&max_restarts(a));
    if by_restarts != Ordering::Equal {
        return by_restarts;
    }
    let created = |pod: &Pod| pod.metadata.creation_timestamp.as_ref().map(|time| time.0);
    newer_first(created(a), created(b), now).unwrap_or_else(|| {
        if created(a) != created(b) {
            a.metadata.uid.cmp(&b.metadata.uid)
        } else {
            Ordering::Equal
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(name: &str, node: &str, phase: &str, ready: bool, age_seconds: i64) -> Arc<Pod> {
        let now = Timestamp::now();
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(name.into()),
                creation_timestamp: Some(Time(
                    now - k8s_openapi::jiff::SignedDuration::from_secs(age_seconds),
                )),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.into()),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready.then(|| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        ..PodCondition::default()
                    }]
                }),
                ..PodStatus::default()
            }),
        })
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|pod| pod.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn unassigned_pending_and_unready_pods_go_first() {
        let pods = vec![
            pod("running-ready", "n1", "Running", true, 100),
            pod("unassigned", "", "Pending", false, 100),
            pod("pending", "n2", "Pending", false, 100),
            pod("running", "n3", "Running", false, 100),
        ];
        let now = Timestamp::now();
        assert_eq!(
            names(&pods_to_delete(&pods, &pods, 3, now)),
            ["unassigned", "pending", "running"]
        );
    }

    #[test]
    fn doubled_up_then_newer_pods_go_first() {
        let pods = vec![
            pod("old", "n1", "Running", true, 100_000),
            pod("new", "n2", "Running", true, 10),
            pod("double-a", "n3", "Running", true, 100_000),
            pod("double-b", "n3", "Running", true, 100_000),
        ];
        let now = Timestamp::now();
        let first = pods_to_delete(&pods, &pods, 3, now);
        assert_eq!(names(&first)[2], "new");
        assert!(
            names(&first)[..2]
                .iter()
                .all(|name| name.starts_with("double"))
        );
    }
}
