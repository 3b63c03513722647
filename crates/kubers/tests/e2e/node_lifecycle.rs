//! Nodes that are gone or silent: pods bound to a node that does not exist are collected, and a
//! node whose kubelet never reports goes Unknown, is tainted, and loses the pods that do not
//! tolerate that.

use crate::converge::{apply, until};
use crate::*;

#[test]
fn pods_of_a_node_that_does_not_exist_are_collected() {
    let server = server();
    let kubectl = &kubectls()[0];
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stranded\nspec:\n  nodeName: ghost\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    apply(&server, kubectl, manifest);
    // After upstream's 40 s quarantine the pod is force-deleted.
    until(&server, kubectl, &["get", "pods", "-o", "name"], |out| {
        !out.contains("pod/stranded")
    });
}

#[test]
fn a_silent_node_goes_unknown_and_its_intolerant_pods_are_evicted() {
    let server = server();
    let kubectl = &kubectls()[0];
    let manifest = "apiVersion: v1\nkind: Node\nmetadata:\n  name: lonely\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: brief\nspec:\n  nodeName: lonely\n  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n    tolerationSeconds: 1\n  containers:\n  - name: c\n    image: busybox:1.36\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: steady\nspec:\n  nodeName: lonely\n  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    apply(&server, kubectl, manifest);
    // No kubelet ever renews its Lease: after the 40 s grace period the node is Unknown.
    let reason = until(
        &server,
        kubectl,
        &[
            "get",
            "node",
            "lonely",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}/{.status.conditions[?(@.type==\"Ready\")].reason}",
        ],
        |out| out.starts_with("Unknown"),
    );
    assert_eq!(reason, "Unknown/NodeStatusNeverUpdated");
    until(
        &server,
        kubectl,
        &[
            "get",
            "node",
            "lonely",
            "-o",
            "jsonpath={.spec.taints[*].key}/{.spec.taints[*].effect}",
        ],
        |out| {
            out == "node.kubernetes.io/unreachable node.kubernetes.io/unreachable/NoSchedule NoExecute"
        },
    );
    // The pod that tolerates the taint for a second is evicted (it waits for its kubelet, which
    // never comes); the one that tolerates it for ever stays.
    until(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "brief",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
        |out| !out.is_empty(),
    );
    let steady = ok(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "steady",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
    );
    assert!(steady.is_empty(), "{steady}");
}
