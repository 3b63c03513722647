//! Helpers of the tests that run pods on a real node (a `TestCluster`): kubectl with the first
//! kubectl binary, polling until a condition holds, and the end of the server's log for failures.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use kubers_testkit::cluster::TestCluster;

use crate::{kubectls, text};

/// A single-node cluster: server, embedded agent and containerd in a network namespace.
pub(crate) fn cluster() -> TestCluster {
    TestCluster::start(Path::new(env!("CARGO_BIN_EXE_kubers"))).expect("the cluster starts")
}

/// Runs kubectl against the cluster.
pub(crate) fn kubectl_output(cluster: &TestCluster, args: &[&str], stdin: Option<&str>) -> Output {
    cluster
        .kubectl_with(&kubectls()[0], args, stdin)
        .expect("kubectl runs")
}

/// Runs kubectl, which must succeed, and returns its output.
pub(crate) fn kubectl(cluster: &TestCluster, args: &[&str], stdin: Option<&str>) -> String {
    let output = kubectl_output(cluster, args, stdin);
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}\nserver log:\n{}",
        text(&output),
        tail(&cluster.log())
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The last lines of a log.
pub(crate) fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Polls `probe` until it returns `Some` (60 s at most).
pub(crate) fn eventually<T>(
    what: &str,
    cluster: &TestCluster,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not after 60 s\nserver log:\n{}",
            tail(&cluster.log())
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Polls a JSONPath of a pod until `done` accepts it (60 s at most) and returns the value as
/// printed (a message's trailing space included).
pub(crate) fn wait_for(
    cluster: &TestCluster,
    pod: &str,
    path: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    eventually(&format!("pod {pod}: {path}"), cluster, || {
        let output = kubectl_output(
            cluster,
            &["get", "pod", pod, "-o", &format!("jsonpath={path}")],
            None,
        );
        let value = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success() && done(&value)).then_some(value)
    })
}
