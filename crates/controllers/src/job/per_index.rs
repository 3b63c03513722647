//! `backoffLimitPerIndex` of Indexed Jobs, as upstream's `indexed_job_utils.go`: each pod carries
//! the failures its index saw before it (`batch.kubernetes.io/job-index-failure-count`, and the
//! ignored ones in `batch.kubernetes.io/job-index-ignored-failure-count`); an index fails once a
//! counted failure finds that count at the limit, or a `FailIndex` rule matches. The last failed pod
//! of an index waiting for its replacement keeps its tracking finalizer, so the counts can be
//! carried over to the new pod.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::api::core::v1::Pod;

use super::failure_policy::{self, Action};
use super::indexed::index_of;

/// The annotation with the counted failures of a pod's index before the pod.
pub const FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// The annotation with the ignored failures of a pod's index before the pod.
pub const IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";

/// `(counted, ignored)` failures of a pod's index before it; unreadable or negative values are 0.
pub fn failure_counts(pod: &Pod) -> (i32, i32) {
    let read = |key: &str| {
        pod.metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(key))
            .and_then(|value| value.parse::<i32>().ok())
            .filter(|value| *value >= 0)
            .unwrap_or(0)
    };
    (read(FAILURE_COUNT), read(IGNORED_FAILURE_COUNT))
}

/// Whether the failed (`failed`) pod fails its index (upstream's `isIndexFailed`).
pub fn fails_index(spec: &JobSpec, pod: &Pod, failed: bool) -> bool {
    if !failed {
        return false;
    }
    let matched = failure_policy::matches(spec.pod_failure_policy.as_ref(), pod);
    if matched.action == Some(Action::FailIndex) {
        return true;
    }
    matched.counts && failure_counts(pod).0 >= spec.backoff_limit_per_index.unwrap_or(0)
}

/// The counts for the pod replacing `replaced` (`(0, 0)` for a first pod).
pub fn replacement_counts(spec: &JobSpec, replaced: Option<&Pod>) -> (i32, i32) {
    let Some(replaced) = replaced else {
        return (0, 0);
    };
    let (counted, ignored) = failure_counts(replaced);
    if failure_policy::matches(spec.pod_failure_policy.as_ref(), replaced).counts {
        (counted.saturating_add(1), ignored)
    } else {
        (counted, ignored.saturating_add(1))
    }
}

/// Writes the counts into a new pod's annotations (the ignored one only when not zero).
pub fn annotate(pod: &mut Pod, (counted, ignored): (i32, i32)) {
    let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(FAILURE_COUNT.to_owned(), counted.to_string());
    if ignored > 0 {
        annotations.insert(IGNORED_FAILURE_COUNT.to_owned(), ignored.to_string());
    }
}

/// For each index still waiting for a replacement (`pending`), the failed pod whose finalizer
/// stays until the replacement exists: the one with the most failures before it, then the newest.
pub fn delayed<'a>(
    failed: impl Iterator<Item = &'a Arc<Pod>>,
    pending: impl Fn(i32) -> bool,
) -> BTreeMap<i32, Arc<Pod>> {
    let mut result: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
    let rank = |pod: &Pod| {
        let (counted, ignored) = failure_counts(pod);
        (
            counted.saturating_add(ignored),
            pod.metadata.creation_timestamp.as_ref().map(|time| time.0),
        )
    };
    for pod in failed {
        let Some(index) = index_of(pod).filter(|index| pending(*index)) else {
            continue;
        };
        match result.get(&index) {
            Some(kept) if rank(kept) > rank(pod) => {}
            _ => {
                result.insert(index, Arc::clone(pod));
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::indexed::COMPLETION_INDEX;
    use k8s_openapi::api::batch::v1::{
        PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
    };
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStatus, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(index: i32, counted: &str, exit_code: i32) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(format!("p{index}-{counted}")),
                annotations: Some(BTreeMap::from([
                    (COMPLETION_INDEX.to_owned(), index.to_string()),
                    (FAILURE_COUNT.to_owned(), counted.to_owned()),
                ])),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                phase: Some("Failed".to_owned()),
                container_statuses: Some(vec![ContainerStatus {
                    name: "main".to_owned(),
                    state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code,
                            ..ContainerStateTerminated::default()
                        }),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        })
    }

    fn spec(limit: i32, action: Option<&str>) -> JobSpec {
        JobSpec {
            backoff_limit_per_index: Some(limit),
            pod_failure_policy: action.map(|action| PodFailurePolicy {
                rules: vec![PodFailurePolicyRule {
                    action: action.to_owned(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: None,
                        operator: "In".to_owned(),
                        values: vec![42],
                    }),
                    on_pod_conditions: None,
                }],
            }),
            ..JobSpec::default()
        }
    }

    #[test]
    fn an_index_fails_once_its_count_reaches_the_limit() {
        let spec = spec(1, None);
        assert!(!fails_index(&spec, &pod(0, "0", 1), true));
        assert!(fails_index(&spec, &pod(0, "1", 1), true));
        assert!(!fails_index(&spec, &pod(0, "1", 1), false));
        // A corrupt count reads as 0.
        assert!(!fails_index(&spec, &pod(0, "-3", 1), true));
    }

    #[test]
    fn policy_actions_fail_or_spare_the_index() {
        assert!(fails_index(
            &spec(5, Some("FailIndex")),
            &pod(0, "0", 42),
            true
        ));
        assert!(!fails_index(
            &spec(0, Some("Ignore")),
            &pod(0, "0", 42),
            true
        ));
        assert_eq!(
            replacement_counts(&spec(3, Some("Ignore")), Some(&pod(0, "1", 42))),
            (1, 1)
        );
        assert_eq!(
            replacement_counts(&spec(3, None), Some(&pod(0, "1", 42))),
            (2, 0)
        );
        assert_eq!(replacement_counts(&spec(3, None), None), (0, 0));
    }

    #[test]
    fn the_most_failed_pod_of_a_pending_index_is_kept() {
        let pods = [
            pod(0, "0", 1),
            pod(0, "2", 1),
            pod(0, "1", 1),
            pod(1, "0", 1),
        ];
        let kept = delayed(pods.iter(), |index| index == 0);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[&0].metadata.name.as_deref(), Some("p0-2"));
    }
}
