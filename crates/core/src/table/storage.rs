//! The persistentvolumes table (Name, Capacity, Access Modes, Reclaim Policy, Status, Claim,
//! StorageClass, VolumeAttributesClass, Reason, Age), the persistentvolumeclaims table (Name,
//! Status, Volume, Capacity, Access Modes, StorageClass, VolumeAttributesClass, Age) with
//! VolumeMode wide, and the storageclasses table (Name with `(default)`, Provisioner, ReclaimPolicy,
//! VolumeBindingMode, AllowVolumeExpansion, Age), like upstream's printers.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const VOLUMES: Printer = Printer {
    columns: volume_columns,
    cells: volume_cells,
};
pub(crate) const CLAIMS: Printer = Printer {
    columns: claim_columns,
    cells: claim_cells,
};
pub(crate) const CLASSES: Printer = Printer {
    columns: class_columns,
    cells: class_cells,
};

/// Access modes abbreviated in upstream's order (`GetAccessModesAsString`).
fn access_modes(modes: Option<&Value>) -> String {
    let modes: Vec<&str> = modes
        .and_then(Value::as_array)
        .map(|modes| modes.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.contains(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn text(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn or_unset(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
        .to_owned()
}

/// The class of a volume or claim: the beta annotation, else `spec.storageClassName`.
fn class_of(object: &Value) -> String {
    object
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| text(object, "/spec/storageClassName"))
}

fn phase(object: &Value) -> String {
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    text(object, "/status/phase")
}

fn volume_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column(
            "Capacity",
            "string",
            "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity",
            0,
        ),
        column(
            "Access Modes",
            "string",
            "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes",
            0,
        ),
        column(
            "Reclaim Policy",
            "string",
            "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming",
            0,
        ),
        column(
            "Status",
            "string",
            "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase",
            0,
        ),
        column(
            "Claim",
            "string",
            "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding",
            0,
        ),
        column("StorageClass", "string", "StorageClass of the pv", 0),
        column(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pv",
            0,
        ),
        column(
            "Reason",
            "string",
            "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
            0,
        ),
        ColumnDefinition::age(),
        column(
            "VolumeMode",
            "string",
            "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.",
            1,
        ),
    ]
}

fn volume_cells(volume: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(volume, now);
    let claim = match volume.pointer("/spec/claimRef") {
        Some(reference) if reference.is_object() => format!(
            "{}/{}",
            text(reference, "/namespace"),
            text(reference, "/name")
        ),
        _ => String::new(),
    };
    vec![
        name,
        Value::String(text(volume, "/spec/capacity/storage")),
        Value::String(access_modes(volume.pointer("/spec/accessModes"))),
        Value::String(text(volume, "/spec/persistentVolumeReclaimPolicy")),
        Value::String(phase(volume)),
        Value::String(claim),
        Value::String(class_of(volume)),
        Value::String(or_unset(volume, "/spec/volumeAttributesClassName")),
        Value::String(text(volume, "/status/reason")),
        age,
        Value::String(or_unset(volume, "/spec/volumeMode")),
    ]
}

fn claim_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column(
            "Status",
            "string",
            "phase represents the current phase of PersistentVolumeClaim.",
            0,
        ),
        column(
            "Volume",
            "string",
            "volumeName is the binding reference to the PersistentVolume backing this claim.",
            0,
        ),
        column(
            "Capacity",
            "string",
            "capacity represents the actual resources of the underlying volume.",
            0,
        ),
        column(
            "Access Modes",
            "string",
            "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
            0,
        ),
        column("StorageClass", "string", "StorageClass of the pvc", 0),
        column(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pvc",
            0,
        ),
        ColumnDefinition::age(),
        column(
            "VolumeMode",
            "string",
            "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
            1,
        ),
    ]
}

fn claim_cells(claim: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(claim, now);
    let volume = text(claim, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            text(claim, "/status/capacity/storage"),
            access_modes(claim.pointer("/status/accessModes")),
        )
    };
    vec![
        name,
        Value::String(phase(claim)),
        Value::String(volume),
        Value::String(capacity),
        Value::String(modes),
        Value::String(class_of(claim)),
        Value::String(or_unset(claim, "/spec/volumeAttributesClassName")),
        age,
        Value::String(or_unset(claim, "/spec/volumeMode")),
    ]
}

fn class_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column(
            "Provisioner",
            "string",
            "provisioner indicates the type of the provisioner.",
            0,
        ),
        column(
            "ReclaimPolicy",
            "string",
            "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
            0,
        ),
        column(
            "VolumeBindingMode",
            "string",
            "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.",
            0,
        ),
        column(
            "AllowVolumeExpansion",
            "string",
            "allowVolumeExpansion shows whether the storage class allow volume expand.",
            0,
        ),
        ColumnDefinition::age(),
    ]
}

fn class_cells(class: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(class, now);
    let default = [
        "storageclass.kubernetes.io~1is-default-class",
        "storageclass.beta.kubernetes.io~1is-default-class",
    ]
    .iter()
    .any(|key| {
        class.pointer(&format!("/metadata/annotations/{key}")) == Some(&Value::from("true"))
    });
    let name = match (name, default) {
        (Value::String(name), true) => Value::String(format!("{name} (default)")),
        (name, _) => name,
    };
    let or = |field: &str, fallback: &str| {
        class
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or(fallback)
            .to_owned()
    };
    vec![
        name,
        Value::String(or("provisioner", "")),
        Value::String(or("reclaimPolicy", "Delete")),
        Value::String(or("volumeBindingMode", "Immediate")),
        Value::Bool(
            class
                .get("allowVolumeExpansion")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        age,
    ]
}
