//! The controller manager inside `kubers server`: namespace deletion, garbage collection, service
//! accounts and the root CA, ReplicaSets and Deployments. No node runs pods here, so the checks are
//! about objects (pods stay Pending).

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::server::TestServer;

use crate::*;

/// How long a controller may take to converge before the test gives up (a safety net for a broken
/// controller, not a latency assertion).
const CONVERGE: Duration = Duration::from_secs(120);

/// Runs `kubectl args` until its output satisfies `done`; returns that output.
fn until(
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

/// Names of the objects `kubectl get RESOURCE -o name` lists, one per line.
fn names(output: &str) -> Vec<&str> {
    output.lines().filter(|line| !line.is_empty()).collect()
}

#[test]
fn a_new_namespace_gets_a_default_service_account_and_the_root_ca() {
    let server = server();
    let kubectl = &kubectls()[1];
    ok(&server, kubectl, &["create", "namespace", "team"]);
    until(
        &server,
        kubectl,
        &["get", "serviceaccount", "-n", "team", "-o", "name"],
        |out| names(out) == ["serviceaccount/default"],
    );
    let ca = until(
        &server,
        kubectl,
        &[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ],
        |out| !out.is_empty(),
    );
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    // A deleted default account comes back.
    ok(
        &server,
        kubectl,
        &["delete", "serviceaccount", "default", "-n", "team"],
    );
    until(
        &server,
        kubectl,
        &["get", "serviceaccount", "-n", "team", "-o", "name"],
        |out| names(out) == ["serviceaccount/default"],
    );
}

#[test]
fn deleting_a_namespace_deletes_everything_in_it() {
    let server = server();
    for kubectl in &kubectls() {
        ok(&server, kubectl, &["create", "namespace", "doomed"]);
        ok(
            &server,
            kubectl,
            &[
                "create",
                "configmap",
                "settings",
                "-n",
                "doomed",
                "--from-literal=a=b",
            ],
        );
        ok(
            &server,
            kubectl,
            &[
                "create",
                "secret",
                "generic",
                "password",
                "-n",
                "doomed",
                "--from-literal=p=q",
            ],
        );
        ok(
            &server,
            kubectl,
            &[
                "create",
                "deployment",
                "web",
                "-n",
                "doomed",
                "--image=nginx",
                "--replicas=2",
            ],
        );
        // kubectl waits until the namespace is gone.
        let deleted = ok(
            &server,
            kubectl,
            &["delete", "namespace", "doomed", "--timeout=120s"],
        );
        assert!(
            deleted.contains("namespace \"doomed\" deleted"),
            "{deleted}"
        );
        let gone = fails(&server, kubectl, &["get", "namespace", "doomed"]);
        assert!(gone.contains("NotFound"), "{gone}");
        for resource in [
            "configmaps",
            "secrets",
            "deployments",
            "replicasets",
            "pods",
        ] {
            let left = ok(
                &server,
                kubectl,
                &["get", resource, "-n", "doomed", "-o", "name"],
            );
            assert!(left.is_empty(), "{resource} left: {left}");
        }
    }
}

#[test]
fn a_namespace_waits_for_the_finalizers_of_its_content() {
    let server = server();
    let kubectl = &kubectls()[0];
    ok(&server, kubectl, &["create", "namespace", "held"]);
    let held = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: held\n  finalizers:\n  - example.com/hold\n";
    let output = run(&server, kubectl, &["apply", "-f", "-"], Some(held));
    assert!(output.status.success(), "{}", text(&output));
    ok(
        &server,
        kubectl,
        &["delete", "namespace", "held", "--wait=false"],
    );
    let phase = ok(
        &server,
        kubectl,
        &["get", "namespace", "held", "-o", "jsonpath={.status.phase}"],
    );
    assert_eq!(phase, "Terminating");
    let message = until(
        &server,
        kubectl,
        &[
            "get",
            "namespace",
            "held",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"NamespaceFinalizersRemaining\")].message}",
        ],
        |out| !out.is_empty(),
    );
    assert_eq!(
        message,
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    let remaining = ok(
        &server,
        kubectl,
        &[
            "get",
            "namespace",
            "held",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"NamespaceContentRemaining\")].message}",
        ],
    );
    assert_eq!(
        remaining,
        "Some resources are remaining: configmaps. has 1 resource instances"
    );
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "configmap",
            "held",
            "-n",
            "held",
            "--type=merge",
            "-p",
            "{\"metadata\":{\"finalizers\":null}}",
        ],
    );
    ok(
        &server,
        kubectl,
        &["wait", "--for=delete", "namespace/held", "--timeout=120s"],
    );
}
