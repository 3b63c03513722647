//! Policy tables: poddisruptionbudgets (Min Available, Max Unavailable, Allowed Disruptions) and
//! resourcequotas (Request and Limit as `resource: used/hard` lists), like upstream's printers.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::fields::{int, quantity};
use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const POD_DISRUPTION_BUDGETS: Printer = Printer {
    columns: pod_disruption_budget_columns,
    cells: pod_disruption_budget_cells,
};
pub(crate) const RESOURCE_QUOTAS: Printer = Printer {
    columns: resource_quota_columns,
    cells: resource_quota_cells,
};

fn pod_disruption_budget_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column(
            "Min Available",
            "string",
            "The minimum number of pods that must be available.",
            0,
        ),
        column(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable.",
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

fn pod_disruption_budget_cells(budget: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(budget, now);
    vec![
        name,
        quantity(budget.pointer("/spec/minAvailable"), "N/A").into(),
        quantity(budget.pointer("/spec/maxUnavailable"), "N/A").into(),
        int(budget, "/status/disruptionsAllowed").into(),
        age,
    ]
}

fn resource_quota_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
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
        ColumnDefinition::age(),
    ]
}

fn resource_quota_cells(quota: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(quota, now);
    let mut resources: Vec<(&String, &Value)> = quota
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .map(|hard| hard.iter().collect())
        .unwrap_or_default();
    resources.sort_by(|a, b| a.0.cmp(b.0));
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for (resource, hard) in resources {
        let used = quota
            .pointer("/status/used")
            .and_then(|used| used.get(resource.as_str()));
        let entry = format!(
            "{resource}: {}/{}",
            quantity(used, "0"),
            quantity(Some(hard), "0")
        );
        // Resources named `limits.<something>` go to the Limit column, all others to Request.
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name,
        requests.join(", ").into(),
        limits.join(", ").into(),
        age,
    ]
}
