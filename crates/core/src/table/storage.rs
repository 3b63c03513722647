//! Storage tables: persistentvolumes, persistentvolumeclaims and storageclasses, with upstream's cell
//! text (access modes as `RWO,ROX,RWX,RWOP`, capacities as given, `<unset>` volume modes, `(default)`
//! after the default storage class's name).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::descriptions as doc;
use super::fields::{UNSET, list, non_empty, quantity, text};
use super::{ColumnDefinition, Printer, column, meta_str, name_and_age};

pub(crate) const PERSISTENT_VOLUMES: Printer = Printer {
    columns: persistent_volume_columns,
    cells: persistent_volume_cells,
};
pub(crate) const PERSISTENT_VOLUME_CLAIMS: Printer = Printer {
    columns: persistent_volume_claim_columns,
    cells: persistent_volume_claim_cells,
};
pub(crate) const STORAGE_CLASSES: Printer = Printer {
    columns: storage_class_columns,
    cells: storage_class_cells,
};

/// The beta annotation that, when present, overrides `storageClassName`.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// Upstream's `GetAccessModesAsString`: the modes present, in a fixed order, abbreviated.
fn access_modes(object: &Value, pointer: &str) -> String {
    let modes = list(object, pointer);
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.iter().any(|present| present == mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class of a volume or claim: the beta annotation if present, else `storageClassName`.
fn storage_class(object: &Value) -> String {
    object
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(BETA_STORAGE_CLASS))
        .and_then(Value::as_str)
        .unwrap_or_else(|| text(object, "/spec/storageClassName"))
        .to_owned()
}

/// The phase, or `Terminating` once deletion has begun.
fn phase(object: &Value) -> String {
    if meta_str(object, "deletionTimestamp").is_some() {
        return "Terminating".to_owned();
    }
    text(object, "/status/phase").to_owned()
}

fn optional(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or(UNSET)
        .to_owned()
}

fn persistent_volume_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Capacity", "string", doc::PV_CAPACITY, 0),
        column("Access Modes", "string", doc::PV_ACCESS_MODES, 0),
        column("Reclaim Policy", "string", doc::PV_RECLAIM, 0),
        column("Status", "string", doc::PV_PHASE, 0),
        column("Claim", "string", doc::PV_CLAIM, 0),
        column("StorageClass", "string", "StorageClass of the pv", 0),
        column(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pv",
            0,
        ),
        column("Reason", "string", doc::PV_REASON, 0),
        ColumnDefinition::age(),
        column("VolumeMode", "string", doc::PV_VOLUME_MODE, 1),
    ]
}

fn persistent_volume_cells(volume: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(volume, now);
    let claim = match volume.pointer("/spec/claimRef") {
        Some(claim) if claim.is_object() => {
            format!("{}/{}", text(claim, "/namespace"), text(claim, "/name"))
        }
        _ => String::new(),
    };
    vec![
        name,
        quantity(volume.pointer("/spec/capacity/storage"), "0").into(),
        access_modes(volume, "/spec/accessModes").into(),
        text(volume, "/spec/persistentVolumeReclaimPolicy").into(),
        phase(volume).into(),
        claim.into(),
        storage_class(volume).into(),
        optional(volume, "/spec/volumeAttributesClassName").into(),
        text(volume, "/status/reason").into(),
        age,
        optional(volume, "/spec/volumeMode").into(),
    ]
}

fn persistent_volume_claim_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Status", "string", doc::PVC_PHASE, 0),
        column("Volume", "string", doc::PVC_VOLUME, 0),
        column("Capacity", "string", doc::PVC_CAPACITY, 0),
        column("Access Modes", "string", doc::PVC_ACCESS_MODES, 0),
        column("StorageClass", "string", "StorageClass of the pvc", 0),
        column(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pvc",
            0,
        ),
        ColumnDefinition::age(),
        column("VolumeMode", "string", doc::PVC_VOLUME_MODE, 1),
    ]
}

fn persistent_volume_claim_cells(claim: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(claim, now);
    let volume = text(claim, "/spec/volumeName");
    // Capacity and access modes are the bound volume's, shown only once a volume is named.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(claim.pointer("/status/capacity/storage"), "0"),
            access_modes(claim, "/status/accessModes"),
        )
    };
    vec![
        name,
        phase(claim).into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        storage_class(claim).into(),
        optional(claim, "/spec/volumeAttributesClassName").into(),
        age,
        optional(claim, "/spec/volumeMode").into(),
    ]
}

fn storage_class_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Provisioner", "string", doc::SC_PROVISIONER, 0),
        column("ReclaimPolicy", "string", doc::SC_RECLAIM, 0),
        column("VolumeBindingMode", "string", doc::SC_BINDING, 0),
        column("AllowVolumeExpansion", "string", doc::SC_EXPANSION, 0),
        ColumnDefinition::age(),
    ]
}

/// Whether the class carries the (beta or GA) default-class annotation set to `true`.
fn is_default_class(class: &Value) -> bool {
    let annotations = class.pointer("/metadata/annotations");
    [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|key| {
        annotations
            .and_then(|annotations| annotations.get(*key))
            .and_then(Value::as_str)
            == Some("true")
    })
}

fn storage_class_cells(class: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(class, now);
    let name = if is_default_class(class) {
        format!("{} (default)", name.as_str().unwrap_or(""))
    } else {
        name.as_str().unwrap_or("").to_owned()
    };
    let expansion = class
        .get("allowVolumeExpansion")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    vec![
        name.into(),
        text(class, "/provisioner").into(),
        non_empty(class, "/reclaimPolicy")
            .unwrap_or("Delete")
            .into(),
        non_empty(class, "/volumeBindingMode")
            .unwrap_or("Immediate")
            .into(),
        expansion.into(),
        age,
    ]
}
