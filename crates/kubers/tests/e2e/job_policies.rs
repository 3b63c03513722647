//! Job policies on simulated nodes (the test plays the kubelet by writing pod statuses with
//! container exit codes and conditions): a `podFailurePolicy` that ignores disruptions and fails
//! the Job on an exit code, `backoffLimitPerIndex` with `FailedIndexes`, a `FailIndex` rule with
//! `maxFailedIndexes`, a `successPolicy` that completes an Indexed Job early, and
//! `podReplacementPolicy: Failed` waiting for a terminating pod to fail before replacing it.

use std::path::Path;

use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::NodeTemplate;

use crate::converge::*;
use crate::job_pods::{Listed, condition, job, pods_when, running, wait_for};
use crate::*;

/// The running pod of `index` other than those named in `not`, once there is one.
fn running_index(
    server: &TestServer,
    kubectl: &Path,
    job: &str,
    index: &str,
    not: &[&str],
) -> Listed {
    let wanted = |pod: &Listed| pod.running() && pod.index == index && !not.contains(&&*pod.name);
    pods_when(server, kubectl, job, |pods| pods.iter().any(wanted))
        .into_iter()
        .find(wanted)
        .unwrap_or_else(|| panic!("a running pod of index {index}"))
}

fn patch_status(server: &TestServer, kubectl: &Path, pod: &Listed, status: &str) {
    let patch = format!("{{\"status\":{status}}}");
    ok(
        server,
        kubectl,
        &[
            "patch",
            &pod.object(),
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ],
    );
}

/// Ends a pod as its kubelet would: `main` exited with `exit_code`, with a true `condition`.
fn end(server: &TestServer, kubectl: &Path, pod: &Listed, exit_code: i32, condition: Option<&str>) {
    let phase = if exit_code == 0 {
        "Succeeded"
    } else {
        "Failed"
    };
    let conditions = condition
        .map(|kind| format!(",\"conditions\":[{{\"type\":\"{kind}\",\"status\":\"True\"}}]"))
        .unwrap_or_default();
    let reason = if exit_code == 0 { "Completed" } else { "Error" };
    patch_status(
        server,
        kubectl,
        pod,
        &format!(
            "{{\"phase\":\"{phase}\"{conditions},\"containerStatuses\":[{{\"name\":\"main\",\"image\":\"busybox:1.36\",\"imageID\":\"\",\"ready\":false,\"restartCount\":0,\"state\":{{\"terminated\":{{\"exitCode\":{exit_code},\"reason\":\"{reason}\"}}}}}}]}}"
        ),
    );
}

/// `reason|message` of the Job's condition of `kind`.
#[test]
fn a_fail_job_rule_fails_the_job_and_an_ignored_disruption_is_not_counted() {
    let server = server();
    let kubectl = &kubectls()[0];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);
    let spec = "  completions: 2\n  parallelism: 2\n  podFailurePolicy:\n    rules:\n    - action: Ignore\n      onPodConditions:\n      - type: DisruptionTarget\n    - action: FailJob\n      onExitCodes:\n        containerName: main\n        operator: In\n        values: [42]\n";
    apply(&server, kubectl, &job("policy", spec));
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "policy"],
            "{.spec.podReplacementPolicy}/{.spec.podFailurePolicy.rules[0].onPodConditions[0].status}"
        ),
        "Failed/True"
    );
    let first = running(&server, kubectl, "policy", 2);

    // A disrupted pod matches the Ignore rule: replaced, not counted, let go at once.
    end(&server, kubectl, &first[0], 137, Some("DisruptionTarget"));
    pods_when(&server, kubectl, "policy", |pods| {
        pods.iter()
            .filter(|pod| pod.running() && pod.name != first[0].name)
            .count()
            == 2
    });
    until_field(
        &server,
        kubectl,
        &["pod", &first[0].name],
        "{.metadata.finalizers}",
        "",
    );
    assert_eq!(
        field(&server, kubectl, &["job", "policy"], "{.status.failed}"),
        "0"
    );

    // Exit code 42 matches the FailJob rule at index 1.
    end(&server, kubectl, &first[1], 42, None);
    wait_for(&server, kubectl, "policy", "failed");
    let expected = format!(
        "PodFailurePolicy|Container main for pod default/{} failed with exit code 42 matching FailJob rule at index 1",
        first[1].name
    );
    assert_eq!(
        condition(&server, kubectl, "policy", "Failed", &["reason", "message"]),
        expected
    );
    assert_eq!(
        condition(
            &server,
            kubectl,
            "policy",
            "FailureTarget",
            &["reason", "message"]
        ),
        expected
    );
    // The failure and the replacement stopped with the Job count; the ignored pod does not.
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "policy"],
            "{.status.failed}/{.status.active}/{.status.terminating}"
        ),
        "2/0/0"
    );
    let events = until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=policy,reason=PodFailurePolicy",
            "-o",
            "jsonpath={.items[*].message}",
        ],
        |out| !out.is_empty(),
    );
    assert_eq!(events, expected.trim_start_matches("PodFailurePolicy|"));
}

#[test]
fn an_index_fails_alone_past_its_backoff_limit() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);
    let spec = "  completionMode: Indexed\n  completions: 3\n  parallelism: 3\n  backoffLimitPerIndex: 1\n";
    apply(&server, kubectl, &job("perindex", spec));
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "perindex"],
            "{.spec.backoffLimit}"
        ),
        "2147483647"
    );
    let first = running(&server, kubectl, "perindex", 3);
    let count = "{.metadata.annotations.batch\\.kubernetes\\.io/job-index-failure-count}";
    assert_eq!(
        field(&server, kubectl, &["pod", &first[0].name], count),
        "0"
    );

    // The first failure of index 0 is retried; the retry carries the count.
    end(&server, kubectl, &first[0], 1, None);
    let retry = running_index(&server, kubectl, "perindex", "0", &[&first[0].name]);
    assert_eq!(field(&server, kubectl, &["pod", &retry.name], count), "1");
    // The second fails the index, and only it.
    end(&server, kubectl, &retry, 1, None);
    until_field(
        &server,
        kubectl,
        &["job", "perindex"],
        "{.status.failedIndexes}",
        "0",
    );
    end(&server, kubectl, &first[1], 0, None);
    end(&server, kubectl, &first[2], 0, None);
    wait_for(&server, kubectl, "perindex", "failed");
    assert_eq!(
        condition(
            &server,
            kubectl,
            "perindex",
            "Failed",
            &["reason", "message"]
        ),
        "FailedIndexes|Job has failed indexes"
    );
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "perindex"],
            "{.status.completedIndexes}/{.status.failedIndexes}/{.status.succeeded}/{.status.failed}"
        ),
        "1,2/0/2/2"
    );
    let pods = pods_when(&server, kubectl, "perindex", |_| true);
    assert_eq!(
        pods.iter().filter(|pod| pod.index == "0").count(),
        2,
        "{pods:?}"
    );
}

#[test]
fn a_fail_index_rule_counts_towards_max_failed_indexes() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);
    let spec = "  completionMode: Indexed\n  completions: 4\n  parallelism: 2\n  backoffLimitPerIndex: 3\n  maxFailedIndexes: 1\n  podFailurePolicy:\n    rules:\n    - action: FailIndex\n      onExitCodes:\n        operator: In\n        values: [7]\n";
    apply(&server, kubectl, &job("capped", spec));
    let first = running(&server, kubectl, "capped", 2);
    end(&server, kubectl, &first[0], 7, None);
    // Index 0 fails at once (no retry); the next index starts instead.
    let next = running_index(&server, kubectl, "capped", "2", &[]);
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "capped"],
            "{.status.failedIndexes}"
        ),
        "0"
    );
    end(&server, kubectl, &next, 7, None);
    wait_for(&server, kubectl, "capped", "failed");
    assert_eq!(
        condition(&server, kubectl, "capped", "Failed", &["reason", "message"]),
        "MaxFailedIndexesExceeded|Job has exceeded the specified maximal number of failed indexes"
    );
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "capped"],
            "{.status.failedIndexes}"
        ),
        "0,2"
    );
    let pods = pods_when(&server, kubectl, "capped", |_| true);
    assert!(
        !pods
            .iter()
            .any(|pod| pod.index == "0" && pod.name != first[0].name)
    );
}

#[test]
fn a_success_policy_completes_an_indexed_job_early() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);
    let spec = "  completionMode: Indexed\n  completions: 3\n  parallelism: 3\n  successPolicy:\n    rules:\n    - succeededIndexes: \"0\"\n    - succeededCount: 1\n";
    apply(&server, kubectl, &job("early", spec));
    let first = running(&server, kubectl, "early", 3);
    end(&server, kubectl, &first[1], 0, None);
    wait_for(&server, kubectl, "early", "complete");
    assert_eq!(
        condition(
            &server,
            kubectl,
            "early",
            "Complete",
            &["reason", "message"]
        ),
        "SuccessPolicy|Matched rules at index 1"
    );
    assert_eq!(
        condition(
            &server,
            kubectl,
            "early",
            "SuccessCriteriaMet",
            &["reason", "message"]
        ),
        "SuccessPolicy|Matched rules at index 1"
    );
    assert_eq!(
        field(
            &server,
            kubectl,
            &["job", "early"],
            "{.status.completedIndexes}/{.status.succeeded}/{.status.active}/{.status.terminating}"
        ),
        "1/1/0/0"
    );
    // The other indexes' pods were removed before the Job completed.
    let left = pods_when(&server, kubectl, "early", |_| true);
    assert!(left.iter().all(|pod| pod.name == first[1].name), "{left:?}");
}

#[test]
fn pods_are_replaced_once_failed_with_the_failed_replacement_policy() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);
    apply(
        &server,
        kubectl,
        &job("replace", "  podReplacementPolicy: Failed\n"),
    );
    let first = running(&server, kubectl, "replace", 1);
    ok(
        &server,
        kubectl,
        &["delete", &first[0].object(), "--wait=false"],
    );
    // Terminating, not failed: no replacement yet.
    until_field(
        &server,
        kubectl,
        &["job", "replace"],
        "{.status.terminating}/{.status.active}",
        "1/0",
    );
    let pods = pods_when(&server, kubectl, "replace", |_| true);
    assert_eq!(pods.len(), 1, "{pods:?}");
    // Once it failed, it is counted and replaced.
    end(&server, kubectl, &first[0], 143, None);
    let second = running(&server, kubectl, "replace", 1);
    assert_ne!(second[0].name, first[0].name);
    until_field(
        &server,
        kubectl,
        &["job", "replace"],
        "{.status.failed}/{.status.active}/{.status.terminating}",
        "1/1/0",
    );
}
