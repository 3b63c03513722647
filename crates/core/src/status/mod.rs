//! Kubernetes `Status` error objects, worded exactly like upstream's apimachinery `errors` package and
//! the API server's authorization messages, so kubectl prints `Error from server (NotFound): pods
//! "nope" not found` for kubers as it does for Kubernetes.

mod cause;
mod forbidden;

use std::fmt;

use serde_json::{Map, Value, json};

use crate::registry::{GroupKind, GroupResource};

pub use cause::Cause;
pub use forbidden::{ForbiddenRequest, forbidden, forbidden_path};

/// The message of a conflict on a stale `resourceVersion`.
pub const OPTIMISTIC_LOCK: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// A failure `Status` ready to send: the HTTP code and the JSON body (which repeats the code).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusError {
    /// HTTP status code, e.g. 404.
    pub code: u16,
    /// The `Status` object.
    pub body: Value,
}

impl StatusError {
    /// The `reason`, e.g. `NotFound`.
    pub fn reason(&self) -> &str {
        self.body
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The human-readable `message`.
    pub fn message(&self) -> &str {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for StatusError {}

/// Go's `%q` for the strings that appear in messages: quoted, with `"` and `\` and control
/// characters escaped.
pub(crate) fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `details` with upstream's `omitempty` on each field.
fn details(name: &str, group: &str, kind: &str, causes: &[Cause]) -> Value {
    let mut map = Map::new();
    for (key, value) in [("name", name), ("group", group), ("kind", kind)] {
        if !value.is_empty() {
            map.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
    if !causes.is_empty() {
        map.insert("causes".to_owned(), json!(causes));
    }
    Value::Object(map)
}

fn failure(code: u16, reason: &str, message: &str, details: Option<Value>) -> StatusError {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let (Some(details), Some(map)) = (details, body.as_object_mut()) {
        map.insert("details".to_owned(), details);
    }
    StatusError { code, body }
}

fn resource_details(resource: GroupResource<'_>, name: &str) -> Value {
    details(name, resource.group, resource.resource, &[])
}

/// 404 `NotFound`: `pods "nope" not found`, `deployments.apps "web" not found`.
pub fn not_found(resource: GroupResource<'_>, name: &str) -> StatusError {
    let message = format!("{resource} {} not found", go_quote(name));
    failure(
        404,
        "NotFound",
        &message,
        Some(resource_details(resource, name)),
    )
}

/// 409 `AlreadyExists`: `pods "dup" already exists`.
pub fn already_exists(resource: GroupResource<'_>, name: &str) -> StatusError {
    let message = format!("{resource} {} already exists", go_quote(name));
    failure(
        409,
        "AlreadyExists",
        &message,
        Some(resource_details(resource, name)),
    )
}

/// 409 `Conflict`: `Operation cannot be fulfilled on pods "x": <message>` (usually
/// [`OPTIMISTIC_LOCK`]).
pub fn conflict(resource: GroupResource<'_>, name: &str, message: &str) -> StatusError {
    let message = format!(
        "Operation cannot be fulfilled on {resource} {}: {message}",
        go_quote(name)
    );
    failure(
        409,
        "Conflict",
        &message,
        Some(resource_details(resource, name)),
    )
}

/// 422 `Invalid`: `Pod "x" is invalid: spec.containers[0].image: Required value`; several distinct
/// causes are joined as `[a, b]`, like upstream's aggregate errors.
pub fn invalid(kind: GroupKind<'_>, name: &str, causes: &[Cause]) -> StatusError {
    let mut lines: Vec<String> = Vec::new();
    for cause in causes {
        let line = cause.line();
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    let quoted = go_quote(name);
    let message = match lines.as_slice() {
        [] => format!("{kind} {quoted} is invalid"),
        [one] => format!("{kind} {quoted} is invalid: {one}"),
        many => format!("{kind} {quoted} is invalid: [{}]", many.join(", ")),
    };
    failure(
        422,
        "Invalid",
        &message,
        Some(details(name, kind.group, kind.kind, causes)),
    )
}

/// 422 for a patch that cannot be applied (a failed `test`, a missing path).
pub fn invalid_patch(message: &str) -> StatusError {
    failure(422, "Invalid", message, None)
}

/// 400 `BadRequest` with `message` as given.
pub fn bad_request(message: &str) -> StatusError {
    failure(400, "BadRequest", message, None)
}

/// 401 `Unauthorized`, as the API server answers a request whose credentials it rejects.
pub fn unauthorized() -> StatusError {
    failure(401, "Unauthorized", "Unauthorized", None)
}

/// 405 `MethodNotAllowed`: `<action> is not supported on resources of kind "pods"`.
pub fn method_not_supported(resource: GroupResource<'_>, action: &str) -> StatusError {
    let message = format!(
        "{action} is not supported on resources of kind {}",
        go_quote(&resource.to_string())
    );
    failure(
        405,
        "MethodNotAllowed",
        &message,
        Some(resource_details(resource, "")),
    )
}

/// 406 `NotAcceptable`: none of the `Accept`ed types can be produced.
pub fn not_acceptable(accepted: &[&str]) -> StatusError {
    let message = format!(
        "only the following media types are accepted: {}",
        accepted.join(", ")
    );
    failure(406, "NotAcceptable", &message, None)
}

/// 410 `Gone` with `message` as given.
pub fn gone(message: &str) -> StatusError {
    failure(410, "Gone", message, None)
}

/// 410 `Expired`: a `resourceVersion` or continue token that has been compacted away.
pub fn expired(message: &str) -> StatusError {
    failure(410, "Expired", message, None)
}

/// 410 `Expired` for a watch or list from a compacted revision: `too old resource version: 5 (120)`.
pub fn too_old_resource_version(requested: u64, oldest: u64) -> StatusError {
    expired(&format!("too old resource version: {requested} ({oldest})"))
}

/// 413 `RequestEntityTooLarge`: `Request entity too large: <message>`.
pub fn too_large(message: &str) -> StatusError {
    failure(
        413,
        "RequestEntityTooLarge",
        &format!("Request entity too large: {message}"),
        None,
    )
}

/// 415 `UnsupportedMediaType`: the request body's `Content-Type` is not one the server decodes.
pub fn unsupported_media_type(accepted: &[&str]) -> StatusError {
    let message = format!(
        "the body of the request was in an unknown format - accepted media types include: {}",
        accepted.join(", ")
    );
    failure(415, "UnsupportedMediaType", &message, None)
}

/// 500 `InternalError`: `Internal error occurred: <message>`, with the message as the one cause.
pub fn internal(message: &str) -> StatusError {
    let cause = Cause {
        message: message.to_owned(),
        ..Cause::default()
    };
    let text = format!("Internal error occurred: {message}");
    failure(
        500,
        "InternalError",
        &text,
        Some(details("", "", "", &[cause])),
    )
}

#[cfg(test)]
mod tests;
