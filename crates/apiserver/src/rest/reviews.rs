//! The create-only review resources, answered and forgotten like upstream's:
//! `authentication.k8s.io/v1` TokenReview (is this token valid, and whose is it) and
//! SelfSubjectReview (`kubectl auth whoami`); `authorization.k8s.io/v1` SubjectAccessReview,
//! LocalSubjectAccessReview and SelfSubjectAccessReview (`kubectl auth can-i`), answered by the
//! authorizer, and SelfSubjectRulesReview (`kubectl auth can-i --list`), by its rules.

use std::collections::BTreeMap;

use axum::response::Response;
use chrono::{SecondsFormat, Utc};
use kubers_core::registry::ResourceInfo;
use kubers_core::status::Cause;
use serde_json::{Map, Value, json};

use super::{ResourceRequest, decode_body, json_response};
use crate::App;
use crate::auth::UserInfo;
use crate::auth::authz::{Attributes, Decision, Rules};
use crate::errors::ApiError;

/// Whether `info` is one of the review resources.
pub fn is_review(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.resource),
        (
            "authentication.k8s.io",
            "tokenreviews" | "selfsubjectreviews"
        ) | (
            "authorization.k8s.io",
            "subjectaccessreviews"
                | "localsubjectaccessreviews"
                | "selfsubjectaccessreviews"
                | "selfsubjectrulesreviews"
        )
    )
}

/// Answers a review.
pub async fn create(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    if request.info.namespaced != request.target.namespace.is_some() {
        return Err(ApiError::method_not_supported(
            request.info.group_resource(),
            "create",
        ));
    }
    let mut review = decode_body(&request.headers, body)?;
    super::create::check_type(request, &review)?;
    let status = match request.info.resource {
        "tokenreviews" => token_review(app, &review).await?,
        "selfsubjectreviews" => {
            if let Some(fields) = review.as_object_mut() {
                fields.insert(
                    "metadata".into(),
                    json!({"creationTimestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)}),
                );
            }
            json!({"userInfo": request.user.to_json()})
        }
        "selfsubjectrulesreviews" => {
            let namespace = review
                .pointer("/spec/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            if namespace.is_empty() {
                return Err(ApiError::bad_request("no namespace on request"));
            }
            let rules = app.authorizer.rules_for(&request.user, namespace).await;
            // Upstream answers with the status alone.
            if let Some(fields) = review.as_object_mut() {
                fields.remove("spec");
                fields.insert("metadata".into(), json!({}));
            }
            rules_status(&rules)
        }
        _ => access_review(app, request, &review).await?,
    };
    if let Some(fields) = review.as_object_mut() {
        fields.insert("kind".into(), json!(request.info.kind));
        fields.insert("apiVersion".into(), json!(request.info.api_version()));
        fields.insert("status".into(), status);
    }
    Ok(json_response(201, &review))
}

/// TokenReview: the token checked by the authenticator chain for the given audiences.
async fn token_review(app: &App, review: &Value) -> Result<Value, ApiError> {
    let token = review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("");
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    let requested = strings(review.pointer("/spec/audiences"));
    let api = app.token_issuer.api_audiences();
    let audiences = if requested.is_empty() {
        api.to_vec()
    } else {
        requested
    };
    let mut status = Map::new();
    match app
        .authenticator
        .authenticate_token(token, &audiences)
        .await
    {
        Ok((user, accepted)) => {
            // Tokens that name no audience (static, join) are for the API server's audiences only.
            let accepted = if accepted.is_empty() {
                audiences
                    .iter()
                    .filter(|audience| api.contains(audience))
                    .cloned()
                    .collect()
            } else {
                accepted
            };
            if accepted.is_empty() {
                status.insert("user".into(), json!({}));
                status.insert(
                    "error".into(),
                    json!(format!(
                        "token audiences {api:?} is invalid for the target audiences {audiences:?}"
                    )),
                );
            } else {
                status.insert("authenticated".into(), json!(true));
                status.insert("user".into(), user.to_json());
                status.insert("audiences".into(), json!(accepted));
            }
        }
        Err(error) => {
            status.insert("user".into(), json!({}));
            status.insert("error".into(), json!(error));
        }
    }
    Ok(Value::Object(status))
}

/// The access reviews: the spec's question put to the authorizer.
async fn access_review(
    app: &App,
    request: &ResourceRequest,
    review: &Value,
) -> Result<Value, ApiError> {
    let spec = review.get("spec").cloned().unwrap_or(json!({}));
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    let mut causes = Vec::new();
    match (resource, non_resource) {
        (Some(_), Some(attributes)) => causes.push(Cause::invalid(
            "spec.nonResourceAttributes",
            attributes,
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => causes.push(Cause::invalid(
            "spec.resourceAttributes",
            &Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    let self_review = request.info.resource == "selfsubjectaccessreviews";
    let user = if self_review {
        (*request.user).clone()
    } else {
        let user = subject(&spec);
        if user.name.is_empty() && user.groups.is_empty() {
            causes.push(Cause::invalid(
                "spec.user",
                &json!(""),
                "at least one of user or group must be specified",
            ));
        }
        user
    };
    if !causes.is_empty() {
        return Err(ApiError::invalid(request.info.group_kind(), "", &causes));
    }
    if request.info.resource == "localsubjectaccessreviews" {
        let namespace = request.target.namespace.as_deref().unwrap_or("");
        let asked = resource
            .and_then(|attributes| attributes.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if resource.is_some() && asked != namespace {
            return Err(ApiError::bad_request(format!(
                "spec.resourceAttributes.namespace must match namespace: {namespace}"
            )));
        }
        let given = review
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !given.is_empty() && given != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let text = |value: Option<&Value>, field: &str| {
        value
            .and_then(|attributes| attributes.get(field))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let attributes = match resource {
        Some(_) => Attributes {
            user,
            verb: text(resource, "verb"),
            resource_request: true,
            namespace: text(resource, "namespace"),
            api_group: text(resource, "group"),
            api_version: Some(text(resource, "version"))
                .filter(|version| !version.is_empty())
                .unwrap_or_else(|| "*".to_owned()),
            resource: text(resource, "resource"),
            subresource: text(resource, "subresource"),
            name: text(resource, "name"),
            path: String::new(),
        },
        None => Attributes {
            user,
            verb: text(non_resource, "verb"),
            path: text(non_resource, "path"),
            ..Attributes::default()
        },
    };
    let answer = app.authorizer.authorize(&attributes).await;
    let mut status = Map::new();
    status.insert("allowed".into(), json!(answer.decision == Decision::Allow));
    if answer.decision == Decision::Deny {
        status.insert("denied".into(), json!(true));
    }
    if !answer.reason.is_empty() {
        status.insert("reason".into(), json!(answer.reason));
    }
    Ok(Value::Object(status))
}

/// The user a SubjectAccessReview asks about.
fn subject(spec: &Value) -> UserInfo {
    let extra: BTreeMap<String, Vec<String>> = spec
        .get("extra")
        .and_then(Value::as_object)
        .map(|extra| {
            extra
                .iter()
                .map(|(key, values)| (key.clone(), strings(Some(values))))
                .collect()
        })
        .unwrap_or_default();
    UserInfo {
        name: spec
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        uid: spec
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        groups: strings(spec.get("groups")),
        extra,
    }
}

/// The `SubjectRulesReviewStatus` of `rules`.
fn rules_status(rules: &Rules) -> Value {
    let resource_rules: Vec<Value> = rules
        .resource_rules
        .iter()
        .map(|rule| {
            let mut map = Map::new();
            map.insert("verbs".into(), json!(rule.verbs));
            for (key, list) in [
                ("apiGroups", &rule.api_groups),
                ("resources", &rule.resources),
                ("resourceNames", &rule.resource_names),
            ] {
                if !list.is_empty() {
                    map.insert(key.into(), json!(list));
                }
            }
            Value::Object(map)
        })
        .collect();
    let non_resource_rules: Vec<Value> = rules
        .non_resource_rules
        .iter()
        .map(|rule| {
            let mut map = Map::new();
            map.insert("verbs".into(), json!(rule.verbs));
            if !rule.non_resource_urls.is_empty() {
                map.insert("nonResourceURLs".into(), json!(rule.non_resource_urls));
            }
            Value::Object(map)
        })
        .collect();
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": rules.incomplete,
    });
    if !rules.evaluation_error.is_empty()
        && let Some(map) = status.as_object_mut()
    {
        map.insert("evaluationError".into(), json!(rules.evaluation_error));
    }
    status
}

/// The strings of a JSON array (others ignored).
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
