//! The arithmetic of a PodDisruptionBudget, as upstream's disruption controller does it, without
//! I/O: how many pods are expected and must stay healthy (`minAvailable` as a number counts the
//! selected pods; percentages and `maxUnavailable` count the scale of the pods' controllers),
//! which recorded disruptions are still pending, how many pods are healthy, and how many
//! disruptions that allows.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::pods::{controller_of, is_ready};

/// How long an eviction's pod may stay before the budget counts it again (upstream's
/// `DeletionTimeout`).
pub const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);

/// What the budget expects of its pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// `status.expectedPods`.
    pub expected: i32,
    /// `status.desiredHealthy`.
    pub desired: i32,
    /// Selected pods without a controller (ignored for scales; reported).
    pub unmanaged: Vec<String>,
}

/// Upstream's `GetScaledValueFromIntOrPercent` rounding up.
fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(value) => Ok(*value),
        IntOrString::String(text) => {
            let percent: i64 = text
                .strip_suffix('%')
                .and_then(|number| number.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {text:?}"))?;
            let value = (percent * i64::from(total) + 99).div_euclid(100);
            Ok(i32::try_from(value).unwrap_or(i32::MAX))
        }
    }
}

/// Upstream's `getExpectedPodCount`; `scale_of` finds the scale of a pod's controller (with the
/// controller's uid, so each controller counts once), `None` when it is no known controller.
pub fn expectation(
    spec: &PodDisruptionBudgetSpec,
    pods: &[&Pod],
    scale_of: impl Fn(&OwnerReference) -> Option<(String, i32)>,
) -> Result<Expectation, String> {
    let expected_scale = || -> Result<(i32, Vec<String>), String> {
        let mut scales: BTreeMap<String, i32> = BTreeMap::new();
        let mut unmanaged = Vec::new();
        for pod in pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let Some(owner) = controller_of(&pod.metadata) else {
                unmanaged.push(name);
                continue;
            };
            if scales.contains_key(&owner.uid) {
                continue;
            }
            let (uid, scale) =
                scale_of(owner).ok_or_else(|| format!("found no controllers for pod {name:?}"))?;
            scales.insert(uid, scale);
        }
        Ok((scales.values().sum(), unmanaged))
    };
    if let Some(max_unavailable) = &spec.max_unavailable {
        let (expected, unmanaged) = expected_scale()?;
        let unavailable = scaled(max_unavailable, expected)?;
        return Ok(Expectation {
            expected,
            desired: (expected - unavailable).max(0),
            unmanaged,
        });
    }
    match &spec.min_available {
        Some(IntOrString::Int(min)) => Ok(Expectation {
            expected: i32::try_from(pods.len()).unwrap_or(i32::MAX),
            desired: *min,
            unmanaged: Vec::new(),
        }),
        Some(percent @ IntOrString::String(_)) => {
            let (expected, unmanaged) = expected_scale()?;
            Ok(Expectation {
                expected,
                desired: scaled(percent, expected)?,
                unmanaged,
            })
        }
        None => Ok(Expectation {
            expected: 0,
            desired: 0,
            unmanaged: Vec::new(),
        }),
    }
}

/// The recorded disruptions still pending (pods not yet being deleted, recorded less than
/// [`DELETION_TIMEOUT`] ago), the pods overdue, and when the first pending one expires.
pub fn pending_disruptions(
    recorded: Option<&BTreeMap<String, Time>>,
    pods: &[&Pod],
    now: Timestamp,
) -> (BTreeMap<String, Time>, Vec<String>, Option<Timestamp>) {
    let mut pending = BTreeMap::new();
    let mut overdue = Vec::new();
    let mut recheck: Option<Timestamp> = None;
    let Some(recorded) = recorded else {
        return (pending, overdue, recheck);
    };
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(at) = recorded.get(&name) else {
            continue;
        };
        let expires = at.0 + DELETION_TIMEOUT;
        if expires < now {
            overdue.push(name);
        } else {
            recheck = Some(recheck.map_or(expires, |earlier| earlier.min(expires)));
            pending.insert(name, at.clone());
        }
    }
    (pending, overdue, recheck)
}

/// Ready pods that are neither being deleted nor about to be (upstream's `countHealthyPods`).
pub fn healthy(pods: &[&Pod], pending: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let count = pods
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter(|pod| {
            pod.metadata
                .name
                .as_ref()
                .and_then(|name| pending.get(name))
                .is_none_or(|at| at.0 + DELETION_TIMEOUT <= now)
        })
        .filter(|pod| is_ready(pod))
        .count();
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// Disruptions allowed: healthy beyond desired, and none while no pod is expected.
pub fn allowed(current: i32, desired: i32, expected: i32) -> i32 {
    let allowed = current - desired;
    if expected <= 0 || allowed <= 0 {
        0
    } else {
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, owner: Option<&str>, ready: bool) -> Pod {
        let owners = owner.map(|uid| {
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": uid, "uid": uid, "controller": true}])
        });
        serde_json::from_value(json!({
            "metadata": {"name": name, "ownerReferences": owners},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        }))
        .expect("a pod")
    }

    fn spec(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudgetSpec {
        PodDisruptionBudgetSpec {
            min_available: min,
            max_unavailable: max,
            ..PodDisruptionBudgetSpec::default()
        }
    }

    #[test]
    fn numbers_percentages_and_max_unavailable() {
        let pods = [
            pod("a", Some("rs1"), true),
            pod("b", Some("rs1"), true),
            pod("c", Some("rs1"), false),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let scale = |owner: &OwnerReference| Some((owner.uid.clone(), 4));
        let number = expectation(&spec(Some(IntOrString::Int(2)), None), &refs, scale);
        assert_eq!(number.map(|e| (e.expected, e.desired)), Ok((3, 2)));
        let percent = expectation(
            &spec(Some(IntOrString::String("50%".into())), None),
            &refs,
            scale,
        );
        assert_eq!(percent.map(|e| (e.expected, e.desired)), Ok((4, 2)));
        let max = expectation(
            &spec(None, Some(IntOrString::String("30%".into()))),
            &refs,
            scale,
        );
        assert_eq!(
            max.map(|e| (e.expected, e.desired)),
            Ok((4, 2)),
            "30% of 4 rounds up to 2"
        );
        let unknown = expectation(&spec(None, Some(IntOrString::Int(1))), &refs, |_| None);
        assert_eq!(unknown, Err("found no controllers for pod \"a\"".into()));
        let bare = [pod("x", None, true)];
        let bare: Vec<&Pod> = bare.iter().collect();
        let unmanaged = expectation(&spec(None, Some(IntOrString::Int(1))), &bare, scale);
        assert_eq!(
            unmanaged.map(|e| (e.expected, e.unmanaged)),
            Ok((0, vec!["x".to_owned()]))
        );
    }

    #[test]
    fn pending_disruptions_do_not_count_as_healthy() {
        let pods = [
            pod("a", None, true),
            pod("b", None, true),
            pod("c", None, false),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let now = Timestamp::from_second(1_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let recorded: BTreeMap<String, Time> = [
            ("a".to_owned(), Time(now - SignedDuration::from_secs(30))),
            ("b".to_owned(), Time(now - SignedDuration::from_secs(600))),
        ]
        .into();
        let (pending, overdue, recheck) = pending_disruptions(Some(&recorded), &refs, now);
        assert_eq!(pending.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(overdue, ["b"]);
        assert_eq!(recheck, Some(now + SignedDuration::from_secs(90)));
        assert_eq!(healthy(&refs, &pending, now), 1);
        assert_eq!(allowed(1, 1, 3), 0);
        assert_eq!(allowed(3, 1, 3), 2);
        assert_eq!(allowed(3, 1, 0), 0);
    }
}
