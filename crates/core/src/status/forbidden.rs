//! 403 `Forbidden` answers to requests the authorizer denied, worded like the API server's
//! (`pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace
//! "default"`).

use super::{StatusError, details, failure, go_quote};

/// The denied request, as the authorizer saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForbiddenRequest<'a> {
    /// User name, e.g. `system:anonymous`.
    pub user: &'a str,
    /// Verb, e.g. `list`.
    pub verb: &'a str,
    /// API group, empty for core.
    pub group: &'a str,
    /// Plural resource, e.g. `pods`.
    pub resource: &'a str,
    /// Subresource, e.g. `exec`, or empty.
    pub subresource: &'a str,
    /// Namespace, empty for cluster-scoped or all-namespaces requests.
    pub namespace: &'a str,
    /// Object name, empty for collections.
    pub name: &'a str,
    /// The authorizer's reason, appended after `: ` when not empty.
    pub reason: &'a str,
}

/// Upstream escapes these before putting user input in a message.
fn sanitize(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn with_reason(message: String, reason: &str) -> String {
    if reason.is_empty() {
        message
    } else {
        format!("{message}: {reason}")
    }
}

/// 403 for a resource request.
pub fn forbidden(request: &ForbiddenRequest<'_>) -> StatusError {
    let mut resource = request.resource.to_owned();
    if !request.subresource.is_empty() {
        resource = format!("{resource}/{}", request.subresource);
    }
    let scope = if request.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace {}", go_quote(request.namespace))
    };
    let who = format!(
        "User {} cannot {} resource {} in API group {} {scope}",
        go_quote(request.user),
        request.verb,
        go_quote(&resource),
        go_quote(request.group),
    );
    let reason = with_reason(sanitize(&who), request.reason);
    let qualified = if request.group.is_empty() {
        request.resource.to_owned()
    } else {
        format!("{}.{}", request.resource, request.group)
    };
    let message = match (qualified.is_empty(), request.name.is_empty()) {
        (true, _) => format!("forbidden: {reason}"),
        (false, true) => format!("{qualified} is forbidden: {reason}"),
        (false, false) => format!(
            "{qualified} {} is forbidden: {reason}",
            go_quote(request.name)
        ),
    };
    let details = details(request.name, request.group, request.resource, &[]);
    failure(403, "Forbidden", &message, Some(details))
}

/// 403 for a non-resource request such as `GET /metrics`.
pub fn forbidden_path(user: &str, verb: &str, path: &str, reason: &str) -> StatusError {
    let who = format!(
        "User {} cannot {verb} path {}",
        go_quote(user),
        go_quote(path)
    );
    let message = format!("forbidden: {}", with_reason(sanitize(&who), reason));
    failure(403, "Forbidden", &message, Some(details("", "", "", &[])))
}
