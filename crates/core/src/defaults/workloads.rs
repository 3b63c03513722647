//! Workload defaults (`SetDefaults_Deployment`, `_ReplicaSet`, `_StatefulSet`, `_DaemonSet`, `_Job`,
//! `_CronJob`, `_ReplicationController`), including their pod templates.

use serde_json::{Value, json};

use super::{or_insert, pods};

fn template(object: &mut Value) {
    if let Some(template) = object.pointer_mut("/spec/template") {
        pods::template(template);
    }
}

fn spec(object: &mut Value) -> Option<&mut Value> {
    or_insert(object, "spec", json!({}))
}

/// `apps/v1` Deployment.
pub fn deployment(object: &mut Value) {
    if let Some(spec) = spec(object) {
        or_insert(spec, "replicas", json!(1));
        or_insert(spec, "revisionHistoryLimit", json!(10));
        or_insert(spec, "progressDeadlineSeconds", json!(600));
        if let Some(strategy) = or_insert(spec, "strategy", json!({"type": "RollingUpdate"})) {
            or_insert(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == "RollingUpdate" {
                if let Some(rolling) = or_insert(strategy, "rollingUpdate", json!({})) {
                    or_insert(rolling, "maxUnavailable", json!("25%"));
                    or_insert(rolling, "maxSurge", json!("25%"));
                }
            }
        }
    }
    template(object);
}

/// `apps/v1` ReplicaSet.
pub fn replica_set(object: &mut Value) {
    if let Some(spec) = spec(object) {
        or_insert(spec, "replicas", json!(1));
    }
    template(object);
}

/// `v1` ReplicationController.
pub fn replication_controller(object: &mut Value) {
    replica_set(object);
}

/// `apps/v1` StatefulSet.
pub fn stateful_set(object: &mut Value) {
    if let Some(spec) = spec(object) {
        or_insert(spec, "replicas", json!(1));
        or_insert(spec, "podManagementPolicy", json!("OrderedReady"));
        or_insert(spec, "revisionHistoryLimit", json!(10));
        if let Some(strategy) = or_insert(spec, "updateStrategy", json!({"type": "RollingUpdate"}))
        {
            if strategy["type"] == "RollingUpdate" {
                if let Some(rolling) = or_insert(strategy, "rollingUpdate", json!({})) {
                    or_insert(rolling, "partition", json!(0));
                }
            }
        }
        or_insert(
            spec,
            "persistentVolumeClaimRetentionPolicy",
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
        );
    }
    template(object);
}

/// `apps/v1` DaemonSet.
pub fn daemon_set(object: &mut Value) {
    if let Some(spec) = spec(object) {
        or_insert(spec, "revisionHistoryLimit", json!(10));
        if let Some(strategy) = or_insert(spec, "updateStrategy", json!({"type": "RollingUpdate"}))
        {
            if strategy["type"] == "RollingUpdate" {
                if let Some(rolling) = or_insert(strategy, "rollingUpdate", json!({})) {
                    or_insert(rolling, "maxUnavailable", json!(1));
                    or_insert(rolling, "maxSurge", json!(0));
                }
            }
        }
    }
    template(object);
}

/// `batch/v1` Job: a Job with neither `completions` nor `parallelism` runs one pod to completion
/// (with `parallelism` alone it is a work queue); `backoffLimit` is unlimited with
/// `backoffLimitPerIndex`; a `podFailurePolicy` replaces pods only once `Failed`; pod condition
/// patterns match `True` by default.
pub fn job(object: &mut Value) {
    if let Some(spec) = spec(object) {
        let unset = |spec: &Value, field: &str| spec.get(field).is_none_or(Value::is_null);
        if unset(spec, "completions") && unset(spec, "parallelism") {
            or_insert(spec, "completions", json!(1));
        }
        or_insert(spec, "parallelism", json!(1));
        let backoff_limit = if unset(spec, "backoffLimitPerIndex") {
            6
        } else {
            i32::MAX
        };
        or_insert(spec, "backoffLimit", json!(backoff_limit));
        or_insert(spec, "completionMode", json!("NonIndexed"));
        or_insert(spec, "suspend", json!(false));
        let replacement = if unset(spec, "podFailurePolicy") {
            "TerminatingOrFailed"
        } else {
            "Failed"
        };
        or_insert(spec, "podReplacementPolicy", json!(replacement));
        if let Some(rules) = spec
            .pointer_mut("/podFailurePolicy/rules")
            .and_then(Value::as_array_mut)
        {
            let patterns = rules
                .iter_mut()
                .filter_map(|rule| rule.get_mut("onPodConditions"))
                .filter_map(Value::as_array_mut)
                .flatten();
            for pattern in patterns {
                or_insert(pattern, "status", json!("True"));
            }
        }
    }
    template(object);
}

/// `batch/v1` CronJob.
pub fn cron_job(object: &mut Value) {
    if let Some(spec) = spec(object) {
        or_insert(spec, "concurrencyPolicy", json!("Allow"));
        or_insert(spec, "suspend", json!(false));
        or_insert(spec, "successfulJobsHistoryLimit", json!(3));
        or_insert(spec, "failedJobsHistoryLimit", json!(1));
        if let Some(job_template) = spec.pointer_mut("/jobTemplate/spec/template") {
            pods::template(job_template);
        }
    }
}
