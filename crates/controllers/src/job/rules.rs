//! What a Job wants, as pure rules: how many pods should run, and the conditions it gets.

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
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
    fn active_pods_never_exceed_the_remaining_completions() {
        assert_eq!(want_active(&job(2, Some(5)), 0, 0), 2);
        assert_eq!(want_active(&job(2, Some(5)), 2, 4), 1);
        assert_eq!(want_active(&job(2, Some(5)), 0, 5), 0);
        // Without completions: parallelism until one succeeded, then no new pods.
        assert_eq!(want_active(&job(3, None), 0, 0), 3);
        assert_eq!(want_active(&job(3, None), 2, 1), 2);
    }
}
