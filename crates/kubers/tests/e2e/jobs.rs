//! The Job controller inside `kubers server`: completions, the backoff limit, the TTL after
//! finishing and orphaned pods, with tests setting pod phases as a kubelet would.

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

fn job(name: &str, completions: u32, backoff_limit: u32) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  completions: {completions}\n  parallelism: {completions}\n  backoffLimit: {backoff_limit}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox:1.36\n"
    )
}

#[test]
fn jobs_complete_fail_and_clean_up() {
    let server = server();
    let kubectl = &kubectls()[1];
    apply(&server, kubectl, &job("batch", 2, 6));
    let pods = pods_with(&server, kubectl, "app=batch", 2);
    let tracked = ok(
        &server,
        kubectl,
        &["get", &pods[0], "-o", "jsonpath={.metadata.finalizers}"],
    );
    assert!(
        tracked.contains("batch.kubernetes.io/job-tracking"),
        "{tracked}"
    );
    for pod in &pods {
        finish(&server, kubectl, pod, "Succeeded");
    }
    ok(
        &server,
        kubectl,
        &[
            "wait",
            "--for=condition=complete",
            "job/batch",
            "--timeout=120s",
        ],
    );
    let counted = ok(
        &server,
        kubectl,
        &[
            "get",
            "job",
            "batch",
            "-o",
            "jsonpath={.status.succeeded}/{.status.failed}",
        ],
    );
    assert_eq!(counted, "2/0");
    until(
        &server,
        kubectl,
        &["get", &pods[0], "-o", "jsonpath={.metadata.finalizers}"],
        |out| out.is_empty(),
    );

    // Past the backoff limit the Job fails.
    apply(&server, kubectl, &job("flaky", 1, 0));
    let pods = pods_with(&server, kubectl, "app=flaky", 1);
    finish(&server, kubectl, &pods[0], "Failed");
    ok(
        &server,
        kubectl,
        &[
            "wait",
            "--for=condition=failed",
            "job/flaky",
            "--timeout=120s",
        ],
    );
    let reason = ok(
        &server,
        kubectl,
        &[
            "get",
            "job",
            "flaky",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
        ],
    );
    assert_eq!(reason, "BackoffLimitExceeded");

    // A finished Job with ttlSecondsAfterFinished goes by itself.
    let short = job("short", 1, 6).replace(
        "  backoffLimit: 6\n",
        "  backoffLimit: 6\n  ttlSecondsAfterFinished: 0\n",
    );
    apply(&server, kubectl, &short);
    let pods = pods_with(&server, kubectl, "app=short", 1);
    finish(&server, kubectl, &pods[0], "Succeeded");
    until(&server, kubectl, &["get", "jobs", "-o", "name"], |out| {
        !out.contains("job.batch/short")
    });
    pods_with(&server, kubectl, "app=short", 0);

    // A deleted Job takes its pods along, tracking finalizer or not.
    apply(&server, kubectl, &job("dropped", 1, 6));
    pods_with(&server, kubectl, "app=dropped", 1);
    ok(&server, kubectl, &["delete", "job", "dropped"]);
    pods_with(&server, kubectl, "app=dropped", 0);
}
