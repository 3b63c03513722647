//! `successPolicy` of Indexed Jobs, as upstream's `success_policy.go`: the Job meets its success
//! criteria once one rule matches, in order: all of `succeededIndexes` succeeded (or at least
//! `succeededCount` of them), or, without `succeededIndexes`, at least `succeededCount` indexes
//! succeeded. Rules whose indexes do not parse are skipped.

use k8s_openapi::api::batch::v1::SuccessPolicy;

use super::indexed::Intervals;

/// The message of the first rule `succeeded` satisfies (`Matched rules at index N`), if any.
pub fn matched(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &Intervals,
) -> Option<String> {
    let policy = policy?;
    if succeeded.total() == 0 {
        return None;
    }
    policy.rules.iter().enumerate().find_map(|(index, rule)| {
        let met = match &rule.succeeded_indexes {
            Some(text) => {
                let required = Intervals::parse(text, completions);
                if required.total() == 0 {
                    return None;
                }
                let overlap = required.overlap(succeeded);
                overlap == required.total()
                    || rule.succeeded_count.is_some_and(|count| overlap >= count)
            }
            None => rule
                .succeeded_count
                .is_some_and(|count| succeeded.total() >= count),
        };
        met.then(|| format!("Matched rules at index {index}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::SuccessPolicyRule;

    fn rule(indexes: Option<&str>, count: Option<i32>) -> SuccessPolicyRule {
        SuccessPolicyRule {
            succeeded_indexes: indexes.map(str::to_owned),
            succeeded_count: count,
        }
    }

    fn check(rules: Vec<SuccessPolicyRule>, succeeded: &str) -> Option<String> {
        let policy = SuccessPolicy { rules };
        matched(Some(&policy), 10, &Intervals::parse(succeeded, 10))
    }

    #[test]
    fn indexes_must_all_succeed_unless_a_count_is_given() {
        assert_eq!(check(vec![rule(Some("0-2,5"), None)], "0-2"), None);
        assert_eq!(
            check(vec![rule(Some("0-2,5"), None)], "0-5").as_deref(),
            Some("Matched rules at index 0")
        );
        assert_eq!(
            check(vec![rule(Some("0-2,5"), Some(2))], "1,5,7").as_deref(),
            Some("Matched rules at index 0")
        );
        assert_eq!(check(vec![rule(Some("0-2,5"), Some(3))], "1,5,7"), None);
    }

    #[test]
    fn counts_alone_and_later_rules() {
        assert_eq!(
            check(vec![rule(Some("9"), None), rule(None, Some(2))], "3,4").as_deref(),
            Some("Matched rules at index 1")
        );
        assert_eq!(check(vec![rule(None, Some(3))], "3,4"), None);
        // Nothing succeeded yet: never met, not even by a count of 0.
        assert_eq!(check(vec![rule(None, Some(0))], ""), None);
        // Indexes that do not parse make the rule unusable.
        assert_eq!(check(vec![rule(Some("x"), Some(1))], "1"), None);
    }
}
