//! PUT: replace an object (or its status) with optimistic concurrency on `metadata.resourceVersion`.

use axum::response::Response;
use kubers_store::Revision;
use serde_json::{Value, json};

use super::create::check_type;
use super::{ResourceRequest, decode_body, fields, json_response, object, store_error};
use crate::App;
use crate::admission::Operation;
use crate::errors::ApiError;

/// Fields of metadata only the server sets; an update keeps the stored values.
const SERVER_OWNED_METADATA: [&str; 5] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];

/// The stored object an update or patch starts from.
pub struct Current {
    /// The object, with its resourceVersion.
    pub object: Value,
    /// Its modification revision: the compare-and-swap guard of the write.
    pub revision: Revision,
}

/// Reads the named object.
pub async fn read_current(app: &App, request: &ResourceRequest) -> Result<Current, ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    let kv = app
        .store
        .get(&request.key())
        .await
        .map_err(|error| store_error(request, error))?
        .ok_or_else(|| ApiError::not_found(request.info.group_resource(), name))?;
    Ok(Current {
        object: object::from_stored(&kv).map_err(ApiError::internal)?,
        revision: kv.mod_revision,
    })
}

/// Replaces the named object with the request body.
pub async fn update(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    let mut incoming = decode_body(&request.headers, body)?;
    check_type(request, &incoming)?;
    let warnings = fields::check(request, fields::Source::Update, &mut incoming, body)?;
    match object::metadata_str(&incoming, "name") {
        Some(given) if given != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    let current = read_current(app, request).await?;
    fields::with_warnings(
        store_update(app, request, current, incoming).await,
        &warnings,
    )
}

/// Stores `incoming` over `current`: a `resourceVersion` in it is a precondition (without one the write
/// is unconditional); the status subresource changes only the status, the main resource keeps a stored
/// status where the type has a status subresource; server-owned metadata is kept and `generation` moves
/// when the spec changes.
pub async fn store_update(
    app: &App,
    request: &ResourceRequest,
    current: Current,
    mut incoming: Value,
) -> Result<Response, ApiError> {
    let name = request.target.name.as_deref().unwrap_or("");
    if let Some(expected) =
        object::metadata_str(&incoming, "resourceVersion").filter(|rv| !rv.is_empty())
        && expected != current.revision.to_string()
    {
        return Err(ApiError::conflict(request.info.group_resource(), name));
    }
    let current_object = current.object;
    let has_status = request
        .info
        .subresources
        .iter()
        .any(|sub| sub.name == "status");
    let mut updated = match (request.target.subresource.as_deref(), has_status) {
        (Some("status"), _) => {
            let mut updated = current_object.clone();
            if let Some(fields) = updated.as_object_mut() {
                fields.insert(
                    "status".into(),
                    incoming.get("status").cloned().unwrap_or(json!({})),
                );
            }
            updated
        }
        (None, true) => {
            if let Some(fields) = incoming.as_object_mut() {
                match current_object.get("status") {
                    Some(status) => fields.insert("status".into(), status.clone()),
                    None => fields.remove("status"),
                };
            }
            incoming
        }
        _ => incoming,
    };
    kubers_core::defaults::apply(request.info, &mut updated);
    let admission = request.admission(Operation::Update, name);
    app.admission
        .admit(
            &app.reads(),
            &admission,
            &mut updated,
            Some(&current_object),
        )
        .await?;
    let causes = if request.target.subresource.is_some() {
        kubers_core::validation::validate(request.info, &updated)
    } else {
        kubers_core::validation::validate_update(request.info, &current_object, &updated)
    };
    if !causes.is_empty() {
        return Err(ApiError::invalid(request.info.group_kind(), name, &causes));
    }
    app.admission
        .validate(&app.reads(), &admission, &updated, Some(&current_object))
        .await?;
    if request.info.group.is_empty() && request.info.resource == "services" {
        keep_cluster_ip(&current_object, &mut updated, name)?;
    }
    keep_server_fields(request, &current_object, &mut updated);
    if updated.get("spec") != current_object.get("spec")
        && let Some(metadata) = object::metadata_mut(&mut updated)
    {
        let generation = current_object
            .get("metadata")
            .and_then(|metadata| metadata.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        metadata.insert("generation".into(), json!(generation + 1));
    }
    super::managed::record(request, Some(&current_object), &mut updated)?;
    if request.query.dry_run {
        return Ok(json_response(200, &updated));
    }
    if finalized(&updated) {
        // The last finalizer of an object marked for deletion is gone: the object goes now.
        let deleted = app
            .store
            .delete(&request.key(), Some(current.revision))
            .await
            .map_err(|error| store_error(request, error))?;
        object::set_resource_version(&mut updated, deleted.revision);
        return Ok(json_response(200, &updated));
    }
    let revision = app
        .store
        .update(
            &request.key(),
            object::to_stored(&updated),
            current.revision,
        )
        .await
        .map_err(|error| store_error(request, error))?;
    object::set_resource_version(&mut updated, revision);
    Ok(json_response(200, &updated))
}

fn keep_server_fields(request: &ResourceRequest, current: &Value, updated: &mut Value) {
    if let Some(fields) = updated.as_object_mut() {
        fields.insert(
            "apiVersion".into(),
            Value::String(super::list::api_version(request)),
        );
        fields.insert("kind".into(), Value::String(request.info.kind.to_owned()));
    }
    let Some(stored) = current.get("metadata").and_then(Value::as_object) else {
        return;
    };
    if let Some(metadata) = object::metadata_mut(updated) {
        for field in SERVER_OWNED_METADATA {
            match stored.get(field) {
                Some(value) => metadata.insert(field.to_owned(), value.clone()),
                None => metadata.remove(field),
            };
        }
        for field in ["name", "namespace"] {
            if let Some(value) = stored.get(field) {
                metadata.insert(field.to_owned(), value.clone());
            }
        }
    }
}

/// A service keeps its cluster IP: one missing from the update is carried over, a different one is
/// refused as upstream does.
fn keep_cluster_ip(current: &Value, updated: &mut Value, name: &str) -> Result<(), ApiError> {
    let Some(spec) = updated.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let stored = current
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("");
    match spec.get("clusterIP").and_then(Value::as_str).unwrap_or("") {
        "" => {
            for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                if let Some(value) = current.pointer(&format!("/spec/{field}")) {
                    spec.entry(field).or_insert_with(|| value.clone());
                }
            }
            Ok(())
        }
        given if given == stored => Ok(()),
        given => Err(ApiError::invalid(
            kubers_core::registry::GroupKind {
                group: "",
                kind: "Service",
            },
            name,
            &[kubers_core::status::Cause::invalid(
                "spec.clusterIPs[0]",
                &json!(given),
                "may not change once set",
            )],
        )),
    }
}

/// Whether `object` is marked for deletion, has no finalizers left and no grace period to wait for.
fn finalized(object: &Value) -> bool {
    let metadata = object.get("metadata");
    let marked = metadata
        .and_then(|metadata| metadata.get("deletionTimestamp"))
        .is_some_and(|at| !at.is_null());
    let finalizers = metadata
        .and_then(|metadata| metadata.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|finalizers| !finalizers.is_empty());
    let grace = metadata
        .and_then(|metadata| metadata.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // A namespace also waits for the finalizers in its spec (see `namespace_delete`).
    let spec_finalizers = object
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|finalizers| !finalizers.is_empty())
        && object.get("kind").and_then(Value::as_str) == Some("Namespace");
    marked && !finalizers && !spec_finalizers && grace == 0
}
