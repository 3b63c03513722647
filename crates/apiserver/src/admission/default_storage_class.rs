//! `DefaultStorageClass`: a new PersistentVolumeClaim that names no class (neither
//! `spec.storageClassName`, not even empty, nor the beta annotation) gets the default StorageClass,
//! the newest one marked `storageclass.kubernetes.io/is-default-class: "true"`; without a default
//! it stays classless.

use async_trait::async_trait;
use k8s_openapi::api::storage::v1::StorageClass;
use kubers_core::volumes::{ANN_BETA_STORAGE_CLASS, default_class};
use kubers_store::{ListRequest, Store};
use serde_json::{Value, json};

use super::{Attributes, MutatingPlugin, Operation, Reads};
use crate::errors::ApiError;

/// The `DefaultStorageClass` plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultStorageClass;

/// Whether the claim names a class (upstream's `PersistentVolumeClaimHasClass`).
fn has_class(claim: &Value) -> bool {
    claim
        .pointer(&format!(
            "/metadata/annotations/{}",
            ANN_BETA_STORAGE_CLASS.replace('/', "~1")
        ))
        .is_some()
        || claim
            .pointer("/spec/storageClassName")
            .is_some_and(|class| !class.is_null())
}

/// Every StorageClass in the store.
async fn classes(store: &dyn Store) -> Result<Vec<StorageClass>, ApiError> {
    let page = store
        .list(&ListRequest {
            prefix: "/registry/storageclasses/".into(),
            ..ListRequest::default()
        })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(page
        .items
        .iter()
        .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
        .collect())
}

#[async_trait]
impl MutatingPlugin for DefaultStorageClass {
    fn name(&self) -> &'static str {
        "DefaultStorageClass"
    }

    async fn admit(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        _old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if attributes.operation != Operation::Create
            || !attributes.is_core("persistentvolumeclaims")
            || has_class(object)
        {
            return Ok(());
        }
        let classes = classes(store.store()).await?;
        let Some(name) = default_class(&classes).and_then(|class| class.metadata.name.clone())
        else {
            return Ok(());
        };
        if let Some(fields) = object.as_object_mut() {
            let spec = fields.entry("spec").or_insert_with(|| json!({}));
            if let Some(spec) = spec.as_object_mut() {
                spec.insert("storageClassName".into(), json!(name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kubers_core::registry;
    use kubers_store::sqlite::{SqliteConfig, SqliteStore};

    use super::*;
    use crate::auth::UserInfo;

    async fn admit(store: &dyn Store, mut claim: Value) -> Value {
        let user = UserInfo::authenticated("alice", Vec::new());
        let attributes = Attributes {
            operation: Operation::Create,
            info: registry::find("", "v1", "persistentvolumeclaims").expect("resource"),
            subresource: None,
            namespace: Some("default"),
            name: "c",
            user: &user,
            dry_run: false,
        };
        DefaultStorageClass
            .admit(&Reads::new(store, None), &attributes, &mut claim, None)
            .await
            .expect("admitted");
        claim
    }

    #[tokio::test]
    async fn claims_without_a_class_get_the_newest_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(SqliteConfig::new(dir.path().join("db"))).expect("store opens"),
        );
        let bare = json!({"metadata": {"name": "c"}, "spec": {}});
        assert_eq!(
            admit(store.as_ref(), bare.clone()).await,
            bare,
            "no default class"
        );
        for (name, created, default) in [
            ("old", "2024-01-01T00:00:00Z", "true"),
            ("new", "2025-01-01T00:00:00Z", "true"),
            ("plain", "2026-01-01T00:00:00Z", "false"),
        ] {
            let class = json!({
                "metadata": {"name": name, "creationTimestamp": created,
                             "annotations": {"storageclass.kubernetes.io/is-default-class": default}},
                "provisioner": "p",
            });
            store
                .create(
                    &format!("/registry/storageclasses/{name}"),
                    bytes::Bytes::from(class.to_string()),
                )
                .await
                .expect("seed");
        }
        let claim = admit(store.as_ref(), bare).await;
        assert_eq!(claim["spec"]["storageClassName"], "new");
        let empty = json!({"metadata": {"name": "c"}, "spec": {"storageClassName": ""}});
        assert_eq!(
            admit(store.as_ref(), empty.clone()).await,
            empty,
            "an explicit empty class stays"
        );
        let beta = json!({"metadata": {"name": "c", "annotations": {"volume.beta.kubernetes.io/storage-class": "x"}}, "spec": {}});
        assert_eq!(admit(store.as_ref(), beta.clone()).await, beta);
    }
}
