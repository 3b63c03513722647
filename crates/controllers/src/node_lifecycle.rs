//! The node lifecycle controller, as upstream's: a Node whose kubelet stops renewing its Lease (and
//! posting status) for 40 s gets its conditions set to `Unknown`; Nodes carry the taints of their
//! conditions (`not-ready` and `unreachable` as NoSchedule and NoExecute, memory, disk and PID
//! pressure, `unschedulable`); and pods on a Node with NoExecute taints they do not tolerate are
//! evicted at once, or after their `tolerationSeconds` (the taint manager). Heartbeats are measured
//! on this controller's clock from observed Lease renewals, so clock skew does not matter; checks
//! are scheduled from those observations instead of upstream's 5 s polling.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubers_client::events::{NORMAL, Recorder};
use serde_json::json;

use crate::error::{Error, Result, is_not_found};
use crate::informer::{Change, Informer, Informers};
use crate::pods::tolerates;
use crate::queue::{WorkQueue, run_workers};

/// How long a Node may stay silent before it is `Unknown` (`--node-monitor-grace-period`).
const GRACE: Duration = Duration::from_secs(40);
/// Where node Leases live.
const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The taint of a Node whose Ready condition is False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The taint of a Node whose Ready condition is Unknown.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The conditions that go Unknown with the Node.
const CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

struct NodeLifecycle {
    client: kube::Client,
    nodes: Arc<Informer<Node>>,
    pods: Arc<Informer<Pod>>,
    /// When each Node was last heard from, on this controller's clock.
    heard: Mutex<HashMap<String, Instant>>,
    node_queue: Arc<WorkQueue<String>>,
    pod_queue: Arc<WorkQueue<String>>,
    recorder: Recorder,
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready")
}

fn taints(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|spec| spec.taints.clone())
        .unwrap_or_default()
}

/// The taints a Node's conditions and `unschedulable` call for (each with its effect), pure.
fn condition_taints(node: &Node) -> Vec<(&'static str, &'static str)> {
    let mut wanted = Vec::new();
    match ready_condition(node).map(|condition| condition.status.as_str()) {
        Some("False") => {
            wanted.push((NOT_READY, "NoSchedule"));
            wanted.push((NOT_READY, "NoExecute"));
        }
        Some("Unknown") => {
            wanted.push((UNREACHABLE, "NoSchedule"));
            wanted.push((UNREACHABLE, "NoExecute"));
        }
        _ => {}
    }
    let conditions = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.clone())
        .unwrap_or_default();
    for (condition, taint) in [
        ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "node.kubernetes.io/disk-pressure"),
        ("PIDPressure", "node.kubernetes.io/pid-pressure"),
        (
            "NetworkUnavailable",
            "node.kubernetes.io/network-unavailable",
        ),
    ] {
        if conditions
            .iter()
            .any(|c| c.type_ == condition && c.status == "True")
        {
            wanted.push((taint, "NoSchedule"));
        }
    }
    if node
        .spec
        .as_ref()
        .and_then(|spec| spec.unschedulable)
        .unwrap_or(false)
    {
        wanted.push(("node.kubernetes.io/unschedulable", "NoSchedule"));
    }
    wanted
}

/// The Node's taints with the condition taints brought in line; `None` when nothing changes.
fn reconcile_taints(node: &Node, now: &Time) -> Option<Vec<Taint>> {
    const MANAGED: [&str; 7] = [
        NOT_READY,
        UNREACHABLE,
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/network-unavailable",
        "node.kubernetes.io/unschedulable",
    ];
    let current = taints(node);
    let wanted = condition_taints(node);
    let mut next: Vec<Taint> = current
        .iter()
        .filter(|taint| {
            !MANAGED.contains(&taint.key.as_str())
                || wanted
                    .iter()
                    .any(|(key, effect)| taint.key == *key && taint.effect == *effect)
        })
        .cloned()
        .collect();
    for (key, effect) in wanted {
        if !next
            .iter()
            .any(|taint| taint.key == key && taint.effect == effect)
        {
            next.push(Taint {
                key: key.to_owned(),
                effect: effect.to_owned(),
                time_added: (effect == "NoExecute").then(|| now.clone()),
                value: None,
            });
        }
    }
    (next != current).then_some(next)
}

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(NodeLifecycle {
        recorder: Recorder::new(client.clone(), "node-controller"),
        client,
        nodes: informers.get::<Node>(),
        pods: informers.get::<Pod>(),
        heard: Mutex::new(HashMap::new()),
        node_queue: WorkQueue::new(),
        pod_queue: WorkQueue::new(),
    });
    let leases = informers.get::<Lease>();
    {
        let handler = Arc::clone(&controller);
        leases.on_change(move |change| {
            let lease = change.object();
            if lease.namespace().as_deref() != Some(LEASE_NAMESPACE) {
                return;
            }
            let renewed = match &change {
                Change::Added(_) => true,
                Change::Updated { old, new } => {
                    old.spec.as_ref().and_then(|s| s.renew_time.clone())
                        != new.spec.as_ref().and_then(|s| s.renew_time.clone())
                }
                Change::Deleted(_) => false,
            };
            if renewed {
                handler.heard_from(&lease.name_any());
            }
        });
    }
    {
        let handler = Arc::clone(&controller);
        controller.nodes.clone().on_change(move |change| {
            let node = change.object();
            let name = node.name_any();
            match &change {
                Change::Deleted(_) => {
                    handler.lock_heard().remove(&name);
                    return;
                }
                Change::Added(_) => handler.heard_from(&name),
                Change::Updated { old, new } => {
                    let beat = |node: &Node| {
                        ready_condition(node).and_then(|c| c.last_heartbeat_time.clone())
                    };
                    if beat(old) != beat(new) {
                        handler.heard_from(&name);
                    }
                    if taints(old) != taints(new) {
                        for pod in handler.pods.list() {
                            if pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
                                == Some(name.as_str())
                            {
                                handler.pod_queue.add(pod_key(&pod));
                            }
                        }
                    }
                }
            }
            handler.node_queue.add(name);
        });
    }
    {
        let handler = Arc::clone(&controller);
        controller.pods.clone().on_change(move |change| {
            let pod = change.object();
            let bound = pod
                .spec
                .as_ref()
                .and_then(|spec| spec.node_name.as_deref())
                .is_some_and(|node| !node.is_empty());
            if bound && !matches!(change, Change::Deleted(_)) {
                handler.pod_queue.add(pod_key(pod));
            }
        });
    }
    tokio::spawn(async move {
        controller.nodes.synced().await;
        controller.pods.synced().await;
        leases.synced().await;
        let nodes = Arc::clone(&controller);
        run_workers(
            "node-lifecycle-controller",
            Arc::clone(&controller.node_queue),
            1,
            move |name: String| {
                let controller = Arc::clone(&nodes);
                async move { controller.sync_node(&name).await }
            },
        );
        let pods = Arc::clone(&controller);
        run_workers(
            "taint-eviction-controller",
            Arc::clone(&controller.pod_queue),
            2,
            move |key: String| {
                let controller = Arc::clone(&pods);
                async move { controller.sync_pod(&key).await }
            },
        );
    });
}

fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

impl NodeLifecycle {
    fn lock_heard(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.heard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a heartbeat and schedules the check for when it would be too old.
    fn heard_from(&self, node: &str) {
        self.lock_heard().insert(node.to_owned(), Instant::now());
        self.node_queue.add_after(node.to_owned(), GRACE);
    }

    async fn sync_node(&self, name: &str) -> Result<()> {
        let Some(node) = self.nodes.get("", name) else {
            return Ok(());
        };
        let heard = *self
            .lock_heard()
            .entry(name.to_owned())
            .or_insert_with(Instant::now);
        let silent = heard.elapsed();
        let now = Time(Timestamp::now());
        let ready = ready_condition(&node).map(|c| c.status.clone());
        if silent >= GRACE && ready.as_deref() != Some("Unknown") {
            return self.mark_unknown(&node, &now).await;
        }
        if silent < GRACE {
            self.node_queue
                .add_after(name.to_owned(), GRACE - silent + Duration::from_millis(100));
        }
        let Some(next) = reconcile_taints(&node, &now) else {
            return Ok(());
        };
        let api: Api<Node> = Api::all(self.client.clone());
        let patch = json!({
            "metadata": {"resourceVersion": node.resource_version()},
            "spec": {"taints": next},
        });
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("tainting node {name}"),
                source,
            }),
        }
    }

    /// Sets the Node's conditions to Unknown (its kubelet went silent).
    async fn mark_unknown(&self, node: &Node, now: &Time) -> Result<()> {
        let name = node.name_any();
        let mut updated = node.clone();
        let status = updated.status.get_or_insert_with(Default::default);
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        for type_ in CONDITIONS {
            match conditions.iter_mut().find(|c| c.type_ == type_) {
                Some(condition) => {
                    if condition.status != "Unknown" {
                        condition.status = "Unknown".to_owned();
                        condition.reason = Some("NodeStatusUnknown".to_owned());
                        condition.message = Some("Kubelet stopped posting node status.".to_owned());
                        condition.last_transition_time = Some(now.clone());
                    }
                }
                None => conditions.push(NodeCondition {
                    type_: type_.to_owned(),
                    status: "Unknown".to_owned(),
                    reason: Some("NodeStatusNeverUpdated".to_owned()),
                    message: Some("Kubelet never posted node status.".to_owned()),
                    last_heartbeat_time: Some(now.clone()),
                    last_transition_time: Some(now.clone()),
                }),
            }
        }
        tracing::info!(node = %name, "node stopped posting status; marking it Unknown");
        self.recorder.event(
            node,
            NORMAL,
            "NodeNotReady",
            format!("Node {name} status is now: NodeNotReady"),
        );
        let api: Api<Node> = Api::all(self.client.clone());
        match api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("marking node {name} Unknown"),
                source,
            }),
        }
    }

    /// Evicts a pod from a Node whose NoExecute taints it does not tolerate (now, or once its
    /// `tolerationSeconds` passed since the taint was added).
    async fn sync_pod(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(pod) = self.pods.get(namespace, name) else {
            return Ok(());
        };
        if pod.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let Some(node) = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.node_name.as_deref())
            .and_then(|node| self.nodes.get("", node))
        else {
            return Ok(());
        };
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.tolerations.clone())
            .unwrap_or_default();
        let now = Timestamp::now().as_second();
        let mut evict_at: Option<i64> = None;
        for taint in taints(&node).iter().filter(|t| t.effect == "NoExecute") {
            let matching: Vec<_> = tolerations
                .iter()
                .filter(|toleration| tolerates(toleration, taint))
                .collect();
            if matching.is_empty() {
                evict_at = Some(now);
                break;
            }
            // Tolerated for the shortest of the matching tolerationSeconds (forever without one).
            if let Some(seconds) = matching
                .iter()
                .filter_map(|toleration| toleration.toleration_seconds)
                .min()
            {
                let added = taint
                    .time_added
                    .as_ref()
                    .map_or(now, |time| time.0.as_second());
                let at = added + seconds.max(0);
                evict_at = Some(evict_at.map_or(at, |earlier| earlier.min(at)));
            }
        }
        let Some(at) = evict_at else {
            return Ok(());
        };
        if at > now {
            self.pod_queue.add_after(
                key.to_owned(),
                Duration::from_secs(u64::try_from(at - now).unwrap_or(0)),
            );
            return Ok(());
        }
        self.recorder.event(
            &*pod,
            NORMAL,
            "TaintManagerEviction",
            format!("Marking for deletion Pod {key}"),
        );
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("evicting pod {key}"),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(ready: Option<&str>, taints: Vec<Taint>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("n".into()),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                taints: Some(taints),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                conditions: ready.map(|status| {
                    vec![NodeCondition {
                        type_: "Ready".into(),
                        status: status.into(),
                        ..NodeCondition::default()
                    }]
                }),
                ..NodeStatus::default()
            }),
        }
    }

    #[test]
    fn conditions_become_taints_and_go_again() {
        let now = Time(Timestamp::now());
        let unknown = reconcile_taints(&node(Some("Unknown"), vec![]), &now).unwrap_or_default();
        let keys: Vec<(&str, &str)> = unknown
            .iter()
            .map(|t| (t.key.as_str(), t.effect.as_str()))
            .collect();
        assert_eq!(
            keys,
            [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
        );
        assert!(unknown[1].time_added.is_some());
        // Ready again: the managed taints go, a user's taint stays.
        let mut tainted = unknown.clone();
        tainted.push(Taint {
            key: "dedicated".into(),
            effect: "NoSchedule".into(),
            ..Taint::default()
        });
        let ready = reconcile_taints(&node(Some("True"), tainted), &now).unwrap_or_default();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].key, "dedicated");
        assert!(reconcile_taints(&node(Some("True"), vec![]), &now).is_none());
    }
}
