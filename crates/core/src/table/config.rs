//! The configmaps table (Name, Data, Age) and the secrets table (Name, Type, Data, Age), like upstream's
//! printers: Data counts the keys.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ColumnDefinition, Printer, age_of, meta_str};

pub(crate) const CONFIG_MAPS: Printer = Printer {
    columns: config_map_columns,
    cells: config_map_cells,
};

pub(crate) const SECRETS: Printer = Printer {
    columns: secret_columns,
    cells: secret_cells,
};

const CONFIG_MAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric \
    characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys \
    stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation \
    process.";
const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: \
    https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, \
    '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the \
    arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";

fn config_map_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        ColumnDefinition::new("Data", "string", "", CONFIG_MAP_DATA, 0),
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
        ColumnDefinition::new("Type", "string", "", SECRET_TYPE, 0),
        ColumnDefinition::new("Data", "string", "", SECRET_DATA, 0),
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
