//! Waiting for controllers, for every controller and scheduler test: a kubectl command repeated
//! until its output says the cluster converged (a safety net of two minutes for a broken
//! controller, not a latency assertion), applying manifests, and the simulated nodes pods run on.

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::{NodeTemplate, SimulatedNodes};

use crate::*;

/// How long a controller may take to converge before the test gives up.
const CONVERGE: Duration = Duration::from_secs(120);

/// Runs `kubectl args` until its standard output satisfies `done`; returns that output.
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

/// Runs `kubectl get KIND NAME -o jsonpath=PATH` until it prints `expected`.
pub(crate) fn until_field(
    server: &TestServer,
    kubectl: &Path,
    object: &[&str],
    path: &str,
    expected: &str,
) -> String {
    let jsonpath = format!("jsonpath={path}");
    let mut args = vec!["get"];
    args.extend_from_slice(object);
    args.extend_from_slice(&["-o", &jsonpath]);
    until(server, kubectl, &args, |out| out == expected)
}

/// `kubectl get KIND NAME -o jsonpath=PATH` once.
pub(crate) fn field(server: &TestServer, kubectl: &Path, object: &[&str], path: &str) -> String {
    let jsonpath = format!("jsonpath={path}");
    let mut args = vec!["get"];
    args.extend_from_slice(object);
    args.extend_from_slice(&["-o", &jsonpath]);
    ok(server, kubectl, &args)
}

/// Applies a manifest from standard input.
pub(crate) fn apply(server: &TestServer, kubectl: &Path, manifest: &str) {
    let output = run(server, kubectl, &["apply", "-f", "-"], Some(manifest));
    assert!(output.status.success(), "{}", text(&output));
}

/// Registers simulated nodes that run the pods bound to them.
pub(crate) fn simulate(server: &TestServer, nodes: Vec<NodeTemplate>) -> SimulatedNodes {
    let simulated = SimulatedNodes::start(&server.kubeconfig()).expect("simulator starts");
    simulated.add(nodes).expect("simulated nodes register");
    simulated
}

/// The messages of the events about an object with `reason`, joined by `|`.
pub(crate) fn event_messages(
    server: &TestServer,
    kubectl: &Path,
    namespace: &str,
    object: &str,
    reason: &str,
) -> String {
    ok(
        server,
        kubectl,
        &[
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            &format!("involvedObject.name={object},reason={reason}"),
            "-o",
            "jsonpath={.items[*].message}",
        ],
    )
}
