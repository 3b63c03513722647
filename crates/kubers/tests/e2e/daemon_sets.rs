//! The DaemonSet controller inside `kubers server`: one pod per node its selector admits, pinned
//! to the node, replaced when deleted.

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

#[test]
fn a_daemon_set_runs_one_pod_per_eligible_node() {
    let server = server();
    let kubectl = &kubectls()[1];
    let nodes = "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n  labels:\n    disk: ssd\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-b\n  labels:\n    disk: hdd\n";
    apply(&server, kubectl, nodes);
    let daemon_set = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    spec:\n      nodeSelector:\n        disk: ssd\n      containers:\n      - name: c\n        image: busybox:1.36\n";
    apply(&server, kubectl, daemon_set);
    let pods = pods_with(&server, kubectl, "app=agent", 1);
    let pinned = ok(
        &server,
        kubectl,
        &[
            "get",
            &pods[0],
            "-o",
            "jsonpath={.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]}",
        ],
    );
    assert_eq!(pinned, "node-a");
    // A node that becomes eligible gets a pod; a deleted node's pod goes.
    ok(
        &server,
        kubectl,
        &["label", "node", "node-b", "disk=ssd", "--overwrite"],
    );
    pods_with(&server, kubectl, "app=agent", 2);
    until(
        &server,
        kubectl,
        &[
            "get",
            "ds",
            "agent",
            "-o",
            "jsonpath={.status.desiredNumberScheduled}/{.status.currentNumberScheduled}",
        ],
        |out| out == "2/2",
    );
    ok(&server, kubectl, &["delete", "node", "node-a"]);
    let left = pods_with(&server, kubectl, "app=agent", 1);
    let node = ok(
        &server,
        kubectl,
        &[
            "get",
            &left[0],
            "-o",
            "jsonpath={.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]}",
        ],
    );
    assert_eq!(node, "node-b");
    // A template change replaces the pod (RollingUpdate).
    let old = left[0].clone();
    ok(
        &server,
        kubectl,
        &["set", "image", "ds/agent", "c=busybox:1.37"],
    );
    until(
        &server,
        kubectl,
        &["get", "pods", "-l", "app=agent", "-o", "name"],
        |out| lines(out).len() == 1 && !out.contains(old.as_str()),
    );
}
