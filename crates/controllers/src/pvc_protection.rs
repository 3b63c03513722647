//! The PVC protection controller, as upstream's `pvc-protection-controller`: a
//! PersistentVolumeClaim being deleted loses its `kubernetes.io/pvc-protection` finalizer (and so
//! goes) once no pod uses it; a claim without the finalizer gets it (admission adds it to new claims,
//! this catches older ones).
//!
//! A pod uses a claim when it is scheduled (`spec.nodeName` set: the kubelet will not start a pod
//! whose claim is being deleted, so an unscheduled pod never mounts it) and names the claim in a
//! `persistentVolumeClaim` volume, or owns it as a generic ephemeral volume and is not shut down.
//! Like upstream, a scheduled pod that finished still counts until it is deleted. The pod cache is
//! asked first; a claim it finds unused is checked once more against a live list of the
//! namespace's pods, as a cache may not yet hold a pod just created.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Volume};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kubers_core::volumes::PVC_PROTECTION_FINALIZER;

use crate::error::{Context, Result};
use crate::informer::{Change, Informer, Informers};
use crate::protection::{is_deletion_candidate, needs_finalizer, set_finalizer};
use crate::queue::{WorkQueue, run_workers};

/// The controller's name.
pub const COMPONENT: &str = "pvc-protection-controller";

/// A claim by namespace and name.
type Key = (String, String);

struct Controller {
    client: kube::Client,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    pods: Arc<Informer<Pod>>,
}

/// The name of the claim a volume of `pod` uses, if any: the named claim, or the one a generic
/// ephemeral volume gets (`<pod>-<volume>`).
fn claim_name(pod: &Pod, volume: &Volume) -> Option<String> {
    if let Some(source) = &volume.persistent_volume_claim {
        return Some(source.claim_name.clone());
    }
    volume
        .ephemeral
        .as_ref()
        .map(|_| format!("{}-{}", pod.name_any(), volume.name))
}

/// Whether the pod is done with its volumes for good: deleted with a zero grace period, by the
/// kubelet once it unmounted everything, or forcibly (upstream's `podIsShutDown`).
fn is_shut_down(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
        && pod.metadata.deletion_grace_period_seconds == Some(0)
}

/// Whether `pod` uses `claim` (upstream's `podUsesPVC`).
pub fn pod_uses_claim(pod: &Pod, claim: &PersistentVolumeClaim) -> bool {
    let Some(spec) = &pod.spec else {
        return false;
    };
    if spec.node_name.as_deref().unwrap_or_default().is_empty()
        || pod.namespace() != claim.namespace()
    {
        return false;
    }
    let name = claim.name_any();
    spec.volumes.iter().flatten().any(|volume| {
        if let Some(source) = &volume.persistent_volume_claim {
            return source.claim_name == name;
        }
        volume.ephemeral.is_some()
            && !is_shut_down(pod)
            && claim_name(pod, volume).as_deref() == Some(name.as_str())
            && owned_by(claim, pod)
    })
}

/// Whether `pod` is the controller owner of `claim` (an ephemeral volume's claim is the pod's).
fn owned_by(claim: &PersistentVolumeClaim, pod: &Pod) -> bool {
    let uid = pod.uid();
    claim
        .owner_references()
        .iter()
        .any(|owner| owner.controller == Some(true) && Some(&owner.uid) == uid.as_ref())
}

/// Whether the pod has finished (upstream's `IsPodTerminated`): phase `Succeeded` or `Failed`, or
/// being deleted with no container running.
fn is_terminated(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    if matches!(
        status.and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    ) {
        return true;
    }
    pod.metadata.deletion_timestamp.is_some()
        && status
            .and_then(|status| status.container_statuses.as_ref())
            .into_iter()
            .flatten()
            .all(|container| {
                container
                    .state
                    .as_ref()
                    .is_none_or(|state| state.running.is_none())
            })
}

/// The claims a pod change may let go (upstream's `enqueuePVCs`): those of a deleted, finished or
/// unscheduled pod; a running scheduled pod only keeps claims, so it queues nothing.
fn claims_to_check(pod: &Pod, deleted: bool) -> Vec<Key> {
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .is_some_and(|node| !node.is_empty());
    if !deleted && !is_terminated(pod) && scheduled {
        return Vec::new();
    }
    let namespace = pod.namespace().unwrap_or_default();
    pod.spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
        .filter_map(|volume| claim_name(pod, volume))
        .map(|claim| (namespace.clone(), claim))
        .collect()
}

/// Whether the claim's finalizer is worth a look (being deleted, or missing).
fn interesting(claim: &PersistentVolumeClaim) -> bool {
    is_deletion_candidate(&claim.metadata, PVC_PROTECTION_FINALIZER)
        || needs_finalizer(&claim.metadata, PVC_PROTECTION_FINALIZER)
}

/// Registers the controller with the informers and starts its worker once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(Controller {
        client,
        claims: informers.get::<PersistentVolumeClaim>(),
        pods: informers.get::<Pod>(),
    });
    let queue: Arc<WorkQueue<Key>> = WorkQueue::new();
    {
        let queue = Arc::clone(&queue);
        controller.claims.on_change(move |change| {
            let claim = change.object();
            if !matches!(change, Change::Deleted(_)) && interesting(claim) {
                queue.add((claim.namespace().unwrap_or_default(), claim.name_any()));
            }
        });
    }
    {
        let queue = Arc::clone(&queue);
        controller.pods.on_change(move |change| {
            let keys = match change {
                Change::Added(pod) => claims_to_check(pod, false),
                Change::Deleted(pod) => claims_to_check(pod, true),
                Change::Updated { old, new } => {
                    let mut keys = claims_to_check(new, false);
                    // An update may hide the deletion of one pod and the creation of another of
                    // the same name: the old one's claims may be free now.
                    if old.uid() != new.uid() {
                        keys.extend(claims_to_check(old, true));
                    }
                    keys
                }
            };
            for key in keys {
                queue.add(key);
            }
        });
    }
    tokio::spawn(async move {
        controller.claims.synced().await;
        controller.pods.synced().await;
        run_workers(COMPONENT, queue, 1, move |(namespace, name): Key| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(&namespace, &name).await }
        });
    });
}

impl Controller {
    async fn sync(&self, namespace: &str, name: &str) -> Result<()> {
        let Some(claim) = self.claims.get(namespace, name) else {
            return Ok(());
        };
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        if is_deletion_candidate(&claim.metadata, PVC_PROTECTION_FINALIZER) {
            if !self.in_use(&claim).await? {
                tracing::info!(claim = %format!("{namespace}/{name}"), "removing the protection finalizer of a deleted claim no pod uses");
                return set_finalizer(&api, &*claim, PVC_PROTECTION_FINALIZER, false).await;
            }
            tracing::debug!(claim = %format!("{namespace}/{name}"), "keeping a deleted claim a pod uses");
        }
        if needs_finalizer(&claim.metadata, PVC_PROTECTION_FINALIZER) {
            return set_finalizer(&api, &*claim, PVC_PROTECTION_FINALIZER, true).await;
        }
        Ok(())
    }

    /// Whether a pod uses the claim: the cache first, then, to be sure, a live list.
    async fn in_use(&self, claim: &PersistentVolumeClaim) -> Result<bool> {
        let namespace = claim.namespace().unwrap_or_default();
        if self
            .pods
            .list_namespace(&namespace)
            .iter()
            .any(|pod| pod_uses_claim(pod, claim))
        {
            return Ok(true);
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let live = pods
            .list(&ListParams::default())
            .await
            .context(|| format!("listing the pods of namespace {namespace}"))?;
        Ok(live.items.iter().any(|pod| pod_uses_claim(pod, claim)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(node: Option<&str>, phase: &str, volumes: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "pod-uid"},
            "spec": {"nodeName": node, "containers": [{"name": "c"}], "volumes": volumes},
            "status": {"phase": phase},
        }))
        .expect("a pod")
    }

    fn claim(name: &str, owner: Option<&str>) -> PersistentVolumeClaim {
        let owners: Vec<_> = owner
            .into_iter()
            .map(|uid| json!({"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": uid, "controller": true}))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "ownerReferences": owners},
        }))
        .expect("a claim")
    }

    #[test]
    fn scheduled_pods_naming_the_claim_use_it() {
        let volumes = json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]);
        let data = claim("data", None);
        assert!(pod_uses_claim(
            &pod(Some("n1"), "Running", volumes.clone()),
            &data
        ));
        assert!(
            pod_uses_claim(&pod(Some("n1"), "Pending", volumes.clone()), &data),
            "bound, not started yet"
        );
        assert!(
            pod_uses_claim(&pod(Some("n1"), "Succeeded", volumes.clone()), &data),
            "upstream keeps the claim until a finished pod is deleted"
        );
        assert!(
            !pod_uses_claim(&pod(None, "Pending", volumes.clone()), &data),
            "an unscheduled pod never mounts it"
        );
        assert!(!pod_uses_claim(
            &pod(Some("n1"), "Running", volumes),
            &claim("other", None)
        ));
    }

    #[test]
    fn ephemeral_claims_are_used_by_their_owner_until_it_shuts_down() {
        let volumes =
            json!([{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]);
        let running = pod(Some("n1"), "Running", volumes);
        assert!(pod_uses_claim(
            &running,
            &claim("web-scratch", Some("pod-uid"))
        ));
        assert!(
            !pod_uses_claim(&running, &claim("web-scratch", Some("someone-else"))),
            "a claim of the same name the pod does not own"
        );
        let mut gone = running.clone();
        gone.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        gone.metadata.deletion_grace_period_seconds = Some(0);
        assert!(!pod_uses_claim(
            &gone,
            &claim("web-scratch", Some("pod-uid"))
        ));
    }

    #[test]
    fn only_pod_changes_that_may_free_a_claim_queue_it() {
        let volumes = json!([
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
            {"name": "tmp", "emptyDir": {}},
        ]);
        let both = vec![
            ("default".to_owned(), "data".to_owned()),
            ("default".to_owned(), "web-scratch".to_owned()),
        ];
        let running = pod(Some("n1"), "Running", volumes.clone());
        assert!(claims_to_check(&running, false).is_empty());
        assert_eq!(claims_to_check(&running, true), both);
        assert_eq!(
            claims_to_check(&pod(Some("n1"), "Failed", volumes.clone()), false),
            both
        );
        assert_eq!(claims_to_check(&pod(None, "Pending", volumes), false), both);
    }
}
