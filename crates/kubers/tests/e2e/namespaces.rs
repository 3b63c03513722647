//! The namespace controller and the service account controllers inside `kubers server`: a new
//! namespace gets its default ServiceAccount and the root CA ConfigMap; a deleted one waits for
//! everything in it, finalizers included. No node runs pods here: the checks are about objects.

use crate::converge::until;
use crate::workloads::*;
use crate::*;

#[test]
fn a_new_namespace_gets_a_default_service_account_and_the_root_ca() {
    let server = server();
    let kubectl = &kubectls()[1];
    ok(&server, kubectl, &["create", "namespace", "team"]);
    until(
        &server,
        kubectl,
        &["get", "serviceaccount", "-n", "team", "-o", "name"],
        |out| lines(out) == ["serviceaccount/default"],
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
        |out| lines(out) == ["serviceaccount/default"],
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
