//! The pod failure backoff, as upstream's `backoff_utils.go`: after pods fail, their replacements
//! are created only once a delay passed since the last failure, the base delay (10 s,
//! `DefaultJobPodFailureBackOff`) doubling per consecutive failure up to the maximum (10 min,
//! `MaxJobPodFailureBackOff`). A Job's [`Record`] counts the failures since the last success
//! from the finish times of its newly finished pods; with `backoffLimitPerIndex` each index counts
//! its own, from the failure counts its last failed pod carries ([`remaining_per_index`]). All
//! pure.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::per_index::failure_counts;

/// The delays of the pod failure backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after one failure (upstream's `DefaultJobPodFailureBackOff`).
    pub base: Duration,
    /// The longest delay (upstream's `MaxJobPodFailureBackOff`).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(10 * 60),
        }
    }
}

impl Backoff {
    /// How long after `last_failure` pods may be created again after `failures` consecutive
    /// failures (upstream's `getRemainingTimeForFailuresCount`); zero once that passed.
    pub fn remaining(
        &self,
        failures: u32,
        last_failure: Option<Timestamp>,
        now: Timestamp,
    ) -> Duration {
        let Some(last_failure) = last_failure.filter(|_| failures > 0) else {
            return Duration::ZERO;
        };
        let mut delay = self.base;
        for _ in 1..failures {
            delay = delay.saturating_mul(2);
            if delay >= self.max {
                delay = self.max;
                break;
            }
        }
        let elapsed = now.duration_since(last_failure);
        match Duration::try_from(elapsed) {
            // A failure "in the future" (clock skew) waits the whole delay.
            Err(_) => delay,
            Ok(elapsed) => delay.saturating_sub(elapsed),
        }
    }
}

/// A Job's consecutive failures since its last success (upstream's `backoffRecord`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    /// Pods failed after the last success.
    pub failures_after_last_success: u32,
    /// When the last of them finished.
    pub last_failure: Option<Timestamp>,
}

impl Record {
    /// The record after the pods newly finished since it was kept: finish times of the new
    /// succeeded and failed pods (upstream's `newBackoffRecord`). A success resets the count to
    /// the failures after it.
    pub fn advance(self, mut succeeded: Vec<Timestamp>, mut failed: Vec<Timestamp>) -> Record {
        succeeded.sort();
        failed.sort();
        let Some(last_success) = succeeded.last().copied() else {
            let Some(last_failure) = failed.last().copied() else {
                return self;
            };
            return Record {
                failures_after_last_success: self
                    .failures_after_last_success
                    .saturating_add(u32::try_from(failed.len()).unwrap_or(u32::MAX)),
                last_failure: Some(last_failure),
            };
        };
        let after: Vec<Timestamp> = failed
            .into_iter()
            .filter(|time| *time > last_success)
            .collect();
        Record {
            failures_after_last_success: u32::try_from(after.len()).unwrap_or(u32::MAX),
            last_failure: after.last().copied(),
        }
    }

    /// How long the Job still waits before creating pods.
    pub fn remaining(&self, backoff: &Backoff, now: Timestamp) -> Duration {
        backoff.remaining(self.failures_after_last_success, self.last_failure, now)
    }
}

/// How long an index of a `backoffLimitPerIndex` Job still waits, from its last failed pod (none:
/// no wait); that pod's counted and ignored failures plus its own make the count (upstream's
/// `getRemainingTimePerIndex`).
pub fn remaining_per_index(
    backoff: &Backoff,
    last_failed: Option<&Pod>,
    now: Timestamp,
) -> Duration {
    let Some(pod) = last_failed else {
        return Duration::ZERO;
    };
    let (counted, ignored) = failure_counts(pod);
    let failures = counted.saturating_add(ignored).saturating_add(1);
    backoff.remaining(
        u32::try_from(failures).unwrap_or(0),
        Some(finished_at(pod)),
        now,
    )
}

/// When a pod finished (upstream's `getFinishedTime`): the last of its containers' (and sidecars')
/// finish times if all finished, else when it turned not ready, else its deletion time less the
/// grace period, else its creation.
pub fn finished_at(pod: &Pod) -> Timestamp {
    from_containers(pod)
        .or_else(|| not_ready_since(pod))
        .or_else(|| {
            let deletion = pod.metadata.deletion_timestamp.as_ref()?.0;
            let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
            deletion.checked_sub(SignedDuration::from_secs(grace)).ok()
        })
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|time| time.0))
        .unwrap_or(Timestamp::MIN)
}

/// The latest finish time of `statuses` (those `check` keeps), `None` if one did not finish.
fn latest_finish<'a>(
    previous: Option<Timestamp>,
    statuses: impl Iterator<Item = &'a ContainerStatus>,
    check: impl Fn(&ContainerStatus) -> bool,
) -> Option<Timestamp> {
    let mut latest = previous;
    for status in statuses.filter(|status| check(status)) {
        let finished = status
            .state
            .as_ref()
            .and_then(|state| state.terminated.as_ref())
            .and_then(|terminated| terminated.finished_at.as_ref())
            .map(|time| time.0)?;
        if latest.is_none_or(|latest| latest < finished) {
            latest = Some(finished);
        }
    }
    latest
}

fn from_containers(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref()?;
    let finished = latest_finish(None, status.container_statuses.iter().flatten(), |_| true);
    // Sidecars (restartable init containers) finish after the regular containers.
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|spec| spec.init_containers.iter().flatten())
        .filter(|container| container.restart_policy.as_deref() == Some("Always"))
        .map(|container| container.name.as_str())
        .collect();
    latest_finish(
        finished,
        status.init_container_statuses.iter().flatten(),
        |status| sidecars.contains(&status.name.as_str()),
    )
}

fn not_ready_since(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready")
        .filter(|condition| condition.status == "False")
        .and_then(|condition| condition.last_transition_time.as_ref())
        .map(|time| time.0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        Container, ContainerState, ContainerStateTerminated, PodCondition, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;
    use crate::job::per_index::{FAILURE_COUNT, IGNORED_FAILURE_COUNT};

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).expect("a timestamp")
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn terminated(name: &str, finished: Option<i64>) -> ContainerStatus {
        ContainerStatus {
            name: name.to_owned(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    finished_at: finished.map(|second| Time(at(second))),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }
    }

    fn pod(containers: Vec<ContainerStatus>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                creation_timestamp: Some(Time(at(0))),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                container_statuses: Some(containers),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn the_delay_doubles_per_failure_up_to_the_maximum() {
        let backoff = Backoff::default();
        let now = at(1000);
        let delay = |failures| backoff.remaining(failures, Some(now), now);
        assert_eq!(delay(0), Duration::ZERO);
        assert_eq!(delay(1), secs(10));
        assert_eq!(delay(2), secs(20));
        assert_eq!(delay(3), secs(40));
        assert_eq!(delay(6), secs(320));
        assert_eq!(delay(7), secs(600));
        assert_eq!(delay(60), secs(600));
        // Time since the failure counts against the delay.
        assert_eq!(backoff.remaining(2, Some(at(995)), now), secs(15));
        assert_eq!(backoff.remaining(2, Some(at(900)), now), Duration::ZERO);
        assert_eq!(backoff.remaining(2, None, now), Duration::ZERO);
        let short = Backoff {
            base: secs(1),
            max: secs(3),
        };
        assert_eq!(short.remaining(3, Some(now), now), secs(3));
    }

    #[test]
    fn a_record_counts_the_failures_since_the_last_success() {
        let record = Record::default().advance(vec![], vec![at(5), at(3)]);
        assert_eq!(
            record,
            Record {
                failures_after_last_success: 2,
                last_failure: Some(at(5)),
            }
        );
        // Nothing new keeps the record.
        assert_eq!(record.advance(vec![], vec![]), record);
        let record = record.advance(vec![], vec![at(9)]);
        assert_eq!(record.failures_after_last_success, 3);
        assert_eq!(record.remaining(&Backoff::default(), at(19)), secs(30));
        // A success forgets the failures before it.
        let after = record.advance(vec![at(12)], vec![at(10), at(14), at(13)]);
        assert_eq!(
            after,
            Record {
                failures_after_last_success: 2,
                last_failure: Some(at(14)),
            }
        );
        let reset = record.advance(vec![at(12)], vec![]);
        assert_eq!(reset, Record::default());
        assert_eq!(reset.remaining(&Backoff::default(), at(12)), Duration::ZERO);
    }

    #[test]
    fn a_pod_finished_when_its_last_container_did() {
        assert_eq!(
            finished_at(&pod(vec![
                terminated("a", Some(7)),
                terminated("b", Some(9))
            ])),
            at(9)
        );
        // A container without a finish time: the Ready condition, else the deletion, else the
        // creation.
        let mut unfinished = pod(vec![terminated("a", Some(7)), terminated("b", None)]);
        assert_eq!(finished_at(&unfinished), at(0));
        unfinished.metadata.deletion_timestamp = Some(Time(at(40)));
        unfinished.metadata.deletion_grace_period_seconds = Some(30);
        assert_eq!(finished_at(&unfinished), at(10));
        if let Some(status) = unfinished.status.as_mut() {
            status.conditions = Some(vec![PodCondition {
                type_: "Ready".to_owned(),
                status: "False".to_owned(),
                last_transition_time: Some(Time(at(8))),
                ..PodCondition::default()
            }]);
        }
        assert_eq!(finished_at(&unfinished), at(8));
    }

    #[test]
    fn sidecars_finish_a_pod_too() {
        let mut with_sidecar = pod(vec![terminated("main", Some(5))]);
        with_sidecar.spec = Some(PodSpec {
            init_containers: Some(vec![
                Container {
                    name: "setup".to_owned(),
                    ..Container::default()
                },
                Container {
                    name: "proxy".to_owned(),
                    restart_policy: Some("Always".to_owned()),
                    ..Container::default()
                },
            ]),
            ..PodSpec::default()
        });
        if let Some(status) = with_sidecar.status.as_mut() {
            status.init_container_statuses = Some(vec![
                terminated("setup", Some(1)),
                terminated("proxy", Some(6)),
            ]);
        }
        assert_eq!(finished_at(&with_sidecar), at(6));
    }

    #[test]
    fn an_index_waits_by_the_failures_its_last_pod_carries() {
        let backoff = Backoff::default();
        assert_eq!(remaining_per_index(&backoff, None, at(0)), Duration::ZERO);
        let mut failed = pod(vec![terminated("main", Some(100))]);
        assert_eq!(
            remaining_per_index(&backoff, Some(&failed), at(104)),
            secs(6)
        );
        failed.metadata.annotations = Some(BTreeMap::from([
            (FAILURE_COUNT.to_owned(), "1".to_owned()),
            (IGNORED_FAILURE_COUNT.to_owned(), "1".to_owned()),
        ]));
        assert_eq!(
            remaining_per_index(&backoff, Some(&failed), at(110)),
            secs(30)
        );
    }
}
