//! Persistent volumes, claims and storage classes.

use serde_json::json;

use super::{CREATED, check_cells, check_columns};

#[test]
fn persistent_volumes() {
    check_columns(
        "",
        "v1",
        "persistentvolumes",
        &[
            ("Name", "string", 0),
            ("Capacity", "string", 0),
            ("Access Modes", "string", 0),
            ("Reclaim Policy", "string", 0),
            ("Status", "string", 0),
            ("Claim", "string", 0),
            ("StorageClass", "string", 0),
            ("VolumeAttributesClass", "string", 0),
            ("Reason", "string", 0),
            ("Age", "string", 0),
            ("VolumeMode", "string", 1),
        ],
    );
    check_cells(
        "",
        "v1",
        "persistentvolumes",
        json!({"metadata": {"name": "pv1", "creationTimestamp": CREATED},
               "spec": {"capacity": {"storage": "5Gi"},
                        "accessModes": ["ReadOnlyMany", "ReadWriteOnce", "ReadWriteOnce"],
                        "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast",
                        "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem",
                        "hostPath": {"path": "/tmp/pv1"}},
               "status": {"phase": "Bound"}}),
        json!([
            "pv1",
            "5Gi",
            "RWO,ROX",
            "Retain",
            "Bound",
            "default/data",
            "fast",
            "<unset>",
            "",
            "10m",
            "Filesystem"
        ]),
    );
    check_cells(
        "",
        "v1",
        "persistentvolumes",
        json!({"metadata": {"name": "pv2", "creationTimestamp": CREATED, "deletionTimestamp": CREATED,
                            "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
               "spec": {"accessModes": ["ReadWriteOncePod", "ReadWriteMany"], "storageClassName": "new",
                        "volumeAttributesClassName": "gold"},
               "status": {"phase": "Failed", "reason": "VolumeFailedRecycle"}}),
        json!([
            "pv2",
            "0",
            "RWX,RWOP",
            "",
            "Terminating",
            "",
            "old",
            "gold",
            "VolumeFailedRecycle",
            "10m",
            "<unset>"
        ]),
    );
}

#[test]
fn persistent_volume_claims() {
    check_columns(
        "",
        "v1",
        "persistentvolumeclaims",
        &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Volume", "string", 0),
            ("Capacity", "string", 0),
            ("Access Modes", "string", 0),
            ("StorageClass", "string", 0),
            ("VolumeAttributesClass", "string", 0),
            ("Age", "string", 0),
            ("VolumeMode", "string", 1),
        ],
    );
    check_cells(
        "",
        "v1",
        "persistentvolumeclaims",
        json!({"metadata": {"name": "data", "creationTimestamp": CREATED},
               "spec": {"volumeName": "pv1", "storageClassName": "fast", "volumeMode": "Filesystem",
                        "resources": {"requests": {"storage": "1Gi"}}},
               "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"]}}),
        json!([
            "data",
            "Bound",
            "pv1",
            "5Gi",
            "RWO",
            "fast",
            "<unset>",
            "10m",
            "Filesystem"
        ]),
    );
    // Until bound, capacity and access modes stay empty (not the request).
    check_cells(
        "",
        "v1",
        "persistentvolumeclaims",
        json!({"metadata": {"name": "wait", "creationTimestamp": CREATED},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
               "status": {"phase": "Pending"}}),
        json!([
            "wait", "Pending", "", "", "", "", "<unset>", "10m", "<unset>"
        ]),
    );
}

#[test]
fn storage_classes() {
    check_columns(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        &[
            ("Name", "string", 0),
            ("Provisioner", "string", 0),
            ("ReclaimPolicy", "string", 0),
            ("VolumeBindingMode", "string", 0),
            ("AllowVolumeExpansion", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        json!({"metadata": {"name": "local-path", "creationTimestamp": CREATED,
                            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
               "provisioner": "rancher.io/local-path", "reclaimPolicy": "Retain",
               "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true}),
        json!([
            "local-path (default)",
            "rancher.io/local-path",
            "Retain",
            "WaitForFirstConsumer",
            true,
            "10m"
        ]),
    );
    check_cells(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        json!({"metadata": {"name": "plain", "creationTimestamp": CREATED,
                            "annotations": {"storageclass.kubernetes.io/is-default-class": "false",
                                            "storageclass.beta.kubernetes.io/is-default-class": "yes"}},
               "provisioner": "example.com/p"}),
        json!([
            "plain",
            "example.com/p",
            "Delete",
            "Immediate",
            false,
            "10m"
        ]),
    );
}
