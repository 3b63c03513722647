//! Label and field selectors as lists and watches apply them: equality (`=`, `==`), inequality (`!=`),
//! existence (`key`, `!key`) and set terms (`in`, `notin`) for labels; for fields, equality and
//! inequality over the fields the resource can be selected by (`kubers_core::field_labels`), others
//! refused with upstream's 400.

use kubers_core::field_labels::{self, FieldLabel};
use kubers_core::registry::ResourceInfo;
use serde_json::Value;

use super::query::Query;
use crate::errors::ApiError;

/// One selector term.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Term {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// The label and field selectors of a request.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    labels: Vec<Term>,
    fields: Vec<Term>,
    selectable: &'static [FieldLabel],
}

impl Filter {
    /// Parses the request's selectors for the resource `info`; malformed ones, and fields the
    /// resource cannot be selected by, are a 400.
    pub fn new(query: &Query, info: &ResourceInfo) -> Result<Filter, ApiError> {
        let selectable = field_labels::field_labels(info.group, info.resource);
        let fields = parse(query.field_selector.as_deref().unwrap_or(""), false)?;
        for term in &fields {
            field_labels::check(selectable, term.key()).map_err(ApiError::bad_request)?;
        }
        Ok(Filter {
            labels: parse(query.label_selector.as_deref().unwrap_or(""), true)?,
            fields,
            selectable,
        })
    }

    /// Whether the request has no selector (every object is selected).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether `object` is selected.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object
            .get("metadata")
            .and_then(|metadata| metadata.get("labels"));
        self.matches_parts(
            |key| {
                labels
                    .and_then(|labels| labels.get(key))
                    .and_then(Value::as_str)
            },
            |path| field_labels::value(self.selectable, object, path),
        )
    }

    /// Whether an object is selected, given its labels (`label`) and its fields by dotted path
    /// (`field`): for callers that keep these without the whole object.
    pub fn matches_parts<'a>(
        &self,
        label: impl Fn(&str) -> Option<&'a str>,
        field: impl Fn(&str) -> Option<String>,
    ) -> bool {
        self.labels
            .iter()
            .all(|term| holds(term, |key| label(key).map(str::to_owned)))
            && self.fields.iter().all(|term| holds(term, &field))
    }
}

impl Term {
    fn key(&self) -> &str {
        match self {
            Term::Equals(key, _)
            | Term::NotEquals(key, _)
            | Term::Exists(key)
            | Term::NotExists(key)
            | Term::In(key, _)
            | Term::NotIn(key, _) => key,
        }
    }
}

fn holds(term: &Term, lookup: impl Fn(&str) -> Option<String>) -> bool {
    match term {
        Term::Equals(key, value) => lookup(key).as_deref() == Some(value.as_str()),
        Term::NotEquals(key, value) => lookup(key).as_deref() != Some(value.as_str()),
        Term::Exists(key) => lookup(key).is_some(),
        Term::NotExists(key) => lookup(key).is_none(),
        Term::In(key, values) => lookup(key).is_some_and(|found| values.contains(&found)),
        Term::NotIn(key, values) => lookup(key).is_none_or(|found| !values.contains(&found)),
    }
}

fn parse(selector: &str, labels: bool) -> Result<Vec<Term>, ApiError> {
    let mut terms = Vec::new();
    for raw in split_terms(selector) {
        let term = raw.trim();
        if term.is_empty() {
            continue;
        }
        let invalid = || {
            let what = if labels { "label" } else { "field" };
            ApiError::bad_request(format!(
                "unable to parse requirement: invalid {what} selector {term:?}"
            ))
        };
        let parsed = if let Some((key, value)) = term.split_once("!=") {
            Term::NotEquals(key.trim().to_owned(), value.trim().to_owned())
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            Term::Equals(key.trim().to_owned(), value.trim().to_owned())
        } else if let Some((key, values)) = set_term(term, " notin ") {
            Term::NotIn(key, values.ok_or_else(invalid)?)
        } else if let Some((key, values)) = set_term(term, " in ") {
            Term::In(key, values.ok_or_else(invalid)?)
        } else if let Some(key) = term.strip_prefix('!') {
            Term::NotExists(key.trim().to_owned())
        } else if labels {
            Term::Exists(term.to_owned())
        } else {
            return Err(invalid());
        };
        terms.push(parsed);
    }
    Ok(terms)
}

/// `key in (a,b)` as the key and its values (`None` when the parenthesis is malformed).
fn set_term(term: &str, operator: &str) -> Option<(String, Option<Vec<String>>)> {
    let (key, rest) = term.split_once(operator)?;
    let values = rest
        .trim()
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
        .map(|inner| {
            inner
                .split(',')
                .map(|value| value.trim().to_owned())
                .collect()
        });
    Some((key.trim().to_owned(), values))
}

/// Splits on commas outside parentheses.
fn split_terms(selector: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, character) in selector.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&selector[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> &'static ResourceInfo {
        kubers_core::registry::find("", "v1", "pods").expect("pods are served")
    }

    fn filter(labels: &str, fields: &str) -> Filter {
        Filter::new(
            &Query {
                label_selector: Some(labels.to_owned()),
                field_selector: Some(fields.to_owned()),
                ..Query::default()
            },
            pods(),
        )
        .expect("valid selectors")
    }

    #[test]
    fn selectors() {
        let pod = json!({"metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
                         "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        for (labels, fields, expected) in [
            ("", "", true),
            ("app=web", "", true),
            ("app==web,tier", "", true),
            ("app!=web", "", false),
            ("!missing", "", true),
            ("tier in (front, back)", "", true),
            ("tier notin (front)", "", false),
            ("", "metadata.name=web-1", true),
            ("", "metadata.namespace=default,metadata.name=web-1", true),
            ("", "spec.nodeName=n2", false),
            ("", "status.phase!=Pending", true),
            ("", "status.podIP=", true),
            ("", "spec.nodeName!=,spec.hostNetwork=false", true),
        ] {
            assert_eq!(
                filter(labels, fields).matches(&pod),
                expected,
                "{labels} / {fields}"
            );
        }
        for refused in ["bare", "spec.containers=x"] {
            assert!(
                Filter::new(
                    &Query {
                        field_selector: Some(refused.into()),
                        ..Query::default()
                    },
                    pods(),
                )
                .is_err(),
                "{refused}"
            );
        }
    }
}
