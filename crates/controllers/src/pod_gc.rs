//! Pod garbage collection, as upstream's `pod-garbage-collector`: a pod bound to a Node that no
//! longer exists is force-deleted (after a 40 s quarantine and a fresh read of the Node, with the
//! `DisruptionTarget` condition `DeletionByPodGC`), and finished pods beyond the threshold of 12,500
//! go oldest first. Driven by Node and pod events instead of upstream's 20 s timer.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::error::{Error, Result, is_not_found};
use crate::informer::{Change, Informer, Informers};
use crate::queue::{WorkQueue, run_workers};

/// How long a pod's missing Node may reappear before the pod goes.
const QUARANTINE: Duration = Duration::from_secs(40);
/// Finished pods kept (upstream's `--terminated-pod-gc-threshold`).
const TERMINATED_THRESHOLD: usize = 12_500;
/// The queue key of the finished-pods sweep.
const TERMINATED: &str = "";

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .filter(|node| !node.is_empty())
}

fn finished(pod: &Pod) -> bool {
    matches!(
        pod.status
            .as_ref()
            .and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn key_of(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

/// Registers the collector with the informers and starts its worker once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let nodes = informers.get::<Node>();
    let pods = informers.get::<Pod>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    {
        let queue = Arc::clone(&queue);
        let lookup = Arc::clone(&pods);
        nodes.on_change(move |change| {
            if let Change::Deleted(node) = change {
                let name = node.name_any();
                for pod in lookup.list() {
                    if node_of(&pod) == Some(name.as_str()) {
                        queue.add_after(key_of(&pod), QUARANTINE);
                    }
                }
            }
        });
    }
    {
        let queue = Arc::clone(&queue);
        let lookup = Arc::clone(&nodes);
        pods.on_change(move |change| {
            let pod = change.object();
            if matches!(change, Change::Deleted(_)) {
                return;
            }
            if finished(pod) {
                queue.add(TERMINATED.to_owned());
            }
            if let Some(node) = node_of(pod)
                && lookup.get("", node).is_none()
            {
                queue.add_after(key_of(pod), QUARANTINE);
            }
        });
    }
    tokio::spawn(async move {
        nodes.synced().await;
        pods.synced().await;
        run_workers("pod-garbage-collector", queue, 1, move |key: String| {
            let client = client.clone();
            let nodes = Arc::clone(&nodes);
            let pods = Arc::clone(&pods);
            async move {
                if key == TERMINATED {
                    collect_terminated(&client, &pods).await
                } else {
                    collect_orphan(&client, &nodes, &pods, &key).await
                }
            }
        });
    });
}

async fn force_delete(client: &kube::Client, pod: &Pod) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(kube::api::Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&pod.name_any(), &params).await {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(Error::Api {
            action: format!("deleting pod {}", key_of(pod)),
            source,
        }),
    }
}

async fn collect_orphan(
    client: &kube::Client,
    nodes: &Informer<Node>,
    pods: &Informer<Pod>,
    key: &str,
) -> Result<()> {
    let Some((namespace, name)) = key.split_once('/') else {
        return Ok(());
    };
    let Some(pod) = pods.get(namespace, name) else {
        return Ok(());
    };
    let Some(node) = node_of(&pod) else {
        return Ok(());
    };
    if nodes.get("", node).is_some() {
        return Ok(());
    }
    let live: Api<Node> = Api::all(client.clone());
    match live.get_opt(node).await {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        Err(source) => {
            return Err(Error::Api {
                action: format!("reading node {node}"),
                source,
            });
        }
    }
    tracing::info!(pod = %key, %node, "found orphaned pod assigned to a node that no longer exists; deleting");
    if !finished(&pod) {
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let condition = json!({"status": {"conditions": [{
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByPodGC",
            "message": "PodGC: node no longer exists",
            "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string(),
        }]}});
        // Best effort, as upstream: the pod goes either way.
        let _ = api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&condition))
            .await;
    }
    force_delete(client, &pod).await
}

async fn collect_terminated(client: &kube::Client, pods: &Informer<Pod>) -> Result<()> {
    let mut terminated: Vec<Arc<Pod>> = pods
        .list()
        .into_iter()
        .filter(|pod| finished(pod) && pod.metadata.deletion_timestamp.is_none())
        .collect();
    if terminated.len() <= TERMINATED_THRESHOLD {
        return Ok(());
    }
    terminated.sort_by_key(|pod| pod.metadata.creation_timestamp.as_ref().map(|time| time.0));
    let excess = terminated.len() - TERMINATED_THRESHOLD;
    for pod in terminated.into_iter().take(excess) {
        force_delete(client, &pod).await?;
    }
    Ok(())
}
