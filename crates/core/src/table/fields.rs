//! Reading an object's fields for cells, with the placeholders upstream's printers print for absent
//! values (`<none>`, `<unset>`, `<unknown>`) and their `a,b,c + 2 more...` truncation of long lists.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What the printers show for an empty list or an absent optional name.
pub(crate) const NONE: &str = "<none>";
/// What the printers show for an unset pointer field.
pub(crate) const UNSET: &str = "<unset>";
/// What the printers show for a value they cannot know (no creation time, no metric yet).
pub(crate) const UNKNOWN: &str = "<unknown>";

/// The string at `pointer`, or `""`.
pub(crate) fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The string at `pointer` when present and not empty.
pub(crate) fn non_empty<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// The array at `pointer`, empty when absent.
pub(crate) fn list<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The integer at `pointer`, or `0` (Go's zero value).
pub(crate) fn int(value: &Value, pointer: &str) -> i64 {
    int_or(value, pointer, 0)
}

/// The integer at `pointer`, or `default` (an API default the server would have filled in).
pub(crate) fn int_or(value: &Value, pointer: &str, default: i64) -> i64 {
    value
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

/// Whether the value at `pointer` is present and not null.
pub(crate) fn is_set(value: &Value, pointer: &str) -> bool {
    value.pointer(pointer).is_some_and(|field| !field.is_null())
}

/// The RFC 3339 time at `pointer`.
pub(crate) fn time(value: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    non_empty(value, pointer)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
}

/// A quantity (or int-or-string) as given: strings verbatim, numbers in decimal, `absent` otherwise.
pub(crate) fn quantity(value: Option<&Value>, absent: &str) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => absent.to_owned(),
    }
}

/// Whether the condition of `kind` under `pointer` (the first one of that type) is `True`.
pub(crate) fn condition_true(value: &Value, pointer: &str, kind: &str) -> bool {
    list(value, pointer)
        .iter()
        .find(|condition| condition["type"] == kind)
        .is_some_and(|condition| condition["status"] == "True")
}

/// Upstream's `listWithMoreString`: the first `max` items joined by `,`, then ` + N more...` for the
/// `count - max` left out; `<unset>` when there is nothing.
pub(crate) fn list_with_more(items: &[String], count: usize, max: usize) -> String {
    let shown = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if count > max {
        return format!("{shown} + {} more...", count - max);
    }
    if shown.is_empty() {
        return UNSET.to_owned();
    }
    shown
}

/// Upstream's `printBoolPtr`: `True`, `False`, or `<unset>` when absent.
pub(crate) fn bool_ptr(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer).and_then(Value::as_bool) {
        Some(true) => "True".to_owned(),
        Some(false) => "False".to_owned(),
        None => UNSET.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn more_than_max_is_counted() {
        let items: Vec<String> = ["a", "b", "c", "d", "e"].map(str::to_owned).to_vec();
        assert_eq!(list_with_more(&items, 5, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&items[..3], 3, 3), "a,b,c");
        assert_eq!(list_with_more(&[], 0, 3), "<unset>");
    }

    #[test]
    fn quantities_as_given() {
        assert_eq!(quantity(Some(&json!("1Gi")), "0"), "1Gi");
        assert_eq!(quantity(Some(&json!(3)), "0"), "3");
        assert_eq!(quantity(None, "0"), "0");
    }

    #[test]
    fn first_condition_of_a_type_decides() {
        let object = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert!(!condition_true(&object, "/status/conditions", "Ready"));
        assert!(!condition_true(&object, "/status/conditions", "Other"));
    }
}
