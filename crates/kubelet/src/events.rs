//! Events the kubelet records about pods (Pulling, Pulled, Created, Started, Killing, BackOff,
//! Unhealthy, FailedMount ...), with upstream's reasons and messages. Recording never blocks or
//! fails a sync: events are written in the background, tried again for about two minutes while the
//! API server cannot be reached, and errors are only logged.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};

/// How often an event is tried before it is dropped (upstream's `maxTriesPerEvent`).
const MAX_TRIES: u32 = 12;
/// The wait between two tries (upstream's `sleepDuration`).
const RETRY_WAIT: Duration = Duration::from_secs(10);

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something went wrong.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Writes events for this node's kubelet.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    node_name: String,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder for the kubelet of `node_name`.
    pub fn new(client: kube::Client, node_name: String) -> Self {
        Recorder { client, node_name }
    }

    /// Records an event about a pod (about one of its containers when `container` is given).
    pub fn pod(
        &self,
        pod: &Pod,
        container: Option<&str>,
        kind: EventType,
        reason: &str,
        message: String,
    ) {
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let field_path = container.map(|container| container_field_path(pod, container));
        let now = jiff::Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("Pod".to_string()),
                name: Some(name),
                namespace: Some(namespace.clone()),
                uid: pod.metadata.uid.clone(),
                resource_version: pod.metadata.resource_version.clone(),
                field_path,
            },
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(kind.as_str().to_string()),
            source: Some(EventSource {
                component: Some("kubelet".to_string()),
                host: Some(self.node_name.clone()),
            }),
            reporting_component: Some("kubelet".to_string()),
            reporting_instance: Some(self.node_name.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(write(api, event));
    }
}

/// Creates the event, trying again while the API server cannot be reached, as upstream's
/// broadcaster does (12 tries, 10 s apart, the first wait randomized), so events of a node whose
/// server is away for a while arrive once it answers. An answer of the server ends the tries.
async fn write(api: Api<Event>, event: Event) {
    for attempt in 1..=MAX_TRIES {
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => return,
            Err(kube::Error::Api(status)) => {
                if status.code != 409 {
                    tracing::debug!(error = %status.message, "the server refused an event");
                }
                return;
            }
            Err(error) if attempt == MAX_TRIES => {
                tracing::debug!(%error, "recording an event failed; giving up");
            }
            Err(error) => {
                tracing::debug!(%error, "recording an event failed; trying again");
                let wait = if attempt == 1 {
                    // Nodes whose server went away do not all come back at once.
                    RETRY_WAIT.mul_f64(
                        f64::from(jiff::Timestamp::now().subsec_nanosecond() % 1000) / 1000.0,
                    )
                } else {
                    RETRY_WAIT
                };
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// `spec.containers{name}` or `spec.initContainers{name}`, as upstream points events at containers.
fn container_field_path(pod: &Pod, container: &str) -> String {
    let init = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.init_containers.as_ref())
        .is_some_and(|list| list.iter().any(|candidate| candidate.name == container));
    if init {
        format!("spec.initContainers{{{container}}}")
    } else {
        format!("spec.containers{{{container}}}")
    }
}
