//! The objects a controller wrote itself, kept until its informer catches up (upstream's
//! `storeObjectUpdate`): a sync that follows a write reads the written version, never the older one
//! the watch has not replaced yet. Versions are compared by `resourceVersion`, which kubers' store
//! makes a revision number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::Resource;

/// Written objects by key.
pub struct Fresh<K> {
    written: Mutex<HashMap<String, Arc<K>>>,
}

impl<K> Default for Fresh<K> {
    fn default() -> Self {
        Fresh {
            written: Mutex::new(HashMap::new()),
        }
    }
}

fn revision<K: Resource>(object: &K) -> u64 {
    object
        .meta()
        .resource_version
        .as_deref()
        .and_then(|version| version.parse().ok())
        .unwrap_or(0)
}

impl<K: Resource> Fresh<K> {
    /// Remembers an object the API returned for a write.
    pub fn record(&self, key: String, object: K) -> Arc<K> {
        let object = Arc::new(object);
        self.lock().insert(key, Arc::clone(&object));
        object
    }

    /// The newer of the cached object and the written one; an object the cache no longer has is
    /// gone.
    pub fn pick(&self, key: &str, cached: Option<Arc<K>>) -> Option<Arc<K>> {
        let mut written = self.lock();
        let Some(cached) = cached else {
            written.remove(key);
            return None;
        };
        match written.get(key) {
            Some(mine) if revision(&**mine) > revision(&*cached) => Some(Arc::clone(mine)),
            Some(_) => {
                written.remove(key);
                Some(cached)
            }
            None => Some(cached),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<K>>> {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
