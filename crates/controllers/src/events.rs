//! Events about objects, as client-go's event recorder writes them (`core/v1` Events named
//! `<object>.<nanoseconds in hex>`, with the controller as source), sent in the background so a
//! controller never waits for them.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

/// `Normal` events.
pub const NORMAL: &str = "Normal";
/// `Warning` events.
pub const WARNING: &str = "Warning";

/// Writes events for one controller.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    component: &'static str,
}

impl Recorder {
    /// A recorder whose events name `component` as their source.
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        Recorder { client, component }
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
        let now = chrono_now();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        let namespace = reference
            .namespace
            .clone()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{nanos:x}",
                    reference.name.clone().unwrap_or_default()
                )),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: reference,
            reason: Some(reason.to_owned()),
            message: Some(message),
            type_: Some(kind.to_owned()),
            source: Some(EventSource {
                component: Some(self.component.to_owned()),
                host: None,
            }),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            reporting_component: Some(self.component.to_owned()),
            reporting_instance: Some(self.component.to_owned()),
            ..Event::default()
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(error) = events.create(&PostParams::default(), &event).await {
                tracing::debug!(%error, "recording an event failed");
            }
        });
    }
}

fn chrono_now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}
