//! RollingUpdate of a DaemonSet, as upstream's `rollingUpdate`: without surge, out-of-date pods
//! are deleted while no more than `maxUnavailable` nodes lack an available pod (unavailable old
//! pods go at once); with `maxSurge`, a new pod starts next to an available old one on up to
//! `maxSurge` nodes, and the old pod goes once the new one is available.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::pods::is_available;

/// The daemon pods of one eligible node, by revision.
pub struct NodePods {
    /// The node's name.
    pub node: String,
    /// The oldest pod of the current revision.
    pub new: Option<Arc<Pod>>,
    /// The oldest pod of an older revision.
    pub old: Option<Arc<Pod>>,
}

/// What a rolling update step does.
#[derive(Default)]
pub struct Plan {
    /// Old pods to delete.
    pub delete: Vec<Arc<Pod>>,
    /// Nodes to start a new pod on (surge).
    pub create_on: Vec<String>,
}

/// The step of a rolling update over `nodes`.
pub fn plan(
    nodes: &[NodePods],
    max_surge: i32,
    max_unavailable: i32,
    min_ready: i32,
    now: Timestamp,
) -> Plan {
    let available = |pod: &Arc<Pod>| is_available(pod, min_ready, now);
    let mut plan = Plan::default();
    if max_surge == 0 {
        let mut unavailable = 0;
        let mut candidates = Vec::new();
        for node in nodes {
            match (&node.new, &node.old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new), None) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) if !available(old) => plan.delete.push(Arc::clone(old)),
                (None, Some(_)) if unavailable >= max_unavailable => {}
                (None, Some(old)) => candidates.push(Arc::clone(old)),
            }
        }
        let room = usize::try_from((max_unavailable - unavailable).max(0)).unwrap_or(0);
        plan.delete.extend(candidates.into_iter().take(room));
        return plan;
    }
    let mut surging = 0;
    let mut candidates = Vec::new();
    for node in nodes {
        match (&node.new, &node.old) {
            (_, None) => {}
            (None, Some(old)) if !available(old) => plan.create_on.push(node.node.clone()),
            (None, Some(_)) if surging >= max_surge => {}
            (None, Some(_)) => candidates.push(node.node.clone()),
            (Some(new), Some(_)) if !available(new) => surging += 1,
            (Some(_), Some(old)) => plan.delete.push(Arc::clone(old)),
        }
    }
    let room = usize::try_from((max_surge - surging).max(0)).unwrap_or(0);
    plan.create_on.extend(candidates.into_iter().take(room));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, ready: bool) -> Option<Arc<Pod>> {
        Some(Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(PodStatus {
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
        }))
    }

    fn node(name: &str, new: Option<Arc<Pod>>, old: Option<Arc<Pod>>) -> NodePods {
        NodePods {
            node: name.into(),
            new,
            old,
        }
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|pod| pod.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn without_surge_old_pods_go_within_max_unavailable() {
        let nodes = [
            node("a", None, pod("old-a", true)),
            node("b", None, pod("old-b", true)),
            node("c", None, pod("old-c", false)),
        ];
        let plan = plan(&nodes, 0, 1, 0, Timestamp::now());
        // The unavailable old pod goes at once, plus one within the budget.
        assert_eq!(names(&plan.delete), ["old-c", "old-a"]);
        let busy = [
            node("a", pod("new-a", false), None),
            node("b", None, pod("old-b", true)),
        ];
        assert!(
            super::plan(&busy, 0, 1, 0, Timestamp::now())
                .delete
                .is_empty()
        );
    }

    #[test]
    fn with_surge_new_pods_start_before_old_ones_go() {
        let nodes = [
            node("a", None, pod("old-a", true)),
            node("b", None, pod("old-b", true)),
        ];
        let step = plan(&nodes, 1, 0, 0, Timestamp::now());
        assert_eq!(step.create_on, ["a"]);
        assert!(step.delete.is_empty());
        let nodes = [
            node("a", pod("new-a", true), pod("old-a", true)),
            node("b", None, pod("old-b", true)),
        ];
        let step = plan(&nodes, 1, 0, 0, Timestamp::now());
        assert_eq!(names(&step.delete), ["old-a"]);
        assert_eq!(step.create_on, ["b"]);
    }
}
