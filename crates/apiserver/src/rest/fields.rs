//! Server-side field validation on create, update and patch (`fieldValidation`, default `Warn`):
//! unknown fields are dropped from the object; `Warn` answers with a `Warning` header for each unknown
//! or duplicate field, `Strict` refuses the request with 400 and all of them, `Ignore` says nothing
//! (`kubers_core::field_validation`).

use axum::http::HeaderValue;
use axum::response::Response;
use kubers_core::field_validation::{self, Directive, Problem};
use kubers_core::registry::GroupKind;
use kubers_core::status::Cause;
use serde_json::{Value, json};

use super::{ResourceRequest, media_type};
use crate::errors::ApiError;

/// Which request the object came from: the wording of a strict error differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The body of a create.
    Create,
    /// The body of an update.
    Update,
    /// The result of applying a patch.
    Patch,
}

/// Checks `object` against its kind's schema and drops unknown fields; `body` is the raw request body,
/// scanned for duplicate keys when it is JSON. Returns the warnings to send.
pub fn check(
    request: &ResourceRequest,
    source: Source,
    object: &mut Value,
    body: &[u8],
) -> Result<Vec<String>, ApiError> {
    let directive = directive(request, source)?;
    let info = request.info;
    let mut problems = Vec::new();
    let json_body = matches!(
        media_type(&request.headers),
        "" | "application/json"
            | "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
    );
    if directive != Directive::Ignore && json_body {
        problems.extend(field_validation::duplicate_fields(body));
    }
    problems.extend(field_validation::prune_unknown(
        info.group,
        info.version,
        info.kind,
        object,
    ));
    match directive {
        Directive::Ignore => Ok(Vec::new()),
        Directive::Warn => Ok(problems.iter().map(Problem::to_string).collect()),
        Directive::Strict if problems.is_empty() => Ok(Vec::new()),
        Directive::Strict => {
            let message = field_validation::strict_message(&problems);
            Err(ApiError::bad_request(match source {
                Source::Patch => message,
                Source::Create | Source::Update => {
                    let kind = object
                        .get("kind")
                        .and_then(Value::as_str)
                        .filter(|kind| !kind.is_empty())
                        .unwrap_or(info.kind);
                    format!(
                        "{kind} in version {:?} cannot be handled as a {}: {message}",
                        info.version, info.kind
                    )
                }
            }))
        }
    }
}

/// The request's `fieldValidation`, refused like upstream when it is none of the three.
fn directive(request: &ResourceRequest, source: Source) -> Result<Directive, ApiError> {
    let given = request.query.field_validation.as_deref().unwrap_or("");
    Directive::parse(given).ok_or_else(|| {
        let options = match source {
            Source::Create => "CreateOptions",
            Source::Update => "UpdateOptions",
            Source::Patch => "PatchOptions",
        };
        ApiError::invalid(
            GroupKind {
                group: "meta.k8s.io",
                kind: options,
            },
            "",
            &[Cause::not_supported(
                "fieldValidation",
                &json!(given),
                &Directive::VALUES,
            )],
        )
    })
}

/// Adds a `Warning: 299 - "<text>"` header per warning to a successful response.
pub fn with_warnings(
    response: Result<Response, ApiError>,
    warnings: &[String],
) -> Result<Response, ApiError> {
    let mut response = response?;
    for warning in warnings {
        let text = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            response.headers_mut().append("warning", value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[test]
    fn warnings_become_warning_headers() {
        let response = with_warnings(
            Ok("{}".into_response()),
            &["unknown field \"spec.foo\"".to_owned()],
        )
        .expect("ok");
        let values: Vec<&str> = response
            .headers()
            .get_all("warning")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        assert_eq!(values, [r#"299 - "unknown field \"spec.foo\"""#]);
    }
}
