//! Field-level causes of an `Invalid` (422) Status, with messages worded like upstream's
//! `field.Error.ErrorBody()` (`Required value`, `Invalid value: "x": detail`, ...).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::go_quote;

/// One cause in `details.causes`: a reason such as `FieldValueRequired`, the message without the
/// field path, and the field path (`spec.containers[0].image`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueRequired`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable message, e.g. `Required value`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Field path, e.g. `metadata.name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

fn with_detail(mut body: String, detail: &str) -> String {
    if !detail.is_empty() {
        body.push_str(": ");
        body.push_str(detail);
    }
    body
}

/// A bad value as upstream prints it: strings quoted, numbers and booleans bare, `null`, else JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => go_quote(text),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

impl Cause {
    /// A cause with exactly these parts.
    pub fn new(reason: &str, message: &str, field: &str) -> Self {
        Cause {
            reason: reason.to_owned(),
            message: message.to_owned(),
            field: field.to_owned(),
        }
    }

    /// `FieldValueRequired`: `Required value[: detail]`.
    pub fn required(field: &str, detail: &str) -> Self {
        Cause::new(
            "FieldValueRequired",
            &with_detail("Required value".to_owned(), detail),
            field,
        )
    }

    /// `FieldValueInvalid`: `Invalid value: <value>[: detail]`.
    pub fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        let body = format!("Invalid value: {}", value_text(value));
        Cause::new("FieldValueInvalid", &with_detail(body, detail), field)
    }

    /// `FieldValueForbidden`: `Forbidden[: detail]`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Cause::new(
            "FieldValueForbidden",
            &with_detail("Forbidden".to_owned(), detail),
            field,
        )
    }

    /// `FieldValueNotSupported`: `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: &Value, supported: &[&str]) -> Self {
        let body = format!("Unsupported value: {}", value_text(value));
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Cause::new("FieldValueNotSupported", &with_detail(body, &detail), field)
    }

    /// `FieldValueDuplicate`: `Duplicate value: <value>`.
    pub fn duplicate(field: &str, value: &Value) -> Self {
        Cause::new(
            "FieldValueDuplicate",
            &format!("Duplicate value: {}", value_text(value)),
            field,
        )
    }

    /// `FieldValueTooLong`: `Too long: may not be more than N bytes`.
    pub fn too_long(field: &str, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Cause::new(
            "FieldValueTooLong",
            &format!("Too long: may not be more than {max} {unit}"),
            field,
        )
    }

    /// `FieldValueNotFound`: `Not found: <value>`.
    pub fn not_found(field: &str, value: &Value) -> Self {
        Cause::new(
            "FieldValueNotFound",
            &format!("Not found: {}", value_text(value)),
            field,
        )
    }

    /// The cause as one line of an `is invalid:` message: `field: message` (upstream's
    /// `field.Error.Error()`).
    pub fn line(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}
