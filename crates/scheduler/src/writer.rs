//! The scheduler's writes other than bindings: `Scheduled`, `FailedScheduling` and `Preempted`
//! events (core/v1, from `default-scheduler`, correlated like every recorder's: a repeated failure
//! with the same message counts up the existing event), the `PodScheduled=False` condition and
//! `nominatedNodeName` on pending pods, and the eviction of preemption victims. They run in the
//! background with bounded concurrency and yield to bindings: while pods wait for a decision or a
//! binding, events and conditions wait (up to [`MAX_DEFERRAL`]), so a burst of pods is placed first
//! and described right after; a full backlog drops events rather than slow scheduling down, as
//! upstream's event broadcaster does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kubers_client::events::{Sink, SinkConfig};
use kubers_core::events::{Source, new_event as core_event, truncate_message};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use crate::model::pod::{DEFAULT_SCHEDULER, PodInfo};

/// How many writes run at once.
const CONCURRENCY: usize = 8;
/// How many writes may wait; beyond this, events are dropped.
const BACKLOG: usize = 20_000;
/// The longest an event or condition waits for scheduling to be idle.
pub const MAX_DEFERRAL: Duration = Duration::from_secs(10);
/// How often a deferred write checks again.
const DEFERRAL_STEP: Duration = Duration::from_millis(20);

/// One background write.
#[derive(Debug)]
pub enum Write {
    /// `Scheduled`: the pod was bound.
    Scheduled {
        /// The pod.
        pod: Arc<PodInfo>,
        /// Its node.
        node: String,
    },
    /// `FailedScheduling` and the pod's `PodScheduled=False` condition (and nomination).
    Failed {
        /// The pod.
        pod: Arc<PodInfo>,
        /// Upstream's message.
        message: String,
        /// `Some(node)` sets `nominatedNodeName` (`Some("")` clears it).
        nominate: Option<String>,
    },
    /// `FailedScheduling` for a rejected binding (no condition change).
    BindingRejected {
        /// The pod.
        pod: Arc<PodInfo>,
        /// The API's error.
        error: String,
    },
    /// Preemption evicts a victim: `DisruptionTarget` condition, delete, `Preempted` event.
    Evict {
        /// The victim.
        victim: Arc<PodInfo>,
        /// The pod it makes room for.
        preemptor: Arc<PodInfo>,
        /// The node.
        node: String,
    },
    /// A lower-priority pod loses its nomination to a preemptor.
    ClearNomination(Arc<PodInfo>),
}

/// The handle the scheduling loop sends writes through.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<(tokio::time::Instant, Write)>,
    busy: Arc<AtomicUsize>,
}

impl Writer {
    /// Starts the writer task.
    pub fn start(client: kube::Client, instance: String) -> Writer {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let busy = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(client, instance, rx, Arc::clone(&busy)));
        Writer { tx, busy }
    }

    /// Queues a write; events are dropped when the backlog is full.
    pub fn send(&self, write: Write) {
        if let Err(error) = self.tx.try_send((tokio::time::Instant::now(), write)) {
            tracing::debug!(%error, "scheduler write dropped");
        }
    }

    /// Tells the writer how much scheduling work is pending (pods to decide, bindings in flight).
    pub fn set_busy(&self, pending: usize) {
        self.busy.store(pending, Ordering::Relaxed);
    }
}

async fn run(
    client: kube::Client,
    instance: String,
    mut rx: mpsc::Receiver<(tokio::time::Instant, Write)>,
    busy: Arc<AtomicUsize>,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let events = Sink::new(
        client.clone(),
        SinkConfig {
            workers: CONCURRENCY,
            queue: BACKLOG / CONCURRENCY,
        },
    );
    let source = Source {
        component: DEFAULT_SCHEDULER.into(),
        host: None,
        instance,
    };
    while let Some((queued, write)) = rx.recv().await {
        let deferrable = !matches!(write, Write::Evict { .. });
        while deferrable && busy.load(Ordering::Relaxed) > 0 && queued.elapsed() < MAX_DEFERRAL {
            tokio::time::sleep(DEFERRAL_STEP).await;
        }
        let now = events.now();
        let work = match write {
            Write::Scheduled { pod, node } => {
                let message = format!(
                    "Successfully assigned {}/{} to {node}",
                    pod.namespace, pod.name
                );
                let event = new_event(
                    &pod,
                    &source,
                    "Normal",
                    "Scheduled",
                    "Binding",
                    &message,
                    now,
                );
                events.send(event);
                continue;
            }
            Write::BindingRejected { pod, error } => {
                let message = format!("Binding rejected: {error}");
                let event = new_event(
                    &pod,
                    &source,
                    "Warning",
                    "FailedScheduling",
                    "Scheduling",
                    &message,
                    now,
                );
                events.send(event);
                continue;
            }
            Write::Failed {
                pod,
                message,
                nominate,
            } => {
                let event = new_event(
                    &pod,
                    &source,
                    "Warning",
                    "FailedScheduling",
                    "Scheduling",
                    &message,
                    now,
                );
                events.send(event);
                Work::Condition {
                    pod,
                    message,
                    nominate,
                }
            }
            Write::Evict {
                victim,
                preemptor,
                node,
            } => Work::Evict {
                event: Box::new(new_event(
                    &victim,
                    &source,
                    "Normal",
                    "Preempted",
                    "Preempting",
                    &format!("Preempted by pod {} on node {node}", preemptor.uid),
                    now,
                )),
                victim,
                events: events.clone(),
            },
            Write::ClearNomination(pod) => Work::ClearNomination(pod),
        };
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(error) = work.run(client).await {
                tracing::debug!(%error, "scheduler write failed");
            }
            drop(permit);
        });
    }
}

enum Work {
    /// The pod's `PodScheduled=False` condition and nomination.
    Condition {
        pod: Arc<PodInfo>,
        message: String,
        nominate: Option<String>,
    },
    /// A preemption victim's condition and deletion, then its event.
    Evict {
        victim: Arc<PodInfo>,
        event: Box<Event>,
        events: Sink,
    },
    ClearNomination(Arc<PodInfo>),
}

impl Work {
    async fn run(self, client: kube::Client) -> Result<(), kube::Error> {
        match self {
            Work::Condition {
                pod,
                message,
                nominate,
            } => {
                let nomination_changes = nominate
                    .as_ref()
                    .is_some_and(|node| *node != pod.nominated_node);
                if pod.unschedulable_message.as_deref() != Some(message.as_str())
                    || nomination_changes
                {
                    patch_condition(&client, &pod, &message, nominate.as_deref()).await?;
                }
                Ok(())
            }
            Work::Evict {
                victim,
                event,
                events,
            } => {
                let pods: Api<Pod> = Api::namespaced(client.clone(), &victim.namespace);
                let condition = json!({"status": {"conditions": [{
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "PreemptionByScheduler",
                    "message": format!("{DEFAULT_SCHEDULER}: preempting to accommodate a higher priority pod"),
                    "lastTransitionTime": Time(Timestamp::now()),
                }]}});
                pods.patch_status(
                    &victim.name,
                    &PatchParams::default(),
                    &Patch::Strategic(&condition),
                )
                .await?;
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(victim.uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                pods.delete(&victim.name, &params).await?;
                events.send(*event);
                Ok(())
            }
            Work::ClearNomination(pod) => {
                let pods: Api<Pod> = Api::namespaced(client, &pod.namespace);
                let patch = json!({"status": {"nominatedNodeName": null}});
                pods.patch_status(&pod.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ())
            }
        }
    }
}

/// Writes `PodScheduled=False`/`Unschedulable` with the message (the transition time only when the
/// condition was not already false) and the nomination.
async fn patch_condition(
    client: &kube::Client,
    pod: &PodInfo,
    message: &str,
    nominate: Option<&str>,
) -> Result<(), kube::Error> {
    let mut condition = json!({
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastProbeTime": null,
    });
    if pod.unschedulable_message.is_none() {
        condition["lastTransitionTime"] = json!(Time(jiff::Timestamp::now()));
    }
    let mut status = json!({"conditions": [condition]});
    match nominate {
        Some("") => status["nominatedNodeName"] = json!(null),
        Some(node) => status["nominatedNodeName"] = json!(node),
        None => {}
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    pods.patch_status(
        &pod.name,
        &PatchParams::default(),
        &Patch::Strategic(&json!({"status": status})),
    )
    .await
    .map(|_| ())
}

/// A core/v1 event about a pod, named `<pod>.<hex nanoseconds>` like upstream's recorder, its
/// message cut to upstream's 1024 bytes.
fn new_event(
    pod: &PodInfo,
    source: &Source,
    kind: &str,
    reason: &str,
    action: &str,
    message: &str,
    now: Timestamp,
) -> Event {
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: Some(pod.name.clone()),
        namespace: Some(pod.namespace.clone()),
        uid: Some(pod.uid.clone()),
        resource_version: Some(pod.resource_version.clone()).filter(|rv| !rv.is_empty()),
        ..ObjectReference::default()
    };
    let mut event = core_event(
        reference,
        source,
        kind,
        reason,
        truncate_message(message),
        now,
    );
    event.action = Some(action.into());
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_the_pod_and_the_scheduler() {
        let mut pod = crate::model::pod::build::pod("web", 0, 0);
        pod.resource_version = "42".into();
        let source = Source {
            component: DEFAULT_SCHEDULER.into(),
            host: None,
            instance: "default-scheduler-host".into(),
        };
        let event = new_event(
            &pod,
            &source,
            "Normal",
            "Scheduled",
            "Binding",
            "Successfully assigned default/web to n1",
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(event.metadata.name.as_deref(), Some("web.0"));
        assert_eq!(event.involved_object.uid.as_deref(), Some("uid-web"));
        assert_eq!(event.action.as_deref(), Some("Binding"));
        assert_eq!(
            event.source.and_then(|s| s.component).as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(
            event.reporting_instance.as_deref(),
            Some("default-scheduler-host")
        );
        let long = new_event(
            &pod,
            &source,
            "Warning",
            "FailedScheduling",
            "Scheduling",
            &"x".repeat(2000),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(long.message.map(|m| m.len()), Some(1024));
    }
}
