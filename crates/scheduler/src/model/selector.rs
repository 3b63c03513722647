//! Label selectors (`matchLabels`/`matchExpressions` of pods, services and workloads) and node
//! selector terms (node affinity with `Gt`/`Lt` and `matchFields`), parsed once and matched like
//! upstream's `labels.Selector` and `nodeaffinity`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// The label exists with one of the values.
    In(String, Vec<String>),
    /// The label is absent or has none of the values.
    NotIn(String, Vec<String>),
    /// The label exists.
    Exists(String),
    /// The label is absent.
    DoesNotExist(String),
    /// The label is an integer greater than the value (node selectors only).
    Gt(String, i64),
    /// The label is an integer less than the value (node selectors only).
    Lt(String, i64),
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(self.key()).map(String::as_str))
    }

    /// The label key the requirement is about.
    pub fn key(&self) -> &str {
        match self {
            Requirement::In(key, _)
            | Requirement::NotIn(key, _)
            | Requirement::Exists(key)
            | Requirement::DoesNotExist(key)
            | Requirement::Gt(key, _)
            | Requirement::Lt(key, _) => key,
        }
    }

    /// Whether a label with this value (`None`: absent) satisfies the requirement.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match self {
            Requirement::In(_, values) => value.is_some_and(|v| values.iter().any(|x| x == v)),
            Requirement::NotIn(_, values) => value.is_none_or(|v| !values.iter().any(|x| x == v)),
            Requirement::Exists(_) => value.is_some(),
            Requirement::DoesNotExist(_) => value.is_none(),
            Requirement::Gt(_, bound) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *bound),
            Requirement::Lt(_, bound) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *bound),
        }
    }

    fn parse(key: &str, operator: &str, values: &[String], allow_numeric: bool) -> Option<Self> {
        let key = key.to_owned();
        let values = values.to_vec();
        let single_integer = || match values.as_slice() {
            [value] => value.parse::<i64>().ok(),
            _ => None,
        };
        match operator {
            "In" if !values.is_empty() => Some(Requirement::In(key, values)),
            "NotIn" if !values.is_empty() => Some(Requirement::NotIn(key, values)),
            "Exists" if values.is_empty() => Some(Requirement::Exists(key)),
            "DoesNotExist" if values.is_empty() => Some(Requirement::DoesNotExist(key)),
            "Gt" if allow_numeric => single_integer().map(|bound| Requirement::Gt(key, bound)),
            "Lt" if allow_numeric => single_integer().map(|bound| Requirement::Lt(key, bound)),
            _ => None,
        }
    }
}

/// A parsed label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Selects nothing: an absent selector, or one that does not parse.
    Nothing,
    /// Selects what satisfies every requirement (everything when there are none).
    All(Vec<Requirement>),
}

impl Selector {
    /// Parses an API label selector; `None` selects nothing, `{}` selects everything.
    pub fn parse(selector: Option<&LabelSelector>) -> Selector {
        let Some(selector) = selector else {
            return Selector::Nothing;
        };
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::In(key.clone(), vec![value.clone()]));
        }
        for expression in selector.match_expressions.iter().flatten() {
            let values = expression.values.as_deref().unwrap_or_default();
            match Requirement::parse(&expression.key, &expression.operator, values, false) {
                Some(requirement) => requirements.push(requirement),
                None => return Selector::Nothing,
            }
        }
        Selector::All(requirements)
    }

    /// A selector requiring exactly these labels (a Service's or ReplicationController's selector).
    pub fn from_map(labels: &Labels) -> Selector {
        Selector::All(
            labels
                .iter()
                .map(|(key, value)| Requirement::In(key.clone(), vec![value.clone()]))
                .collect(),
        )
    }

    /// Whether `labels` are selected.
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::All(requirements) => requirements.iter().all(|r| r.matches(labels)),
        }
    }

    /// Whether the selector has no requirement (`labels.Selector.Empty()`: selects everything).
    pub fn is_empty(&self) -> bool {
        matches!(self, Selector::All(requirements) if requirements.is_empty())
    }

    /// Adds requirements (an `AND`); selecting nothing stays so.
    pub fn and(&mut self, more: impl IntoIterator<Item = Requirement>) {
        if let Selector::All(requirements) = self {
            requirements.extend(more);
        }
    }
}

/// One node selector term: every expression on labels and every field requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTerm {
    expressions: Vec<Requirement>,
    /// Requirements on `metadata.name`, the only node field upstream allows.
    fields: Vec<Requirement>,
    /// A term that did not parse matches no node.
    valid: bool,
}

impl NodeTerm {
    /// Parses an API node selector term.
    pub fn parse(term: &NodeSelectorTerm) -> NodeTerm {
        let mut valid = true;
        let mut parse_all = |requirements: Option<&Vec<NodeSelectorRequirement>>, fields: bool| {
            let mut parsed = Vec::new();
            for requirement in requirements.into_iter().flatten() {
                let values = requirement.values.as_deref().unwrap_or_default();
                let numeric = !fields;
                match Requirement::parse(&requirement.key, &requirement.operator, values, numeric) {
                    Some(r) if !fields || requirement.key == "metadata.name" => parsed.push(r),
                    _ => valid = false,
                }
            }
            parsed
        };
        let expressions = parse_all(term.match_expressions.as_ref(), false);
        let fields = parse_all(term.match_fields.as_ref(), true);
        NodeTerm {
            expressions,
            fields,
            valid,
        }
    }

    /// Whether the term has no requirement at all (upstream skips such terms: they match nothing).
    fn is_empty(&self) -> bool {
        self.expressions.is_empty() && self.fields.is_empty()
    }

    /// Whether the node with these labels and name satisfies the term.
    pub fn matches(&self, labels: &Labels, name: &str) -> bool {
        if !self.valid || self.is_empty() {
            return false;
        }
        if !self.expressions.iter().all(|r| r.matches(labels)) {
            return false;
        }
        self.fields.iter().all(|r| r.matches_value(Some(name)))
    }
}

/// Required node affinity (`requiredDuringSchedulingIgnoredDuringExecution`): terms are ORed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelector {
    terms: Vec<NodeTerm>,
}

impl NodeSelector {
    /// Parses the terms of a node selector.
    pub fn parse(terms: &[NodeSelectorTerm]) -> NodeSelector {
        NodeSelector {
            terms: terms.iter().map(NodeTerm::parse).collect(),
        }
    }

    /// Whether any term matches the node.
    pub fn matches(&self, labels: &Labels, name: &str) -> bool {
        self.terms.iter().any(|term| term.matches(labels, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn label_selectors() {
        let selector = Selector::parse(Some(&LabelSelector {
            match_labels: Some(BTreeMap::from([("app".into(), "web".into())])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        }));
        assert!(selector.matches(&labels(&[("app", "web")])));
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!selector.matches(&labels(&[("app", "api")])));
        assert!(
            !Selector::parse(None).matches(&labels(&[])),
            "nil selects nothing"
        );
        let everything = Selector::parse(Some(&LabelSelector::default()));
        assert!(everything.is_empty() && everything.matches(&labels(&[("a", "b")])));
        let bad = Selector::parse(Some(&LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Gt".into(),
                values: Some(vec!["1".into()]),
            }]),
            ..Default::default()
        }));
        assert_eq!(bad, Selector::Nothing, "Gt is for node selectors only");
    }

    #[test]
    fn node_selector_terms_are_ored_and_expressions_anded() {
        let selector = NodeSelector::parse(&[
            NodeSelectorTerm {
                match_expressions: Some(vec![
                    expression("zone", "In", &["a", "b"]),
                    expression("cores", "Gt", &["4"]),
                ]),
                match_fields: None,
            },
            NodeSelectorTerm {
                match_expressions: None,
                match_fields: Some(vec![expression("metadata.name", "In", &["special"])]),
            },
        ]);
        assert!(selector.matches(&labels(&[("zone", "a"), ("cores", "8")]), "n1"));
        assert!(!selector.matches(&labels(&[("zone", "a"), ("cores", "4")]), "n1"));
        assert!(!selector.matches(&labels(&[("zone", "c"), ("cores", "8")]), "n1"));
        assert!(selector.matches(&labels(&[]), "special"));
        let empty = NodeSelector::parse(&[NodeSelectorTerm::default()]);
        assert!(
            !empty.matches(&labels(&[]), "n1"),
            "an empty term matches nothing"
        );
        let lt = NodeSelector::parse(&[NodeSelectorTerm {
            match_expressions: Some(vec![expression("cores", "Lt", &["x"])]),
            match_fields: None,
        }]);
        assert!(
            !lt.matches(&labels(&[("cores", "1")]), "n1"),
            "invalid terms match nothing"
        );
    }
}
