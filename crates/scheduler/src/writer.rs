//! The scheduler's writes other than bindings: `Scheduled`, `FailedScheduling` and `Preempted`
//! events (core/v1, from `default-scheduler`; a repeated failure with the same message counts up the
//! existing event), the `PodScheduled=False` condition and `nominatedNodeName` on pending pods, and
//! the eviction of preemption victims. They run in the background with bounded concurrency, after
//! bindings in importance: a full queue drops events rather than slow scheduling down, as upstream's
//! event broadcaster does.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use crate::model::pod::{DEFAULT_SCHEDULER, PodInfo};

/// How many writes run at once.
const CONCURRENCY: usize = 8;
/// How many writes may wait; beyond this, events are dropped.
const BACKLOG: usize = 20_000;
/// Upstream truncates event messages to this many bytes.
const EVENT_MESSAGE_LIMIT: usize = 1024;

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
    /// The pod is gone or bound: forget its repeated-event state.
    Forget(String),
}

/// The handle the scheduling loop sends writes through.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Write>,
}

impl Writer {
    /// Starts the writer task.
    pub fn start(client: kube::Client, instance: String) -> Writer {
        let (tx, rx) = mpsc::channel(BACKLOG);
        tokio::spawn(run(client, instance, rx));
        Writer { tx }
    }

    /// Queues a write; events are dropped when the backlog is full.
    pub fn send(&self, write: Write) {
        if let Err(error) = self.tx.try_send(write) {
            tracing::debug!(%error, "scheduler write dropped");
        }
    }
}

/// A recorded repeating event.
struct Repeating {
    name: String,
    message: String,
    count: i32,
}

async fn run(client: kube::Client, instance: String, mut rx: mpsc::Receiver<Write>) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut repeating: HashMap<String, Repeating> = HashMap::new();
    while let Some(write) = rx.recv().await {
        let work = match write {
            Write::Forget(uid) => {
                repeating.remove(&uid);
                continue;
            }
            Write::Scheduled { pod, node } => {
                repeating.remove(&pod.uid);
                let message = format!(
                    "Successfully assigned {}/{} to {node}",
                    pod.namespace, pod.name
                );
                Work::Event(new_event(
                    &pod,
                    "Normal",
                    "Scheduled",
                    "Binding",
                    &message,
                    &instance,
                ))
            }
            Write::BindingRejected { pod, error } => Work::Event(new_event(
                &pod,
                "Warning",
                "FailedScheduling",
                "Scheduling",
                &format!("Binding rejected: {error}"),
                &instance,
            )),
            Write::Failed {
                pod,
                message,
                nominate,
            } => {
                let note = truncate(&message);
                let event = match repeating.get_mut(&pod.uid) {
                    Some(seen) if seen.message == note => {
                        seen.count += 1;
                        EventWrite::Repeat {
                            namespace: pod.namespace.clone(),
                            name: seen.name.clone(),
                            count: seen.count,
                        }
                    }
                    _ => {
                        let event = new_event(
                            &pod,
                            "Warning",
                            "FailedScheduling",
                            "Scheduling",
                            &note,
                            &instance,
                        );
                        repeating.insert(
                            pod.uid.clone(),
                            Repeating {
                                name: event.metadata.name.clone().unwrap_or_default(),
                                message: note,
                                count: 1,
                            },
                        );
                        EventWrite::New(Box::new(event))
                    }
                };
                Work::Failed {
                    pod,
                    message,
                    nominate,
                    event,
                }
            }
            Write::Evict {
                victim,
                preemptor,
                node,
            } => Work::Evict {
                event: new_event(
                    &victim,
                    "Normal",
                    "Preempted",
                    "Preempting",
                    &format!("Preempted by pod {} on node {node}", preemptor.uid),
                    &instance,
                ),
                victim,
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

enum EventWrite {
    New(Box<Event>),
    Repeat {
        namespace: String,
        name: String,
        count: i32,
    },
}

enum Work {
    Event(Event),
    Failed {
        pod: Arc<PodInfo>,
        message: String,
        nominate: Option<String>,
        event: EventWrite,
    },
    Evict {
        victim: Arc<PodInfo>,
        event: Event,
    },
    ClearNomination(Arc<PodInfo>),
}

impl Work {
    async fn run(self, client: kube::Client) -> Result<(), kube::Error> {
        match self {
            Work::Event(event) => create_event(&client, event).await,
            Work::Failed {
                pod,
                message,
                nominate,
                event,
            } => {
                let nomination_changes = nominate
                    .as_ref()
                    .is_some_and(|node| *node != pod.nominated_node);
                if pod.unschedulable_message.as_deref() != Some(message.as_str())
                    || nomination_changes
                {
                    patch_condition(&client, &pod, &message, nominate.as_deref()).await?;
                }
                match event {
                    EventWrite::New(event) => create_event(&client, *event).await,
                    EventWrite::Repeat {
                        namespace,
                        name,
                        count,
                    } => {
                        let events: Api<Event> = Api::namespaced(client, &namespace);
                        let patch =
                            json!({"count": count, "lastTimestamp": Time(jiff::Timestamp::now())});
                        events
                            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                            .await
                            .map(|_| ())
                    }
                }
            }
            Work::Evict { victim, event } => {
                let pods: Api<Pod> = Api::namespaced(client.clone(), &victim.namespace);
                let condition = json!({"status": {"conditions": [{
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "PreemptionByScheduler",
                    "message": format!("{DEFAULT_SCHEDULER}: preempting to accommodate a higher priority pod"),
                    "lastTransitionTime": Time(jiff::Timestamp::now()),
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
                create_event(&client, event).await
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

async fn create_event(client: &kube::Client, event: Event) -> Result<(), kube::Error> {
    let namespace = event.metadata.namespace.clone().unwrap_or_default();
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    events
        .create(&PostParams::default(), &event)
        .await
        .map(|_| ())
}

/// A core/v1 event about a pod, named `<pod>.<hex nanoseconds>` like upstream's recorder.
fn new_event(
    pod: &PodInfo,
    kind: &str,
    reason: &str,
    action: &str,
    message: &str,
    instance: &str,
) -> Event {
    let now = jiff::Timestamp::now();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{:x}", pod.name, now.as_nanosecond())),
            namespace: Some(pod.namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()),
            resource_version: Some(pod.resource_version.clone()).filter(|rv| !rv.is_empty()),
            ..ObjectReference::default()
        },
        reason: Some(reason.into()),
        message: Some(truncate(message)),
        type_: Some(kind.into()),
        action: Some(action.into()),
        source: Some(EventSource {
            component: Some(DEFAULT_SCHEDULER.into()),
            host: None,
        }),
        reporting_component: Some(DEFAULT_SCHEDULER.into()),
        reporting_instance: Some(instance.into()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    }
}

/// Upstream's `truncateMessage`: at most 1024 bytes, ending in `...` when cut.
fn truncate(message: &str) -> String {
    if message.len() <= EVENT_MESSAGE_LIMIT {
        return message.to_owned();
    }
    let mut end = EVENT_MESSAGE_LIMIT - 3;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_like_upstream() {
        assert_eq!(truncate("short"), "short");
        let long = "x".repeat(2000);
        let cut = truncate(&long);
        assert_eq!(cut.len(), 1024);
        assert!(cut.ends_with("..."));
    }

    #[test]
    fn events_name_the_pod_and_the_scheduler() {
        let mut pod = crate::model::pod::build::pod("web", 0, 0);
        pod.resource_version = "42".into();
        let event = new_event(
            &pod,
            "Normal",
            "Scheduled",
            "Binding",
            "Successfully assigned default/web to n1",
            "default-scheduler-host",
        );
        assert!(
            event
                .metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("web."))
        );
        assert_eq!(event.involved_object.uid.as_deref(), Some("uid-web"));
        assert_eq!(
            event.source.and_then(|s| s.component).as_deref(),
            Some("default-scheduler")
        );
    }
}
