//! Workloads as upstream's apps and batch validation checks them: replica counts, selectors that
//! match their templates, the restart policy each template may have, strategies, Jobs (their specs
//! in `jobs`), CronJob schedules; and on update the immutable selectors, Job templates and
//! policies, and the StatefulSet fields that may not change.

use serde_json::{Value, json};

use super::jobs::job_spec;
use super::meta;
use super::pods::pod_spec;
use crate::status::Cause;

fn non_negative(object: &Value, pointer: &str, causes: &mut Vec<Cause>) {
    if let Some(value) = object.pointer(pointer).and_then(Value::as_i64)
        && value < 0
    {
        let field = pointer.trim_start_matches('/').replace('/', ".");
        causes.push(Cause::invalid(
            &field,
            &json!(value),
            "must be greater than or equal to 0",
        ));
    }
}

/// Deployments, ReplicaSets, StatefulSets and DaemonSets (`kind` is the lowercase kind for
/// messages).
pub fn apps(object: &Value, kind: &str, causes: &mut Vec<Cause>) {
    selector_matches(object, "spec", kind, causes);
    non_negative(object, "/spec/replicas", causes);
    non_negative(object, "/spec/minReadySeconds", causes);
    non_negative(object, "/spec/revisionHistoryLimit", causes);
    pod_spec(
        object.pointer("/spec/template/spec"),
        "spec.template.spec",
        causes,
    );
    restart_policy(
        object.pointer("/spec/template/spec"),
        "spec.template.spec.restartPolicy",
        &["Always"],
        causes,
    );
    match kind {
        "deployment" => deployment_strategy(object, causes),
        "daemonset" => strategy_type(
            object,
            "/spec/updateStrategy",
            "spec.updateStrategy",
            &["OnDelete", "RollingUpdate"],
            causes,
        ),
        "statefulset" => {
            strategy_type(
                object,
                "/spec/updateStrategy",
                "spec.updateStrategy",
                &["OnDelete", "RollingUpdate"],
                causes,
            );
            if let Some(policy) = object
                .pointer("/spec/podManagementPolicy")
                .and_then(Value::as_str)
                && !matches!(policy, "OrderedReady" | "Parallel")
            {
                causes.push(Cause::not_supported(
                    "spec.podManagementPolicy",
                    &json!(policy),
                    &["OrderedReady", "Parallel"],
                ));
            }
        }
        _ => {}
    }
}

fn restart_policy(spec: Option<&Value>, field: &str, allowed: &[&str], causes: &mut Vec<Cause>) {
    let policy = spec
        .and_then(|spec| spec.get("restartPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if !allowed.contains(&policy) {
        causes.push(Cause::not_supported(field, &json!(policy), allowed));
    }
}

fn strategy_type(
    object: &Value,
    pointer: &str,
    field: &str,
    allowed: &[&str],
    causes: &mut Vec<Cause>,
) {
    if let Some(kind) = object
        .pointer(&format!("{pointer}/type"))
        .and_then(Value::as_str)
        && !allowed.contains(&kind)
    {
        causes.push(Cause::not_supported(
            &format!("{field}.type"),
            &json!(kind),
            allowed,
        ));
    }
}

fn deployment_strategy(object: &Value, causes: &mut Vec<Cause>) {
    strategy_type(
        object,
        "/spec/strategy",
        "spec.strategy",
        &["Recreate", "RollingUpdate"],
        causes,
    );
    let kind = object
        .pointer("/spec/strategy/type")
        .and_then(Value::as_str);
    let rolling = object
        .pointer("/spec/strategy/rollingUpdate")
        .filter(|rolling| !rolling.is_null());
    if kind == Some("Recreate") && rolling.is_some() {
        causes.push(Cause::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        ));
    }
    if let Some(rolling) = rolling {
        let is_zero = |value: Option<&Value>| match value {
            Some(Value::Number(number)) => number.as_i64() == Some(0),
            Some(Value::String(text)) => text == "0%" || text == "0",
            _ => false,
        };
        for field in ["maxUnavailable", "maxSurge"] {
            if let Some(Value::String(text)) = rolling.get(field)
                && let Some(percent) = text.strip_suffix('%').and_then(|n| n.parse::<i64>().ok())
                && percent > 100
                && field == "maxUnavailable"
            {
                causes.push(Cause::invalid(
                    &format!("spec.strategy.rollingUpdate.{field}"),
                    &json!(text),
                    "must not be greater than 100%",
                ));
            }
        }
        if is_zero(rolling.get("maxUnavailable")) && is_zero(rolling.get("maxSurge")) {
            causes.push(Cause::invalid(
                "spec.strategy.rollingUpdate.maxUnavailable",
                rolling.get("maxUnavailable").unwrap_or(&json!(0)),
                "may not be 0 when `maxSurge` is 0",
            ));
        }
    }
    let min_ready = object
        .pointer("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(deadline) = object
        .pointer("/spec/progressDeadlineSeconds")
        .and_then(Value::as_i64)
        && deadline <= min_ready
    {
        causes.push(Cause::invalid(
            "spec.progressDeadlineSeconds",
            &json!(deadline),
            "must be greater than minReadySeconds",
        ));
    }
}

/// The problems of a Job.
pub fn job(object: &Value, causes: &mut Vec<Cause>) {
    job_spec(object.get("spec"), "spec", causes);
}

/// The problems of a CronJob.
pub fn cron_job(object: &Value, causes: &mut Vec<Cause>) {
    match object.pointer("/spec/schedule").and_then(Value::as_str) {
        None | Some("") => causes.push(Cause::required("spec.schedule", "")),
        Some(schedule) => {
            if let Some(problem) = schedule_problem(schedule) {
                causes.push(Cause::invalid("spec.schedule", &json!(schedule), &problem));
            }
        }
    }
    if let Some(policy) = object
        .pointer("/spec/concurrencyPolicy")
        .and_then(Value::as_str)
        && !matches!(policy, "Allow" | "Forbid" | "Replace")
    {
        causes.push(Cause::not_supported(
            "spec.concurrencyPolicy",
            &json!(policy),
            &["Allow", "Forbid", "Replace"],
        ));
    }
    for field in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        non_negative(object, &format!("/spec/{field}"), causes);
    }
    job_spec(
        object.pointer("/spec/jobTemplate/spec"),
        "spec.jobTemplate.spec",
        causes,
    );
}

/// Why a cron schedule is not one upstream's parser takes: five fields or a `@` descriptor, and no
/// time zone prefix (that is `spec.timeZone`'s job).
fn schedule_problem(schedule: &str) -> Option<String> {
    if schedule.contains("TZ") {
        return Some("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
    }
    if let Some(descriptor) = schedule.strip_prefix('@') {
        return match descriptor {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => None,
            _ if descriptor.starts_with("every ") => None,
            _ => Some(format!("unrecognized descriptor: {schedule}")),
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!(
            "expected exactly 5 fields, found {}: {schedule}",
            fields.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?');
    fields
        .iter()
        .find(|field| !field.chars().all(allowed))
        .map(|field| format!("failed to parse int from {field}"))
}

/// Checks that a workload's selector is set, not empty, and matches its template's labels.
pub fn selector_matches(object: &Value, path: &str, kind: &str, causes: &mut Vec<Cause>) {
    let Some(selector) = object
        .pointer("/spec/selector")
        .filter(|selector| !selector.is_null())
    else {
        causes.push(Cause::required(&format!("{path}.selector"), ""));
        return;
    };
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    if match_labels.is_none_or(|labels| labels.is_empty()) && !expressions {
        causes.push(Cause::invalid(
            &format!("{path}.selector"),
            selector,
            &format!("empty selector is invalid for {kind}"),
        ));
        return;
    }
    meta::labels(
        selector.get("matchLabels"),
        &format!("{path}.selector.matchLabels"),
        causes,
    );
    let labels = object
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    let Some(match_labels) = match_labels else {
        return;
    };
    let matches = match_labels
        .iter()
        .all(|(key, value)| labels.and_then(|labels| labels.get(key)) == Some(value));
    if !matches {
        causes.push(Cause::invalid(
            &format!("{path}.template.metadata.labels"),
            &labels.map_or(json!({}), |labels| Value::Object(labels.clone())),
            "`selector` does not match template `labels`",
        ));
    }
}

/// Update rules of apps and batch objects: selectors are immutable; a StatefulSet may change only
/// some fields; a Job keeps its template (unless suspended), completion mode and completions.
pub fn workload_update(resource: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let field = |object: &Value, pointer: &str| object.pointer(pointer).cloned();
    let immutable = |pointer: &str, causes: &mut Vec<Cause>| {
        let new_value = field(new, pointer);
        if field(old, pointer) != new_value {
            causes.push(Cause::invalid(
                &pointer.trim_start_matches('/').replace('/', "."),
                &new_value.unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
    };
    match resource {
        "deployments" | "replicasets" | "daemonsets" => immutable("/spec/selector", causes),
        "statefulsets" => {
            let strip = |object: &Value| {
                let mut spec = object.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(fields) = spec.as_object_mut() {
                    for field in [
                        "replicas",
                        "ordinals",
                        "template",
                        "updateStrategy",
                        "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds",
                    ] {
                        fields.remove(field);
                    }
                }
                spec
            };
            if strip(old) != strip(new) {
                causes.push(Cause::forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        "jobs" => {
            immutable("/spec/selector", causes);
            immutable("/spec/completionMode", causes);
            immutable("/spec/podFailurePolicy", causes);
            immutable("/spec/backoffLimitPerIndex", causes);
            immutable("/spec/managedBy", causes);
            immutable("/spec/successPolicy", causes);
            let indexed =
                new.pointer("/spec/completionMode").and_then(Value::as_str) == Some("Indexed");
            if !indexed {
                immutable("/spec/completions", causes);
            }
            let suspended = old.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
            if !suspended {
                immutable("/spec/template", causes);
            }
        }
        _ => {}
    }
}
