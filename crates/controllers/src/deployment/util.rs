//! Deployment arithmetic without I/O, as upstream's `deployment/util`: the pod-template-hash,
//! maxSurge and maxUnavailable fenceposts, revisions and their annotations, proportional scaling
//! and conditions.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The label that tells ReplicaSets of one Deployment apart.
pub const HASH_LABEL: &str = "pod-template-hash";
/// A ReplicaSet's revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions of a ReplicaSet rolled back to.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas plus maxSurge then.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Longest `revision-history` annotation.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Annotations a Deployment does not pass on to its ReplicaSets.
pub const SKIPPED_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Condition types and reasons, as upstream names them.
pub mod reasons {
    /// The `Available` condition.
    pub const AVAILABLE: &str = "Available";
    /// The `Progressing` condition.
    pub const PROGRESSING: &str = "Progressing";
    /// The `ReplicaFailure` condition.
    pub const REPLICA_FAILURE: &str = "ReplicaFailure";
    /// Available: enough replicas.
    pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// Available: not enough replicas.
    pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
    /// Progressing: a new ReplicaSet was created.
    pub const NEW_REPLICA_SET: &str = "NewReplicaSetCreated";
    /// Progressing: the new ReplicaSet already existed.
    pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
    /// Progressing: the rollout is making progress.
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
    /// Progressing: the rollout is complete.
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// Progressing: no progress within `progressDeadlineSeconds`.
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    /// Progressing: paused.
    pub const PAUSED: &str = "DeploymentPaused";
    /// Progressing: resumed.
    pub const RESUMED: &str = "DeploymentResumed";
    /// Progressing: the new ReplicaSet could not be created.
    pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
}

/// The pod-template-hash of a template: FNV-1a (32 bits) of its JSON and the collision count,
/// written with upstream's `SafeEncodeString` alphabet.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(&serde_json::to_vec(template).unwrap_or_default());
    if let Some(count) = collision_count {
        feed(&count.to_le_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|digit| char::from(ALPHANUMS[usize::from(digit) % ALPHANUMS.len()]))
        .collect()
}

/// Whether two templates are equal once the hash label is ignored.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    fn without_hash(template: &PodTemplateSpec) -> serde_json::Value {
        let mut template = template.clone();
        if let Some(labels) = template
            .metadata
            .as_mut()
            .and_then(|metadata| metadata.labels.as_mut())
        {
            labels.remove(HASH_LABEL);
            if labels.is_empty()
                && let Some(metadata) = template.metadata.as_mut()
            {
                metadata.labels = None;
            }
        }
        serde_json::to_value(&template).unwrap_or_default()
    }
    without_hash(a) == without_hash(b)
}

/// Desired replicas of a Deployment (default 1).
pub fn replicas(deployment: &Deployment) -> i32 {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1)
}

/// Desired replicas of a ReplicaSet.
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(0)
}

/// Whether the Deployment rolls with `Recreate`.
pub fn is_recreate(deployment: &Deployment) -> bool {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.strategy.as_ref())
        .and_then(|strategy| strategy.type_.as_deref())
        == Some("Recreate")
}

/// A value or percentage of `total`, rounded up or down.
pub fn scaled_value(value: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match value {
        None => 0,
        Some(IntOrString::Int(value)) => *value,
        Some(IntOrString::String(text)) => {
            let Some(percent) = text
                .strip_suffix('%')
                .and_then(|percent| percent.parse::<i64>().ok())
            else {
                return text.parse().unwrap_or(0);
            };
            let product = percent * i64::from(total);
            let scaled = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(scaled).unwrap_or(0)
        }
    }
}

/// maxSurge and maxUnavailable resolved against the replicas (never both zero).
pub fn fenceposts(deployment: &Deployment) -> (i32, i32) {
    if is_recreate(deployment) {
        return (0, 0);
    }
    let desired = replicas(deployment);
    let rolling = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.strategy.as_ref())
        .and_then(|strategy| strategy.rolling_update.as_ref());
    let default = IntOrString::String("25%".to_owned());
    let surge = scaled_value(
        Some(
            rolling
                .and_then(|r| r.max_surge.as_ref())
                .unwrap_or(&default),
        ),
        desired,
        true,
    );
    let unavailable = scaled_value(
        Some(
            rolling
                .and_then(|r| r.max_unavailable.as_ref())
                .unwrap_or(&default),
        ),
        desired,
        false,
    );
    if surge == 0 && unavailable == 0 {
        return (0, 1);
    }
    (surge, unavailable)
}

/// maxSurge in pods.
pub fn max_surge(deployment: &Deployment) -> i32 {
    fenceposts(deployment).0
}

/// maxUnavailable in pods (at most the replicas).
pub fn max_unavailable(deployment: &Deployment) -> i32 {
    let desired = replicas(deployment);
    if is_recreate(deployment) || desired == 0 {
        return 0;
    }
    fenceposts(deployment).1.min(desired)
}

/// A ReplicaSet's revision (0 when absent or unreadable).
pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(rs, REVISION)
        .and_then(|revision| revision.parse().ok())
        .unwrap_or(0)
}

fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(key))
        .map(String::as_str)
}

/// The `max-replicas` annotation.
pub fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(rs, MAX_REPLICAS).and_then(|value| value.parse().ok())
}

/// The `desired-replicas` annotation.
pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(rs, DESIRED_REPLICAS).and_then(|value| value.parse().ok())
}

/// Sets the replicas annotations; true when they changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_owned(), value);
            changed = true;
        }
    }
    changed
}

/// Copies the Deployment's annotations (but the skipped ones) and sets the revision of the new
/// ReplicaSet (keeping the one it had in `revision-history` when it is rolled back to); adds the
/// replicas annotations to a ReplicaSet about to be created. True when something changed.
pub fn set_new_rs_annotations(
    deployment: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = false;
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (key, value) in deployment.metadata.annotations.iter().flatten() {
        if SKIPPED_ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        if annotations.get(key) != Some(value) {
            annotations.insert(key.clone(), value.clone());
            changed = true;
        }
    }
    let old = annotations.get(REVISION).cloned();
    let old_revision: i64 = match old.as_deref() {
        None | Some("") => 0,
        Some(text) => match text.parse() {
            Ok(revision) => revision,
            Err(_) => return changed,
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION.to_owned(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|old| !old.is_empty()) {
            let history = annotations
                .get(REVISION_HISTORY)
                .cloned()
                .unwrap_or_default();
            let mut revisions: Vec<&str> = history.split(',').filter(|r| !r.is_empty()).collect();
            let mut total = history.len() + old.len() + 1;
            let mut start = 0;
            while total > MAX_REVISION_HISTORY_CHARS && start < revisions.len() {
                total -= revisions[start].len() + 1;
                start += 1;
            }
            if total <= MAX_REVISION_HISTORY_CHARS {
                revisions = revisions.split_off(start);
                revisions.push(&old);
                let joined = revisions.join(",");
                annotations.insert(REVISION_HISTORY.to_owned(), joined);
            }
        }
    }
    if !exists {
        let desired = replicas(deployment);
        changed |= set_replicas_annotations(rs, desired, desired + max_surge(deployment));
    }
    changed
}

/// How many replicas the new ReplicaSet may have now.
pub fn new_rs_new_replicas(
    deployment: &Deployment,
    all: &[&ReplicaSet],
    new_rs: &ReplicaSet,
) -> i32 {
    let desired = replicas(deployment);
    if is_recreate(deployment) {
        return desired;
    }
    let current: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
    let max_total = desired + max_surge(deployment);
    if current >= max_total {
        return rs_replicas(new_rs);
    }
    let up = (max_total - current).min(desired - rs_replicas(new_rs));
    rs_replicas(new_rs) + up
}

/// How many replicas of the `to_add` (negative: remove) a ReplicaSet takes, proportionally to its
/// share of the Deployment before the scale (upstream's `GetProportion`).
pub fn proportion(rs: &ReplicaSet, deployment: &Deployment, to_add: i32, added: i32) -> i32 {
    let size = rs_replicas(rs);
    if size == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let desired = replicas(deployment);
    let fraction = if desired == 0 {
        -size
    } else {
        let max_now = desired + max_surge(deployment);
        let before = match max_replicas_annotation(rs) {
            Some(before) if before != 0 => before,
            _ => deployment
                .status
                .as_ref()
                .and_then(|status| status.replicas)
                .unwrap_or(0),
        };
        if before == 0 {
            0
        } else {
            let scaled = f64::from(size) * f64::from(max_now) / f64::from(before);
            #[allow(clippy::cast_possible_truncation, reason = "replica counts fit in i32")]
            let rounded = scaled.round() as i32;
            rounded - size
        }
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// A condition stamped now.
pub fn condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    DeploymentCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// The condition of `type_`.
pub fn get_condition<'a>(
    status: &'a DeploymentStatus,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == type_)
}

/// Sets a condition unless one with the same status and reason is there (upstream's
/// `SetDeploymentCondition`: the transition time stays while the status does).
pub fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = get_condition(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &condition.type_);
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(condition);
}

/// Removes the condition of `type_`.
pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|condition| condition.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

/// Whether the rollout is complete: every replica updated and available, and this generation seen.
pub fn complete(deployment: &Deployment, status: &DeploymentStatus) -> bool {
    let desired = replicas(deployment);
    status.updated_replicas.unwrap_or(0) == desired
        && status.replicas.unwrap_or(0) == desired
        && status.available_replicas.unwrap_or(0) == desired
        && status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0)
}

/// Whether the new status shows progress over the stored one.
pub fn progressing(deployment: &Deployment, new: &DeploymentStatus) -> bool {
    let old = deployment.status.clone().unwrap_or_default();
    let old_olds = old.replicas.unwrap_or(0) - old.updated_replicas.unwrap_or(0);
    let new_olds = new.replicas.unwrap_or(0) - new.updated_replicas.unwrap_or(0);
    new.updated_replicas.unwrap_or(0) > old.updated_replicas.unwrap_or(0)
        || new_olds < old_olds
        || new.ready_replicas.unwrap_or(0) > old.ready_replicas.unwrap_or(0)
        || new.available_replicas.unwrap_or(0) > old.available_replicas.unwrap_or(0)
}

/// Seconds left before the progress deadline passes (negative when passed); `None` without a
/// deadline or a Progressing condition to measure from.
pub fn deadline_left(deployment: &Deployment, status: &DeploymentStatus) -> Option<i64> {
    let deadline = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.progress_deadline_seconds)
        .filter(|seconds| *seconds != i32::MAX)?;
    let condition = get_condition(status, reasons::PROGRESSING)?;
    let from = condition.last_update_time.as_ref()?.0;
    let now = k8s_openapi::jiff::Timestamp::now();
    Some(from.as_second() + i64::from(deadline) - now.as_second())
}

/// Whether the Deployment has a progress deadline.
pub fn has_progress_deadline(deployment: &Deployment) -> bool {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.progress_deadline_seconds)
        .is_some_and(|seconds| seconds != i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn deployment(replicas: i32, surge: &str, unavailable: &str) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(IntOrString::String(surge.into())),
                        max_unavailable: Some(IntOrString::String(unavailable.into())),
                    }),
                }),
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        }
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailability_down() {
        assert_eq!(fenceposts(&deployment(3, "25%", "25%")), (1, 0));
        assert_eq!(fenceposts(&deployment(10, "25%", "25%")), (3, 2));
        assert_eq!(fenceposts(&deployment(1, "0%", "0%")), (0, 1));
        assert_eq!(max_unavailable(&deployment(2, "1", "5")), 2);
    }

    #[test]
    fn hashes_use_the_safe_alphabet_and_change_with_collisions() {
        let template = PodTemplateSpec::default();
        let hash = template_hash(&template, None);
        assert!(
            hash.chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
        assert_ne!(hash, template_hash(&template, Some(1)));
    }

    #[test]
    fn rolling_back_keeps_the_old_revision_in_the_history() {
        let deployment = deployment(3, "25%", "25%");
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                annotations: Some(BTreeMap::from([(REVISION.to_owned(), "1".to_owned())])),
                ..ObjectMeta::default()
            },
            ..ReplicaSet::default()
        };
        assert!(set_new_rs_annotations(&deployment, &mut rs, 3, true));
        assert_eq!(revision(&rs), 3);
        let annotations = rs.metadata.annotations.unwrap_or_default();
        assert_eq!(
            annotations.get(REVISION_HISTORY).map(String::as_str),
            Some("1")
        );
    }

    #[test]
    fn new_replica_sets_grow_within_the_surge() {
        let deployment = deployment(3, "1", "0");
        let rs = |replicas| ReplicaSet {
            spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
                replicas: Some(replicas),
                ..Default::default()
            }),
            ..ReplicaSet::default()
        };
        let old = rs(3);
        let new = rs(0);
        assert_eq!(new_rs_new_replicas(&deployment, &[&old, &new], &new), 1);
    }
}
