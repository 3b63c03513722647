//! Storage defaults: `SetDefaults_PersistentVolume`, `SetDefaults_PersistentVolumeClaim` and
//! `SetDefaults_StorageClass` (phases, volume modes, reclaim policies, binding mode).

use serde_json::{Value, json};

use super::or_insert;

/// A PersistentVolume: `Retain`, `Filesystem`, an unset hostPath type, and phase `Pending`.
pub fn persistent_volume(volume: &mut Value) {
    if let Some(spec) = or_insert(volume, "spec", json!({})) {
        or_insert(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        or_insert(spec, "volumeMode", json!("Filesystem"));
        if let Some(host_path) = spec.get_mut("hostPath").filter(|path| path.is_object()) {
            or_insert(host_path, "type", json!(""));
        }
    }
    if let Some(status) = or_insert(volume, "status", json!({})) {
        or_insert(status, "phase", json!("Pending"));
    }
}

/// A PersistentVolumeClaim: `Filesystem` and phase `Pending`.
pub fn persistent_volume_claim(claim: &mut Value) {
    if let Some(spec) = or_insert(claim, "spec", json!({})) {
        or_insert(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = or_insert(claim, "status", json!({})) {
        or_insert(status, "phase", json!("Pending"));
    }
}

/// A StorageClass: `Delete` and `Immediate`.
pub fn storage_class(class: &mut Value) {
    or_insert(class, "reclaimPolicy", json!("Delete"));
    or_insert(class, "volumeBindingMode", json!("Immediate"));
}
