//! The Deployment controller inside `kubers server`: rolling out, scaling, rolling back, pausing,
//! and the Recreate strategy, observed through the ReplicaSets and their revisions. No node runs
//! pods here; tests play the kubelet where readiness matters.

use std::path::Path;

use kubers_testkit::server::TestServer;

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 100%
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: c
        image: busybox:1.36
";

/// `name=replicas` for each ReplicaSet labelled `app=web`, sorted.
fn replica_sets(server: &TestServer, kubectl: &Path) -> Vec<String> {
    let listed = ok(
        server,
        kubectl,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas}{\"\\n\"}{end}",
        ],
    );
    let mut lines: Vec<String> = listed.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn a_deployment_rolls_out_scales_and_rolls_back() {
    let server = server();
    let kubectl = &kubectls()[1];
    apply(&server, kubectl, DEPLOYMENT);
    pods_with(&server, kubectl, "app=web", 2);
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |out| lines(out).len() == 1,
    );
    let hash = ok(
        &server,
        kubectl,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.labels.pod-template-hash}",
        ],
    );
    let rs_name = ok(
        &server,
        kubectl,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ],
    );
    assert_eq!(rs_name, format!("web-{hash}"));
    until(
        &server,
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}/{.status.replicas}/{.status.observedGeneration}",
        ],
        |out| out == "1/2/1",
    );
    let available = ok(
        &server,
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Available\")].reason}",
        ],
    );
    assert_eq!(available, "MinimumReplicasAvailable");

    // Scaling changes the pod count.
    ok(
        &server,
        kubectl,
        &["scale", "deployment", "web", "--replicas=3"],
    );
    pods_with(&server, kubectl, "app=web", 3);

    // A new image is a new ReplicaSet (revision 2) that takes over.
    ok(
        &server,
        kubectl,
        &["set", "image", "deployment/web", "c=busybox:1.37"],
    );
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |out| lines(out).len() == 2,
    );
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |_| replica_sets(&server, kubectl) == ["1=0", "2=3"],
    );
    let history = ok(&server, kubectl, &["rollout", "history", "deployment/web"]);
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
    );
    let events = until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=Deployment",
            "-o",
            "jsonpath={.items[*].message}",
        ],
        |out| out.contains("Scaled down replica set"),
    );
    assert!(
        events.contains(&format!("Scaled up replica set {rs_name} from 0 to 2")),
        "{events}"
    );

    // Undo goes back to the first template, as revision 3.
    let undone = ok(&server, kubectl, &["rollout", "undo", "deployment/web"]);
    assert!(undone.contains("rolled back"), "{undone}");
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |_| replica_sets(&server, kubectl) == ["2=0", "3=3"],
    );
    let image = ok(
        &server,
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(image, "busybox:1.36");

    // Paused: a template change waits for resume.
    ok(&server, kubectl, &["rollout", "pause", "deployment/web"]);
    until(
        &server,
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}",
        ],
        |out| out == "DeploymentPaused",
    );
    ok(
        &server,
        kubectl,
        &["set", "image", "deployment/web", "c=busybox:1.35"],
    );
    let status = ok(
        &server,
        kubectl,
        &["rollout", "status", "deployment/web", "--watch=false"],
    );
    assert!(
        status.contains("Waiting for deployment \"web\" rollout to finish"),
        "{status}"
    );
    assert_eq!(replica_sets(&server, kubectl), ["2=0", "3=3"]);
    ok(&server, kubectl, &["rollout", "resume", "deployment/web"]);
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |_| replica_sets(&server, kubectl) == ["2=0", "3=0", "4=3"],
    );
    // The new pods exist but never become available without nodes.
    until(
        &server,
        kubectl,
        &["rollout", "status", "deployment/web", "--watch=false"],
        |out| out.contains("0 of 3 updated replicas are available"),
    );
}

#[test]
fn a_recreate_deployment_replaces_every_pod_at_once() {
    let server = server();
    let kubectl = &kubectls()[0];
    let manifest = DEPLOYMENT.replace(
        "    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 100%\n",
        "    type: Recreate\n",
    );
    apply(&server, kubectl, &manifest);
    pods_with(&server, kubectl, "app=web", 2);
    ok(
        &server,
        kubectl,
        &["set", "image", "deployment/web", "c=busybox:1.37"],
    );
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |_| replica_sets(&server, kubectl) == ["1=0", "2=2"],
    );
    let images = until(
        &server,
        kubectl,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ],
        |out| out == "busybox:1.37 busybox:1.37",
    );
    assert_eq!(images, "busybox:1.37 busybox:1.37");
}
