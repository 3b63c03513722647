//! VolumeBinding's PreFilter and Filter on plain caches: upstream's reasons for missing and unbound
//! claims, node affinity of bound volumes, matching and provisioning for delayed claims.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{Value, json};

use super::*;
use crate::algorithm::{Unschedulable, schedule};
use crate::model::node::build::{node, with_labels};
use crate::model::pod::PodClaim;
use crate::model::pod::build::pod;
use rand::SeedableRng;
use rand::rngs::StdRng;

const GI: i64 = 1 << 30;

fn claim(name: &str, class: &str, extra: Value) -> Arc<PersistentVolumeClaim> {
    let mut object = json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": "5"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": class},
        "status": {"phase": "Pending"},
    });
    merge(&mut object, extra);
    Arc::new(serde_json::from_value(object).expect("a claim"))
}

fn volume(name: &str, class: &str, host: Option<&str>, extra: Value) -> Arc<PersistentVolume> {
    let mut object = json!({
        "metadata": {"name": name, "resourceVersion": "3"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": class, "hostPath": {"path": "/x"}},
        "status": {"phase": "Available"},
    });
    if let Some(host) = host {
        object["spec"]["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}});
    }
    merge(&mut object, extra);
    Arc::new(serde_json::from_value(object).expect("a volume"))
}

fn class(name: &str, provisioner: &str, delayed: bool) -> Arc<StorageClass> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "provisioner": provisioner,
            "volumeBindingMode": if delayed { "WaitForFirstConsumer" } else { "Immediate" },
        }))
        .expect("a class"),
    )
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

fn cluster() -> Cache {
    let mut cache = Cache::new();
    for name in ["n1", "n2"] {
        cache.upsert_node(with_labels(
            node(name, 4000, 16 * GI, 110),
            &[("kubernetes.io/hostname", name)],
        ));
    }
    cache
        .volumes
        .upsert_class(class("fast", "example.com/fast", false));
    cache
        .volumes
        .upsert_class(class("local", "rancher.io/local-path", true));
    cache
        .volumes
        .upsert_class(class("static", "kubernetes.io/no-provisioner", true));
    cache
}

fn using(claims: &[&str]) -> PodInfo {
    let mut p = pod("p", 100, 0);
    p.spec.claims = claims
        .iter()
        .map(|name| PodClaim {
            name: (*name).to_owned(),
            ephemeral: false,
        })
        .collect();
    p
}

fn message(cache: &Cache, pod: &PodInfo) -> String {
    match schedule(cache, pod, &mut 0, &mut StdRng::seed_from_u64(1)) {
        Err(Unschedulable::NoFit(diagnosis)) => diagnosis.message(),
        other => panic!("expected no fit, got {other:?}"),
    }
}

fn bound(name: &str, volume: &str) -> Arc<PersistentVolumeClaim> {
    claim(
        name,
        "fast",
        json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
               "spec": {"volumeName": volume}, "status": {"phase": "Bound"}}),
    )
}

#[test]
fn missing_and_unbound_immediate_claims_are_refused_before_any_node() {
    let mut cache = cluster();
    assert_eq!(
        message(&cache, &using(&["data"])),
        "0/2 nodes are available: persistentvolumeclaim \"data\" not found."
    );
    cache.volumes.upsert_claim(claim("data", "fast", json!({})));
    assert_eq!(
        message(&cache, &using(&["data"])),
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    );
    cache.volumes.upsert_claim(claim(
        "data",
        "fast",
        json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
    ));
    assert_eq!(
        message(&cache, &using(&["data"])),
        "0/2 nodes are available: persistentvolumeclaim \"data\" is being deleted."
    );
}

#[test]
fn bound_volumes_pin_pods_to_their_nodes() {
    let mut cache = cluster();
    cache.volumes.upsert_claim(bound("data", "pv1"));
    cache.volumes.upsert_volume(volume(
        "pv1",
        "fast",
        Some("n2"),
        json!({"status": {"phase": "Bound"}}),
    ));
    let decision = schedule(
        &cache,
        &using(&["data"]),
        &mut 0,
        &mut StdRng::seed_from_u64(1),
    );
    assert_eq!(decision.map(|d| d.node).ok(), Some("n2".to_owned()));
    cache.volumes.upsert_volume(volume(
        "pv1",
        "fast",
        Some("n3"),
        json!({"status": {"phase": "Bound"}}),
    ));
    assert!(
        message(&cache, &using(&["data"]))
            .starts_with("0/2 nodes are available: 2 node(s) had volume node affinity conflict.")
    );
    cache.volumes.remove_volume("pv1");
    assert!(message(&cache, &using(&["data"])).starts_with(
        "0/2 nodes are available: 2 node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)."
    ));
}

#[test]
fn delayed_claims_match_local_volumes_or_provision() {
    let mut cache = cluster();
    cache
        .volumes
        .upsert_claim(claim("local-data", "static", json!({})));
    assert!(message(&cache, &using(&["local-data"])).starts_with(
        "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind."
    ));
    cache
        .volumes
        .upsert_volume(volume("on-n1", "static", Some("n1"), json!({})));
    let p = using(&["local-data"]);
    let decision = schedule(&cache, &p, &mut 0, &mut StdRng::seed_from_u64(1));
    assert_eq!(decision.map(|d| d.node).ok(), Some("n1".to_owned()));
    let volumes = crate::algorithm::Cycle::new(&p, &cache).pod_volumes("n1", &cache);
    assert_eq!(volumes.bindings.len(), 1);
    let reference = volumes.bindings[0]
        .spec
        .as_ref()
        .and_then(|spec| spec.claim_ref.as_ref())
        .and_then(|reference| reference.uid.clone());
    assert_eq!(reference.as_deref(), Some("uid-local-data"));

    // A provisioning class fits every node and selects the chosen one.
    cache
        .volumes
        .upsert_claim(claim("dynamic", "local", json!({})));
    let p = using(&["dynamic"]);
    let node = schedule(&cache, &p, &mut 0, &mut StdRng::seed_from_u64(1))
        .map(|d| d.node)
        .unwrap_or_default();
    assert!(!node.is_empty());
    let volumes = crate::algorithm::Cycle::new(&p, &cache).pod_volumes(&node, &cache);
    let selected = volumes.provisions[0]
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(ANN_SELECTED_NODE).cloned());
    assert_eq!(selected, Some(node.clone()));
    // Once selected, only that node fits.
    cache
        .volumes
        .assume_claim(Arc::clone(&volumes.provisions[0]));
    let other = if node == "n1" { "n2" } else { "n1" };
    let spec = cache
        .node(other)
        .and_then(|info| info.node.clone())
        .unwrap_or_default();
    let state = prefilter(&p, &cache).ok().flatten().unwrap_or_default();
    assert_eq!(
        filter(&state, &spec, &cache).map_err(|r| r.reasons),
        Err(vec![BIND_CONFLICT.into()])
    );
}

#[test]
fn read_write_once_pod_claims_serve_one_pod() {
    let mut cache = cluster();
    cache.volumes.upsert_claim(claim(
        "solo",
        "fast",
        json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
               "spec": {"volumeName": "pv", "accessModes": ["ReadWriteOncePod"]}}),
    ));
    cache
        .volumes
        .upsert_volume(volume("pv", "fast", None, json!({})));
    let mut holder = using(&["solo"]);
    holder.uid = "uid-holder".into();
    holder.node_name = "n1".into();
    cache.add_assigned_pod(Arc::new(holder));
    assert!(message(&cache, &using(&["solo"])).starts_with(
        "0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode."
    ));
}
