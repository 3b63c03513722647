//! The configmaps table (Name, Data, Age) and the secrets table (Name, Type, Data, Age), like upstream's
//! printers: Data counts the keys.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::descriptions as doc;
use super::{ColumnDefinition, Printer, age_of, meta_str};

pub(crate) const CONFIG_MAPS: Printer = Printer {
    columns: config_map_columns,
    cells: config_map_cells,
};

pub(crate) const SECRETS: Printer = Printer {
    columns: secret_columns,
    cells: secret_cells,
};

fn config_map_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        ColumnDefinition::new("Data", "string", "", doc::CM_DATA, 0),
        ColumnDefinition::age(),
    ]
}

fn config_map_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let keys = count_keys(object, "data") + count_keys(object, "binaryData");
    vec![
        Value::String(meta_str(object, "name").unwrap_or("").to_owned()),
        Value::from(keys),
        Value::String(age_of(meta_str(object, "creationTimestamp"), now)),
    ]
}

fn secret_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        ColumnDefinition::new("Type", "string", "", doc::SECRET_TYPE, 0),
        ColumnDefinition::new("Data", "string", "", doc::SECRET_DATA, 0),
        ColumnDefinition::age(),
    ]
}

fn secret_cells(object: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
    vec![
        Value::String(meta_str(object, "name").unwrap_or("").to_owned()),
        Value::String(kind.to_owned()),
        Value::from(count_keys(object, "data")),
        Value::String(age_of(meta_str(object, "creationTimestamp"), now)),
    ]
}

fn count_keys(object: &Value, field: &str) -> usize {
    object
        .get(field)
        .and_then(Value::as_object)
        .map_or(0, |map| map.len())
}
