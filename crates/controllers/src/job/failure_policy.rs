//! `podFailurePolicy`, as upstream's `pod_failure_policy.go`: the rules are tried in order on a
//! failed pod, the first whose `onExitCodes` (a terminated container with a non-zero exit code
//! `In` / `NotIn` the values, regular containers before init containers) or `onPodConditions` (a
//! pod condition of that type and status) matches decides: `FailJob` fails the Job with a message
//! naming the container or condition, `FailIndex` fails the pod's index, `Ignore` does not count
//! the failure, `Count` counts it as without a policy. Rules with an unknown action are skipped.

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};
use kube::ResourceExt;

/// What a matching rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Fail the whole Job.
    FailJob,
    /// Fail the pod's completion index (with `backoffLimitPerIndex`).
    FailIndex,
    /// Do not count the failure; a replacement pod is created.
    Ignore,
    /// Count the failure as usual.
    Count,
}

impl Action {
    fn parse(action: &str) -> Option<Action> {
        match action {
            "FailJob" => Some(Action::FailJob),
            "FailIndex" => Some(Action::FailIndex),
            "Ignore" => Some(Action::Ignore),
            "Count" => Some(Action::Count),
            _ => None,
        }
    }
}

/// The outcome of matching a failed pod against a policy (upstream's `matchPodFailurePolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The Job's failure message, when a `FailJob` rule matched.
    pub fail_job: Option<String>,
    /// Whether the failure counts towards `backoffLimit` (and `backoffLimitPerIndex`).
    pub counts: bool,
    /// The action of the rule that matched, if one did.
    pub action: Option<Action>,
}

impl Matched {
    const DEFAULT: Matched = Matched {
        fail_job: None,
        counts: true,
        action: None,
    };
}

/// Matches a failed `pod` against `policy` (no policy: the failure counts).
pub fn matches(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Matched {
    let Some(policy) = policy else {
        return Matched::DEFAULT;
    };
    let status = pod.status.as_ref();
    for (index, rule) in policy.rules.iter().enumerate() {
        let Some(action) = Action::parse(&rule.action) else {
            continue;
        };
        let message = if let Some(requirement) = &rule.on_exit_codes {
            let containers = status
                .and_then(|status| status.container_statuses.as_ref())
                .into_iter()
                .flatten();
            let init = status
                .and_then(|status| status.init_container_statuses.as_ref())
                .into_iter()
                .flatten();
            let Some((container, code)) = matching_container(containers, requirement)
                .or_else(|| matching_container(init, requirement))
            else {
                continue;
            };
            format!(
                "Container {} for pod {}/{} failed with exit code {code} matching {} rule at index {index}",
                container.name,
                pod.namespace().unwrap_or_default(),
                pod.name_any(),
                rule.action,
            )
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let conditions = status
                .and_then(|status| status.conditions.as_ref())
                .into_iter()
                .flatten();
            let Some(condition) = matching_condition(conditions, patterns) else {
                continue;
            };
            format!(
                "Pod {}/{} has condition {} matching {} rule at index {index}",
                pod.namespace().unwrap_or_default(),
                pod.name_any(),
                condition.type_,
                rule.action,
            )
        } else {
            continue;
        };
        return Matched {
            fail_job: (action == Action::FailJob).then_some(message),
            counts: action != Action::Ignore,
            action: Some(action),
        };
    }
    Matched::DEFAULT
}

/// The first terminated container with a non-zero exit code the requirement matches.
fn matching_container<'a>(
    statuses: impl Iterator<Item = &'a ContainerStatus>,
    requirement: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<(&'a ContainerStatus, i32)> {
    statuses
        .filter(|status| {
            requirement
                .container_name
                .as_ref()
                .is_none_or(|name| *name == status.name)
        })
        .find_map(|status| {
            let code = status.state.as_ref()?.terminated.as_ref()?.exit_code;
            let listed = requirement.values.contains(&code);
            let hit = match requirement.operator.as_str() {
                "In" => listed,
                "NotIn" => !listed,
                _ => false,
            };
            (code != 0 && hit).then_some((status, code))
        })
}

/// The first pod condition (in the pod's order) one of the patterns matches.
fn matching_condition<'a>(
    conditions: impl Iterator<Item = &'a PodCondition>,
    patterns: &[k8s_openapi::api::batch::v1::PodFailurePolicyOnPodConditionsPattern],
) -> Option<&'a PodCondition> {
    conditions.into_iter().find(|condition| {
        patterns
            .iter()
            .any(|pattern| pattern.type_ == condition.type_ && pattern.status == condition.status)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{
        PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
    };
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn exit_rule(
        action: &str,
        operator: &str,
        values: &[i32],
        container: Option<&str>,
    ) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.to_owned(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: container.map(str::to_owned),
                operator: operator.to_owned(),
                values: values.to_vec(),
            }),
            on_pod_conditions: None,
        }
    }

    fn condition_rule(action: &str, type_: &str) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.to_owned(),
            on_exit_codes: None,
            on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                type_: type_.to_owned(),
                status: "True".to_owned(),
            }]),
        }
    }

    fn terminated(name: &str, code: Option<i32>) -> ContainerStatus {
        ContainerStatus {
            name: name.to_owned(),
            state: Some(ContainerState {
                terminated: code.map(|exit_code| ContainerStateTerminated {
                    exit_code,
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }
    }

    fn pod(
        containers: Vec<ContainerStatus>,
        init: Vec<ContainerStatus>,
        conditions: &[&str],
    ) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".to_owned()),
                namespace: Some("ns".to_owned()),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                phase: Some("Failed".to_owned()),
                container_statuses: Some(containers),
                init_container_statuses: Some(init),
                conditions: Some(
                    conditions
                        .iter()
                        .map(|type_| PodCondition {
                            type_: (*type_).to_owned(),
                            status: "True".to_owned(),
                            ..PodCondition::default()
                        })
                        .collect(),
                ),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    fn policy(rules: Vec<PodFailurePolicyRule>) -> PodFailurePolicy {
        PodFailurePolicy { rules }
    }

    #[test]
    fn no_policy_or_no_match_counts_the_failure() {
        let failed = pod(vec![terminated("main", Some(1))], vec![], &[]);
        assert_eq!(matches(None, &failed), Matched::DEFAULT);
        let other = policy(vec![exit_rule("FailJob", "In", &[42], None)]);
        assert_eq!(matches(Some(&other), &failed), Matched::DEFAULT);
    }

    #[test]
    fn fail_job_names_the_container_and_the_rule() {
        let rules = policy(vec![
            exit_rule("Ignore", "In", &[3], None),
            exit_rule("FailJob", "In", &[1, 42], Some("main")),
        ]);
        let failed = pod(
            vec![terminated("side", Some(42)), terminated("main", Some(42))],
            vec![],
            &[],
        );
        let matched = matches(Some(&rules), &failed);
        assert_eq!(matched.action, Some(Action::FailJob));
        assert!(matched.counts);
        assert_eq!(
            matched.fail_job.as_deref(),
            Some(
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"
            )
        );
    }

    #[test]
    fn not_in_skips_zero_and_listed_codes_and_init_containers_come_last() {
        let rules = policy(vec![exit_rule("Count", "NotIn", &[5], None)]);
        let zero_or_listed = pod(
            vec![
                terminated("a", Some(0)),
                terminated("b", Some(5)),
                terminated("c", None),
            ],
            vec![],
            &[],
        );
        assert_eq!(matches(Some(&rules), &zero_or_listed).action, None);
        let init = pod(
            vec![terminated("a", Some(0))],
            vec![terminated("setup", Some(7))],
            &[],
        );
        assert_eq!(matches(Some(&rules), &init).action, Some(Action::Count));
    }

    #[test]
    fn conditions_match_by_type_and_status() {
        let rules = policy(vec![
            condition_rule("Ignore", "DisruptionTarget"),
            condition_rule("FailJob", "ConfigIssue"),
        ]);
        let disrupted = pod(
            vec![terminated("main", Some(137))],
            vec![],
            &["DisruptionTarget"],
        );
        let matched = matches(Some(&rules), &disrupted);
        assert_eq!(matched.action, Some(Action::Ignore));
        assert!(!matched.counts);
        let broken = pod(vec![], vec![], &["Ready", "ConfigIssue"]);
        assert_eq!(
            matches(Some(&rules), &broken).fail_job.as_deref(),
            Some("Pod ns/p has condition ConfigIssue matching FailJob rule at index 1")
        );
    }

    #[test]
    fn unknown_actions_are_skipped_and_fail_index_counts() {
        let rules = policy(vec![
            exit_rule("Restart", "In", &[1], None),
            exit_rule("FailIndex", "In", &[1], None),
        ]);
        let failed = pod(vec![terminated("main", Some(1))], vec![], &[]);
        let matched = matches(Some(&rules), &failed);
        assert_eq!(matched.action, Some(Action::FailIndex));
        assert!(matched.counts);
        assert_eq!(matched.fail_job, None);
    }
}
