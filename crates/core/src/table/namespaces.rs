//! The namespaces table: Name, Status (the phase) and Age, like upstream's namespace printer.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ColumnDefinition, Printer, age_of, meta_str};

pub(crate) const PRINTER: Printer = Printer { columns, cells };

fn columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        ColumnDefinition::new("Status", "string", "", "The status of the namespace", 0),
        ColumnDefinition::age(),
    ]
}

fn cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let phase = object
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    vec![
        Value::String(meta_str(object, "name").unwrap_or("").to_owned()),
        Value::String(phase.to_owned()),
        Value::String(age_of(meta_str(object, "creationTimestamp"), now)),
    ]
}
