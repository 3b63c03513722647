//! POST: create an object, with the fields the server owns (uid, creationTimestamp, resourceVersion),
//! `generateName`, admission (which checks the namespace) and `dryRun`.

use axum::response::Response;
use kubers_core::status::Cause;
use rand::Rng;
use serde_json::{Value, json};

use super::list::api_version;
use super::{ResourceRequest, allocator, decode_body, fields, json_response, object, store_error};
use crate::App;
use crate::admission::Operation;
use crate::errors::ApiError;

/// Characters of generated name suffixes (upstream's: no vowels, no easily confused digits).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Creates the object in the request body.
pub async fn create(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let mut object = decode_body(&request.headers, body)?;
    check_type(request, &object)?;
    let warnings = fields::check(request, fields::Source::Create, &mut object, body)?;
    fields::with_warnings(store(app, request, object).await, &warnings)
}

/// Names, defaults, validates and stores a new object.
async fn store(
    app: &App,
    request: &ResourceRequest,
    mut object: Value,
) -> Result<Response, ApiError> {
    let namespace = match (&request.target.namespace, request.info.namespaced) {
        (Some(namespace), true) => Some(namespace.clone()),
        (None, false) => None,
        _ => {
            return Err(ApiError::method_not_supported(
                request.info.group_resource(),
                "create",
            ));
        }
    };
    let name = choose_name(request, &object)?;
    if let Some(namespace) = &namespace {
        match object::metadata_str(&object, "namespace") {
            Some(given) if !given.is_empty() && given != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
    }
    prepare(request, &mut object, &name, namespace.as_deref());
    kubers_core::defaults::apply(request.info, &mut object);
    super::managed::record(request, None, &mut object)?;
    let admission = request.admission(Operation::Create, &name);
    app.admission
        .admit(&app.reads(), &admission, &mut object, None)
        .await?;
    let causes = kubers_core::validation::validate(request.info, &object);
    if !causes.is_empty() {
        return Err(ApiError::invalid(request.info.group_kind(), &name, &causes));
    }
    app.admission
        .validate(&app.reads(), &admission, &object, None)
        .await?;
    let key = kubers_core::registry::storage_key(request.info, namespace.as_deref(), Some(&name));
    if request.query.dry_run {
        return Ok(json_response(201, &object));
    }
    let named = ResourceRequest {
        info: request.info,
        target: super::path::Target {
            name: Some(name),
            ..request.target.clone()
        },
        query: request.query.clone(),
        headers: request.headers.clone(),
        user: std::sync::Arc::clone(&request.user),
    };
    let reservations = if request.info.group.is_empty() && request.info.resource == "services" {
        let name = object::metadata_str(&object, "name")
            .unwrap_or("")
            .to_owned();
        Some(allocator::allocate(app.store.as_ref(), app.service_cidr, &name, &mut object).await?)
    } else {
        None
    };
    let created = app.store.create(&key, object::to_stored(&object)).await;
    let revision = match created {
        Ok(revision) => revision,
        Err(error) => {
            if let Some(reservations) = reservations {
                reservations.release(app.store.as_ref()).await;
            }
            return Err(store_error(&named, error));
        }
    };
    object::set_resource_version(&mut object, revision);
    Ok(json_response(201, &object))
}

/// Checks the body's `apiVersion` and `kind`, when given, against the URL's resource.
pub fn check_type(request: &ResourceRequest, object: &Value) -> Result<(), ApiError> {
    let expected_version = api_version(request);
    if let Some(version) = object.get("apiVersion").and_then(Value::as_str)
        && !version.is_empty()
        && version != expected_version
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({version}) does not match the expected API version ({expected_version})"
        )));
    }
    if let Some(kind) = object.get("kind").and_then(Value::as_str)
        && !kind.is_empty()
        && kind != request.info.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            request.info.kind
        )));
    }
    Ok(())
}

/// `metadata.name`, or `generateName` plus five random characters; validated.
fn choose_name(request: &ResourceRequest, object: &Value) -> Result<String, ApiError> {
    let name = match object::metadata_str(object, "name").filter(|name| !name.is_empty()) {
        Some(name) => name.to_owned(),
        None => {
            match object::metadata_str(object, "generateName").filter(|prefix| !prefix.is_empty()) {
                Some(prefix) => {
                    let mut rng = rand::rng();
                    let suffix: String = (0..5)
                        .map(|_| {
                            char::from(SUFFIX_ALPHABET[rng.random_range(0..SUFFIX_ALPHABET.len())])
                        })
                        .collect();
                    format!("{prefix}{suffix}")
                }
                None => {
                    return Err(ApiError::invalid(
                        request.info.group_kind(),
                        "",
                        &[Cause::required(
                            "metadata.name",
                            "name or generateName is required",
                        )],
                    ));
                }
            }
        }
    };
    let problems = kubers_core::validation::name_problems(request.info, &name);
    if !problems.is_empty() {
        let causes: Vec<Cause> = problems
            .iter()
            .map(|problem| Cause::invalid("metadata.name", &Value::String(name.clone()), problem))
            .collect();
        return Err(ApiError::invalid(request.info.group_kind(), &name, &causes));
    }
    Ok(name)
}

/// Sets the fields the server owns on a new object.
fn prepare(request: &ResourceRequest, object: &mut Value, name: &str, namespace: Option<&str>) {
    let has_spec = object.get("spec").is_some();
    if let Some(fields) = object.as_object_mut() {
        fields.insert("apiVersion".into(), Value::String(api_version(request)));
        fields.insert("kind".into(), Value::String(request.info.kind.to_owned()));
    }
    if let Some(metadata) = object::metadata_mut(object) {
        metadata.insert("name".into(), Value::String(name.to_owned()));
        match namespace {
            Some(namespace) => {
                metadata.insert("namespace".into(), Value::String(namespace.to_owned()))
            }
            None => metadata.remove("namespace"),
        };
        metadata.insert("uid".into(), Value::String(object::new_uid()));
        metadata.insert("creationTimestamp".into(), Value::String(object::now()));
        for owned in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            metadata.remove(owned);
        }
        if has_spec {
            metadata.insert("generation".into(), json!(1));
        }
    }
    if let Some(status) = kubers_core::defaults::initial_status(request.info)
        && let Some(fields) = object.as_object_mut()
    {
        fields.insert("status".into(), status);
    }
    if request.info.resource == "namespaces" {
        if let Some(metadata) = object::metadata_mut(object) {
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(
                    "kubernetes.io/metadata.name".into(),
                    Value::String(name.to_owned()),
                );
            }
        }
        if let Some(fields) = object.as_object_mut() {
            fields.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
            fields.insert("status".into(), json!({"phase": "Active"}));
        }
    }
}
