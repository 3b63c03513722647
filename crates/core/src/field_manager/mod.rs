//! Server-side apply and `managedFields`, as upstream's field manager (apimachinery's
//! `managedfields` over structured-merge-diff): every write records which manager owns which fields;
//! an apply (`application/apply-patch+yaml`) merges a configuration, removes what its manager stopped
//! applying, and refuses to change fields other managers own unless forced.
//!
//! The layers, outermost first, as upstream stacks them: the last-applied annotation interplay with
//! client-side apply ([`last_applied`]), taking over objects without `managedFields` for a first apply
//! (`before-first-apply`), the cap on `Update` entries, stripping server-owned metadata from field sets,
//! and the ownership algorithm itself ([`updater`]).

mod compare;
mod conflict;
mod fieldset;
pub mod last_applied;
mod managers;
mod merge;
mod path;
mod remove;
mod schema;
mod set;
mod updater;

use std::sync::LazyLock;

use serde_json::{Value, json};

pub use self::compare::{Comparison, compare};
pub use self::conflict::{Conflict, Conflicts};
pub use self::fieldset::to_field_set;
pub use self::managers::{Managed, ManagerId, Operation, VersionedSet, is_reset};
pub use self::path::{Path, PathElement, path_string};
pub use self::set::Set;
pub use self::updater::{Updater, UpdaterError};

use crate::status::StatusError;

/// The manager that owns an object's existing fields when it is first applied to.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Upstream's limit on `fieldManager`.
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// Server-owned metadata no manager owns.
static STRIPPED: LazyLock<Set> = LazyLock::new(|| {
    let mut set = Set::new();
    set.insert(&[PathElement::field("apiVersion")]);
    set.insert(&[PathElement::field("kind")]);
    set.insert(&[PathElement::field("metadata")]);
    for field in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        set.insert(&[PathElement::field("metadata"), PathElement::field(field)]);
    }
    set
});

/// One write, as the field manager sees it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The manager's name (empty is recorded as `unknown`).
    pub manager: &'a str,
    /// The API version of the request (`apps/v1`).
    pub api_version: &'a str,
    /// `status`, `scale` or empty.
    pub subresource: &'a str,
    /// The request's time, RFC 3339.
    pub now: &'a str,
    /// Fields the request cannot change (upstream's reset fields).
    pub ignored: Set,
}

impl<'a> Request<'a> {
    /// A request on a resource; `has_status` when the resource has a status subresource (then the
    /// main resource does not own `status`, and the status subresource owns nothing else).
    pub fn new(
        manager: &'a str,
        api_version: &'a str,
        subresource: &'a str,
        has_status: bool,
        now: &'a str,
    ) -> Self {
        let mut ignored = Set::new();
        match subresource {
            "" if has_status => ignored.insert(&[PathElement::field("status")]),
            "status" => {
                ignored.insert(&[PathElement::field("spec")]);
                ignored.insert(&[PathElement::field("metadata")]);
            }
            _ => {}
        }
        Request {
            manager,
            api_version,
            subresource,
            now,
            ignored,
        }
    }

    fn manager_name(&self) -> &str {
        if self.manager.is_empty() {
            "unknown"
        } else {
            self.manager
        }
    }

    fn updater(&self) -> Updater<'_> {
        Updater {
            ignored: &self.ignored,
            api_version: self.api_version,
        }
    }
}

/// The default manager of a request without `fieldManager`: the user agent up to its first `/`
/// (`kubectl/v1.33.0 (linux/amd64)` gives `kubectl`), printable characters only, at most 128 bytes.
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or("");
    let mut out = String::new();
    for ch in prefix.chars().filter(|ch| !ch.is_control()) {
        if out.len() + ch.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        out.push(ch);
    }
    out
}

/// Why `fieldManager` is invalid, as upstream's field error message (`Too long: ...`), if it is.
pub fn check_field_manager(manager: &str) -> Option<String> {
    if manager.len() > FIELD_MANAGER_MAX_LENGTH {
        return Some(format!(
            "Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes"
        ));
    }
    manager
        .chars()
        .enumerate()
        .find(|(_, ch)| ch.is_control())
        .map(|(index, ch)| {
            format!(
                "Invalid value: {}: invalid character U+{:04X} (at position {index})",
                crate::status::go_quote(manager),
                u32::from(ch)
            )
        })
}

fn managed_fields(object: &Value) -> Option<&Value> {
    object.get("metadata")?.get("managedFields")
}

fn write_managed_fields(object: &mut Value, managed: &Managed) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    match managed.encode() {
        Some(entries) => metadata.insert("managedFields".into(), entries),
        None => metadata.remove("managedFields"),
    };
}

/// Records a create (`live` is `None`), update or non-apply patch in `new`'s `managedFields`: its
/// manager gains the fields it changed, others lose them. Fields the request sets in `managedFields`
/// are kept (an empty list, or one empty entry, clears them); objects with no `managedFields` are not
/// tracked by updates until they are applied to.
pub fn update(live: Option<&Value>, new: &mut Value, request: &Request<'_>) {
    let from_live = || {
        live.and_then(|live| Managed::decode(managed_fields(live)).ok())
            .unwrap_or_default()
    };
    let supplied = managed_fields(new);
    let managed = if !request.subresource.is_empty() {
        from_live()
    } else if is_reset(supplied) {
        Managed::default()
    } else {
        match Managed::decode(supplied) {
            Ok(managed) if !managed.is_empty() => managed,
            _ => from_live(),
        }
    };
    if managed.is_empty() && live.is_some() {
        write_managed_fields(new, &managed);
        return;
    }
    let managed = record_update(live, new, managed, request, request.manager_name());
    write_managed_fields(new, &managed);
}

/// The managers after `manager` updated `live` (absent on create) to `new`.
fn record_update(
    live: Option<&Value>,
    new: &Value,
    mut managed: Managed,
    request: &Request<'_>,
    manager: &str,
) -> Managed {
    let id = ManagerId::new(
        manager,
        Operation::Update,
        request.api_version,
        request.subresource,
    );
    let mut set = request
        .updater()
        .update_fields(live, new, &mut managed.fields);
    set.remove(&STRIPPED, false);
    if !set.is_empty() {
        if let Some(previous) = managed.fields.remove(&id) {
            set.union_with(previous.set);
        }
        managed.fields.insert(
            id.clone(),
            VersionedSet {
                set,
                api_version: request.api_version.to_owned(),
                applied: false,
            },
        );
        managed.times.insert(id, request.now.to_owned());
    }
    managed
        .times
        .retain(|id, _| managed.fields.contains_key(id));
    managed.cap_updates(managers::MAX_UPDATE_MANAGERS);
    managed
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// Other managers own fields the apply would change (409).
    Conflicts(Conflicts),
    /// The request is malformed (400).
    BadRequest(String),
    /// The configuration does not fit the type, or stored data is unreadable (500, as upstream).
    Internal(String),
}

impl ApplyError {
    /// The Status upstream answers with.
    pub fn to_status(&self) -> StatusError {
        match self {
            ApplyError::Conflicts(conflicts) => conflicts.to_status(),
            ApplyError::BadRequest(message) => crate::status::bad_request(message),
            ApplyError::Internal(message) => StatusError {
                code: 500,
                body: json!({
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": message,
                    "code": 500,
                }),
            },
        }
    }
}

/// Applies `config` for `request.manager` to `live` (`None` when the object does not exist yet).
/// Returns the object to store, `managedFields` included.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    kind: &str,
    request: &Request<'_>,
    force: bool,
) -> Result<Value, ApplyError> {
    let version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if version != request.api_version {
        return Err(ApplyError::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {}",
            request.api_version
        )));
    }
    if managed_fields(config).is_some_and(|fields| !fields.is_null()) {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".to_owned(),
        ));
    }
    let managed = match live {
        Some(live) => Managed::decode(managed_fields(live)).map_err(|error| {
            ApplyError::Internal(format!("failed to decode managed fields: {error}"))
        })?,
        None => Managed::default(),
    };
    let mut base = live.cloned().unwrap_or_else(|| json!({}));
    if let Some(metadata) = base.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    let manager = request.manager_name();
    let attempt = |force: bool| {
        apply_managed(
            live.is_some(),
            &base,
            config,
            managed.clone(),
            kind,
            request,
            force,
        )
    };
    let (mut object, managed) = match attempt(force) {
        Err(ApplyError::Conflicts(conflicts)) if manager == last_applied::KUBECTL => {
            match live.and_then(last_applied::allowed_conflicts) {
                Some(allowed) => {
                    let remaining: Vec<Conflict> = conflicts
                        .0
                        .into_iter()
                        .filter(|conflict| !allowed.has(&conflict.path))
                        .collect();
                    if remaining.is_empty() {
                        attempt(true)?
                    } else {
                        return Err(ApplyError::Conflicts(Conflicts(remaining)));
                    }
                }
                None => return Err(ApplyError::Conflicts(conflicts)),
            }
        }
        other => other?,
    };
    if manager == last_applied::KUBECTL && live.and_then(last_applied::last_applied).is_some() {
        last_applied::set(&mut object, last_applied::build(config));
    }
    write_managed_fields(&mut object, &managed);
    Ok(object)
}

/// The apply below the last-applied layer: the object (without `managedFields`) and the managers.
fn apply_managed(
    exists: bool,
    live: &Value,
    config: &Value,
    mut managed: Managed,
    kind: &str,
    request: &Request<'_>,
    force: bool,
) -> Result<(Value, Managed), ApplyError> {
    if managed.is_empty() && exists {
        managed = record_update(None, live, managed, request, BEFORE_FIRST_APPLY);
    }
    let id = ManagerId::new(
        request.manager_name(),
        Operation::Apply,
        request.api_version,
        request.subresource,
    );
    let result = request
        .updater()
        .apply(live, config, &mut managed.fields, &id, force);
    let changed = match result {
        Ok(changed) => changed,
        Err(UpdaterError::Conflicts(conflicts)) => return Err(ApplyError::Conflicts(conflicts)),
        Err(UpdaterError::Invalid(error)) => {
            let name = config
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let namespace = config
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            let group_version = if request.api_version.contains('/') {
                request.api_version.to_owned()
            } else {
                format!("/{}", request.api_version)
            };
            return Err(ApplyError::Internal(format!(
                "failed to create typed patch object ({namespace}/{name}; {group_version}, Kind={kind}): {error}"
            )));
        }
    };
    if let Some(versioned) = managed.fields.get_mut(&id) {
        versioned.set.remove(&STRIPPED, false);
        if versioned.set.is_empty() {
            managed.fields.remove(&id);
        }
    }
    let object = match changed {
        Some(object) => {
            managed.times.insert(id, request.now.to_owned());
            object
        }
        None => live.clone(),
    };
    managed
        .times
        .retain(|id, _| managed.fields.contains_key(id));
    managed.cap_updates(managers::MAX_UPDATE_MANAGERS);
    Ok((object, managed))
}

#[cfg(test)]
mod tests;
