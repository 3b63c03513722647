//! Storage objects as upstream validates them: claims need access modes and a storage request,
//! volumes a capacity and exactly one source; on update a claim's spec is immutable except its
//! requests (and a first `volumeName`), a volume's source is immutable, and a StorageClass keeps
//! its provisioner, parameters, reclaim policy and binding mode.

use serde_json::{Value, json};

use crate::status::Cause;

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// The persistent volume sources (exactly one per PersistentVolume).
const VOLUME_SOURCES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "iscsi",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];

fn access_modes(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let modes = spec
        .get("accessModes")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if modes.is_empty() {
        causes.push(Cause::required(
            &format!("{path}.accessModes"),
            "at least 1 access mode is required",
        ));
    }
    for mode in modes {
        if !mode
            .as_str()
            .is_some_and(|mode| ACCESS_MODES.contains(&mode))
        {
            causes.push(Cause::not_supported(
                &format!("{path}.accessModes"),
                mode,
                ACCESS_MODES,
            ));
        }
    }
}

/// The problems of a PersistentVolumeClaim.
pub fn claim(object: &Value, causes: &mut Vec<Cause>) {
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    access_modes(&spec, "spec", causes);
    if spec.pointer("/resources/requests/storage").is_none() {
        causes.push(Cause::required("spec.resources[storage]", ""));
    }
}

/// The problems of a PersistentVolume.
pub fn volume(object: &Value, causes: &mut Vec<Cause>) {
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    access_modes(&spec, "spec", causes);
    if spec.pointer("/capacity/storage").is_none() {
        causes.push(Cause::required("spec.capacity", ""));
    }
    let sources = VOLUME_SOURCES
        .iter()
        .filter(|source| spec.get(**source).is_some_and(|value| !value.is_null()))
        .count();
    match sources {
        0 => causes.push(Cause::required("spec", "must specify a volume type")),
        1 => {}
        _ => causes.push(Cause::forbidden(
            "spec",
            "may not specify more than 1 volume type",
        )),
    }
    if let Some(policy) = spec
        .get("persistentVolumeReclaimPolicy")
        .and_then(Value::as_str)
        && !matches!(policy, "Delete" | "Recycle" | "Retain")
    {
        causes.push(Cause::not_supported(
            "spec.persistentVolumeReclaimPolicy",
            &json!(policy),
            &["Delete", "Recycle", "Retain"],
        ));
    }
}

/// A claim's spec may change only in its requests (and `volumeName` once, when it was empty).
pub fn claim_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let comparable = |spec: Option<&Value>, volume_name: Option<&Value>| {
        let mut spec = spec.cloned().unwrap_or(json!({}));
        if let Some(fields) = spec.as_object_mut() {
            if let Some(resources) = fields.get_mut("resources").and_then(Value::as_object_mut) {
                resources.remove("requests");
            }
            fields.remove("volumeAttributesClassName");
            match volume_name {
                Some(name) => fields.insert("volumeName".into(), name.clone()),
                None => fields.remove("volumeName"),
            };
        }
        spec
    };
    let old_name = old
        .pointer("/spec/volumeName")
        .filter(|name| name.as_str().is_some_and(|name| !name.is_empty()));
    // A claim binds once: an empty volumeName may be set.
    let name = old_name.or_else(|| new.pointer("/spec/volumeName"));
    if comparable(old.get("spec"), name)
        != comparable(new.get("spec"), new.pointer("/spec/volumeName"))
    {
        causes.push(Cause::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
}

/// A volume's source may not change.
pub fn volume_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let source = |object: &Value| -> Vec<(&str, Option<Value>)> {
        VOLUME_SOURCES
            .iter()
            .map(|name| (*name, object.pointer(&format!("/spec/{name}")).cloned()))
            .collect()
    };
    if source(old) != source(new) {
        causes.push(Cause::forbidden(
            "spec.persistentvolumesource",
            "spec.persistentvolumesource is immutable after creation",
        ));
    }
}

/// A StorageClass keeps its provisioner, parameters, reclaim policy and binding mode.
pub fn storage_class_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    for (field, message) in [
        ("parameters", "updates to parameters are forbidden."),
        ("provisioner", "updates to provisioner are forbidden."),
        ("reclaimPolicy", "updates to reclaimPolicy are forbidden."),
        ("volumeBindingMode", "field is immutable"),
    ] {
        if old.get(field) != new.get(field) {
            causes.push(Cause::forbidden(field, message));
        }
    }
}
