//! Helpers shared by the workload controller tests (`cron_jobs`, `indexed_jobs`, `revisions`):
//! converging on kubectl output, applying manifests, and playing the kubelet's status writes.

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::server::TestServer;

use crate::*;

/// How long a controller may take to converge before the test gives up (a safety net for a broken
/// controller, not a latency assertion).
const CONVERGE: Duration = Duration::from_secs(120);

/// Runs `kubectl args` until its output satisfies `done`; returns that output.
pub(crate) fn until(
    server: &TestServer,
    kubectl: &Path,
    args: &[&str],
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let output = run(server, kubectl, args, None);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() && done(&stdout) {
            return stdout;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {args:?} never converged; last: {}\nserver log:\n{}",
            text(&output),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Non-empty lines of `output`.
pub(crate) fn lines(output: &str) -> Vec<&str> {
    output.lines().filter(|line| !line.is_empty()).collect()
}

/// Applies `manifest` with `kubectl apply -f -`.
pub(crate) fn apply(server: &TestServer, kubectl: &Path, manifest: &str) {
    let output = run(server, kubectl, &["apply", "-f", "-"], Some(manifest));
    assert!(output.status.success(), "{}", text(&output));
}

/// Patches the status of `object` (`pod/x`, `cronjob/y`) with a JSON merge patch.
pub(crate) fn patch_status(server: &TestServer, kubectl: &Path, object: &str, patch: &str) {
    ok(
        server,
        kubectl,
        &[
            "patch",
            object,
            "--subresource=status",
            "--type=merge",
            "-p",
            patch,
        ],
    );
}

/// Sets the phase of a pod as its kubelet would.
pub(crate) fn finish(server: &TestServer, kubectl: &Path, pod: &str, phase: &str) {
    patch_status(
        server,
        kubectl,
        pod,
        &format!("{{\"status\":{{\"phase\":\"{phase}\"}}}}"),
    );
}

/// Marks a pod Running and Ready, as its kubelet would.
pub(crate) fn make_ready(server: &TestServer, kubectl: &Path, pod: &str) {
    patch_status(
        server,
        kubectl,
        pod,
        "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
    );
}

/// The pods matching `selector`, once there are `count` of them (`pod/NAME` each).
pub(crate) fn pods_with(
    server: &TestServer,
    kubectl: &Path,
    selector: &str,
    count: usize,
) -> Vec<String> {
    let listed = until(
        server,
        kubectl,
        &["get", "pods", "-l", selector, "-o", "name"],
        |out| lines(out).len() == count,
    );
    lines(&listed).into_iter().map(str::to_owned).collect()
}

/// Waits for an event with `reason` about `name` and returns its message.
pub(crate) fn event(server: &TestServer, kubectl: &Path, name: &str, reason: &str) -> String {
    let template = "{range .items[*]}{.involvedObject.name}|{.reason}|{.message}{\"\\n\"}{end}";
    let prefix = format!("{name}|{reason}|");
    let out = until(
        server,
        kubectl,
        &["get", "events", "-o", &format!("jsonpath={template}")],
        |out| out.lines().any(|line| line.starts_with(&prefix)),
    );
    out.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_default()
        .to_owned()
}
