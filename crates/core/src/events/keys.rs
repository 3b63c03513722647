//! The keys events are grouped by, with upstream's fields (`getEventKey`, `getSpamKey`,
//! `EventAggregatorByReasonFunc`). Fields are joined with a NUL byte rather than upstream's empty
//! separator, so two different field lists can never make the same key.

use k8s_openapi::api::core::v1::Event;

/// The identity of an exact event: source, involved object (with its field path), type, reason and
/// message. Identical events are counted on one object.
pub fn event_key(event: &Event) -> String {
    let object = &event.involved_object;
    join(&[
        source_component(event),
        source_host(event),
        opt(&object.kind),
        opt(&object.namespace),
        opt(&object.name),
        opt(&object.field_path),
        opt(&object.uid),
        opt(&object.api_version),
        opt(&event.type_),
        opt(&event.reason),
        opt(&event.message),
    ])
}

/// The spam filter's key: the source and the involved object (without field path).
pub fn spam_key(event: &Event) -> String {
    let object = &event.involved_object;
    join(&[
        source_component(event),
        source_host(event),
        opt(&object.kind),
        opt(&object.namespace),
        opt(&object.name),
        opt(&object.uid),
        opt(&object.api_version),
    ])
}

/// The aggregation group (source, involved object, type, reason, reporting controller and
/// instance) and the key of the event within it (its message).
pub fn aggregate_keys(event: &Event) -> (String, String) {
    let object = &event.involved_object;
    let group = join(&[
        source_component(event),
        source_host(event),
        opt(&object.kind),
        opt(&object.namespace),
        opt(&object.name),
        opt(&object.uid),
        opt(&object.api_version),
        opt(&event.type_),
        opt(&event.reason),
        opt(&event.reporting_component),
        opt(&event.reporting_instance),
    ]);
    (group, opt(&event.message).to_owned())
}

fn source_component(event: &Event) -> &str {
    event
        .source
        .as_ref()
        .and_then(|source| source.component.as_deref())
        .unwrap_or_default()
}

fn source_host(event: &Event) -> &str {
    event
        .source
        .as_ref()
        .and_then(|source| source.host.as_deref())
        .unwrap_or_default()
}

fn opt(field: &Option<String>) -> &str {
    field.as_deref().unwrap_or_default()
}

fn join(fields: &[&str]) -> String {
    fields.join("\0")
}
