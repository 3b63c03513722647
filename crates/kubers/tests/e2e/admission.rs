//! Admission on the paths besides plain writes: subresource creates (`kubectl create token`,
//! `pods/binding`, `pods/eviction`) in a terminating namespace are refused with upstream's
//! NamespaceLifecycle message, while scale updates and deletes, one by one or as a collection, go
//! through.

use crate::*;

const HELD: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: doomed\n  finalizers:\n  - example.com/hold\n";

const TERMINATING: &str =
    "is forbidden: unable to create new content in namespace doomed because it is being terminated";

/// Writes `body` to a file in a fresh directory, for `kubectl create --raw -f`.
fn body_file(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, body).expect("write body");
    path.display().to_string()
}

#[test]
fn subresource_creates_in_a_terminating_namespace() {
    let server = server();
    let dir = tempfile::tempdir().expect("tempdir");
    let binding = body_file(
        &dir,
        "binding.json",
        r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"node-1"}}"#,
    );
    let eviction = body_file(
        &dir,
        "eviction.json",
        r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p"}}"#,
    );
    for kubectl in &kubectls() {
        let output = run(&server, kubectl, &["apply", "-f", "-"], Some(HELD));
        assert!(output.status.success(), "{}", text(&output));
        ok(
            &server,
            kubectl,
            &["create", "serviceaccount", "robot", "-n", "doomed"],
        );
        let deployment = ok(
            &server,
            kubectl,
            &[
                "create",
                "deployment",
                "web",
                "--image=busybox:1.36",
                "-n",
                "doomed",
            ],
        );
        assert!(deployment.contains("created"), "{deployment}");
        ok(
            &server,
            kubectl,
            &["delete", "namespace", "doomed", "--wait=false"],
        );

        let token = fails(
            &server,
            kubectl,
            &["create", "token", "robot", "-n", "doomed"],
        );
        assert!(
            token.contains(&format!(r#"serviceaccounts "robot" {TERMINATING}"#)),
            "{token}"
        );
        let bound = fails(
            &server,
            kubectl,
            &[
                "create",
                "--raw",
                "/api/v1/namespaces/doomed/pods/p/binding",
                "-f",
                &binding,
            ],
        );
        assert!(
            bound.contains(&format!(r#"pods "p" {TERMINATING}"#)),
            "{bound}"
        );
        let evicted = fails(
            &server,
            kubectl,
            &[
                "create",
                "--raw",
                "/api/v1/namespaces/doomed/pods/p/eviction",
                "-f",
                &eviction,
            ],
        );
        assert!(
            evicted.contains(&format!(r#"pods "p" {TERMINATING}"#)),
            "{evicted}"
        );
        let created = fails(
            &server,
            kubectl,
            &["create", "configmap", "c", "-n", "doomed"],
        );
        assert!(
            created.contains(&format!(r#"configmaps "c" {TERMINATING}"#)),
            "{created}"
        );

        // Releasing the namespace is an update, which a terminating namespace still takes.
        ok(
            &server,
            kubectl,
            &[
                "patch",
                "namespace",
                "doomed",
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ],
        );
        ok(
            &server,
            kubectl,
            &["wait", "--for=delete", "namespace/doomed", "--timeout=60s"],
        );
    }
}

#[test]
fn scale_and_collection_deletes_pass_admission() {
    let server = server();
    for kubectl in &kubectls() {
        ok(&server, kubectl, &["create", "namespace", "team"]);
        for name in ["a", "b", "c"] {
            ok(
                &server,
                kubectl,
                &[
                    "create",
                    "configmap",
                    name,
                    "-n",
                    "team",
                    "--from-literal=k=v",
                ],
            );
        }
        ok(
            &server,
            kubectl,
            &["label", "configmap", "c", "keep=yes", "-n", "team"],
        );
        let deleted = ok(
            &server,
            kubectl,
            &["delete", "configmap", "-n", "team", "-l", "!keep"],
        );
        assert!(
            deleted.contains(r#"configmap "a" deleted"#)
                && deleted.contains(r#"configmap "b" deleted"#),
            "{deleted}"
        );
        // The collection DELETE itself (what the namespace controller sends).
        ok(
            &server,
            kubectl,
            &[
                "delete",
                "--raw",
                "/api/v1/namespaces/team/configmaps?labelSelector=keep%3Dyes",
            ],
        );
        let left = ok(
            &server,
            kubectl,
            &["get", "configmaps", "-n", "team", "-o", "name"],
        );
        assert!(
            !left.contains("configmap/a") && !left.contains("configmap/c"),
            "{left}"
        );
        ok(
            &server,
            kubectl,
            &["create", "configmap", "d", "-n", "team"],
        );
        let all = ok(&server, kubectl, &["delete", "cm", "--all", "-n", "team"]);
        assert!(all.contains(r#"configmap "d" deleted"#), "{all}");

        ok(
            &server,
            kubectl,
            &[
                "create",
                "deployment",
                "web",
                "--image=busybox:1.36",
                "-n",
                "team",
            ],
        );
        let scaled = ok(
            &server,
            kubectl,
            &["scale", "deployment", "web", "--replicas=3", "-n", "team"],
        );
        assert!(scaled.contains("scaled"), "{scaled}");
        let replicas = ok(
            &server,
            kubectl,
            &[
                "get",
                "deployment",
                "web",
                "-n",
                "team",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
        );
        assert_eq!(replicas, "3");
        let missing = fails(
            &server,
            kubectl,
            &["scale", "deployment", "web", "--replicas=1", "-n", "nope"],
        );
        assert!(
            missing.contains(r#"namespaces "nope" not found"#),
            "{missing}"
        );
        ok(
            &server,
            kubectl,
            &["delete", "namespace", "team", "--wait=false"],
        );
        ok(
            &server,
            kubectl,
            &["wait", "--for=delete", "namespace/team", "--timeout=60s"],
        );
    }
}
