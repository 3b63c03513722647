//! Status objects checked against upstream's wording and shape.

use serde_json::json;

use super::*;

const PODS: GroupResource<'static> = GroupResource {
    group: "",
    resource: "pods",
};
const DEPLOYMENTS: GroupResource<'static> = GroupResource {
    group: "apps",
    resource: "deployments",
};
const POD: GroupKind<'static> = GroupKind {
    group: "",
    kind: "Pod",
};

fn check(error: StatusError, code: u16, reason: &str, message: &str) {
    assert_eq!(error.code, code, "{message}");
    assert_eq!(error.body["code"], code);
    assert_eq!(error.body["kind"], "Status");
    assert_eq!(error.body["apiVersion"], "v1");
    assert_eq!(error.body["status"], "Failure");
    assert_eq!(error.body["metadata"], json!({}));
    assert_eq!(error.reason(), reason);
    assert_eq!(error.message(), message);
    assert_eq!(error.to_string(), message);
}

#[test]
fn messages() {
    check(
        not_found(PODS, "nope"),
        404,
        "NotFound",
        r#"pods "nope" not found"#,
    );
    check(
        not_found(DEPLOYMENTS, "web"),
        404,
        "NotFound",
        r#"deployments.apps "web" not found"#,
    );
    check(
        already_exists(PODS, "dup"),
        409,
        "AlreadyExists",
        r#"pods "dup" already exists"#,
    );
    check(
        conflict(PODS, "x", OPTIMISTIC_LOCK),
        409,
        "Conflict",
        r#"Operation cannot be fulfilled on pods "x": the object has been modified; please apply your changes to the latest version and try again"#,
    );
    check(bad_request("bad"), 400, "BadRequest", "bad");
    check(unauthorized(), 401, "Unauthorized", "Unauthorized");
    check(
        method_not_supported(PODS, "deletecollection"),
        405,
        "MethodNotAllowed",
        r#"deletecollection is not supported on resources of kind "pods""#,
    );
    check(gone("gone"), 410, "Gone", "gone");
    check(
        too_old_resource_version(5, 120),
        410,
        "Expired",
        "too old resource version: 5 (120)",
    );
    check(
        too_large("limit is 3145728"),
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    );
    check(
        unsupported_media_type(&["application/json", "application/yaml"]),
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
    );
    check(
        internal("boom"),
        500,
        "InternalError",
        "Internal error occurred: boom",
    );
}

#[test]
fn details() {
    assert_eq!(
        not_found(PODS, "nope").body["details"],
        json!({"name":"nope","kind":"pods"})
    );
    assert_eq!(
        not_found(DEPLOYMENTS, "web").body["details"],
        json!({"name":"web","group":"apps","kind":"deployments"})
    );
    assert_eq!(
        internal("boom").body["details"],
        json!({"causes":[{"message":"boom"}]})
    );
    assert!(bad_request("x").body.get("details").is_none());
}

#[test]
fn invalid_messages() {
    fn check_invalid(causes: &[Cause], message: &str) {
        let error = invalid(POD, "invalid-pod", causes);
        check(error, 422, "Invalid", message);
    }
    let image = Cause::required("spec.containers[0].image", "");
    check_invalid(
        std::slice::from_ref(&image),
        r#"Pod "invalid-pod" is invalid: spec.containers[0].image: Required value"#,
    );
    let name = Cause::invalid(
        "metadata.name",
        &json!("Bad_Name"),
        "a lowercase RFC 1123 subdomain",
    );
    check_invalid(
        &[image.clone(), name.clone(), image.clone()],
        r#"Pod "invalid-pod" is invalid: [spec.containers[0].image: Required value, metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain]"#,
    );
    check_invalid(&[], r#"Pod "invalid-pod" is invalid"#);
    let error = invalid(
        GroupKind {
            group: "apps",
            kind: "Deployment",
        },
        "d",
        std::slice::from_ref(&image),
    );
    assert!(
        error
            .message()
            .starts_with(r#"Deployment.apps "d" is invalid: "#)
    );
    assert_eq!(
        invalid(POD, "invalid-pod", std::slice::from_ref(&image)).body["details"],
        json!({"name":"invalid-pod","kind":"Pod","causes":[
            {"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].image"}]})
    );
}

#[test]
fn cause_wording() {
    fn check_cause(cause: Cause, reason: &str, message: &str) {
        assert_eq!(
            (cause.reason.as_str(), cause.message.as_str()),
            (reason, message)
        );
    }
    check_cause(
        Cause::required("f", "must be set"),
        "FieldValueRequired",
        "Required value: must be set",
    );
    check_cause(
        Cause::invalid("f", &json!(-1), "must be positive"),
        "FieldValueInvalid",
        "Invalid value: -1: must be positive",
    );
    check_cause(
        Cause::invalid("f", &json!(true), ""),
        "FieldValueInvalid",
        "Invalid value: true",
    );
    check_cause(
        Cause::invalid("f", &json!(null), ""),
        "FieldValueInvalid",
        "Invalid value: null",
    );
    check_cause(
        Cause::invalid("f", &json!({"a":1}), ""),
        "FieldValueInvalid",
        r#"Invalid value: {"a":1}"#,
    );
    check_cause(
        Cause::forbidden("f", "may not be set"),
        "FieldValueForbidden",
        "Forbidden: may not be set",
    );
    check_cause(
        Cause::not_supported(
            "spec.restartPolicy",
            &json!("Sometimes"),
            &["Always", "OnFailure", "Never"],
        ),
        "FieldValueNotSupported",
        r#"Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#,
    );
    check_cause(
        Cause::duplicate("f", &json!("a")),
        "FieldValueDuplicate",
        r#"Duplicate value: "a""#,
    );
    check_cause(
        Cause::not_found("f", &json!("a")),
        "FieldValueNotFound",
        r#"Not found: "a""#,
    );
}

#[test]
fn forbidden_messages() {
    fn check_forbidden(request: ForbiddenRequest<'_>, message: &str) {
        check(forbidden(&request), 403, "Forbidden", message);
    }
    let base = ForbiddenRequest {
        user: "system:serviceaccount:default:default",
        verb: "list",
        resource: "pods",
        namespace: "default",
        ..Default::default()
    };
    check_forbidden(
        base,
        r#"pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default""#,
    );
    assert_eq!(forbidden(&base).body["details"], json!({"kind":"pods"}));
    check_forbidden(
        ForbiddenRequest {
            user: "bob",
            verb: "get",
            group: "apps",
            resource: "deployments",
            name: "web",
            namespace: "prod",
            ..Default::default()
        },
        r#"deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments" in API group "apps" in the namespace "prod""#,
    );
    check_forbidden(
        ForbiddenRequest {
            user: "bob",
            verb: "create",
            resource: "pods",
            subresource: "exec",
            name: "web-1",
            namespace: "default",
            ..Default::default()
        },
        r#"pods "web-1" is forbidden: User "bob" cannot create resource "pods/exec" in API group "" in the namespace "default""#,
    );
    check_forbidden(
        ForbiddenRequest {
            user: "system:anonymous",
            verb: "list",
            resource: "nodes",
            reason: "no RBAC policy matched",
            ..Default::default()
        },
        r#"nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API group "" at the cluster scope: no RBAC policy matched"#,
    );
    check_forbidden(
        ForbiddenRequest {
            user: "<script>",
            verb: "get",
            resource: "secrets",
            name: "s",
            namespace: "a",
            ..Default::default()
        },
        r#"secrets "s" is forbidden: User "&lt;script&gt;" cannot get resource "secrets" in API group "" in the namespace "a""#,
    );
    check(
        forbidden_path("system:anonymous", "get", "/metrics", ""),
        403,
        "Forbidden",
        r#"forbidden: User "system:anonymous" cannot get path "/metrics""#,
    );
}

#[test]
fn quoting_like_go() {
    assert_eq!(go_quote("plain"), r#""plain""#);
    assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
}
