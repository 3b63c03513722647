//! Upstream's default table for resources without a printer of their own: Name and Created At (an
//! RFC 3339 UTC time, which kubectl turns into an age itself).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::{CREATION_TIMESTAMP_DESCRIPTION, ColumnDefinition, Printer, meta_str};

/// What Go prints for the zero time, as upstream does for objects without a creation time.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(crate) const PRINTER: Printer = Printer { columns, cells };

fn columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        ColumnDefinition::new("Created At", "date", "", CREATION_TIMESTAMP_DESCRIPTION, 0),
    ]
}

fn cells(object: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let name = meta_str(object, "name").unwrap_or("");
    let created = meta_str(object, "creationTimestamp")
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map_or_else(
            || ZERO_TIME.to_owned(),
            |time| {
                time.with_timezone(&Utc)
                    .to_rfc3339_opts(SecondsFormat::Secs, true)
            },
        );
    vec![Value::String(name.to_owned()), Value::String(created)]
}
