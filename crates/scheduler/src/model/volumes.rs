//! What the scheduler knows of storage: PersistentVolumeClaims, PersistentVolumes and
//! StorageClasses as the informers last saw them, plus the volumes and claims it *assumed* for a
//! pod being bound (a volume's `claimRef` set, a claim's `selected-node` annotation), like upstream's
//! assume cache: an assumed object wins until the watch delivers a newer version of it, and is
//! dropped when the pod's binding fails. Pure data; no I/O.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;

/// A claim's key: namespace and name.
pub type ClaimKey = (String, String);

fn revision<K: kube::Resource>(object: &K) -> u64 {
    object
        .meta()
        .resource_version
        .as_deref()
        .and_then(|version| version.parse().ok())
        .unwrap_or(0)
}

/// Claims, volumes and classes, with assumed versions.
#[derive(Debug, Default)]
pub struct VolumeCache {
    claims: HashMap<ClaimKey, Arc<PersistentVolumeClaim>>,
    volumes: HashMap<String, Arc<PersistentVolume>>,
    classes: HashMap<String, Arc<StorageClass>>,
    assumed_claims: HashMap<ClaimKey, Arc<PersistentVolumeClaim>>,
    assumed_volumes: HashMap<String, Arc<PersistentVolume>>,
}

impl VolumeCache {
    /// Records a claim from the watch (a newer version replaces an assumed one).
    pub fn upsert_claim(&mut self, claim: Arc<PersistentVolumeClaim>) {
        let key = (claim.namespace().unwrap_or_default(), claim.name_any());
        if self
            .assumed_claims
            .get(&key)
            .is_some_and(|assumed| revision(&**assumed) < revision(&*claim))
        {
            self.assumed_claims.remove(&key);
        }
        self.claims.insert(key, claim);
    }

    /// Forgets a deleted claim.
    pub fn remove_claim(&mut self, key: &ClaimKey) {
        self.claims.remove(key);
        self.assumed_claims.remove(key);
    }

    /// Records a volume from the watch.
    pub fn upsert_volume(&mut self, volume: Arc<PersistentVolume>) {
        let name = volume.name_any();
        if self
            .assumed_volumes
            .get(&name)
            .is_some_and(|assumed| revision(&**assumed) < revision(&*volume))
        {
            self.assumed_volumes.remove(&name);
        }
        self.volumes.insert(name, volume);
    }

    /// Forgets a deleted volume.
    pub fn remove_volume(&mut self, name: &str) {
        self.volumes.remove(name);
        self.assumed_volumes.remove(name);
    }

    /// Records a class.
    pub fn upsert_class(&mut self, class: Arc<StorageClass>) {
        self.classes.insert(class.name_any(), class);
    }

    /// Forgets a deleted class.
    pub fn remove_class(&mut self, name: &str) {
        self.classes.remove(name);
    }

    /// A claim, assumed version first.
    pub fn claim(&self, namespace: &str, name: &str) -> Option<&Arc<PersistentVolumeClaim>> {
        let key = (namespace.to_owned(), name.to_owned());
        self.assumed_claims
            .get(&key)
            .or_else(|| self.claims.get(&key))
    }

    /// A volume, assumed version first.
    pub fn volume(&self, name: &str) -> Option<&Arc<PersistentVolume>> {
        self.assumed_volumes
            .get(name)
            .or_else(|| self.volumes.get(name))
    }

    /// A class.
    pub fn class(&self, name: &str) -> Option<&Arc<StorageClass>> {
        self.classes.get(name)
    }

    /// Every volume of a class (assumed versions first).
    pub fn volumes_of_class(&self, class: &str) -> Vec<&PersistentVolume> {
        self.volumes
            .keys()
            .filter_map(|name| self.volume(name))
            .filter(|volume| kubers_core::volumes::volume_class(volume) == class)
            .map(|volume| &**volume)
            .collect()
    }

    /// Assumes a volume's new version (its `claimRef` set for a pod being bound).
    pub fn assume_volume(&mut self, volume: Arc<PersistentVolume>) {
        self.assumed_volumes.insert(volume.name_any(), volume);
    }

    /// Assumes a claim's new version (its `selected-node` annotation set).
    pub fn assume_claim(&mut self, claim: Arc<PersistentVolumeClaim>) {
        let key = (claim.namespace().unwrap_or_default(), claim.name_any());
        self.assumed_claims.insert(key, claim);
    }

    /// Drops what was assumed for a pod whose binding failed.
    pub fn revert(
        &mut self,
        volumes: &[Arc<PersistentVolume>],
        claims: &[Arc<PersistentVolumeClaim>],
    ) {
        for volume in volumes {
            self.assumed_volumes.remove(&volume.name_any());
        }
        for claim in claims {
            self.assumed_claims
                .remove(&(claim.namespace().unwrap_or_default(), claim.name_any()));
        }
    }
}
