//! ReplicaSets and ReplicationControllers keep their pods (pods stay Pending: no node runs
//! them), and deleting an owner cascades to its pods as the propagation policy says.

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

fn replica_set(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n"
    )
}

#[test]
fn a_replica_set_keeps_its_pods() {
    let server = server();
    let kubectl = &kubectls()[1];
    apply(&server, kubectl, &replica_set("web", 3));
    let pods = pods_with(&server, kubectl, "app=web", 3);
    let owner = ok(
        &server,
        kubectl,
        &[
            "get",
            &pods[0],
            "-o",
            "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}",
        ],
    );
    assert_eq!(owner, "ReplicaSet/web/true");
    until(
        &server,
        kubectl,
        &[
            "get",
            "rs",
            "web",
            "-o",
            "jsonpath={.status.replicas}/{.status.fullyLabeledReplicas}/{.status.observedGeneration}",
        ],
        |out| out == "3/3/1",
    );
    // A deleted pod is replaced.
    ok(&server, kubectl, &["delete", &pods[0]]);
    let replaced = until(
        &server,
        kubectl,
        &["get", "pods", "-l", "app=web", "-o", "name"],
        |out| lines(out).len() == 3 && !lines(out).contains(&pods[0].as_str()),
    );
    assert_eq!(lines(&replaced).len(), 3);
    // Scaling down deletes, scaling up creates.
    ok(&server, kubectl, &["scale", "rs", "web", "--replicas=1"]);
    pods_with(&server, kubectl, "app=web", 1);
    ok(&server, kubectl, &["scale", "rs", "web", "--replicas=2"]);
    pods_with(&server, kubectl, "app=web", 2);
    let events = until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=web",
            "-o",
            "jsonpath={.items[*].reason}",
        ],
        |out| out.contains("SuccessfulDelete"),
    );
    assert!(events.contains("SuccessfulCreate"), "{events}");
    // An orphan that matches is adopted (and, one too many, deleted again or kept instead of
    // another); a pod whose labels stop matching is released and replaced.
    let orphan = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stray\n  labels:\n    app: web\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    apply(&server, kubectl, orphan);
    until(
        &server,
        kubectl,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={range .items[*]}{.metadata.ownerReferences[0].name}{\"\\n\"}{end}",
        ],
        |out| out.lines().filter(|line| *line == "web").count() == 2 && out.lines().count() == 2,
    );
    let kept = pods_with(&server, kubectl, "app=web", 2);
    ok(
        &server,
        kubectl,
        &["label", "--overwrite", &kept[0], "app=other"],
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            &kept[0],
            "-o",
            "jsonpath={.metadata.ownerReferences}",
        ],
        |out| out.is_empty(),
    );
    pods_with(&server, kubectl, "app=web", 2);
}

#[test]
fn a_replication_controller_keeps_its_pods() {
    let server = server();
    let kubectl = &kubectls()[0];
    let manifest = "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: legacy\nspec:\n  replicas: 2\n  selector:\n    app: legacy\n  template:\n    metadata:\n      labels:\n        app: legacy\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n";
    apply(&server, kubectl, manifest);
    pods_with(&server, kubectl, "app=legacy", 2);
    until(
        &server,
        kubectl,
        &["get", "rc", "legacy", "-o", "jsonpath={.status.replicas}"],
        |out| out == "2",
    );
    // kubectl deletes in the background: the pods follow.
    ok(&server, kubectl, &["delete", "rc", "legacy"]);
    pods_with(&server, kubectl, "app=legacy", 0);
}

#[test]
fn cascading_deletes_follow_the_propagation_policy() {
    let server = server();
    let kubectl = &kubectls()[1];
    // Orphan: the pods stay, without the reference to their owner.
    apply(&server, kubectl, &replica_set("kept", 2));
    let pods = pods_with(&server, kubectl, "app=kept", 2);
    ok(
        &server,
        kubectl,
        &["delete", "rs", "kept", "--cascade=orphan"],
    );
    fails(&server, kubectl, &["get", "rs", "kept"]);
    for pod in &pods {
        until(
            &server,
            kubectl,
            &["get", pod, "-o", "jsonpath={.metadata.ownerReferences}"],
            |out| out.is_empty(),
        );
    }
    assert_eq!(pods_with(&server, kubectl, "app=kept", 2), pods);

    // Background: the owner goes at once, the collector deletes the pods.
    apply(&server, kubectl, &replica_set("background", 2));
    pods_with(&server, kubectl, "app=background", 2);
    ok(
        &server,
        kubectl,
        &["delete", "rs", "background", "--cascade=background"],
    );
    pods_with(&server, kubectl, "app=background", 0);

    // Foreground: the owner waits (foregroundDeletion) until its pods are gone.
    apply(&server, kubectl, &replica_set("foreground", 2));
    pods_with(&server, kubectl, "app=foreground", 2);
    ok(
        &server,
        kubectl,
        &[
            "delete",
            "rs",
            "foreground",
            "--cascade=foreground",
            "--timeout=120s",
        ],
    );
    fails(&server, kubectl, &["get", "rs", "foreground"]);
    pods_with(&server, kubectl, "app=foreground", 0);

    // A Deployment deleted in the background takes its ReplicaSet and pods along.
    ok(
        &server,
        kubectl,
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
        ],
    );
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |out| lines(out).len() == 1,
    );
    ok(&server, kubectl, &["delete", "deployment", "web"]);
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |out| out.is_empty(),
    );
    pods_with(&server, kubectl, "app=web", 0);
}
