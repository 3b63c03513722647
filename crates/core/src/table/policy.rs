//! The resourcequotas table (Name, Age, Request, Limit: `resource: used/hard` pairs, `limits.*` in
//! Limit) and the poddisruptionbudgets table (Name, Min Available, Max Unavailable, Allowed
//! Disruptions, Age), like upstream's printers.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const QUOTAS: Printer = Printer {
    columns: quota_columns,
    cells: quota_cells,
};
pub(crate) const BUDGETS: Printer = Printer {
    columns: budget_columns,
    cells: budget_cells,
};

fn quota_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        ColumnDefinition::age(),
        column(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
            0,
        ),
        column(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            0,
        ),
    ]
}

fn quota_cells(quota: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(quota, now);
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    if let Some(hard) = quota.pointer("/status/hard").and_then(Value::as_object) {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for resource in names {
            let used = quota
                .pointer("/status/used")
                .and_then(|used| used.get(resource))
                .and_then(Value::as_str)
                .unwrap_or("0");
            let limit = hard[resource].as_str().unwrap_or("0");
            let entry = format!("{resource}: {used}/{limit}");
            if resource.split('.').next() == Some("limits") && resource.contains('.') {
                limits.push(entry);
            } else {
                requests.push(entry);
            }
        }
    }
    vec![
        name,
        age,
        Value::String(requests.join(", ")),
        Value::String(limits.join(", ")),
    ]
}

fn budget_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column(
            "Min Available",
            "string",
            "The minimum number of pods that must be available simultaneously.  This can be either an integer or a string specifying a percentage, e.g. \"28%\".",
            0,
        ),
        column(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable simultaneously.  This can be either an integer or a string specifying a percentage, e.g. \"28%\".",
            0,
        ),
        column(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
            0,
        ),
        ColumnDefinition::age(),
    ]
}

fn budget_cells(budget: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(budget, now);
    let bound = |field: &str| match budget.pointer(&format!("/spec/{field}")) {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.clone(),
        _ => "N/A".to_owned(),
    };
    vec![
        name,
        Value::String(bound("minAvailable")),
        Value::String(bound("maxUnavailable")),
        Value::from(
            budget
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        ),
        age,
    ]
}
