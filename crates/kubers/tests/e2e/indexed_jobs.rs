//! Indexed Jobs: one pod per completion index (annotation, label, hostname and the
//! `JOB_COMPLETION_INDEX` variable), a failed index runs again, and the succeeded indexes are
//! reported as compressed ranges until all are done.

use std::path::Path;

use kubers_testkit::server::TestServer;

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

/// The jsonpath listing `name|index|phase|hostname` of pods, one a line.
const FIELDS: &str = "jsonpath={range .items[*]}{.metadata.name}|{.metadata.labels.batch\\.kubernetes\\.io/job-completion-index}|{.status.phase}|{.spec.hostname}{\"\\n\"}{end}";

/// `(name, index, phase)` of each pod in `out`; checks the hostname is `<job>-<index>`.
fn parse(job: &str, out: &str) -> Vec<(String, String, String)> {
    lines(out)
        .into_iter()
        .map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            assert_eq!(fields[3], format!("{job}-{}", fields[1]), "{line}");
            (
                fields[0].to_owned(),
                fields[1].to_owned(),
                fields[2].to_owned(),
            )
        })
        .collect()
}

/// The Job's pods as `(name, index, phase)`.
fn indexed_pods(server: &TestServer, kubectl: &Path, job: &str) -> Vec<(String, String, String)> {
    let selector = format!("job-name={job}");
    parse(
        job,
        &ok(
            server,
            kubectl,
            &["get", "pods", "-l", &selector, "-o", FIELDS],
        ),
    )
}

/// The pod running index `index` (not finished), once there is one.
fn running_index(server: &TestServer, kubectl: &Path, job: &str, index: &str) -> String {
    let selector = format!("job-name={job}");
    let running = |out: &str| {
        parse(job, out)
            .into_iter()
            .find(|(_, ix, phase)| ix == index && phase != "Failed" && phase != "Succeeded")
            .map(|(name, _, _)| format!("pod/{name}"))
    };
    let out = until(
        server,
        kubectl,
        &["get", "pods", "-l", &selector, "-o", FIELDS],
        |out| running(out).is_some(),
    );
    running(&out).unwrap_or_default()
}

#[test]
fn an_indexed_job_runs_each_index_until_all_succeeded() {
    let server = server();
    let kubectl = &kubectls()[1];
    let manifest = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: idx\nspec:\n  completionMode: Indexed\n  completions: 3\n  parallelism: 3\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox:1.36\n";
    apply(&server, kubectl, manifest);
    pods_with(&server, kubectl, "job-name=idx", 3);
    let mut indexes: Vec<String> = indexed_pods(&server, kubectl, "idx")
        .into_iter()
        .map(|(_, index, _)| index)
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
    let first = running_index(&server, kubectl, "idx", "0");
    let env = ok(
        &server,
        kubectl,
        &[
            "get",
            &first,
            "-o",
            "jsonpath={.spec.containers[0].env[?(@.name==\"JOB_COMPLETION_INDEX\")].valueFrom.fieldRef.fieldPath}|{.metadata.annotations.batch\\.kubernetes\\.io/job-completion-index}",
        ],
    );
    assert_eq!(
        env,
        "metadata.labels['batch.kubernetes.io/job-completion-index']|0"
    );
    assert!(first.starts_with("pod/idx-0-"), "{first}");

    // A failed index runs again in a new pod.
    let failing = running_index(&server, kubectl, "idx", "1");
    finish(&server, kubectl, &failing, "Failed");
    until(
        &server,
        kubectl,
        &["get", "pods", "-l", "job-name=idx", "-o", "name"],
        |out| lines(out).len() == 4,
    );
    let retry = running_index(&server, kubectl, "idx", "1");
    assert_ne!(retry, failing);

    finish(&server, kubectl, &first, "Succeeded");
    let last = running_index(&server, kubectl, "idx", "2");
    finish(&server, kubectl, &last, "Succeeded");
    until(
        &server,
        kubectl,
        &[
            "get",
            "job",
            "idx",
            "-o",
            "jsonpath={.status.completedIndexes}",
        ],
        |out| out == "0,2",
    );
    finish(&server, kubectl, &retry, "Succeeded");
    ok(
        &server,
        kubectl,
        &[
            "wait",
            "--for=condition=complete",
            "job/idx",
            "--timeout=120s",
        ],
    );
    let status = ok(
        &server,
        kubectl,
        &[
            "get",
            "job",
            "idx",
            "-o",
            "jsonpath={.status.completedIndexes}/{.status.succeeded}/{.status.failed}",
        ],
    );
    assert_eq!(status, "0-2/3/1");
}
