//! The admission chain, like upstream's: every create, update, patch and delete passes the mutating
//! plugins in order (after defaulting, before validation), then, once the object is valid, the
//! validating plugins; the first error answers the request. Plugins see the request's
//! [`Attributes`] (operation, resource, subresource, namespace, name, user) and the new and old
//! objects.
//!
//! Every mutating path goes through the chain, as upstream's handlers do: PUT and PATCH of an object,
//! its `status` and the namespace `finalize` subresource (UPDATE, the object itself); PUT and PATCH of
//! `scale` (UPDATE, the `autoscaling/v1` Scale and the old Scale); the create-only subresources
//! `pods/binding`, `pods/eviction` and `serviceaccounts/token` (CREATE, named by the parent, the
//! Binding, Eviction or TokenRequest as object); DELETE (the stored object as old); and
//! deletecollection, which admits each item as a DELETE of it.
//!
//! The standard chain, in upstream's order: `NamespaceLifecycle`, `ServiceAccount`, `Priority`,
//! `DefaultTolerationSeconds`, `DefaultStorageClass`, `StorageObjectInUseProtection` (mutating);
//! `ServiceAccount`, `ResourceQuota` (validating).

mod default_storage_class;
mod default_tolerations;
mod namespace_lifecycle;
mod priority;
mod reads;
mod resource_quota;
mod service_account;
mod storage_protection;

use async_trait::async_trait;
use kubers_core::registry::{GroupResource, ResourceInfo};
use kubers_core::status::Cause;
use serde_json::{Value, json};

use crate::auth::UserInfo;
use crate::errors::ApiError;

pub use default_storage_class::DefaultStorageClass;
pub use default_tolerations::DefaultTolerationSeconds;
pub use namespace_lifecycle::NamespaceLifecycle;
pub use priority::Priority;
pub use reads::Reads;
pub use resource_quota::ResourceQuota;
pub use service_account::ServiceAccount;
pub use storage_protection::StorageObjectInUseProtection;

/// What a write does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// POST of a new object.
    Create,
    /// PUT or PATCH of an existing object.
    Update,
    /// DELETE of an object.
    Delete,
}

/// The request a plugin decides on.
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    /// The operation.
    pub operation: Operation,
    /// The resource written.
    pub info: &'static ResourceInfo,
    /// The subresource (`status`, ...), if any.
    pub subresource: Option<&'a str>,
    /// The namespace, for namespaced resources.
    pub namespace: Option<&'a str>,
    /// The object's name (chosen already for creates).
    pub name: &'a str,
    /// Who asks.
    pub user: &'a UserInfo,
    /// Whether nothing will be stored (`dryRun=All`).
    pub dry_run: bool,
}

impl Attributes<'_> {
    /// Whether the request is for the core resource `resource` itself (no subresource).
    pub fn is_core(&self, resource: &str) -> bool {
        self.info.group.is_empty() && self.info.resource == resource && self.subresource.is_none()
    }

    /// The resource as upstream's messages name it.
    pub fn resource(&self) -> GroupResource<'static> {
        self.info.group_resource()
    }
}

/// A plugin that may change the object (or refuse the request).
#[async_trait]
pub trait MutatingPlugin: Send + Sync {
    /// The plugin's upstream name (`ServiceAccount`).
    fn name(&self) -> &'static str;

    /// Admits `object` (null for deletes), possibly changing it; `old` is the stored object for
    /// updates and deletes.
    async fn admit(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError>;
}

/// A plugin that may only refuse the request.
#[async_trait]
pub trait ValidatingPlugin: Send + Sync {
    /// The plugin's upstream name.
    fn name(&self) -> &'static str;

    /// Checks the (valid, fully mutated) `object` (null for deletes).
    async fn validate(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError>;
}

/// The ordered plugins.
pub struct Admission {
    mutating: Vec<Box<dyn MutatingPlugin>>,
    validating: Vec<Box<dyn ValidatingPlugin>>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mutating: Vec<&str> = self.mutating.iter().map(|plugin| plugin.name()).collect();
        let validating: Vec<&str> = self.validating.iter().map(|plugin| plugin.name()).collect();
        f.debug_struct("Admission")
            .field("mutating", &mutating)
            .field("validating", &validating)
            .finish()
    }
}

impl Admission {
    /// A chain of the given plugins.
    pub fn new(
        mutating: Vec<Box<dyn MutatingPlugin>>,
        validating: Vec<Box<dyn ValidatingPlugin>>,
    ) -> Self {
        Admission {
            mutating,
            validating,
        }
    }

    /// The plugins kube-apiserver enables by default that kubers implements, in upstream's order.
    pub fn standard() -> Self {
        Admission::new(
            vec![
                Box::new(NamespaceLifecycle),
                Box::new(ServiceAccount),
                Box::new(Priority),
                Box::new(DefaultTolerationSeconds),
                Box::new(DefaultStorageClass),
                Box::new(StorageObjectInUseProtection),
            ],
            vec![Box::new(ServiceAccount), Box::new(ResourceQuota)],
        )
    }

    /// Runs the mutating plugins in order.
    pub async fn admit(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        for plugin in &self.mutating {
            plugin.admit(store, attributes, object, old).await?;
        }
        Ok(())
    }

    /// Runs the mutating, then the validating plugins: for writes whose object has no validation of
    /// its own between the two (the create-only subresources, deletes).
    pub async fn admit_and_validate(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        self.admit(store, attributes, object, old).await?;
        self.validate(store, attributes, object, old).await
    }

    /// Runs the validating plugins in order.
    pub async fn validate(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        for plugin in &self.validating {
            plugin.validate(store, attributes, object, old).await?;
        }
        Ok(())
    }
}

/// 403 from an admission plugin, worded like upstream's `admission.NewForbidden`:
/// `pods "web" is forbidden: <message>`, naming the object by its name (or `generateName`).
pub fn forbidden(
    attributes: &Attributes<'_>,
    object: &Value,
    message: &str,
    causes: &[Cause],
) -> ApiError {
    let name = if attributes.name.is_empty() {
        ["name", "generateName"]
            .iter()
            .find_map(|field| {
                object
                    .pointer(&format!("/metadata/{field}"))
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty())
            })
            .unwrap_or("Unknown")
    } else {
        attributes.name
    };
    forbidden_named(attributes.resource(), name, message, causes)
}

/// 403 `<resource> "<name>" is forbidden: <message>` (upstream's `errors.NewForbidden`).
pub fn forbidden_named(
    resource: GroupResource<'_>,
    name: &str,
    message: &str,
    causes: &[Cause],
) -> ApiError {
    let text = if name.is_empty() {
        format!("{resource} is forbidden: {message}")
    } else {
        format!("{resource} {} is forbidden: {message}", quote(name))
    };
    let mut details = serde_json::Map::new();
    if !name.is_empty() {
        details.insert("name".into(), json!(name));
    }
    if !resource.group.is_empty() {
        details.insert("group".into(), json!(resource.group));
    }
    details.insert("kind".into(), json!(resource.resource));
    if !causes.is_empty() {
        details.insert("causes".into(), json!(causes));
    }
    let mut error = ApiError::status(403, "Forbidden", text);
    if let Some(body) = error.0.body.as_object_mut() {
        body.insert("details".into(), Value::Object(details));
    }
    error
}

/// Go's `%q` for a name (names have no characters that need escaping but quotes and backslashes).
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod wiring_tests;
