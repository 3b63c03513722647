//! Helpers shared by the workload controller tests (`cron_jobs`, `deployments`, `jobs`,
//! `revisions` ...): playing the kubelet's status writes, and waiting for pods and events (on
//! [`until`], with the other convergence helpers in [`crate::converge`]).

use std::path::Path;

use kubers_testkit::server::TestServer;

use crate::converge::until;
use crate::*;

/// Non-empty lines of `output`.
pub(crate) fn lines(output: &str) -> Vec<&str> {
    output.lines().filter(|line| !line.is_empty()).collect()
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
