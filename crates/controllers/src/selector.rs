//! Label selectors: `matchLabels` and `matchExpressions` (`In`, `NotIn`, `Exists`, `DoesNotExist`)
//! as upstream's `metav1.LabelSelectorAsSelector`, and the plain maps of ReplicationControllers.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A selector ready to match label sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
    /// A selector that matches nothing (a nil selector, or one with an invalid operator).
    nothing: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Selector {
    /// The selector of a `LabelSelector`; `None` matches nothing, an empty one everything.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Selector {
        let Some(selector) = selector else {
            return Selector {
                requirements: Vec::new(),
                nothing: true,
            };
        };
        let mut requirements: Vec<Requirement> = selector
            .match_labels
            .iter()
            .flatten()
            .map(|(key, value)| Requirement::Equals(key.clone(), value.clone()))
            .collect();
        for expression in selector.match_expressions.iter().flatten() {
            let key = expression.key.clone();
            let values = expression.values.clone().unwrap_or_default();
            requirements.push(match expression.operator.as_str() {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                _ => {
                    return Selector {
                        requirements: Vec::new(),
                        nothing: true,
                    };
                }
            });
        }
        Selector {
            requirements,
            nothing: false,
        }
    }

    /// The selector of a label map (ReplicationControllers, Services); an empty map matches
    /// nothing, as upstream's `SelectorFromValidatedSet` on an empty set is never used for them.
    pub fn from_map(labels: Option<&BTreeMap<String, String>>) -> Selector {
        match labels {
            Some(labels) if !labels.is_empty() => Selector {
                requirements: labels
                    .iter()
                    .map(|(key, value)| Requirement::Equals(key.clone(), value.clone()))
                    .collect(),
                nothing: false,
            },
            _ => Selector {
                requirements: Vec::new(),
                nothing: true,
            },
        }
    }

    /// Whether the selector matches nothing at all.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// Whether the selector matches everything.
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        if self.nothing {
            return false;
        }
        let empty = BTreeMap::new();
        let labels = labels.unwrap_or(&empty);
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                Requirement::Equals(key, value) => labels.get(key) == Some(value),
                Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
                Requirement::NotIn(key, values) => {
                    labels.get(key).is_none_or(|v| !values.contains(v))
                }
                Requirement::Exists(key) => labels.contains_key(key),
                Requirement::DoesNotExist(key) => !labels.contains_key(key),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors_match_like_upstream() {
        let selector = Selector::from_label_selector(Some(&LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["front".into(), "back".into()]),
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        }));
        assert!(selector.matches(Some(&labels(&[("app", "web"), ("tier", "front")]))));
        assert!(!selector.matches(Some(&labels(&[("app", "web"), ("tier", "db")]))));
        assert!(!selector.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("canary", "1")
        ]))));
        assert!(!Selector::from_label_selector(None).matches(Some(&labels(&[]))));
        assert!(Selector::from_label_selector(Some(&LabelSelector::default())).is_everything());
        assert!(Selector::from_map(None).is_nothing());
        assert!(
            Selector::from_map(Some(&labels(&[("a", "b")])))
                .matches(Some(&labels(&[("a", "b"), ("c", "d")])))
        );
    }
}
