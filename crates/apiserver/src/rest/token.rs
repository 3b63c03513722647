//! `serviceaccounts/token`: TokenRequest, as upstream's `registry/core/serviceaccount/storage/token.go`.
//! A POST names the service account in the URL and may give audiences (default: the API server's),
//! `expirationSeconds` (default 3600, at least 600) and a bound object (a pod, secret or node-less
//! pod reference, checked to exist with the given uid); the answer is the request with
//! `status.token`, a signed JWT, and `status.expirationTimestamp`. A pod-bound token for the API
//! server's audiences asking for 3607 seconds (the kube-api-access volume's) lives a year and warns
//! after the 3607 seconds, as upstream's extended expiration does.

use axum::response::Response;
use chrono::{SecondsFormat, TimeZone, Utc};
use kubers_core::registry::{GroupKind, GroupResource};
use kubers_core::status::Cause;
use serde_json::{Value, json};

use super::{ResourceRequest, decode_body, json_response};
use crate::App;
use crate::admission::Operation;
use crate::auth::tokens::{
    Claims, EXTENDED_EXPIRATION_SECONDS, KubernetesClaim, ObjectRef, WARN_ONLY_EXPIRATION_SECONDS,
    claims,
};
use crate::errors::ApiError;

/// Default token lifetime.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Shortest lifetime a client may ask for.
const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Longest lifetime a client may ask for.
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

const TOKEN_REQUEST: GroupKind<'static> = GroupKind {
    group: "authentication.k8s.io",
    kind: "TokenRequest",
};

/// Issues a token for the service account named in the URL.
pub async fn create(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    let Some(namespace) = request.target.namespace.as_deref() else {
        return Err(ApiError::bad_request("namespace is required"));
    };
    let mut token_request = decode_body(&request.headers, body)?;
    // Admitted as a CREATE of `serviceaccounts/token` named by the account, as upstream's handler
    // does before `TokenREST.Create`.
    let admission = request.admission(Operation::Create, name);
    app.admission
        .admit(&app.reads(), &admission, &mut token_request, None)
        .await?;
    for (field, expected, detail) in [
        (
            "name",
            name,
            "must match the service account name if specified",
        ),
        (
            "namespace",
            namespace,
            "must match the service account namespace if specified",
        ),
    ] {
        if let Some(given) = token_request
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .filter(|given| !given.is_empty() && *given != expected)
        {
            return Err(ApiError::invalid(
                TOKEN_REQUEST,
                name,
                &[Cause::invalid(
                    &format!("metadata.{field}"),
                    &json!(given),
                    detail,
                )],
            ));
        }
    }
    app.admission
        .validate(&app.reads(), &admission, &token_request, None)
        .await?;
    let account = get(app, "serviceaccounts", Some(namespace), name)
        .await?
        .ok_or_else(|| ApiError::not_found(request.info.group_resource(), name))?;
    let spec = token_request.get("spec").cloned().unwrap_or(json!({}));
    let mut audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences = app.token_issuer.api_audiences().to_vec();
    }
    let expiration = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(value) => value.as_i64().ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid expirationSeconds {value}: must be an integer"
            ))
        })?,
    };
    if expiration < MIN_EXPIRATION_SECONDS {
        return Err(ApiError::invalid(
            TOKEN_REQUEST,
            "",
            &[Cause::invalid(
                "spec.expirationSeconds",
                &json!(expiration),
                "may not specify a duration less than 10 minutes",
            )],
        ));
    }
    if expiration > MAX_EXPIRATION_SECONDS {
        return Err(ApiError::invalid(
            TOKEN_REQUEST,
            "",
            &[Cause::new(
                "FieldValueTooLong",
                "may not specify a duration larger than 2^32 seconds",
                "spec.expirationSeconds",
            )],
        ));
    }
    let bound = bind(app, namespace, name, spec.get("boundObjectRef")).await?;

    let now = Utc::now();
    let mut lifetime = expiration;
    let mut warn_after = None;
    let for_api = audiences
        .iter()
        .all(|audience| app.token_issuer.api_audiences().contains(audience));
    if bound.pod.is_some() && expiration == WARN_ONLY_EXPIRATION_SECONDS && for_api {
        warn_after = Some(now.timestamp() + expiration);
        lifetime = EXTENDED_EXPIRATION_SECONDS;
    }
    let token_claims = Claims {
        sub: claims::username(namespace, name),
        aud: audiences.clone(),
        exp: now.timestamp() + lifetime,
        iat: now.timestamp(),
        nbf: now.timestamp(),
        jti: super::object::new_uid(),
        kubernetes: Some(KubernetesClaim {
            namespace: namespace.to_owned(),
            serviceaccount: ObjectRef {
                name: name.to_owned(),
                uid: uid(&account),
            },
            pod: bound.pod,
            secret: bound.secret,
            node: bound.node,
            warnafter: warn_after,
        }),
        ..Claims::default()
    };
    let token = if request.query.dry_run {
        String::new()
    } else {
        app.token_issuer
            .sign(token_claims)
            .map_err(ApiError::internal)?
    };
    let expires = Utc
        .timestamp_opt(now.timestamp() + expiration, 0)
        .single()
        .unwrap_or(now);
    let mut spec = spec;
    if let Some(fields) = spec.as_object_mut() {
        fields.insert("audiences".into(), json!(audiences));
        fields.insert("expirationSeconds".into(), json!(expiration));
    }
    if let Some(fields) = token_request.as_object_mut() {
        fields.insert("kind".into(), json!("TokenRequest"));
        fields.insert("apiVersion".into(), json!("authentication.k8s.io/v1"));
        fields.insert(
            "metadata".into(),
            json!({
                "name": name,
                "namespace": namespace,
                "creationTimestamp": now.to_rfc3339_opts(SecondsFormat::Secs, true),
            }),
        );
        fields.insert("spec".into(), spec);
        fields.insert(
            "status".into(),
            json!({
                "token": token,
                "expirationTimestamp": expires.to_rfc3339_opts(SecondsFormat::Secs, true),
            }),
        );
    }
    Ok(json_response(201, &token_request))
}

/// The objects a token is bound to.
#[derive(Default)]
struct Bound {
    pod: Option<ObjectRef>,
    secret: Option<ObjectRef>,
    node: Option<ObjectRef>,
}

/// Checks `boundObjectRef` (a pod or secret of the namespace) and names the objects it binds.
async fn bind(
    app: &App,
    namespace: &str,
    account: &str,
    reference: Option<&Value>,
) -> Result<Bound, ApiError> {
    let Some(reference) = reference.filter(|reference| !reference.is_null()) else {
        return Ok(Bound::default());
    };
    let field = |name: &str| {
        reference
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (kind, api_version, name, wanted_uid) = (
        field("kind"),
        field("apiVersion"),
        field("name"),
        field("uid"),
    );
    let group = api_version
        .rsplit_once('/')
        .map_or("", |(group, _)| group)
        .to_owned();
    let mut bound = Bound::default();
    let (resource, object) = match (group.as_str(), kind.as_str()) {
        ("", "Pod") => {
            let pod = get(app, "pods", Some(namespace), &name)
                .await?
                .ok_or_else(|| ApiError::not_found(core("pods"), &name))?;
            let runs_as = pod
                .pointer("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if runs_as != account {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount \"{account}\" to pod running with different serviceaccount name."
                )));
            }
            if let Some(node_name) = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|node| !node.is_empty())
                && let Some(node) = get(app, "minions", None, node_name).await?
            {
                bound.node = Some(ObjectRef {
                    name: node_name.to_owned(),
                    uid: uid(&node),
                });
            }
            bound.pod = Some(ObjectRef {
                name: name.clone(),
                uid: uid(&pod),
            });
            ("Pod", pod)
        }
        ("", "Secret") => {
            let secret = get(app, "secrets", Some(namespace), &name)
                .await?
                .ok_or_else(|| ApiError::not_found(core("secrets"), &name))?;
            bound.secret = Some(ObjectRef {
                name: name.clone(),
                uid: uid(&secret),
            });
            ("Secret", secret)
        }
        _ => {
            let version = api_version.rsplit('/').next().unwrap_or("");
            let shown = if group.is_empty() {
                format!("/{version}, Kind={kind}")
            } else {
                format!("{group}/{version}, Kind={kind}")
            };
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {shown}"
            )));
        }
    };
    let actual = uid(&object);
    if !wanted_uid.is_empty() && wanted_uid != actual {
        return Err(ApiError(kubers_core::status::conflict(
            GroupResource {
                group: "",
                resource,
            },
            &name,
            &format!(
                "the UID in the bound object reference ({wanted_uid}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        )));
    }
    Ok(bound)
}

fn core(resource: &'static str) -> GroupResource<'static> {
    GroupResource {
        group: "",
        resource,
    }
}

fn uid(object: &Value) -> String {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// The stored object of `resource` (its storage prefix) named `name`.
async fn get(
    app: &App,
    resource: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    let key = match namespace {
        Some(namespace) => format!("/registry/{resource}/{namespace}/{name}"),
        None => format!("/registry/{resource}/{name}"),
    };
    match app.store.get(&key).await {
        Ok(Some(kv)) => super::object::from_stored(&kv)
            .map(Some)
            .map_err(ApiError::internal),
        Ok(None) => Ok(None),
        Err(error) => Err(ApiError::unavailable(error)),
    }
}
