//! Event correlation on simulated nodes, as client-go's recorder does it: a ReplicaSet creating 100
//! pods writes 9 `SuccessfulCreate` events, then one `(combined from similar events): ...` event
//! whose count grows until the spam filter's 25 writes per object are used up; the scheduler's
//! per-pod `Scheduled` events are untouched; `kubectl get events` and `describe` show the counts.

use serde_json::Value;

use crate::converge::{simulate, until, until_field};
use crate::*;
use kubers_testkit::simulated::NodeTemplate;

const COMBINED: &str = "(combined from similar events): Created pod: ";

fn deployment(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n        resources:\n          requests:\n            cpu: 10m\n"
    )
}

/// `(message, count)` of each `SuccessfulCreate` event about `object`.
fn created_events(items: &Value, object: &str) -> Vec<(String, i64)> {
    items["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| {
            event["involvedObject"]["name"] == object && event["reason"] == "SuccessfulCreate"
        })
        .map(|event| {
            (
                event["message"].as_str().unwrap_or_default().to_owned(),
                event["count"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_hundred_replicas_write_a_bounded_number_of_counted_events() {
    let server = server();
    let kubectls = kubectls();
    let kubectl = &kubectls[1];
    let _nodes = simulate(
        &server,
        (1..=2)
            .map(|i| NodeTemplate::new(&format!("sim-{i}")))
            .collect(),
    );
    let output = run(
        &server,
        kubectl,
        &["apply", "-f", "-"],
        Some(&deployment(100)),
    );
    assert!(output.status.success(), "{}", text(&output));
    until_field(
        &server,
        kubectl,
        &["deployment", "web"],
        "{.status.readyReplicas}",
        "100",
    );
    let replica_set = ok(
        &server,
        kubectl,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ],
    );

    // Events are written in the background: wait until the combined event has taken the last of
    // the ReplicaSet's 25 writes (9 events, 1 combined event, 15 counts on it).
    let listed = until(&server, kubectl, &["get", "events", "-o", "json"], |out| {
        let Ok(items) = serde_json::from_str::<Value>(out) else {
            return false;
        };
        created_events(&items, &replica_set)
            .iter()
            .any(|(message, count)| message.starts_with(COMBINED) && *count >= 16)
    });
    let items: Value = serde_json::from_str(&listed).expect("events are JSON");
    let created = created_events(&items, &replica_set);
    let (combined, single): (Vec<_>, Vec<_>) = created
        .iter()
        .partition(|(message, _)| message.starts_with(COMBINED));
    assert_eq!(single.len(), 9, "nine events before combining: {created:?}");
    assert!(
        single.iter().all(|(message, count)| {
            message.starts_with(&format!("Created pod: {replica_set}-")) && *count == 1
        }),
        "{created:?}"
    );
    assert_eq!(combined.len(), 1, "one combined event: {created:?}");
    let total: i64 = created.iter().map(|(_, count)| count).sum();
    assert!(
        (25..=100).contains(&total),
        "25 writes (more only when a token refilled after 5 minutes): {created:?}"
    );

    // The scheduler's events are one per pod, each about another object: never combined.
    let scheduled = until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "reason=Scheduled",
            "-o",
            "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
        ],
        |out| {
            out.lines()
                .filter(|line| line.starts_with("Successfully assigned default/web-"))
                .count()
                == 100
        },
    );
    let scheduled = scheduled
        .lines()
        .filter(|line| line.starts_with("Successfully assigned default/web-"))
        .count();
    assert_eq!(scheduled, 100);

    // The deployment's own event is a single one.
    let scaled = ok(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=Deployment,involvedObject.name=web,reason=ScalingReplicaSet",
            "-o",
            "jsonpath={.items[*].message}|{.items[*].count}",
        ],
    );
    assert_eq!(
        scaled,
        format!("Scaled up replica set {replica_set} from 0 to 100|1")
    );

    for kubectl in &kubectls {
        let table = ok(
            &server,
            kubectl,
            &[
                "get",
                "events",
                "--field-selector",
                &format!("involvedObject.name={replica_set},reason=SuccessfulCreate"),
            ],
        );
        assert_eq!(
            table.lines().count(),
            11,
            "a header and ten events:\n{table}"
        );
        assert!(table.contains(COMBINED), "{table}");
        let wide = ok(
            &server,
            kubectl,
            &[
                "get",
                "events",
                "-o",
                "wide",
                "--field-selector",
                &format!("involvedObject.name={replica_set},reason=SuccessfulCreate"),
            ],
        );
        assert!(wide.contains("replicaset-controller"), "{wide}");
        let described = ok(&server, kubectl, &["describe", "rs", &replica_set]);
        assert!(described.contains(COMBINED), "{described}");
        assert!(
            described.contains("(x") && described.contains(" over "),
            "the combined event's count: {described}"
        );
        assert_eq!(
            described.matches("SuccessfulCreate").count(),
            10,
            "{described}"
        );
    }
}
