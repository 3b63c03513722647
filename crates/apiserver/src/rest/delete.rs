//! DELETE of one object, like upstream: `uid` and `resourceVersion` preconditions in the DeleteOptions
//! body; a pod bound to a node is only marked (`deletionTimestamp` after its grace period) and its
//! kubelet removes it; `propagationPolicy` (or the older `orphanDependents`) adds the garbage
//! collector's `orphan` or `foregroundDeletion` finalizer; an object with finalizers is marked and
//! removed when the last finalizer goes (see `update::store_update`); a namespace is only marked
//! Terminating (see `namespace_delete`); anything else goes at once.

use axum::response::Response;
use serde_json::Value;

use kubers_core::status::Cause;

use super::{ResourceRequest, allocator, json_response, object, store_error};
use crate::App;
use crate::admission::Operation;
use crate::errors::ApiError;

/// Deletes the named object and returns it as it was.
pub async fn delete(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let options = DeleteOptions::parse(body)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match delete_once(app, request, &options).await {
            // The object changed between the read and the write, and the client set no
            // resourceVersion precondition: read it again, as upstream's guaranteed update does.
            Err(error)
                if error.0.code == 409
                    && options.resource_version.is_none()
                    && options.uid.is_none()
                    && attempts < 5
                    && error.0.body["reason"] == "Conflict" =>
            {
                continue;
            }
            other => return other,
        }
    }
}

async fn delete_once(
    app: &App,
    request: &ResourceRequest,
    options: &DeleteOptions,
) -> Result<Response, ApiError> {
    let current = super::update::read_current(app, request).await?;
    let name = request.target.name.as_deref().unwrap_or("");
    let admission = request.admission(Operation::Delete, name);
    app.admission
        .admit_and_validate(
            &app.reads(),
            &admission,
            &mut Value::Null,
            Some(&current.object),
        )
        .await?;
    options.check_preconditions(request, name, &current)?;
    if request.info.group.is_empty() && request.info.resource == "namespaces" {
        return super::namespace_delete::delete(app, request, current, options).await;
    }
    if request.query.dry_run {
        return Ok(json_response(200, &current.object));
    }
    let grace = request.query.grace_period_seconds.or(options.grace);
    let (object, _) = delete_current(app, request, &request.key(), current, options, grace).await?;
    Ok(json_response(200, &object))
}

/// Deletes (or marks for deletion) the stored `current` object at `key`; returns it as it is now and
/// whether it is gone.
pub(super) async fn delete_current(
    app: &App,
    request: &ResourceRequest,
    key: &str,
    current: super::update::Current,
    options: &DeleteOptions,
    grace: Option<i64>,
) -> Result<(Value, bool), ApiError> {
    let finalizers = gc_finalizers(request, &current.object, options);
    if let Some(mut marked) = mark_for_deletion(request, &current.object, grace, finalizers) {
        if marked != current.object {
            let revision = app
                .store
                .update(key, object::to_stored(&marked), current.revision)
                .await
                .map_err(|error| store_error(request, error))?;
            object::set_resource_version(&mut marked, revision);
        }
        return Ok((marked, false));
    }
    let deleted = app
        .store
        .delete(key, options.resource_version.map(|_| current.revision))
        .await
        .map_err(|error| store_error(request, error))?;
    let mut object = object::from_stored(&deleted.prev).map_err(ApiError::internal)?;
    object::set_resource_version(&mut object, deleted.revision);
    if is_service(request) {
        allocator::release_service(app.store.as_ref(), &object).await;
    }
    Ok((object, true))
}

/// Deletes every object of the collection that the selectors pick, each as a DELETE of it with the
/// same options would (admitted as such, graceful pods and finalizers only marked), and returns them
/// as a list.
pub async fn delete_collection(
    app: &App,
    request: &ResourceRequest,
    body: &[u8],
) -> Result<Response, ApiError> {
    let mut options = DeleteOptions::parse(body)?;
    // Preconditions name one object; upstream ignores them for collections as well.
    options.uid = None;
    options.resource_version = None;
    let filter = super::filter::Filter::new(&request.query, request.info)?;
    let unpaged = request.unpaged();
    let (items, revision, _) = super::list::read_page(app, &unpaged).await?;
    let grace = request.query.grace_period_seconds.or(options.grace);
    let mut deleted = Vec::new();
    for item in items.into_iter().filter(|item| filter.matches(item)) {
        let (Some(name), namespace) = (
            object::metadata_str(&item, "name"),
            object::metadata_str(&item, "namespace"),
        ) else {
            continue;
        };
        // Each item is admitted as a DELETE of it, as upstream's deletecollection does (before the
        // dry-run check, which admission sees too).
        let admission = request.admission(Operation::Delete, name);
        app.admission
            .admit_and_validate(&app.reads(), &admission, &mut Value::Null, Some(&item))
            .await?;
        if request.query.dry_run {
            deleted.push(item);
            continue;
        }
        let key = kubers_core::registry::storage_key(request.info, namespace, Some(name));
        let Some(item_revision) =
            object::metadata_str(&item, "resourceVersion").and_then(|rv| rv.parse().ok())
        else {
            continue;
        };
        let current = super::update::Current {
            object: item,
            revision: item_revision,
        };
        match delete_current(app, request, &key, current, &options, grace).await {
            Ok((object, _)) => deleted.push(object),
            // Deleted or changed meanwhile by someone else: its own writer decides.
            Err(error) if matches!(error.0.code, 404 | 409) => {}
            Err(error) => return Err(error),
        }
    }
    let list = serde_json::json!({
        "kind": format!("{}List", request.info.kind),
        "apiVersion": super::list::api_version(request),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": deleted,
    });
    Ok(json_response(200, &list))
}

fn is_service(request: &ResourceRequest) -> bool {
    request.info.group.is_empty() && request.info.resource == "services"
}

/// The object marked for a deletion that has to wait (a bound pod's grace period, or finalizers), or
/// `None` when it can go at once. `finalizers` are the object's finalizers after this delete's
/// propagation policy applied (`None`: unchanged).
fn mark_for_deletion(
    request: &ResourceRequest,
    current: &Value,
    grace: Option<i64>,
    finalizers: Option<Vec<Value>>,
) -> Option<Value> {
    let pending = finalizers.as_ref().map_or_else(
        || {
            current
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|finalizers| !finalizers.is_empty())
        },
        |finalizers| !finalizers.is_empty(),
    );
    let is_pod = request.info.group.is_empty() && request.info.resource == "pods";
    let bound = current
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|node| !node.is_empty());
    let terminal = matches!(
        current.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    let grace = grace
        .or_else(|| {
            current
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0);
    let graceful = is_pod && bound && !terminal && grace > 0;
    if !graceful && !pending {
        return None;
    }
    let mut marked = current.clone();
    let metadata = object::metadata_mut(&mut marked)?;
    if let Some(finalizers) = finalizers {
        if finalizers.is_empty() {
            metadata.remove("finalizers");
        } else {
            metadata.insert("finalizers".into(), Value::Array(finalizers));
        }
    }
    let seconds = if graceful { grace } else { 0 };
    let previous = metadata
        .get("deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    // A second delete may shorten the grace period, never lengthen it.
    if metadata.get("deletionTimestamp").is_none()
        || previous.is_some_and(|previous| seconds < previous)
    {
        let at = chrono::Utc::now() + chrono::TimeDelta::seconds(seconds);
        metadata.insert(
            "deletionTimestamp".into(),
            Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        metadata.insert("deletionGracePeriodSeconds".into(), Value::from(seconds));
    }
    Some(marked)
}

/// The garbage collector's finalizer for a delete with `policy`.
const ORPHAN: &str = "orphan";
/// The finalizer of a foreground (dependents first) deletion.
const FOREGROUND: &str = "foregroundDeletion";

/// The object's finalizers after this delete's propagation policy, or `None` when they stay as they
/// are (upstream's `deletionFinalizersForGarbageCollection`).
pub(super) fn gc_finalizers(
    request: &ResourceRequest,
    current: &Value,
    options: &DeleteOptions,
) -> Option<Vec<Value>> {
    let existing: Vec<Value> = current
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = |name: &str| existing.iter().any(|f| f.as_str() == Some(name));
    let orphan = match (options.orphan_dependents, options.propagation) {
        (Some(orphan), _) => orphan,
        (None, Some(policy)) => policy == Propagation::Orphan,
        (None, None) if has(ORPHAN) => true,
        (None, None) if has(FOREGROUND) => false,
        (None, None) => orphans_by_default(request),
    };
    let foreground = match (options.orphan_dependents, options.propagation) {
        (Some(_), _) => false,
        (None, Some(policy)) => policy == Propagation::Foreground,
        (None, None) => has(FOREGROUND),
    };
    let mut finalizers: Vec<Value> = existing
        .iter()
        .filter(|f| !matches!(f.as_str(), Some(ORPHAN | FOREGROUND)))
        .cloned()
        .collect();
    if orphan {
        finalizers.push(Value::from(ORPHAN));
    }
    if foreground {
        finalizers.push(Value::from(FOREGROUND));
    }
    let same =
        finalizers.len() == existing.len() && finalizers.iter().all(|f| existing.contains(f));
    (!same).then_some(finalizers)
}

/// Whether a delete without a policy orphans dependents: only `v1` ReplicationControllers, for
/// backward compatibility, as upstream.
fn orphans_by_default(request: &ResourceRequest) -> bool {
    request.info.group.is_empty() && request.info.resource == "replicationcontrollers"
}

/// How a delete treats the objects the deleted one owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Propagation {
    /// Dependents are left with the owner reference removed.
    Orphan,
    /// The owner goes at once; the garbage collector deletes the dependents afterwards.
    Background,
    /// The owner waits (`foregroundDeletion`) until its blocking dependents are gone.
    Foreground,
}

/// The DeleteOptions of a request body.
#[derive(Debug, Default)]
pub(super) struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace: Option<i64>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<i64>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `propagationPolicy`.
    pub propagation: Option<Propagation>,
    /// `orphanDependents` (deprecated in favour of the policy).
    pub orphan_dependents: Option<bool>,
}

impl DeleteOptions {
    /// Reads and validates the options of a DELETE body (empty: the defaults).
    pub fn parse(body: &[u8]) -> Result<DeleteOptions, ApiError> {
        let options: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .map_err(|error| ApiError::bad_request(format!("invalid DeleteOptions: {error}")))?
        };
        let resource_version = match options
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            Some(revision) => Some(revision.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion precondition {revision:?}"))
            })?),
            None => None,
        };
        let orphan_dependents = options.get("orphanDependents").and_then(Value::as_bool);
        let propagation = match options.get("propagationPolicy").and_then(Value::as_str) {
            None => None,
            Some("Orphan") => Some(Propagation::Orphan),
            Some("Background") => Some(Propagation::Background),
            Some("Foreground") => Some(Propagation::Foreground),
            Some(other) => {
                return Err(invalid_options(Cause::not_supported(
                    "propagationPolicy",
                    &Value::from(other),
                    &["Foreground", "Background", "Orphan"],
                )));
            }
        };
        if orphan_dependents.is_some() && propagation.is_some() {
            return Err(invalid_options(Cause::invalid(
                "propagationPolicy",
                &options["propagationPolicy"],
                "orphanDependents and deletionPropagation cannot be both set",
            )));
        }
        Ok(DeleteOptions {
            grace: options.get("gracePeriodSeconds").and_then(Value::as_i64),
            resource_version,
            uid: options
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            propagation,
            orphan_dependents,
        })
    }

    /// Checks the `uid` and `resourceVersion` preconditions against the stored object (409 with
    /// upstream's message when one fails).
    pub fn check_preconditions(
        &self,
        request: &ResourceRequest,
        name: &str,
        current: &super::update::Current,
    ) -> Result<(), ApiError> {
        let resource = request.info.group_resource();
        if let Some(uid) = &self.uid {
            let stored = object::metadata_str(&current.object, "uid").unwrap_or("");
            if uid != stored {
                return Err(kubers_core::status::conflict(
                    resource,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {stored}"
                    ),
                )
                .into());
            }
        }
        if let Some(expected) = self.resource_version
            && expected != current.revision
        {
            return Err(kubers_core::status::conflict(
                resource,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {expected}, ResourceVersion in object meta: {}",
                    current.revision
                ),
            )
            .into());
        }
        Ok(())
    }
}

fn invalid_options(cause: Cause) -> ApiError {
    ApiError::invalid(
        kubers_core::registry::GroupKind {
            group: "meta.k8s.io",
            kind: "DeleteOptions",
        },
        "",
        &[cause],
    )
}
