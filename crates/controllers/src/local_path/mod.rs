//! The local-path provisioner k3s ships (rancher's `rancher.io/local-path`), as a controller: a claim
//! of a class with that provisioner, once the PersistentVolume controller handed it over (the
//! `storage-provisioner` annotation) and the scheduler chose its node (`selected-node`), gets a
//! `hostPath` volume `pvc-<claim uid>` under the storage path, pinned to that node by node affinity
//! and already bound to the claim through its `claimRef`. The directory itself is made by the
//! kubelet (hostPath type `DirectoryOrCreate`), so the control plane never touches a node's disk.
//!
//! Released volumes of a `Delete` class lose their directory through a helper pod on their node,
//! then their object ([`teardown`]).

pub mod teardown;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, Pod, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kubers_client::events::{NORMAL, Recorder, WARNING};
use kubers_core::volumes::{
    ANN_BETA_STORAGE_PROVISIONER, ANN_DYNAMICALLY_PROVISIONED, ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER, LABEL_HOSTNAME, claim_class, claim_volume_name, reclaim_policy,
    volume_phase,
};

use crate::error::{Error, Result};
use crate::informer::{Change, Informer, Informers};
use crate::persistent_volume::claim_reference;
use crate::queue::{WorkQueue, run_workers};

/// The provisioner's name in StorageClasses.
pub const PROVISIONER: &str = "rancher.io/local-path";
/// The default StorageClass k3s creates for it.
pub const CLASS: &str = "local-path";
/// The annotation naming the node a volume was made on (rancher's `NodeNameAnnotationKey`).
pub const SELECTED_NODE_ANNOTATION: &str = "local.path.provisioner/selected-node";

/// What the work queue holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Claim(String, String),
    Volume(String),
}

struct Provisioner {
    client: kube::Client,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    volumes: Arc<Informer<PersistentVolume>>,
    classes: Arc<Informer<StorageClass>>,
    nodes: Arc<Informer<Node>>,
    pods: Arc<Informer<Pod>>,
    base: String,
    recorder: Recorder,
    queue: Arc<WorkQueue<Key>>,
    /// Failed helper pods, by volume name.
    failures: Mutex<teardown::FailureMap>,
    /// The uids of volumes deleted already (until the informer sees them go).
    deleted: Mutex<HashSet<String>>,
}

/// The name of the volume provisioned for a claim (the external-provisioner library's).
pub fn volume_name(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.uid().unwrap_or_default())
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Whether the claim is handed to this provisioner and waits for a volume.
fn wants_volume(claim: &PersistentVolumeClaim) -> bool {
    let handed_over = [ANN_STORAGE_PROVISIONER, ANN_BETA_STORAGE_PROVISIONER]
        .iter()
        .any(|key| annotation(&claim.metadata, key) == Some(PROVISIONER));
    handed_over && claim_volume_name(claim).is_none() && claim.metadata.deletion_timestamp.is_none()
}

/// Whether the volume is one of ours whose claim is gone and whose class deletes it.
fn to_delete(volume: &PersistentVolume) -> bool {
    annotation(&volume.metadata, ANN_DYNAMICALLY_PROVISIONED) == Some(PROVISIONER)
        && volume_phase(volume) == "Released"
        && reclaim_policy(volume) == "Delete"
        && volume.metadata.deletion_timestamp.is_none()
}

/// Registers the provisioner; `base` is the directory volumes are made in on each node.
pub fn start(client: kube::Client, informers: &Informers, base: String) {
    let queue: Arc<WorkQueue<Key>> = WorkQueue::new();
    let provisioner = Arc::new(Provisioner {
        recorder: Recorder::new(client.clone(), PROVISIONER),
        client,
        claims: informers.get::<PersistentVolumeClaim>(),
        volumes: informers.get::<PersistentVolume>(),
        classes: informers.get::<StorageClass>(),
        nodes: informers.get::<Node>(),
        pods: informers.get::<Pod>(),
        base,
        queue: Arc::clone(&queue),
        failures: Mutex::default(),
        deleted: Mutex::default(),
    });
    {
        let queue = Arc::clone(&queue);
        provisioner.claims.on_change(move |change| {
            let claim = change.object();
            if !matches!(change, Change::Deleted(_)) && wants_volume(claim) {
                queue.add(Key::Claim(
                    claim.namespace().unwrap_or_default(),
                    claim.name_any(),
                ));
            }
        });
    }
    {
        let queue = Arc::clone(&queue);
        let weak = Arc::downgrade(&provisioner);
        provisioner.volumes.on_change(move |change| {
            let volume = change.object();
            if let Change::Deleted(volume) = change {
                if let (Some(provisioner), Some(uid)) = (weak.upgrade(), volume.uid()) {
                    provisioner
                        .deleted
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&uid);
                }
                return;
            }
            if to_delete(volume) {
                queue.add(Key::Volume(volume.name_any()));
            }
        });
    }
    {
        let queue = Arc::clone(&queue);
        provisioner.pods.on_change(move |change| {
            if let Some(volume) = teardown::helper_pod_volume(change.object()) {
                queue.add(Key::Volume(volume));
            }
        });
    }
    tokio::spawn(async move {
        provisioner.claims.synced().await;
        provisioner.volumes.synced().await;
        provisioner.classes.synced().await;
        provisioner.nodes.synced().await;
        provisioner.pods.synced().await;
        run_workers("local-path-provisioner", queue, 1, move |key: Key| {
            let provisioner = Arc::clone(&provisioner);
            async move {
                match key {
                    Key::Claim(namespace, name) => provisioner.provision(&namespace, &name).await,
                    Key::Volume(name) => provisioner.delete(&name).await,
                }
            }
        });
    });
}

impl Provisioner {
    async fn provision(&self, namespace: &str, name: &str) -> Result<()> {
        let Some(claim) = self.claims.get(namespace, name) else {
            return Ok(());
        };
        if !wants_volume(&claim) {
            return Ok(());
        }
        let pv_name = volume_name(&claim);
        if self.volumes.get("", &pv_name).is_some() {
            return Ok(());
        }
        let class_name = claim_class(&claim).to_owned();
        let Some(class) = self.classes.get("", &class_name) else {
            return Ok(());
        };
        if class.provisioner != PROVISIONER {
            return Ok(());
        }
        let volume = match self.volume_for(&claim, &class, &pv_name) {
            Ok(volume) => volume,
            Err(reason) => {
                self.recorder.event(
                    &*claim,
                    WARNING,
                    "ProvisioningFailed",
                    format!(
                        "failed to provision volume with StorageClass {class_name:?}: {reason}"
                    ),
                );
                return Ok(());
            }
        };
        self.recorder.event(
            &*claim,
            NORMAL,
            "Provisioning",
            format!("External provisioner is provisioning volume for claim \"{namespace}/{name}\""),
        );
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        match api.create(&PostParams::default(), &volume).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => return Ok(()),
            Err(source) => {
                return Err(Error::Api {
                    action: format!("creating volume {pv_name} for claim {namespace}/{name}"),
                    source,
                });
            }
        }
        tracing::info!(volume = %pv_name, claim = %format!("{namespace}/{name}"), "provisioned a local-path volume");
        self.recorder.event(
            &*claim,
            NORMAL,
            "ProvisioningSucceeded",
            format!("Successfully provisioned volume {pv_name}"),
        );
        Ok(())
    }

    /// The volume for a claim, or why there cannot be one (worded like the provisioner's errors).
    fn volume_for(
        &self,
        claim: &PersistentVolumeClaim,
        class: &StorageClass,
        pv_name: &str,
    ) -> Result<PersistentVolume, String> {
        let spec = claim.spec.clone().unwrap_or_default();
        if spec.selector.is_some() {
            return Err("claim.Spec.Selector is not supported".into());
        }
        let modes = spec.access_modes.clone().unwrap_or_default();
        if modes
            .iter()
            .any(|mode| mode != "ReadWriteOnce" && mode != "ReadWriteOncePod")
        {
            return Err(
                "NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes"
                    .into(),
            );
        }
        let Some(node) = annotation(&claim.metadata, ANN_SELECTED_NODE) else {
            return Err("configuration error, no node was specified".into());
        };
        let hostname = self
            .nodes
            .get("", node)
            .and_then(|node| node.labels().get(LABEL_HOSTNAME).cloned())
            .unwrap_or_else(|| node.to_owned());
        let namespace = claim.namespace().unwrap_or_default();
        let folder = format!("{pv_name}_{namespace}_{}", claim.name_any());
        let path = format!("{}/{folder}", self.base.trim_end_matches('/'));
        let storage = spec
            .resources
            .as_ref()
            .and_then(|resources| resources.requests.as_ref())
            .and_then(|requests| requests.get("storage"))
            .cloned()
            .ok_or_else(|| "claim requests no storage".to_owned())?;
        Ok(PersistentVolume {
            metadata: ObjectMeta {
                name: Some(pv_name.to_owned()),
                annotations: Some(
                    [
                        (
                            ANN_DYNAMICALLY_PROVISIONED.to_owned(),
                            PROVISIONER.to_owned(),
                        ),
                        (SELECTED_NODE_ANNOTATION.to_owned(), node.to_owned()),
                    ]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                access_modes: Some(modes),
                capacity: Some([("storage".to_owned(), storage)].into()),
                claim_ref: Some(claim_reference(claim)),
                host_path: Some(HostPathVolumeSource {
                    path,
                    type_: Some("DirectoryOrCreate".into()),
                }),
                mount_options: class.mount_options.clone(),
                node_affinity: Some(VolumeNodeAffinity {
                    required: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: LABEL_HOSTNAME.into(),
                                operator: "In".into(),
                                values: Some(vec![hostname]),
                            }]),
                            match_fields: None,
                        }],
                    }),
                }),
                persistent_volume_reclaim_policy: Some(
                    class
                        .reclaim_policy
                        .clone()
                        .unwrap_or_else(|| "Delete".into()),
                ),
                storage_class_name: Some(class.name_any()),
                volume_mode: Some(spec.volume_mode.unwrap_or_else(|| "Filesystem".into())),
                ..PersistentVolumeSpec::default()
            }),
            status: None,
        })
    }
}
