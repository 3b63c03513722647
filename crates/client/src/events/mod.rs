//! Events about objects, as client-go's event recorder writes them (`core/v1` Events named
//! `<object>.<nanoseconds in hex>`, with the controller as source), correlated like upstream's
//! `EventCorrelator` (similar events combined, repeats counted on one object, at most 25 events
//! at once per object) and written in the background so a controller never waits for them.

mod sink;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{Resource, ResourceExt};
use kubers_core::events::{Source, new_event};

pub use kubers_core::events::{NORMAL, WARNING};
pub use sink::{Sink, SinkConfig};

/// Writes events for one controller.
#[derive(Clone)]
pub struct Recorder {
    sink: Sink,
    source: Source,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder whose events name `component` as their source.
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        Recorder::with_source(
            client,
            Source {
                component: component.to_owned(),
                host: None,
                instance: component.to_owned(),
            },
        )
    }

    /// A recorder whose events name `source` (a node's kubelet names its host too).
    pub fn with_source(client: kube::Client, source: Source) -> Self {
        Recorder {
            sink: Sink::new(client, SinkConfig::default()),
            source,
        }
    }

    /// Records an event about `object`.
    pub fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        kind: &str,
        reason: &str,
        message: impl Into<String>,
    ) {
        let reference = ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(K::kind(&()).into_owned()),
            name: Some(object.name_any()),
            namespace: object.namespace(),
            uid: object.uid(),
            resource_version: object.resource_version(),
            ..ObjectReference::default()
        };
        self.event_for(reference, kind, reason, message.into());
    }

    /// Records an event about the object `reference` names.
    pub fn event_for(&self, reference: ObjectReference, kind: &str, reason: &str, message: String) {
        let now = self.sink.now();
        let event = new_event(reference, &self.source, kind, reason, message, now);
        self.sink.send(event);
    }
}
