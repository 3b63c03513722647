//! What admission plugins read: the store, and the watch caches when the server has them. Upstream's
//! plugins read through informer listers and look live only on a miss; [`Reads`] does the same, so a
//! create does not read the store to find its namespace, service account, priority class or (absent)
//! quotas.

use kubers_core::field_labels::field_labels;
use kubers_core::registry;
use kubers_store::Store;
use serde_json::Value;

use crate::cache::Caches;
use crate::errors::ApiError;

/// The store, with the watch caches in front of it for lookups.
#[derive(Clone, Copy)]
pub struct Reads<'a> {
    store: &'a dyn Store,
    caches: Option<&'a Caches>,
}

impl<'a> Reads<'a> {
    /// Reads of `store`, through `caches` when given.
    pub fn new(store: &'a dyn Store, caches: Option<&'a Caches>) -> Reads<'a> {
        Reads { store, caches }
    }

    /// The store itself, for writes and exact reads.
    pub fn store(&self) -> &'a dyn Store {
        self.store
    }

    /// The object of core/v1 `resource` (or `group`'s) at `key`: from the resource's cache when it
    /// holds it, else from the store (an object created a moment ago may not have reached the cache).
    pub async fn object(
        &self,
        group: &str,
        version: &str,
        resource: &str,
        key: &str,
    ) -> Result<Option<Value>, ApiError> {
        if let Some(found) = self.cached(group, version, resource, key) {
            return Ok(Some(found));
        }
        match self.store.get(key).await {
            Ok(Some(kv)) => serde_json::from_slice(&kv.value)
                .map(Some)
                .map_err(|error| ApiError::internal(format!("{key}: {error}"))),
            Ok(None) => Ok(None),
            Err(error) => Err(ApiError::unavailable(error)),
        }
    }

    /// Whether the resource's cache, once ready, holds no object under `prefix` (`false` when it
    /// cannot tell).
    pub fn none_cached_under(
        &self,
        group: &str,
        version: &str,
        resource: &str,
        prefix: &str,
    ) -> bool {
        let Some((cache, _)) = self.cache(group, version, resource) else {
            return false;
        };
        cache
            .list(prefix, &|_| true, 1)
            .is_some_and(|listed| listed.items.is_empty())
    }

    fn cached(&self, group: &str, version: &str, resource: &str, key: &str) -> Option<Value> {
        let (cache, kind) = self.cache(group, version, resource)?;
        let listed = cache.list(key, &|object| object.key == key, 1)?;
        let object = listed.items.first()?;
        let api_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        Some(object.to_value(&api_version, kind, object.revision))
    }

    fn cache(
        &self,
        group: &str,
        version: &str,
        resource: &str,
    ) -> Option<(std::sync::Arc<crate::cache::Cache>, &'static str)> {
        let caches = self.caches?;
        let info = registry::find(group, version, resource)?;
        let cache = caches.get(
            &registry::storage_key(info, None, None),
            field_labels(info.group, info.resource),
        );
        cache.ready().then_some((cache, info.kind))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use kubers_store::sqlite::{SqliteConfig, SqliteStore};
    use serde_json::json;

    use super::*;
    use crate::cache::CacheConfig;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[tokio::test(flavor = "multi_thread")]
    async fn lookups_use_the_cache_and_fall_back_to_the_store() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(SqliteConfig::new(dir.path().join("db")))?);
        let namespace = |name: &str, phase: &str| {
            Bytes::from(json!({"metadata": {"name": name}, "status": {"phase": phase}}).to_string())
        };
        store
            .create("/registry/namespaces/team", namespace("team", "Active"))
            .await?;
        let caches = Caches::new(Arc::clone(&store), CacheConfig::default());
        let reads = Reads::new(store.as_ref(), Some(&caches));
        // The first lookup starts the caches; until they are ready the store answers.
        let found = reads
            .object("", "v1", "namespaces", "/registry/namespaces/team")
            .await
            .map_err(|error| format!("{error:?}"))?;
        assert_eq!(
            found.map(|ns| ns["status"]["phase"].clone()),
            Some(json!("Active"))
        );
        assert!(!reads.none_cached_under(
            "",
            "v1",
            "resourcequotas",
            "/registry/resourcequotas/team/"
        ));
        for _ in 0..500 {
            if reads
                .cached("", "v1", "namespaces", "/registry/namespaces/team")
                .is_some()
                && reads.none_cached_under(
                    "",
                    "v1",
                    "resourcequotas",
                    "/registry/resourcequotas/team/",
                )
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let cached = reads
            .cached("", "v1", "namespaces", "/registry/namespaces/team")
            .ok_or("the namespace never reached the cache")?;
        assert_eq!(
            (
                cached["apiVersion"].clone(),
                cached["kind"].clone(),
                cached["status"]["phase"].clone()
            ),
            (json!("v1"), json!("Namespace"), json!("Active"))
        );
        assert!(reads.none_cached_under(
            "",
            "v1",
            "resourcequotas",
            "/registry/resourcequotas/team/"
        ));
        // A name that is no prefix match of another, and an object the cache has not seen yet.
        assert!(
            reads
                .cached("", "v1", "namespaces", "/registry/namespaces/te")
                .is_none()
        );
        assert_eq!(
            reads
                .object("", "v1", "namespaces", "/registry/namespaces/te")
                .await
                .map_err(|error| format!("{error:?}"))?,
            None
        );
        // Without caches every lookup goes to the store.
        let direct = Reads::new(store.as_ref(), None);
        assert!(
            direct
                .cached("", "v1", "namespaces", "/registry/namespaces/team")
                .is_none()
        );
        assert!(!direct.none_cached_under(
            "",
            "v1",
            "resourcequotas",
            "/registry/resourcequotas/team/"
        ));
        assert!(
            direct
                .object("", "v1", "namespaces", "/registry/namespaces/team")
                .await
                .map_err(|error| format!("{error:?}"))?
                .is_some()
        );
        Ok(())
    }
}
