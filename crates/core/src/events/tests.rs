//! The correlator against upstream's behaviour (`events_cache_test.go`), with a clock moved by hand.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, ObjectReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;

fn clock() -> Arc<FakeClock> {
    Arc::new(FakeClock::new(
        Timestamp::from_second(1_700_000_000).expect("valid time"),
    ))
}

fn source() -> Source {
    Source {
        component: "replicaset-controller".into(),
        host: None,
        instance: String::new(),
    }
}

fn replica_set(name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("apps/v1".into()),
        kind: Some("ReplicaSet".into()),
        name: Some(name.into()),
        namespace: Some("default".into()),
        uid: Some(format!("uid-{name}")),
        ..ObjectReference::default()
    }
}

fn event(clock: &FakeClock, object: &str, reason: &str, message: &str) -> Event {
    new_event(
        replica_set(object),
        &source(),
        NORMAL,
        reason,
        message.to_owned(),
        clock.now(),
    )
}

/// Correlates and feeds the written event back, as a recorder does after a successful write.
fn record(correlator: &mut Correlator, event: Event) -> Correlated {
    let correlated = correlator.correlate(event);
    match &correlated {
        Correlated::Create(event) | Correlated::Patch { event, .. } => {
            correlator.update_state(event);
        }
        Correlated::Skip => {}
    }
    correlated
}

fn created(correlated: &Correlated) -> &Event {
    match correlated {
        Correlated::Create(event) => event,
        other => panic!("expected a create, got {other:?}"),
    }
}

#[test]
fn the_tenth_similar_event_is_combined_and_the_next_ones_counted_on_it() {
    let clock = clock();
    let mut correlator = Correlator::new(clock.clone());
    for n in 1..=9 {
        let message = format!("Created pod: web-{n}");
        let written = record(
            &mut correlator,
            event(&clock, "web", "SuccessfulCreate", &message),
        );
        let written = created(&written);
        assert_eq!(written.message.as_deref(), Some(message.as_str()));
        assert_eq!(written.count, Some(1));
        clock.advance(SignedDuration::from_millis(10));
    }
    let tenth = record(
        &mut correlator,
        event(&clock, "web", "SuccessfulCreate", "Created pod: web-10"),
    );
    let combined = created(&tenth).clone();
    assert_eq!(
        combined.message.as_deref(),
        Some("(combined from similar events): Created pod: web-10")
    );
    assert_eq!(combined.count, Some(1));
    assert_eq!(combined.reason.as_deref(), Some("SuccessfulCreate"));
    assert_eq!(combined.involved_object, replica_set("web"));
    assert!(combined.reporting_component.is_none(), "as upstream's copy");
    clock.advance(SignedDuration::from_secs(1));

    let eleventh = record(
        &mut correlator,
        event(&clock, "web", "SuccessfulCreate", "Created pod: web-11"),
    );
    let Correlated::Patch { event, patch } = eleventh else {
        panic!("the 11th similar event patches the combined one: {eleventh:?}");
    };
    assert_eq!(event.metadata.name, combined.metadata.name);
    assert_eq!(event.first_timestamp, combined.first_timestamp);
    assert_eq!(event.count, Some(2));
    assert_eq!(
        patch,
        json!({
            "count": 2,
            "lastTimestamp": event.last_timestamp,
            "message": "(combined from similar events): Created pod: web-11",
        })
    );
    assert_ne!(event.last_timestamp, combined.last_timestamp);
}

#[test]
fn similar_events_further_apart_than_the_interval_are_not_combined() {
    let clock = clock();
    let mut correlator = Correlator::new(clock.clone());
    for n in 1..=30 {
        let written = record(
            &mut correlator,
            event(
                &clock,
                "web",
                "SuccessfulCreate",
                &format!("Created pod: web-{n}"),
            ),
        );
        assert_eq!(created(&written).count, Some(1));
        // Past the aggregation window, and long enough for the spam filter to refill a token.
        clock.advance(SignedDuration::from_secs(601));
    }
}

#[test]
fn identical_events_count_up_on_the_first_one() {
    let clock = clock();
    let mut correlator = Correlator::new(clock.clone());
    let first = record(
        &mut correlator,
        event(&clock, "web", "FailedCreate", "quota exceeded"),
    );
    let first = created(&first).clone();
    for count in 2..=5 {
        clock.advance(SignedDuration::from_secs(3));
        let again = record(
            &mut correlator,
            event(&clock, "web", "FailedCreate", "quota exceeded"),
        );
        let Correlated::Patch { event, patch } = again else {
            panic!("a repeated event is a patch: {again:?}");
        };
        assert_eq!(event.metadata.name, first.metadata.name);
        assert_eq!(event.first_timestamp, first.first_timestamp);
        assert_eq!(event.count, Some(count));
        assert_eq!(patch["count"], json!(count));
        assert_eq!(patch["message"], json!("quota exceeded"));
        assert_eq!(patch["lastTimestamp"], json!(event.last_timestamp));
    }
}

#[test]
fn the_server_state_names_the_event_to_patch() {
    let clock = clock();
    let mut correlator = Correlator::new(clock.clone());
    let first = correlator.correlate(event(&clock, "web", "FailedCreate", "boom"));
    let mut stored = created(&first).clone();
    stored.metadata.resource_version = Some("42".into());
    correlator.update_state(&stored);
    let again = correlator.correlate(event(&clock, "web", "FailedCreate", "boom"));
    let Correlated::Patch { event, .. } = again else {
        panic!("a repeated event is a patch: {again:?}");
    };
    assert_eq!(event.metadata.resource_version.as_deref(), Some("42"));
    assert_eq!(event.metadata.name, stored.metadata.name);
}

#[test]
fn the_spam_filter_allows_25_then_one_every_five_minutes() {
    let clock = clock();
    let mut correlator = Correlator::new(clock.clone());
    let mut written = 0;
    for n in 0..100 {
        // Different reasons: neither combined nor counted, only the spam filter applies.
        let correlated = record(
            &mut correlator,
            event(&clock, "web", &format!("Reason{n}"), "message"),
        );
        if correlated != Correlated::Skip {
            written += 1;
        }
    }
    assert_eq!(written, 25);

    clock.advance(SignedDuration::from_secs(299));
    let early = record(&mut correlator, event(&clock, "web", "Late", "message"));
    assert_eq!(early, Correlated::Skip);
    clock.advance(SignedDuration::from_secs(1));
    let refilled = record(&mut correlator, event(&clock, "web", "Later", "message"));
    assert_eq!(created(&refilled).reason.as_deref(), Some("Later"));
    let empty = record(&mut correlator, event(&clock, "web", "Latest", "message"));
    assert_eq!(empty, Correlated::Skip);
}

#[test]
fn skipped_repeats_still_count() {
    let clock = clock();
    let mut correlator = Correlator::new(clock.clone());
    for _ in 0..40 {
        record(&mut correlator, event(&clock, "web", "BackOff", "Back-off"));
    }
    clock.advance(SignedDuration::from_secs(300));
    let next = record(&mut correlator, event(&clock, "web", "BackOff", "Back-off"));
    let Correlated::Patch { event, .. } = next else {
        panic!("a refilled token writes the count: {next:?}");
    };
    assert_eq!(event.count, Some(41));
}

#[test]
fn different_objects_are_kept_apart() {
    let clock = clock();
    let mut correlator = Correlator::new(clock.clone());
    for object in ["a", "b", "c"] {
        for n in 1..=9 {
            let written = record(
                &mut correlator,
                event(
                    &clock,
                    object,
                    "SuccessfulCreate",
                    &format!("Created pod: {object}-{n}"),
                ),
            );
            assert_eq!(
                created(&written).involved_object.name.as_deref(),
                Some(object)
            );
            assert_eq!(created(&written).count, Some(1));
        }
    }
    // Each object has its own 25 tokens: 9 used, 16 left.
    for object in ["a", "b", "c"] {
        for n in 0..16 {
            let reason = format!("Other{n}");
            let correlated = record(&mut correlator, event(&clock, object, &reason, "same"));
            assert_ne!(correlated, Correlated::Skip, "{object}");
        }
    }
    for object in ["a", "b", "c"] {
        let correlated = record(&mut correlator, event(&clock, object, "Other", "same"));
        assert_eq!(correlated, Correlated::Skip, "{object}");
    }
    let mut other = event(&clock, "a", "SuccessfulCreate", "Created pod: a-1");
    other.source = Some(k8s_openapi::api::core::v1::EventSource {
        component: Some("other-controller".into()),
        host: None,
    });
    assert!(matches!(correlator.correlate(other), Correlated::Create(_)));
}

#[test]
fn a_uid_change_is_another_object() {
    let clock = clock();
    let mut correlator = Correlator::new(clock.clone());
    record(
        &mut correlator,
        event(&clock, "web", "FailedCreate", "boom"),
    );
    let mut recreated = event(&clock, "web", "FailedCreate", "boom");
    recreated.involved_object.uid = Some("another".into());
    assert!(matches!(
        correlator.correlate(recreated),
        Correlated::Create(_)
    ));
}

#[test]
fn events_are_named_after_their_object() {
    let clock = clock();
    let mut reference = replica_set("web");
    reference.namespace = None;
    let event = new_event(reference, &source(), WARNING, "R", "m".into(), clock.now());
    assert_eq!(
        event.metadata.name.as_deref(),
        Some(format!("web.{:x}", clock.now().as_nanosecond()).as_str())
    );
    assert_eq!(event.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(
        event.reporting_component.as_deref(),
        Some("replicaset-controller")
    );
    assert_eq!(event.reporting_instance, None);
}

#[test]
fn long_messages_are_cut_like_upstream() {
    assert_eq!(truncate_message("short"), "short");
    let cut = truncate_message(&"x".repeat(2000));
    assert_eq!(cut.len(), 1024);
    assert!(cut.ends_with("..."));
    let cut = truncate_message(&"é".repeat(1000));
    assert!(cut.len() <= 1024 && cut.ends_with("..."));
}
