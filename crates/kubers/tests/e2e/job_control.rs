//! Job control on simulated nodes (the test plays the kubelet by writing pod statuses): the pod
//! failure backoff delays each replacement (10 s, then 20 s, from the failed pod's finish time),
//! `spec.managedBy` naming another controller leaves a Job alone (and is validated and immutable),
//! and `spec.suspend` deletes a Job's pods, stops it with the `Suspended` condition and resumes
//! it with a new start time.

use std::path::Path;
use std::process::Output;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::NodeTemplate;

use crate::converge::*;
use crate::job_pods::{Listed, condition, job, pods_when, running, wait_for};
use crate::*;

/// The status of a Job's `Suspended` condition.
const SUSPENDED_STATUS: &str = "{.status.conditions[?(@.type==\"Suspended\")].status}";

/// The running pod other than `not`, once there is one.
fn replacement(server: &TestServer, kubectl: &Path, job: &str, not: &[&str]) -> Listed {
    let wanted = |pod: &Listed| pod.running() && !not.contains(&pod.name.as_str());
    pods_when(server, kubectl, job, |pods| pods.iter().any(wanted))
        .into_iter()
        .find(wanted)
        .expect("a replacement pod")
}

/// Ends a pod as its kubelet would: `main` exited with `exit_code` at `finished` (whole seconds).
fn end(server: &TestServer, kubectl: &Path, pod: &str, exit_code: i32, finished: Timestamp) {
    let (phase, reason) = if exit_code == 0 {
        ("Succeeded", "Completed")
    } else {
        ("Failed", "Error")
    };
    let patch = format!(
        "{{\"status\":{{\"phase\":\"{phase}\",\"containerStatuses\":[{{\"name\":\"main\",\"image\":\"busybox:1.36\",\"imageID\":\"\",\"ready\":false,\"restartCount\":0,\"state\":{{\"terminated\":{{\"exitCode\":{exit_code},\"reason\":\"{reason}\",\"finishedAt\":\"{finished}\"}}}}}}]}}}}"
    );
    ok(
        server,
        kubectl,
        &[
            "patch",
            &format!("pod/{pod}"),
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ],
    );
}

/// Now, in whole seconds (as the API keeps times).
fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).expect("now")
}

/// `status|reason|message` of the Job's condition of `kind`.
fn patch_job(server: &TestServer, kubectl: &Path, job: &str, patch: &str) -> Output {
    run(
        server,
        kubectl,
        &["patch", "job", job, "--type=merge", "-p", patch],
        None,
    )
}

#[test]
fn failed_pods_are_replaced_after_a_doubling_backoff() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);
    apply(&server, kubectl, &job("retry", "  backoffLimit: 6\n"));
    let first = running(&server, kubectl, "retry", 1).remove(0);

    // The first failure: the replacement comes 10 s after the pod finished, not before.
    let failed_at = now();
    end(&server, kubectl, &first.name, 1, failed_at);
    let second = replacement(&server, kubectl, "retry", &[&first.name]);
    let waited = second.created.duration_since(failed_at);
    assert!(
        waited >= SignedDuration::from_secs(10),
        "replaced {waited} after the failure"
    );
    until_field(&server, kubectl, &["job", "retry"], "{.status.failed}", "1");

    // The second consecutive failure doubles the delay.
    let failed_at = now();
    end(&server, kubectl, &second.name, 1, failed_at);
    let third = replacement(&server, kubectl, "retry", &[&first.name, &second.name]);
    let waited = third.created.duration_since(failed_at);
    assert!(
        waited >= SignedDuration::from_secs(20),
        "replaced {waited} after the second failure"
    );

    // A success completes the Job as usual.
    end(&server, kubectl, &third.name, 0, now());
    wait_for(&server, kubectl, "retry", "complete");
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "retry"],
            "{.status.succeeded}/{.status.failed}"
        ),
        "1/2"
    );
}

#[test]
fn a_job_managed_by_another_controller_is_left_alone() {
    let server = server();
    let kubectl = &kubectls()[0];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);

    // Validation as upstream's: a domain-prefixed path of at most 63 characters.
    let bad = run(
        &server,
        kubectl,
        &["apply", "-f", "-"],
        Some(&job("bad", "  managedBy: custom\n")),
    );
    assert!(
        text(&bad).contains("spec.managedBy: Invalid value: \"custom\": must be a domain-prefixed path (such as \"acme.io/foo\")"),
        "{}",
        text(&bad)
    );
    let long = format!("  managedBy: example.com/{}\n", "a".repeat(60));
    let too_long = run(
        &server,
        kubectl,
        &["apply", "-f", "-"],
        Some(&job("long", &long)),
    );
    assert!(
        text(&too_long).contains("spec.managedBy: Too long: may not be more than 63 bytes"),
        "{}",
        text(&too_long)
    );

    apply(
        &server,
        kubectl,
        &job("external", "  managedBy: example.com/custom\n"),
    );
    // The default controller named explicitly runs its Job; by the time it did, the external
    // Job was seen and skipped.
    apply(
        &server,
        kubectl,
        &job("builtin", "  managedBy: kubernetes.io/job-controller\n"),
    );
    let builtin = running(&server, kubectl, "builtin", 1);
    until_field(
        &server,
        kubectl,
        &["job", "builtin"],
        "{.status.active}",
        "1",
    );
    assert_eq!(
        ok(
            &server,
            kubectl,
            &["get", "pods", "-l", "job-name=external", "-o", "name"]
        ),
        ""
    );
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "external"],
            "{.status.startTime}|{.status.active}|{.status.conditions}"
        ),
        "||"
    );

    // The field is immutable.
    let changed = patch_job(
        &server,
        kubectl,
        "external",
        "{\"spec\":{\"managedBy\":\"example.com/other\"}}",
    );
    assert!(
        text(&changed)
            .contains("spec.managedBy: Invalid value: \"example.com/other\": field is immutable"),
        "{}",
        text(&changed)
    );
    end(&server, kubectl, &builtin[0].name, 0, now());
    wait_for(&server, kubectl, "builtin", "complete");
}

#[test]
fn a_suspended_job_deletes_its_pods_and_resumes_with_a_new_start() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);
    let spec =
        "  completions: 2\n  parallelism: 2\n  activeDeadlineSeconds: 600\n  suspend: true\n";
    apply(&server, kubectl, &job("paused", spec));

    // Created suspended: no pods, no start time.
    wait_for(&server, kubectl, "paused", "suspended");
    assert_eq!(
        condition(
            &server,
            kubectl,
            "paused",
            "Suspended",
            &["status", "reason", "message"]
        ),
        "True|JobSuspended|Job suspended"
    );
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "paused"],
            "{.status.startTime}|{.status.active}"
        ),
        "|0"
    );
    assert_eq!(
        ok(
            &server,
            kubectl,
            &["get", "pods", "-l", "job-name=paused", "-o", "name"]
        ),
        ""
    );

    // Resumed: the pods start, the condition turns false, the deadline starts now.
    let output = patch_job(&server, kubectl, "paused", "{\"spec\":{\"suspend\":false}}");
    assert!(output.status.success(), "{}", text(&output));
    let first = running(&server, kubectl, "paused", 2);
    until_field(
        &server,
        kubectl,
        &["job", "paused"],
        SUSPENDED_STATUS,
        "False",
    );
    assert_eq!(
        condition(
            &server,
            kubectl,
            "paused",
            "Suspended",
            &["status", "reason", "message"]
        ),
        "False|JobResumed|Job resumed"
    );
    let started = field(&server, kubectl, &["job", "paused"], "{.status.startTime}");
    assert!(!started.is_empty());

    // Suspended again: the pods go without counting as failures.
    let output = patch_job(&server, kubectl, "paused", "{\"spec\":{\"suspend\":true}}");
    assert!(output.status.success(), "{}", text(&output));
    until_field(
        &server,
        kubectl,
        &["job", "paused"],
        SUSPENDED_STATUS,
        "True",
    );
    until_field(
        &server,
        kubectl,
        &["job", "paused"],
        "{.status.active}/{.status.ready}",
        "0/0",
    );
    pods_when(&server, kubectl, "paused", |pods| {
        pods.iter().all(|pod| !pod.running())
    });
    assert_eq!(
        condition(
            &server,
            kubectl,
            "paused",
            "Suspended",
            &["status", "reason", "message"]
        ),
        "True|JobSuspended|Job suspended"
    );

    // Resumed again: new pods and a later start time.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let output = patch_job(&server, kubectl, "paused", "{\"spec\":{\"suspend\":false}}");
    assert!(output.status.success(), "{}", text(&output));
    let old: Vec<&str> = first.iter().map(|pod| pod.name.as_str()).collect();
    let second = pods_when(&server, kubectl, "paused", |pods| {
        pods.iter()
            .filter(|pod| pod.running() && !old.contains(&pod.name.as_str()))
            .count()
            == 2
    });
    let restarted: Timestamp = until(
        &server,
        kubectl,
        &["get", "job", "paused", "-o", "jsonpath={.status.startTime}"],
        |out| out != started,
    )
    .parse()
    .expect("a start time");
    let started: Timestamp = started.parse().expect("a start time");
    assert!(restarted > started, "{restarted} after {started}");
    for pod in second
        .iter()
        .filter(|pod| pod.running() && !old.contains(&pod.name.as_str()))
    {
        end(&server, kubectl, &pod.name, 0, now());
    }
    wait_for(&server, kubectl, "paused", "complete");
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "paused"],
            "{.status.succeeded}/{.status.failed}"
        ),
        "2/0"
    );
    for (reason, message) in [("Suspended", "Job suspended"), ("Resumed", "Job resumed")] {
        let selector = format!("involvedObject.name=paused,reason={reason}");
        let events = until(
            &server,
            kubectl,
            &[
                "get",
                "events",
                "--field-selector",
                &selector,
                "-o",
                "jsonpath={.items[*].message}",
            ],
            |out| !out.is_empty(),
        );
        assert!(events.starts_with(message), "{events}");
    }
}
