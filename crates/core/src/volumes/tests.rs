//! Matching as upstream's `FindMatchingVolume` and the PV controller's access-mode index decide it.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{Value, json};

use super::*;

fn volume(name: &str, size: &str, modes: &[&str], extra: Value) -> PersistentVolume {
    let mut object = json!({
        "metadata": {"name": name},
        "spec": {"capacity": {"storage": size}, "accessModes": modes},
        "status": {"phase": "Available"},
    });
    merge(&mut object, extra);
    serde_json::from_value(object).expect("a volume")
}

fn claim(name: &str, size: &str, modes: &[&str], extra: Value) -> PersistentVolumeClaim {
    let mut object = json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"accessModes": modes, "resources": {"requests": {"storage": size}}},
    });
    merge(&mut object, extra);
    serde_json::from_value(object).expect("a claim")
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch,
    }
}

fn name(volume: Option<&PersistentVolume>) -> Option<&str> {
    volume.and_then(|volume| volume.metadata.name.as_deref())
}

#[test]
fn the_smallest_fitting_volume_of_the_class_wins() {
    let volumes = [
        volume("big", "10Gi", &["ReadWriteOnce"], json!({})),
        volume("small", "1Gi", &["ReadWriteOnce"], json!({})),
        volume("medium", "2Gi", &["ReadWriteOnce"], json!({})),
        volume("tiny", "500Mi", &["ReadWriteOnce"], json!({})),
        volume(
            "gold",
            "1Gi",
            &["ReadWriteOnce"],
            json!({"spec": {"storageClassName": "gold"}}),
        ),
    ];
    let refs: Vec<&PersistentVolume> = volumes.iter().collect();
    let c = claim("c", "1Gi", &["ReadWriteOnce"], json!({}));
    assert_eq!(
        name(find_best_match_for_claim(&c, &refs, false)),
        Some("small")
    );
    let gold = claim(
        "g",
        "512Mi",
        &["ReadWriteOnce"],
        json!({"spec": {"storageClassName": "gold"}}),
    );
    assert_eq!(
        name(find_best_match_for_claim(&gold, &refs, false)),
        Some("gold")
    );
    let huge = claim("h", "20Gi", &["ReadWriteOnce"], json!({}));
    assert_eq!(name(find_best_match_for_claim(&huge, &refs, false)), None);
}

#[test]
fn access_modes_prefer_the_narrowest_group() {
    let volumes = [
        volume("rwx", "1Gi", &["ReadWriteOnce", "ReadWriteMany"], json!({})),
        volume("rwo", "5Gi", &["ReadWriteOnce"], json!({})),
        volume("rox", "1Gi", &["ReadOnlyMany"], json!({})),
    ];
    let refs: Vec<&PersistentVolume> = volumes.iter().collect();
    let c = claim("c", "1Gi", &["ReadWriteOnce"], json!({}));
    assert_eq!(
        name(find_best_match_for_claim(&c, &refs, false)),
        Some("rwo"),
        "the one-mode group is searched before the larger one, whatever the sizes"
    );
    let many = claim("m", "1Gi", &["ReadWriteMany"], json!({}));
    assert_eq!(
        name(find_best_match_for_claim(&many, &refs, false)),
        Some("rwx")
    );
}

#[test]
fn selectors_modes_phases_and_deletion_exclude_volumes() {
    let volumes = [
        volume(
            "labelled",
            "1Gi",
            &["ReadWriteOnce"],
            json!({"metadata": {"labels": {"tier": "fast"}}}),
        ),
        volume(
            "block",
            "1Gi",
            &["ReadWriteOnce"],
            json!({"spec": {"volumeMode": "Block"}}),
        ),
        volume(
            "released",
            "1Gi",
            &["ReadWriteOnce"],
            json!({"status": {"phase": "Released"}}),
        ),
        volume(
            "deleting",
            "1Gi",
            &["ReadWriteOnce"],
            json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
        ),
    ];
    let refs: Vec<&PersistentVolume> = volumes.iter().collect();
    let fast = claim(
        "f",
        "1Gi",
        &["ReadWriteOnce"],
        json!({"spec": {"selector": {"matchLabels": {"tier": "fast"}}}}),
    );
    assert_eq!(
        name(find_best_match_for_claim(&fast, &refs, false)),
        Some("labelled")
    );
    let slow = claim(
        "s",
        "1Gi",
        &["ReadWriteOnce"],
        json!({"spec": {"selector": {"matchLabels": {"tier": "slow"}}}}),
    );
    assert_eq!(name(find_best_match_for_claim(&slow, &refs, false)), None);
    let block = claim(
        "b",
        "1Gi",
        &["ReadWriteOnce"],
        json!({"spec": {"volumeMode": "Block"}}),
    );
    assert_eq!(
        name(find_best_match_for_claim(&block, &refs, false)),
        Some("block")
    );
}

#[test]
fn pre_bound_volumes_win_and_delay_binding_waits_for_them() {
    let volumes = [
        volume("free", "1Gi", &["ReadWriteOnce"], json!({})),
        volume(
            "mine",
            "5Gi",
            &["ReadWriteOnce"],
            json!({"spec": {"claimRef": {"namespace": "default", "name": "c"}}, "status": {"phase": "Available"}}),
        ),
        volume(
            "other",
            "1Gi",
            &["ReadWriteOnce"],
            json!({"spec": {"claimRef": {"namespace": "default", "name": "c", "uid": "someone-else"}}}),
        ),
    ];
    let refs: Vec<&PersistentVolume> = volumes.iter().collect();
    let c = claim("c", "1Gi", &["ReadWriteOnce"], json!({}));
    assert_eq!(
        name(find_best_match_for_claim(&c, &refs, false)),
        Some("mine")
    );
    assert_eq!(
        name(find_best_match_for_claim(&c, &refs, true)),
        Some("mine")
    );
    let d = claim("d", "1Gi", &["ReadWriteOnce"], json!({}));
    assert_eq!(
        name(find_best_match_for_claim(&d, &refs, true)),
        None,
        "delayed binding leaves free volumes to the scheduler"
    );
    assert_eq!(
        name(find_best_match_for_claim(&d, &refs, false)),
        Some("free")
    );
}

#[test]
fn the_scheduler_path_checks_node_affinity_and_modes() {
    let pinned = json!({"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}
    ]}}}});
    let volumes = [
        volume("on-n1", "1Gi", &["ReadWriteOnce"], pinned),
        volume("rox", "1Gi", &["ReadOnlyMany"], json!({})),
    ];
    let refs: Vec<&PersistentVolume> = volumes.iter().collect();
    let c = claim("c", "1Gi", &["ReadWriteOnce"], json!({}));
    let labels = |node: &str| -> BTreeMap<String, String> {
        [("kubernetes.io/hostname".to_owned(), node.to_owned())].into()
    };
    let (n1, n2) = (labels("n1"), labels("n2"));
    let on = |name, labels| Some(CandidateNode { name, labels });
    let none = HashSet::new();
    assert_eq!(
        name(find_matching_volume(&c, &refs, on("n1", &n1), &none, true)),
        Some("on-n1")
    );
    assert_eq!(
        name(find_matching_volume(&c, &refs, on("n2", &n2), &none, true)),
        None
    );
    let chosen: HashSet<String> = ["on-n1".to_owned()].into();
    assert_eq!(
        name(find_matching_volume(
            &c,
            &refs,
            on("n1", &n1),
            &chosen,
            true
        )),
        None
    );
}

#[test]
fn a_named_volume_is_checked_like_upstream() {
    let small = volume("v", "1Gi", &["ReadWriteOnce"], json!({}));
    let c = claim("c", "2Gi", &["ReadWriteOnce"], json!({}));
    assert_eq!(
        check_volume_satisfies_claim(&small, &c),
        Err("requested PV is too small".into())
    );
    let classed = claim(
        "c",
        "1Gi",
        &["ReadWriteOnce"],
        json!({"spec": {"storageClassName": "gold"}}),
    );
    assert_eq!(
        check_volume_satisfies_claim(&small, &classed),
        Err("storageClassName does not match".into())
    );
    let many = claim("c", "1Gi", &["ReadWriteMany"], json!({}));
    assert_eq!(
        check_volume_satisfies_claim(&small, &many),
        Err("incompatible accessMode".into())
    );
    assert_eq!(
        check_volume_satisfies_claim(&small, &claim("c", "1Gi", &["ReadWriteOnce"], json!({}))),
        Ok(())
    );
}

#[test]
fn classes_and_the_default() {
    let beta = claim(
        "c",
        "1Gi",
        &[],
        json!({"metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
               "spec": {"storageClassName": "new"}}),
    );
    assert_eq!(claim_class(&beta), "old");
    assert!(!claim_has_class(&claim("c", "1Gi", &[], json!({}))));
    assert!(claim_has_class(&claim(
        "c",
        "1Gi",
        &[],
        json!({"spec": {"storageClassName": ""}})
    )));
    let class = |name: &str, created: &str, default: bool| -> StorageClass {
        let annotations = if default {
            json!({"storageclass.kubernetes.io/is-default-class": "true"})
        } else {
            json!({})
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created, "annotations": annotations},
            "provisioner": "p",
        }))
        .expect("a class")
    };
    let classes = [
        class("old", "2024-01-01T00:00:00Z", true),
        class("new-b", "2024-06-01T00:00:00Z", true),
        class("new-a", "2024-06-01T00:00:00Z", true),
        class("newest", "2025-01-01T00:00:00Z", false),
    ];
    assert_eq!(
        default_class(&classes).and_then(|class| class.metadata.name.as_deref()),
        Some("new-a")
    );
    assert!(default_class(&classes[3..]).is_none());
}
