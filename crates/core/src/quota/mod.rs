//! Resource quota as upstream's `quota/v1` packages compute it, shared by the ResourceQuota
//! admission plugin and controller: resource lists of [`Amount`]s and their arithmetic
//! ([`amount`]), and what each kind of object consumes ([`evaluators`]: pods with their compute
//! resources and scopes, services, claims with their storage, and `count/<resource>.<group>` for
//! everything else). Pure functions over JSON objects.

pub mod amount;
pub mod evaluators;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

pub use amount::Amount;
pub use evaluators::Evaluator;

/// Amounts by resource name, sorted by name.
pub type ResourceList = BTreeMap<String, Amount>;

/// Parses a resource list (`status.hard`, `spec.hard`, a container's `requests`); entries that are
/// not quantities are left out.
pub fn parse_list(list: Option<&Value>) -> ResourceList {
    list.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.clone(), Amount::parse(value.as_str()?)?)))
        .collect()
}

/// A resource list as JSON, every amount in its canonical form.
pub fn to_json(list: &ResourceList) -> Value {
    Value::Object(
        list.iter()
            .map(|(name, amount)| (name.clone(), Value::String(amount.to_string())))
            .collect::<Map<String, Value>>(),
    )
}

/// `a + b`, resource by resource.
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut result = a.clone();
    for (name, amount) in b {
        let sum = result.get(name).copied().unwrap_or_default().plus(*amount);
        result.insert(name.clone(), sum);
    }
    result
}

/// `a - b` for the resources of `a`, never below zero (upstream's `SubtractWithNonNegativeResult`).
pub fn subtract_non_negative(a: &ResourceList, b: &ResourceList) -> ResourceList {
    a.iter()
        .map(|(name, amount)| {
            let difference = match b.get(name) {
                Some(other) => amount.minus(*other),
                None => *amount,
            };
            let difference = if difference.is_negative() {
                Amount::default()
            } else {
                difference
            };
            (name.clone(), difference)
        })
        .collect()
}

/// The entries of `list` named in `names`.
pub fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a str>) -> ResourceList {
    let names: BTreeSet<&str> = names.into_iter().collect();
    list.iter()
        .filter(|(name, _)| names.contains(name.as_str()))
        .map(|(name, amount)| (name.clone(), *amount))
        .collect()
}

/// Whether every entry of `a` is at most the same entry of `b` (entries `b` lacks are unlimited);
/// the names that exceed otherwise (upstream's `LessThanOrEqual`).
pub fn less_than_or_equal(a: &ResourceList, b: &ResourceList) -> (bool, Vec<String>) {
    let exceeded: Vec<String> = a
        .iter()
        .filter(|(name, amount)| b.get(*name).is_some_and(|limit| *amount > limit))
        .map(|(name, _)| name.clone())
        .collect();
    (exceeded.is_empty(), exceeded)
}

/// Whether every amount is zero.
pub fn is_zero(list: &ResourceList) -> bool {
    list.values().all(Amount::is_zero)
}

/// Names of negative amounts.
pub fn negative(list: &ResourceList) -> Vec<String> {
    list.iter()
        .filter(|(_, amount)| amount.is_negative())
        .map(|(name, _)| name.clone())
        .collect()
}

/// `name=amount` pairs sorted by name and joined by commas (upstream's `prettyPrint`).
pub fn pretty_print(list: &ResourceList) -> String {
    list.iter()
        .map(|(name, amount)| format!("{name}={amount}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether two lists have the same amounts (formats aside) for the same names.
pub fn equals(a: &ResourceList, b: &ResourceList) -> bool {
    a.len() == b.len() && a.iter().all(|(name, amount)| b.get(name) == Some(amount))
}

/// The scope selectors of a quota: `spec.scopes` (as `Exists`) then `spec.scopeSelector`.
pub fn scope_selectors(quota: &Value) -> Vec<ScopeSelector> {
    let mut selectors: Vec<ScopeSelector> = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|scope| ScopeSelector {
            scope: scope.to_owned(),
            operator: "Exists".into(),
            values: Vec::new(),
        })
        .collect();
    for expression in quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        selectors.push(ScopeSelector {
            scope: expression["scopeName"].as_str().unwrap_or("").to_owned(),
            operator: expression["operator"].as_str().unwrap_or("").to_owned(),
            values: expression["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        });
    }
    selectors
}

/// One scope a quota is restricted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSelector {
    /// `Terminating`, `NotTerminating`, `BestEffort`, `NotBestEffort`, `PriorityClass`,
    /// `CrossNamespacePodAffinity`.
    pub scope: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`.
    pub values: Vec<String>,
}

/// Message of a create that exceeds a quota (upstream's 403 text, after `forbidden: `).
pub fn exceeded_message(
    quota: &str,
    requested: &ResourceList,
    used: &ResourceList,
    hard: &ResourceList,
    exceeded: &[String],
) -> String {
    let names = || exceeded.iter().map(String::as_str);
    format!(
        "exceeded quota: {quota}, requested: {}, used: {}, limited: {}",
        pretty_print(&mask(requested, names())),
        pretty_print(&mask(used, names())),
        pretty_print(&mask(hard, names())),
    )
}

#[cfg(test)]
mod tests;
