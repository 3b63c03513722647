//! What a Job wants, as pure rules: how many pods should run, which pods count as failed, why the
//! Job ends, and the conditions it gets.

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Whether a Job has a true `Complete` or `Failed` condition.
pub fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

/// How many pods a Job wants running (upstream's `wantActive`).
pub fn want_active(job: &Job, active: i32, succeeded: i32) -> i32 {
    let spec = job.spec.clone().unwrap_or_default();
    if spec.suspend.unwrap_or(false) {
        return 0;
    }
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    match spec.completions {
        None if succeeded > 0 => active,
        None => parallelism,
        Some(completions) => (completions - succeeded).clamp(0, parallelism),
    }
}

/// Whether a failed pod is replaced only once it is `Failed`, not while it terminates
/// (`podReplacementPolicy: Failed`, implied by a `podFailurePolicy`).
pub fn only_replace_failed(spec: &JobSpec) -> bool {
    spec.pod_replacement_policy.as_deref() == Some("Failed") || spec.pod_failure_policy.is_some()
}

/// Whether a pod counts as failed (upstream's `isPodFailed`): `Failed`, or, unless only failed
/// pods are replaced, deleted before it succeeded.
pub fn pod_failed(pod: &Pod, only_replace_failed: bool) -> bool {
    let phase = pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref());
    if phase == Some("Failed") {
        return true;
    }
    !only_replace_failed && pod.metadata.deletion_timestamp.is_some() && phase != Some("Succeeded")
}

/// Whether the restarts of the running and pending pods of a `restartPolicy: OnFailure` Job reached
/// its `backoffLimit` (upstream's `pastBackoffLimitOnFailure`).
pub fn past_backoff_limit_on_failure<'a>(
    spec: &JobSpec,
    pods: impl Iterator<Item = &'a std::sync::Arc<Pod>>,
) -> bool {
    let restart_policy = spec
        .template
        .spec
        .as_ref()
        .and_then(|pod| pod.restart_policy.as_deref());
    if restart_policy != Some("OnFailure") {
        return false;
    }
    let restarts: i64 = pods
        .filter_map(|pod| pod.status.as_ref())
        .filter(|status| matches!(status.phase.as_deref(), Some("Running" | "Pending")))
        .flat_map(|status| {
            status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(status.container_statuses.iter().flatten())
        })
        .map(|container| i64::from(container.restart_count))
        .sum();
    match spec.backoff_limit.unwrap_or(6) {
        0 => restarts > 0,
        limit => restarts >= i64::from(limit),
    }
}

/// Why a Job ends: the interim condition (`SuccessCriteriaMet` or `FailureTarget`) is written
/// first; the final one (`Complete` or `Failed`, same reason and message) once every pod is
/// accounted for and none terminates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Whether the Job succeeds.
    pub success: bool,
    /// The conditions' reason.
    pub reason: String,
    /// The conditions' message.
    pub message: String,
}

impl Target {
    /// The Job fails.
    pub fn failure(reason: &str, message: &str) -> Target {
        Target {
            success: false,
            reason: reason.to_owned(),
            message: message.to_owned(),
        }
    }

    /// The Job succeeds.
    pub fn success(reason: &str, message: &str) -> Target {
        Target {
            success: true,
            ..Target::failure(reason, message)
        }
    }

    /// The interim and final condition types.
    pub fn condition_types(&self) -> (&'static str, &'static str) {
        if self.success {
            ("SuccessCriteriaMet", "Complete")
        } else {
            ("FailureTarget", "Failed")
        }
    }

    /// The target an earlier sync recorded (a true `SuccessCriteriaMet` or `FailureTarget`).
    pub fn recorded(status: &JobStatus) -> Option<Target> {
        let conditions = status.conditions.as_deref().unwrap_or_default();
        let find = |type_: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == type_ && c.status == "True")
        };
        let text = |c: &JobCondition| {
            (
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        };
        if let Some((reason, message)) = find("SuccessCriteriaMet").map(text) {
            return Some(Target::success(&reason, &message));
        }
        find("FailureTarget")
            .map(text)
            .map(|(reason, message)| Target::failure(&reason, &message))
    }
}

/// A true condition of `type_`, now.
pub fn condition(type_: &str, reason: &str, message: &str) -> JobCondition {
    let now = Time(Timestamp::now());
    JobCondition {
        type_: type_.to_owned(),
        status: "True".to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// Adds `condition` unless one of its type is there.
pub fn add_condition(status: &mut JobStatus, condition: JobCondition) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if !conditions.iter().any(|c| c.type_ == condition.type_) {
        conditions.push(condition);
    }
}

/// Sets the condition of `type_` to `status` with `reason` and `message` (a new transition time
/// when any of them changes), adding it only when true (upstream's `ensureJobConditionStatus`).
/// Whether the conditions changed.
pub fn ensure_condition(
    status: &mut JobStatus,
    type_: &str,
    value: &str,
    reason: &str,
    message: &str,
) -> bool {
    let mut fresh = condition(type_, reason, message);
    fresh.status = value.to_owned();
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let same = existing.status == value
                && existing.reason.as_deref() == Some(reason)
                && existing.message.as_deref() == Some(message);
            if !same {
                *existing = fresh;
            }
            !same
        }
        None if value != "False" => {
            conditions.push(fresh);
            true
        }
        None => false,
    }
}

/// Whether the Job has a true condition of `type_`.
pub fn has_true_condition(status: &JobStatus, type_: &str) -> bool {
    status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// `n` as an API count.
pub fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;

    fn job(parallelism: i32, completions: Option<i32>) -> Job {
        Job {
            spec: Some(JobSpec {
                parallelism: Some(parallelism),
                completions,
                ..JobSpec::default()
            }),
            ..Job::default()
        }
    }

    #[test]
    fn deleted_pods_fail_unless_only_failed_ones_are_replaced() {
        use k8s_openapi::api::core::v1::PodStatus;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        let pod = |phase: &str, deleted: bool| Pod {
            metadata: ObjectMeta {
                deletion_timestamp: deleted.then(|| Time(Timestamp::now())),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                phase: Some(phase.to_owned()),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        assert!(pod_failed(&pod("Failed", false), true));
        assert!(pod_failed(&pod("Running", true), false));
        assert!(!pod_failed(&pod("Running", true), true));
        assert!(!pod_failed(&pod("Succeeded", true), false));
        let mut spec = JobSpec::default();
        assert!(!only_replace_failed(&spec));
        spec.pod_replacement_policy = Some("Failed".to_owned());
        assert!(only_replace_failed(&spec));
    }

    #[test]
    fn a_recorded_target_keeps_its_reason() {
        let mut status = JobStatus::default();
        assert_eq!(Target::recorded(&status), None);
        add_condition(
            &mut status,
            condition("FailureTarget", "PodFailurePolicy", "m"),
        );
        assert_eq!(
            Target::recorded(&status),
            Some(Target::failure("PodFailurePolicy", "m"))
        );
        add_condition(
            &mut status,
            condition("SuccessCriteriaMet", "SuccessPolicy", "s"),
        );
        assert_eq!(
            Target::recorded(&status).map(|t| t.condition_types()),
            Some(("SuccessCriteriaMet", "Complete"))
        );
    }

    #[test]
    fn the_suspended_condition_turns_false_but_is_never_added_false() {
        let mut status = JobStatus::default();
        assert!(!ensure_condition(
            &mut status,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed"
        ));
        assert_eq!(status.conditions.as_ref().map(Vec::len), Some(0));
        assert!(ensure_condition(
            &mut status,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended"
        ));
        assert!(has_true_condition(&status, "Suspended"));
        assert!(!ensure_condition(
            &mut status,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended"
        ));
        assert!(ensure_condition(
            &mut status,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed"
        ));
        assert!(!has_true_condition(&status, "Suspended"));
        let conditions = status.conditions.unwrap_or_default();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].reason.as_deref(), Some("JobResumed"));
    }

    #[test]
    fn active_pods_never_exceed_the_remaining_completions() {
        assert_eq!(want_active(&job(2, Some(5)), 0, 0), 2);
        assert_eq!(want_active(&job(2, Some(5)), 2, 4), 1);
        assert_eq!(want_active(&job(2, Some(5)), 0, 5), 0);
        // Without completions: parallelism until one succeeded, then no new pods.
        assert_eq!(want_active(&job(3, None), 0, 0), 3);
        assert_eq!(want_active(&job(3, None), 2, 1), 2);
    }
}
