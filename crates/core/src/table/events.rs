//! The events table (upstream's event printer): Last Seen, Type, Reason, Object, Message; with
//! `-o wide` also Subobject, Source, First Seen, Count and Name.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ColumnDefinition, Printer, age_of, meta_str};

pub(crate) const EVENTS: Printer = Printer { columns, cells };

fn columns() -> Vec<ColumnDefinition> {
    let column = |name: &str, kind: &str, description: &str, priority: i32| {
        ColumnDefinition::new(name, kind, "", description, priority)
    };
    vec![
        column(
            "Last Seen",
            "string",
            "The time the event was last observed.",
            0,
        ),
        column(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future.",
            0,
        ),
        column(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            0,
        ),
        column(
            "Object",
            "string",
            "The object that this event is about.",
            0,
        ),
        column(
            "Subobject",
            "string",
            "The field of the object this event is about.",
            1,
        ),
        column("Source", "string", "The component reporting this event.", 1),
        column(
            "Message",
            "string",
            "A human-readable description of the status of this operation.",
            0,
        ),
        column(
            "First Seen",
            "string",
            "The time at which the event was first recorded.",
            1,
        ),
        column(
            "Count",
            "string",
            "The number of times this event has occurred.",
            1,
        ),
        ColumnDefinition {
            priority: 1,
            ..ColumnDefinition::name()
        },
    ]
}

fn cells(event: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let text = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let first = [
        "/firstTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .find_map(|pointer| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|time| !time.is_empty())
    });
    let last = ["/lastTimestamp", "/series/lastObservedTime", "/eventTime"]
        .iter()
        .find_map(|pointer| {
            event
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|time| !time.is_empty())
        })
        .or(first);
    let object = format!(
        "{}/{}",
        text("/involvedObject/kind").to_lowercase(),
        text("/involvedObject/name")
    );
    let component = [text("/source/component"), text("/reportingComponent")]
        .into_iter()
        .find(|component| !component.is_empty())
        .unwrap_or_default();
    let host = [text("/source/host"), text("/reportingInstance")]
        .into_iter()
        .find(|host| !host.is_empty())
        .unwrap_or_default();
    let source = if host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    };
    let count = event.get("count").and_then(Value::as_i64).unwrap_or(1);
    vec![
        Value::String(age_of(last, now)),
        Value::String(text("/type")),
        Value::String(text("/reason")),
        Value::String(object),
        Value::String(text("/involvedObject/fieldPath")),
        Value::String(source),
        Value::String(text("/message").trim().to_owned()),
        Value::String(age_of(first, now)),
        Value::from(count),
        Value::String(meta_str(event, "name").unwrap_or("").to_owned()),
    ]
}
