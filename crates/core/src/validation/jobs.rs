//! Job specs as upstream's `validateJobSpec` checks them (also a CronJob's `jobTemplate.spec`):
//! counts, completion modes, `backoffLimitPerIndex` and `maxFailedIndexes` (Indexed only), the
//! `podFailurePolicy` and `successPolicy` rules (checked in `job_policies.rs`),
//! `podReplacementPolicy`, `managedBy` (a domain-prefixed path of at most 63 characters), the pod
//! template and its restart policy.

use serde_json::{Value, json};

use super::job_policies::{pod_failure_policy, success_policy};
use super::names;
use super::pods::pod_spec;
use crate::status::Cause;

/// Largest `parallelism` (and `maxFailedIndexes`) of an Indexed Job.
const MAX_INDEXED_PARALLELISM: i64 = 100_000;
/// Above this many completions, `backoffLimitPerIndex` needs tighter limits.
const COMPLETIONS_SOFT_LIMIT: i64 = 100_000;
/// The tighter limit on `parallelism` and `maxFailedIndexes` above the soft limit.
const HIGH_COMPLETIONS_LIMIT: i64 = 10_000;
/// Longest `managedBy`.
const MAX_MANAGED_BY_LENGTH: usize = 63;
/// Characters of an HTTP path (RFC 3986), as upstream's `httpPathFmt`.
const HTTP_PATH_FORMAT: &str = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";

const REPLACEMENT_POLICIES: [&str; 2] = ["Failed", "TerminatingOrFailed"];

fn int(spec: &Value, field: &str) -> Option<i64> {
    spec.get(field).and_then(Value::as_i64)
}

fn is_set(spec: &Value, field: &str) -> bool {
    spec.get(field).is_some_and(|value| !value.is_null())
}

/// A Job's spec at `path` (`spec`, or `spec.jobTemplate.spec` of a CronJob).
pub fn job_spec(spec: Option<&Value>, path: &str, causes: &mut Vec<Cause>) {
    let Some(spec) = spec else {
        return;
    };
    let field = |name: &str| format!("{path}.{name}");
    for name in [
        "parallelism",
        "completions",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        if let Some(value) = int(spec, name)
            && value < 0
        {
            causes.push(Cause::invalid(
                &field(name),
                &json!(value),
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(deadline) = int(spec, "activeDeadlineSeconds")
        && deadline <= 0
    {
        causes.push(Cause::invalid(
            &field("activeDeadlineSeconds"),
            &json!(deadline),
            "must be greater than 0",
        ));
    }
    let per_index = is_set(spec, "backoffLimitPerIndex");
    let max_failed = int(spec, "maxFailedIndexes");
    if is_set(spec, "maxFailedIndexes") && !per_index {
        causes.push(Cause::required(
            &field("backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    if let Some(manager) = spec.get("managedBy").and_then(Value::as_str) {
        managed_by(manager, &field("managedBy"), causes);
    }
    let mode = spec
        .get("completionMode")
        .and_then(Value::as_str)
        .unwrap_or("NonIndexed");
    let indexed = mode == "Indexed";
    if !matches!(mode, "NonIndexed" | "Indexed") {
        causes.push(Cause::not_supported(
            &field("completionMode"),
            &json!(mode),
            &["NonIndexed", "Indexed"],
        ));
    }
    let completions = int(spec, "completions");
    let parallelism = int(spec, "parallelism");
    if indexed {
        if completions.is_none() {
            causes.push(Cause::required(
                &field("completions"),
                "when completion mode is Indexed",
            ));
        }
        if let Some(parallelism) = parallelism.filter(|p| *p > MAX_INDEXED_PARALLELISM) {
            causes.push(Cause::invalid(
                &field("parallelism"),
                &json!(parallelism),
                &format!(
                    "must be less than or equal to {MAX_INDEXED_PARALLELISM} when completion mode is Indexed"
                ),
            ));
        }
        if let (Some(completions), Some(max)) = (completions, max_failed)
            && max > completions
        {
            causes.push(Cause::invalid(
                &field("maxFailedIndexes"),
                &json!(max),
                "must be less than or equal to completions",
            ));
        }
        if let Some(max) = max_failed.filter(|max| *max > MAX_INDEXED_PARALLELISM) {
            causes.push(Cause::invalid(
                &field("maxFailedIndexes"),
                &json!(max),
                &format!("must be less than or equal to {MAX_INDEXED_PARALLELISM}"),
            ));
        }
        if completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT) && per_index {
            high_completions(spec, path, causes);
        }
    } else {
        for name in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(value) = spec.get(name).filter(|value| !value.is_null()) {
                causes.push(Cause::invalid(
                    &field(name),
                    value,
                    "requires indexed completion mode",
                ));
            }
        }
    }
    let template = spec.pointer("/template/spec");
    if let Some(policy) = spec.get("podFailurePolicy").filter(|p| !p.is_null()) {
        pod_failure_policy(
            policy,
            template,
            per_index,
            &field("podFailurePolicy"),
            causes,
        );
    }
    if let Some(policy) = spec.get("successPolicy").filter(|p| !p.is_null()) {
        if indexed {
            success_policy(
                policy,
                completions.unwrap_or(0),
                &field("successPolicy"),
                causes,
            );
        } else {
            causes.push(Cause::invalid(
                &field("successPolicy"),
                policy,
                "requires indexed completion mode",
            ));
        }
    }
    if let Some(replacement) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let allowed: &[&str] = if is_set(spec, "podFailurePolicy") {
            &["Failed"]
        } else {
            &REPLACEMENT_POLICIES
        };
        if !allowed.contains(&replacement) {
            causes.push(Cause::not_supported(
                &field("podReplacementPolicy"),
                &json!(replacement),
                allowed,
            ));
        }
    }
    pod_spec(template, &format!("{path}.template.spec"), causes);
    let restart_field = format!("{path}.template.spec.restartPolicy");
    let restart = template
        .and_then(|template| template.get("restartPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if !matches!(restart, "OnFailure" | "Never") {
        causes.push(Cause::not_supported(
            &restart_field,
            &json!(restart),
            &["OnFailure", "Never"],
        ));
    } else if is_set(spec, "podFailurePolicy") && restart != "Never" {
        causes.push(Cause::invalid(
            &restart_field,
            &json!(restart),
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
}

/// `managedBy`: a domain-prefixed path (upstream's `IsDomainPrefixedPath`), at most 63 characters.
fn managed_by(manager: &str, field: &str, causes: &mut Vec<Cause>) {
    domain_prefixed_path(manager, field, causes);
    if manager.len() > MAX_MANAGED_BY_LENGTH {
        causes.push(Cause::too_long(field, MAX_MANAGED_BY_LENGTH));
    }
}

/// Upstream's `IsDomainPrefixedPath`: an RFC 1123 subdomain, `/`, and HTTP path characters.
fn domain_prefixed_path(value: &str, field: &str, causes: &mut Vec<Cause>) {
    if value.is_empty() {
        causes.push(Cause::required(field, ""));
        return;
    }
    let Some((host, path)) = value
        .split_once('/')
        .filter(|(h, p)| !h.is_empty() && !p.is_empty())
    else {
        causes.push(Cause::invalid(
            field,
            &json!(value),
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        ));
        return;
    };
    for problem in names::dns_subdomain(host) {
        causes.push(Cause::invalid(field, &json!(host), &problem));
    }
    let path_char = |c: char| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c);
    if !path.chars().all(path_char) {
        causes.push(Cause::invalid(
            field,
            &json!(path),
            &format!("Invalid path (regex used for validation is '{HTTP_PATH_FORMAT}')"),
        ));
    }
}

/// The tighter limits of a per-index backoff above `COMPLETIONS_SOFT_LIMIT` completions.
fn high_completions(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let suffix = format!(
        "when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
    );
    match int(spec, "maxFailedIndexes") {
        None => causes.push(Cause::required(
            &format!("{path}.maxFailedIndexes"),
            &format!("must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"),
        )),
        Some(max) if max > HIGH_COMPLETIONS_LIMIT => causes.push(Cause::invalid(
            &format!("{path}.maxFailedIndexes"),
            &json!(max),
            &format!("must be less than or equal to {HIGH_COMPLETIONS_LIMIT} {suffix}"),
        )),
        Some(_) => {}
    }
    if let Some(parallelism) = int(spec, "parallelism").filter(|p| *p > HIGH_COMPLETIONS_LIMIT) {
        causes.push(Cause::invalid(
            &format!("{path}.parallelism"),
            &json!(parallelism),
            &format!("must be less than or equal to {HIGH_COMPLETIONS_LIMIT} {suffix}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::registry;
    use crate::validation::job_policies::indexes_total;
    use crate::validation::{validate, validate_update};

    fn info() -> &'static registry::ResourceInfo {
        registry::find("batch", "v1", "jobs").expect("jobs")
    }

    /// The problems of a Job with `extra` merged into its (valid) spec.
    fn problems(extra: Value) -> Vec<String> {
        let mut spec = json!({
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {
                "restartPolicy": "Never",
                "initContainers": [{"name": "setup", "image": "x"}],
                "containers": [{"name": "main", "image": "x"}]}}
        });
        for (key, value) in extra.as_object().cloned().unwrap_or_default() {
            if key == "restartPolicy" {
                spec["template"]["spec"]["restartPolicy"] = value;
            } else {
                spec[key] = value;
            }
        }
        validate(info(), &json!({"metadata": {"name": "j"}, "spec": spec}))
            .iter()
            .map(|cause| cause.line())
            .collect()
    }

    #[test]
    fn a_valid_policy_passes() {
        let policy = json!({"podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [1, 42]}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
        ]}, "podReplacementPolicy": "Failed"});
        assert_eq!(problems(policy), Vec::<String>::new());
    }

    #[test]
    fn pod_failure_policy_rules() {
        let policy = json!({"podFailurePolicy": {"rules": [
            {"action": "", "onExitCodes": {"operator": "", "values": []}},
            {"action": "FailIndex", "onExitCodes": {"containerName": "side", "operator": "In", "values": [3, 0, 3]},
             "onPodConditions": [{"type": "Bad Type", "status": "Maybe"}]},
            {"action": "Restart"}
        ]}, "restartPolicy": "OnFailure", "podReplacementPolicy": "TerminatingOrFailed"});
        assert_eq!(
            problems(policy),
            [
                "spec.podFailurePolicy.rules[0].action: Required value: valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
                "spec.podFailurePolicy.rules[0].onExitCodes.operator: Required value: valid values: [\"In\" \"NotIn\"]",
                "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{}: at least one value is required",
                "spec.podFailurePolicy.rules[1].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
                "spec.podFailurePolicy.rules[1].onExitCodes.containerName: Invalid value: \"side\": must be one of the container or initContainer names in the pod template",
                "spec.podFailurePolicy.rules[1].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
                "spec.podFailurePolicy.rules[1].onExitCodes.values[2]: Duplicate value: 3",
                "spec.podFailurePolicy.rules[1].onExitCodes.values: Invalid value: []int32{3, 0, 3}: must be ordered",
                "spec.podFailurePolicy.rules[1].onPodConditions[0].type: Invalid value: \"Bad Type\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "spec.podFailurePolicy.rules[1].onPodConditions[0].status: Unsupported value: \"Maybe\": supported values: \"False\", \"True\", \"Unknown\"",
                "spec.podFailurePolicy.rules[1]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
                "spec.podFailurePolicy.rules[2].action: Unsupported value: \"Restart\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"",
                "spec.podFailurePolicy.rules[2]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
                "spec.podReplacementPolicy: Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\"",
                "spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified",
            ]
        );
    }

    #[test]
    fn per_index_limits_need_an_indexed_job() {
        assert_eq!(
            problems(json!({"maxFailedIndexes": 2})),
            [
                "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
                "spec.maxFailedIndexes: Invalid value: 2: requires indexed completion mode",
            ]
        );
        assert_eq!(
            problems(json!({"completionMode": "Indexed", "completions": 3,
                "backoffLimitPerIndex": -1, "maxFailedIndexes": 4})),
            [
                "spec.backoffLimitPerIndex: Invalid value: -1: must be greater than or equal to 0",
                "spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to completions",
            ]
        );
        assert_eq!(
            problems(json!({"completionMode": "Indexed", "completions": 200000,
                "parallelism": 20000, "backoffLimitPerIndex": 1})),
            [
                "spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",
                "spec.parallelism: Invalid value: 20000: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
            ]
        );
    }

    #[test]
    fn success_policy_rules() {
        assert_eq!(
            problems(json!({"successPolicy": {"rules": [{"succeededCount": 1}]}})),
            [
                "spec.successPolicy: Invalid value: {\"rules\":[{\"succeededCount\":1}]}: requires indexed completion mode"
            ]
        );
        assert_eq!(
            problems(
                json!({"completionMode": "Indexed", "completions": 5, "successPolicy": {"rules": [
                    {},
                    {"succeededIndexes": "0-2,1", "succeededCount": 9},
                    {"succeededIndexes": "1,3", "succeededCount": 3},
                ]}})
            ),
            [
                "spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified",
                "spec.successPolicy.rules[1].succeededIndexes: Invalid value: \"0-2,1\": error parsing succeededIndexes: non-increasing order, previous: 2, current: 1",
                "spec.successPolicy.rules[1].succeededCount: Invalid value: 9: must be less than or equal to 5 (the number of specified completions)",
                "spec.successPolicy.rules[1].succeededCount: Invalid value: 9: must be less than or equal to 0 (the number of indexes in the specified succeededIndexes field)",
                "spec.successPolicy.rules[2].succeededCount: Invalid value: 3: must be less than or equal to 2 (the number of indexes in the specified succeededIndexes field)",
            ]
        );
        assert_eq!(
            problems(
                json!({"completionMode": "Indexed", "completions": 5, "successPolicy": {"rules": []}})
            ),
            [
                "spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy is specified"
            ]
        );
    }

    #[test]
    fn index_lists_parse_like_upstream() {
        assert_eq!(indexes_total("0,2-4", 5), Ok(4));
        assert_eq!(
            indexes_total("1-2-3", 5),
            Err("the fragment \"1-2-3\" violates the requirement that an index interval can have at most two parts separated by '-'".to_owned())
        );
        assert_eq!(
            indexes_total("7", 5),
            Err("too large index: \"7\"".to_owned())
        );
        assert_eq!(
            indexes_total("a", 5),
            Err("cannot convert string to integer for index: \"a\"".to_owned())
        );
        assert_eq!(
            indexes_total("3-3", 5),
            Err("non-increasing order, previous: 3, current: 3".to_owned())
        );
    }

    #[test]
    fn managed_by_is_a_short_domain_prefixed_path() {
        assert_eq!(
            problems(json!({"managedBy": "kubernetes.io/job-controller"})),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(json!({"managedBy": "example.com/custom"})),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(json!({"managedBy": "custom"})),
            [
                "spec.managedBy: Invalid value: \"custom\": must be a domain-prefixed path (such as \"acme.io/foo\")"
            ]
        );
        assert_eq!(
            problems(json!({"managedBy": ""})),
            ["spec.managedBy: Required value"]
        );
        assert_eq!(
            problems(json!({"managedBy": "Example.com/a b"})),
            [
                "spec.managedBy: Invalid value: \"Example.com\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.managedBy: Invalid value: \"a b\": Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
            ]
        );
        let long = format!("example.com/{}", "a".repeat(60));
        assert_eq!(
            problems(json!({"managedBy": long})),
            ["spec.managedBy: Too long: may not be more than 63 bytes"]
        );
    }

    #[test]
    fn managed_by_is_immutable() {
        let job = |manager: Option<&str>| {
            json!({"spec": {"managedBy": manager,
                "template": {"spec": {"restartPolicy": "Never", "containers": []}}}})
        };
        for (old, new) in [
            (None, Some("example.com/custom")),
            (Some("example.com/custom"), Some("example.com/other")),
        ] {
            let lines: Vec<String> = validate_update(info(), &job(old), &job(new))
                .iter()
                .map(|cause| cause.line())
                .collect();
            let expected = format!(
                "spec.managedBy: Invalid value: {}: field is immutable",
                serde_json::to_string(&new).unwrap_or_default()
            );
            assert!(lines.contains(&expected), "{lines:?}");
        }
    }

    #[test]
    fn policies_are_immutable() {
        let job = |limit: i32| {
            json!({"spec": {"completionMode": "Indexed", "completions": 2, "backoffLimitPerIndex": limit,
                "template": {"spec": {"restartPolicy": "Never", "containers": []}}}})
        };
        let lines: Vec<String> = validate_update(info(), &job(1), &job(2))
            .iter()
            .map(|cause| cause.line())
            .collect();
        assert!(
            lines.contains(
                &"spec.backoffLimitPerIndex: Invalid value: 2: field is immutable".to_owned()
            ),
            "{lines:?}"
        );
    }
}
