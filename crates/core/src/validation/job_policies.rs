//! The policies of a Job spec as upstream's `validateJobSpec` checks them: `podFailurePolicy` rules
//! (actions, exit code requirements, pod condition patterns, `Never` restarts) and `successPolicy`
//! rules (Indexed only, index ranges within `completions`), with the index-range arithmetic they
//! share.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::names;
use crate::status::Cause;

/// Most rules a `podFailurePolicy` may have.
const MAX_FAILURE_RULES: usize = 20;
/// Most exit codes one `onExitCodes` requirement may list.
const MAX_EXIT_CODES: usize = 255;
/// Most patterns one `onPodConditions` requirement may list.
const MAX_CONDITION_PATTERNS: usize = 20;
/// Most rules a `successPolicy` may have.
const MAX_SUCCESS_RULES: usize = 20;
/// Longest `succeededIndexes`.
const MAX_SUCCEEDED_INDEXES_LENGTH: usize = 64 * 1024;
const ACTIONS: [&str; 4] = ["Count", "FailIndex", "FailJob", "Ignore"];
const OPERATORS: [&str; 2] = ["In", "NotIn"];
const CONDITION_STATUSES: [&str; 3] = ["False", "True", "Unknown"];
/// `FieldValueTooMany`: `Too many: N: must have at most M items`.
fn too_many(field: &str, actual: usize, max: usize) -> Cause {
    Cause::new(
        "FieldValueTooMany",
        &format!("Too many: {actual}: must have at most {max} items"),
        field,
    )
}

/// `FieldValueInvalid` without the value (upstream's `field.OmitValueType`).
fn invalid_omitted(field: &str, detail: &str) -> Cause {
    Cause::new(
        "FieldValueInvalid",
        &format!("Invalid value: {detail}"),
        field,
    )
}

/// Upstream's `%q` of a list of strings: `["a" "b"]`.
fn quoted_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|value| format!("{value:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// Exit codes as Go prints an `[]int32` with `%#v`: `[]int32{1, 2}`.
fn exit_codes_text(values: &[Value]) -> String {
    let codes: Vec<String> = values.iter().map(ToString::to_string).collect();
    format!("[]int32{{{}}}", codes.join(", "))
}
pub(super) fn pod_failure_policy(
    policy: &Value,
    template: Option<&Value>,
    per_index: bool,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    let rules_path = format!("{path}.rules");
    let rules = policy
        .get("rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if rules.len() > MAX_FAILURE_RULES {
        causes.push(too_many(&rules_path, rules.len(), MAX_FAILURE_RULES));
    }
    let containers: BTreeSet<&str> = ["containers", "initContainers"]
        .iter()
        .filter_map(|list| template?.get(*list)?.as_array())
        .flatten()
        .filter_map(|container| container.get("name")?.as_str())
        .collect();
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = format!("{rules_path}[{i}]");
        let action_path = format!("{rule_path}.action");
        match rule.get("action").and_then(Value::as_str).unwrap_or("") {
            "" => causes.push(Cause::required(
                &action_path,
                &format!("valid values: {}", quoted_list(&ACTIONS)),
            )),
            "FailIndex" if !per_index => causes.push(Cause::invalid(
                &action_path,
                &json!("FailIndex"),
                "requires the backoffLimitPerIndex to be set",
            )),
            action if !ACTIONS.contains(&action) => {
                causes.push(Cause::not_supported(&action_path, &json!(action), &ACTIONS))
            }
            _ => {}
        }
        let exit_codes = rule.get("onExitCodes").filter(|v| !v.is_null());
        let patterns = rule
            .get("onPodConditions")
            .and_then(Value::as_array)
            .filter(|patterns| !patterns.is_empty());
        if let Some(requirement) = exit_codes {
            on_exit_codes(
                requirement,
                &containers,
                &format!("{rule_path}.onExitCodes"),
                causes,
            );
        }
        if let Some(patterns) = patterns {
            on_pod_conditions(patterns, &format!("{rule_path}.onPodConditions"), causes);
        }
        match (exit_codes.is_some(), patterns.is_some()) {
            (true, true) => causes.push(invalid_omitted(
                &rule_path,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            )),
            (false, false) => causes.push(invalid_omitted(
                &rule_path,
                "specifying one of OnExitCodes and OnPodConditions is required",
            )),
            _ => {}
        }
    }
}

fn on_exit_codes(
    requirement: &Value,
    containers: &BTreeSet<&str>,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    let operator = requirement
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or("");
    if operator.is_empty() {
        causes.push(Cause::required(
            &format!("{path}.operator"),
            &format!("valid values: {}", quoted_list(&OPERATORS)),
        ));
    } else if !OPERATORS.contains(&operator) {
        causes.push(Cause::not_supported(
            &format!("{path}.operator"),
            &json!(operator),
            &OPERATORS,
        ));
    }
    if let Some(name) = requirement.get("containerName").and_then(Value::as_str)
        && !containers.contains(name)
    {
        causes.push(Cause::invalid(
            &format!("{path}.containerName"),
            &json!(name),
            "must be one of the container or initContainer names in the pod template",
        ));
    }
    let values_path = format!("{path}.values");
    let values = requirement
        .get("values")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if values.is_empty() {
        causes.push(Cause::new(
            "FieldValueInvalid",
            &format!(
                "Invalid value: {}: at least one value is required",
                exit_codes_text(values)
            ),
            &values_path,
        ));
    } else if values.len() > MAX_EXIT_CODES {
        causes.push(too_many(&values_path, values.len(), MAX_EXIT_CODES));
    }
    let mut seen = BTreeSet::new();
    let mut ordered = true;
    let codes: Vec<i64> = values.iter().filter_map(Value::as_i64).collect();
    for (j, code) in codes.iter().enumerate() {
        let value_path = format!("{values_path}[{j}]");
        if operator == "In" && *code == 0 {
            causes.push(Cause::invalid(
                &value_path,
                &json!(code),
                "must not be 0 for the In operator",
            ));
        }
        if !seen.insert(*code) {
            causes.push(Cause::duplicate(&value_path, &json!(code)));
        }
        if j > 0 && codes[j - 1] > *code {
            ordered = false;
        }
    }
    if !ordered {
        causes.push(Cause::new(
            "FieldValueInvalid",
            &format!(
                "Invalid value: {}: must be ordered",
                exit_codes_text(values)
            ),
            &values_path,
        ));
    }
}

fn on_pod_conditions(patterns: &[Value], path: &str, causes: &mut Vec<Cause>) {
    if patterns.len() > MAX_CONDITION_PATTERNS {
        causes.push(too_many(path, patterns.len(), MAX_CONDITION_PATTERNS));
    }
    for (j, pattern) in patterns.iter().enumerate() {
        let pattern_path = format!("{path}[{j}]");
        let type_ = pattern.get("type").and_then(Value::as_str).unwrap_or("");
        for problem in names::qualified_name(type_) {
            causes.push(Cause::invalid(
                &format!("{pattern_path}.type"),
                &json!(type_),
                &problem,
            ));
        }
        let status_path = format!("{pattern_path}.status");
        match pattern.get("status").and_then(Value::as_str).unwrap_or("") {
            "" => causes.push(Cause::required(
                &status_path,
                &format!("valid values: {}", quoted_list(&CONDITION_STATUSES)),
            )),
            status if !CONDITION_STATUSES.contains(&status) => causes.push(Cause::not_supported(
                &status_path,
                &json!(status),
                &CONDITION_STATUSES,
            )),
            _ => {}
        }
    }
}

pub(super) fn success_policy(
    policy: &Value,
    completions: i64,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    let rules_path = format!("{path}.rules");
    let rules = policy
        .get("rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if rules.is_empty() {
        causes.push(Cause::required(
            &rules_path,
            "at least one rules must be specified when the successPolicy is specified",
        ));
    }
    if rules.len() > MAX_SUCCESS_RULES {
        causes.push(too_many(&rules_path, rules.len(), MAX_SUCCESS_RULES));
    }
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = format!("{rules_path}[{i}]");
        let indexes = rule.get("succeededIndexes").and_then(Value::as_str);
        let count = rule.get("succeededCount").and_then(Value::as_i64);
        if indexes.is_none() && count.is_none() {
            causes.push(Cause::required(
                &rule_path,
                "at least one of succeededCount or succeededIndexes must be specified",
            ));
        }
        let mut total = 0;
        if let Some(indexes) = indexes {
            let indexes_path = format!("{rule_path}.succeededIndexes");
            if indexes.len() > MAX_SUCCEEDED_INDEXES_LENGTH {
                causes.push(Cause::too_long(&indexes_path, MAX_SUCCEEDED_INDEXES_LENGTH));
            }
            match indexes_total(indexes, completions) {
                Ok(sum) => total = sum,
                Err(problem) => causes.push(Cause::invalid(
                    &indexes_path,
                    &json!(indexes),
                    &format!("error parsing succeededIndexes: {problem}"),
                )),
            }
        }
        if let Some(count) = count {
            let count_path = format!("{rule_path}.succeededCount");
            if count < 0 {
                causes.push(Cause::invalid(
                    &count_path,
                    &json!(count),
                    "must be greater than or equal to 0",
                ));
            }
            if count > completions {
                causes.push(Cause::invalid(
                    &count_path,
                    &json!(count),
                    &format!(
                        "must be less than or equal to {completions} (the number of specified completions)"
                    ),
                ));
            }
            if indexes.is_some() && count > total {
                causes.push(Cause::invalid(
                    &count_path,
                    &json!(count),
                    &format!(
                        "must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)"
                    ),
                ));
            }
        }
    }
}

/// How many indexes `1,3-5` holds, or why it is not ascending ranges below `completions`
/// (upstream's `validateIndexesFormat`).
pub fn indexes_total(text: &str, completions: i64) -> Result<i64, String> {
    if text.is_empty() {
        return Ok(0);
    }
    let parse = |part: &str| {
        part.parse::<i64>()
            .map_err(|_| format!("cannot convert string to integer for index: {part:?}"))
            .and_then(|index| {
                if index >= completions {
                    Err(format!("too large index: {part:?}"))
                } else {
                    Ok(index)
                }
            })
    };
    let mut last: Option<i64> = None;
    let mut total = 0;
    for interval in text.split(',') {
        let limits: Vec<&str> = interval.split('-').collect();
        if limits.len() > 2 {
            return Err(format!(
                "the fragment {interval:?} violates the requirement that an index interval can have at most two parts separated by '-'"
            ));
        }
        let first = parse(limits[0])?;
        let end = match limits.get(1) {
            Some(part) => {
                let end = parse(part)?;
                if first >= end {
                    return Err(format!(
                        "non-increasing order, previous: {first}, current: {end}"
                    ));
                }
                end
            }
            None => first,
        };
        if let Some(previous) = last
            && previous >= first
        {
            return Err(format!(
                "non-increasing order, previous: {previous}, current: {first}"
            ));
        }
        total += end - first + 1;
        last = Some(end);
    }
    Ok(total)
}
