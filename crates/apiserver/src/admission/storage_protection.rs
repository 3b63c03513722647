//! `StorageObjectInUseProtection`: every new PersistentVolumeClaim gets the finalizer
//! `kubernetes.io/pvc-protection` and every new PersistentVolume `kubernetes.io/pv-protection`, so
//! neither disappears while in use; the controllers `pvc-protection` and `pv-protection` remove them
//! once the object is being deleted and nothing uses it any more. Like upstream, the plugin only acts
//! on creates of the objects themselves (no subresources) and never adds a finalizer twice.

use async_trait::async_trait;
use kubers_core::volumes::{PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER};
use serde_json::{Value, json};

use super::{Attributes, MutatingPlugin, Operation, Reads};
use crate::errors::ApiError;

/// The `StorageObjectInUseProtection` plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageObjectInUseProtection;

/// The finalizer the created object gets, if it is a claim or a volume.
fn finalizer_for(attributes: &Attributes<'_>) -> Option<&'static str> {
    if attributes.operation != Operation::Create {
        return None;
    }
    if attributes.is_core("persistentvolumeclaims") {
        Some(PVC_PROTECTION_FINALIZER)
    } else if attributes.is_core("persistentvolumes") {
        Some(PV_PROTECTION_FINALIZER)
    } else {
        None
    }
}

/// Appends `finalizer` to the object's finalizers unless it is there already.
fn add_finalizer(object: &mut Value, finalizer: &str) {
    let Some(fields) = object.as_object_mut() else {
        return;
    };
    let metadata = fields.entry("metadata").or_insert_with(|| json!({}));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let finalizers = metadata.entry("finalizers").or_insert_with(|| json!([]));
    if finalizers.is_null() {
        *finalizers = json!([]);
    }
    if let Some(finalizers) = finalizers.as_array_mut()
        && !finalizers.iter().any(|f| f.as_str() == Some(finalizer))
    {
        finalizers.push(json!(finalizer));
    }
}

#[async_trait]
impl MutatingPlugin for StorageObjectInUseProtection {
    fn name(&self) -> &'static str {
        "StorageObjectInUseProtection"
    }

    async fn admit(
        &self,
        _store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        _old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if let Some(finalizer) = finalizer_for(attributes) {
            add_finalizer(object, finalizer);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kubers_core::registry;

    use super::*;
    use crate::auth::UserInfo;

    fn attributes<'a>(
        user: &'a UserInfo,
        operation: Operation,
        resource: &str,
        subresource: Option<&'a str>,
    ) -> Attributes<'a> {
        let namespaced = resource != "persistentvolumes";
        Attributes {
            operation,
            info: registry::find("", "v1", resource).expect("resource"),
            subresource,
            namespace: namespaced.then_some("default"),
            name: "x",
            user,
            dry_run: false,
        }
    }

    fn admitted(attributes: &Attributes<'_>, object: Value) -> Value {
        let mut object = object;
        if let Some(finalizer) = finalizer_for(attributes) {
            add_finalizer(&mut object, finalizer);
        }
        object
    }

    #[test]
    fn new_claims_and_volumes_get_their_finalizer_once() {
        let user = UserInfo::authenticated("alice", Vec::new());
        let claim = attributes(&user, Operation::Create, "persistentvolumeclaims", None);
        assert_eq!(
            admitted(&claim, json!({"metadata": {"name": "x"}}))["metadata"]["finalizers"],
            json!(["kubernetes.io/pvc-protection"])
        );
        let volume = attributes(&user, Operation::Create, "persistentvolumes", None);
        assert_eq!(
            admitted(
                &volume,
                json!({"metadata": {"name": "x", "finalizers": ["example.com/keep"]}})
            )["metadata"]["finalizers"],
            json!(["example.com/keep", "kubernetes.io/pv-protection"])
        );
        let present =
            json!({"metadata": {"name": "x", "finalizers": ["kubernetes.io/pvc-protection"]}});
        assert_eq!(admitted(&claim, present.clone()), present);
    }

    #[test]
    fn updates_subresources_and_other_kinds_are_left_alone() {
        let user = UserInfo::authenticated("alice", Vec::new());
        let bare = json!({"metadata": {"name": "x"}});
        for attributes in [
            attributes(&user, Operation::Update, "persistentvolumeclaims", None),
            attributes(
                &user,
                Operation::Create,
                "persistentvolumeclaims",
                Some("status"),
            ),
            attributes(&user, Operation::Create, "pods", None),
        ] {
            assert_eq!(admitted(&attributes, bare.clone()), bare);
        }
    }
}
