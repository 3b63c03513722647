//! Events the kubelet records about pods (Pulling, Pulled, Created, Started, Killing, BackOff,
//! Unhealthy, FailedMount ...), with upstream's reasons and messages. Recording never blocks or
//! fails a sync: events are correlated like upstream's recorder does (similar events combined,
//! repeats counted on one event, at most 25 at once per pod) and written in the background, tried
//! again for about two minutes while the API server cannot be reached; errors are only logged.

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kubers_core::events::Source;

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
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: kubers_client::events::Recorder,
}

impl Recorder {
    /// A recorder for the kubelet of `node_name`.
    pub fn new(client: kube::Client, node_name: String) -> Self {
        let source = Source {
            component: "kubelet".into(),
            host: Some(node_name.clone()),
            instance: node_name,
        };
        Recorder {
            inner: kubers_client::events::Recorder::with_source(client, source),
        }
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
        let reference = ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Pod".to_string()),
            name: Some(pod.metadata.name.clone().unwrap_or_default()),
            namespace: Some(namespace),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            field_path: container.map(|container| container_field_path(pod, container)),
        };
        self.inner
            .event_for(reference, kind.as_str(), reason, message);
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
