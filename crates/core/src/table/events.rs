//! The events table (upstream's event printer): Last Seen, Type, Reason, Object, Message; with
//! `-o wide` also Subobject, Source, First Seen, Count and Name. Reads `v1` events and
//! `events.k8s.io/v1` ones (`regarding`, `note`, `deprecated*` fields) alike.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::descriptions as doc;
use super::fields::{UNKNOWN, int, non_empty, text};
use super::{ColumnDefinition, Printer, age_of, column, meta_str};

pub(crate) const EVENTS: Printer = Printer { columns, cells };

fn columns() -> Vec<ColumnDefinition> {
    vec![
        column("Last Seen", "string", doc::EV_LAST, 0),
        column("Type", "string", doc::EV_TYPE, 0),
        column("Reason", "string", doc::EV_REASON, 0),
        column("Object", "string", doc::EV_INVOLVED, 0),
        column("Subobject", "string", doc::EV_FIELD_PATH, 1),
        column("Source", "string", doc::EV_SOURCE, 1),
        column("Message", "string", doc::EV_MESSAGE, 0),
        column("First Seen", "string", doc::EV_FIRST, 1),
        column("Count", "string", doc::EV_COUNT, 1),
        ColumnDefinition {
            priority: 1,
            ..ColumnDefinition::name()
        },
    ]
}

/// The first non-empty string among `pointers`.
fn first<'a>(event: &'a Value, pointers: &[&str]) -> &'a str {
    pointers
        .iter()
        .find_map(|pointer| non_empty(event, pointer))
        .unwrap_or("")
}

fn cells(event: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let since = |time: &str| {
        if time.is_empty() {
            UNKNOWN.to_owned()
        } else {
            age_of(Some(time), now)
        }
    };
    let first_seen = match first(event, &["/firstTimestamp", "/deprecatedFirstTimestamp"]) {
        "" => since(text(event, "/eventTime")),
        time => since(time),
    };
    let mut last_seen = match first(event, &["/lastTimestamp", "/deprecatedLastTimestamp"]) {
        "" => first_seen.clone(),
        time => since(time),
    };
    let mut count = event
        .get("count")
        .or_else(|| event.get("deprecatedCount"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(series) = event.get("series").filter(|series| series.is_object()) {
        last_seen = since(text(series, "/lastObservedTime"));
        count = int(series, "/count");
    } else if count == 0 {
        // Singleton events have no count in the new API.
        count = 1;
    }
    let involved = event
        .get("involvedObject")
        .or_else(|| event.get("regarding"))
        .unwrap_or(&Value::Null);
    let kind = text(involved, "/kind").to_lowercase();
    let target = match non_empty(involved, "/name") {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let component = first(
        event,
        &[
            "/source/component",
            "/deprecatedSource/component",
            "/reportingComponent",
            "/reportingController",
        ],
    );
    let host = first(
        event,
        &[
            "/source/host",
            "/deprecatedSource/host",
            "/reportingInstance",
        ],
    );
    let source = if host.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {host}")
    };
    let message = first(event, &["/message", "/note"]).trim();
    vec![
        last_seen.into(),
        text(event, "/type").into(),
        text(event, "/reason").into(),
        target.into(),
        text(involved, "/fieldPath").into(),
        source.into(),
        message.into(),
        first_seen.into(),
        count.into(),
        meta_str(event, "name").unwrap_or("").into(),
    ]
}
