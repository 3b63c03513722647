//! `NamespaceLifecycle`: no writes into a namespace that does not exist (404 `namespaces "x" not
//! found`), no new objects in one that is being terminated (403 `unable to create new content in
//! namespace x because it is being terminated`, with a `NamespaceTerminating` cause), and the
//! namespaces every cluster needs (`default`, `kube-system`, `kube-public`) may not be deleted.

use async_trait::async_trait;
use kubers_core::registry::GroupResource;
use kubers_core::status::Cause;
use serde_json::Value;

use super::{Attributes, MutatingPlugin, Operation, Reads, forbidden, forbidden_named};
use crate::errors::ApiError;

/// Namespaces that may not be deleted (upstream's immortal namespaces).
const IMMORTAL: [&str; 3] = ["default", "kube-system", "kube-public"];

const NAMESPACES: GroupResource<'static> = GroupResource {
    group: "",
    resource: "namespaces",
};

/// The `NamespaceLifecycle` plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct NamespaceLifecycle;

#[async_trait]
impl MutatingPlugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        "NamespaceLifecycle"
    }

    async fn admit(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        _old: Option<&Value>,
    ) -> Result<(), ApiError> {
        let is_namespace =
            attributes.info.group.is_empty() && attributes.info.resource == "namespaces";
        if is_namespace {
            if attributes.operation == Operation::Delete && IMMORTAL.contains(&attributes.name) {
                return Err(forbidden_named(
                    NAMESPACES,
                    attributes.name,
                    "this namespace may not be deleted",
                    &[],
                ));
            }
            return Ok(());
        }
        let Some(namespace) = attributes
            .namespace
            .filter(|namespace| !namespace.is_empty())
        else {
            return Ok(());
        };
        if attributes.operation == Operation::Delete {
            return Ok(());
        }
        let Some(stored) = store
            .object(
                "",
                "v1",
                "namespaces",
                &format!("/registry/namespaces/{namespace}"),
            )
            .await?
        else {
            return Err(ApiError::not_found(NAMESPACES, namespace));
        };
        if attributes.operation == Operation::Create && terminating(&stored) {
            return Err(forbidden(
                attributes,
                object,
                &format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
                &[Cause::new(
                    "NamespaceTerminating",
                    &format!("namespace {namespace} is being terminated"),
                    "metadata.namespace",
                )],
            ));
        }
        Ok(())
    }
}

/// Whether a namespace is being terminated: its phase says so, or it is marked for deletion.
fn terminating(namespace: &Value) -> bool {
    namespace.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
        || namespace
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|at| !at.is_null())
}
