//! Building events the way client-go's recorder does (`makeEvent`): named `<object>.<nanoseconds in
//! hex>`, in the object's namespace (`default` for cluster-scoped objects), count 1, first and last
//! timestamp now.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

/// Upstream truncates event messages to this many bytes.
const MESSAGE_LIMIT: usize = 1024;

/// Who records events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// `source.component` and `reportingComponent` (`replicaset-controller`, `kubelet`).
    pub component: String,
    /// `source.host` (the kubelet's node), if any.
    pub host: Option<String>,
    /// `reportingInstance`.
    pub instance: String,
}

/// An event about `reference` from `source` at `now`.
pub fn new_event(
    reference: ObjectReference,
    source: &Source,
    type_: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> Event {
    let namespace = reference
        .namespace
        .clone()
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    Event {
        metadata: ObjectMeta {
            name: Some(event_name(
                reference.name.as_deref().unwrap_or_default(),
                now,
            )),
            namespace: Some(namespace),
            ..ObjectMeta::default()
        },
        involved_object: reference,
        reason: Some(reason.to_owned()),
        message: Some(message),
        type_: Some(type_.to_owned()),
        source: Some(EventSource {
            component: Some(source.component.clone()),
            host: source.host.clone(),
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        reporting_component: Some(source.component.clone()),
        reporting_instance: Some(source.instance.clone()).filter(|instance| !instance.is_empty()),
        ..Event::default()
    }
}

/// `<object>.<nanoseconds since the epoch in hex>` (upstream's `GenerateEventName`).
pub fn event_name(object: &str, now: Timestamp) -> String {
    format!("{object}.{:x}", now.as_nanosecond())
}

/// Upstream's `truncateMessage`: at most 1024 bytes, ending in `...` when cut.
pub fn truncate_message(message: &str) -> String {
    if message.len() <= MESSAGE_LIMIT {
        return message.to_owned();
    }
    let mut end = MESSAGE_LIMIT - 3;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}
