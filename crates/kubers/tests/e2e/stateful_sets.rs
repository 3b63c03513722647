//! The StatefulSet controller inside `kubers server`: ordered starts, stable names, hostnames and
//! claims, and scaling down from the highest ordinal.

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

#[test]
fn a_stateful_set_starts_its_pods_in_order_with_stable_names() {
    let server = server();
    let kubectl = &kubectls()[1];
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  clusterIP: None\n  selector:\n    app: db\n  ports:\n  - port: 5432\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  replicas: 3\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      labels:\n        app: db\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources:\n        requests:\n          storage: 1Gi\n";
    apply(&server, kubectl, manifest);
    // OrderedReady: db-1 waits for db-0 to run and be ready.
    assert_eq!(pods_with(&server, kubectl, "app=db", 1), ["pod/db-0"]);
    let identity = ok(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "db-0",
            "-o",
            "jsonpath={.spec.hostname}.{.spec.subdomain}/{.metadata.labels.statefulset\\.kubernetes\\.io/pod-name}/{.spec.volumes[?(@.name==\"data\")].persistentVolumeClaim.claimName}",
        ],
    );
    assert_eq!(identity, "db-0.db/db-0/data-db-0");
    ok(&server, kubectl, &["get", "pvc", "data-db-0"]);
    make_ready(&server, kubectl, "pod/db-0");
    assert_eq!(
        pods_with(&server, kubectl, "app=db", 2),
        ["pod/db-0", "pod/db-1"]
    );
    make_ready(&server, kubectl, "pod/db-1");
    assert_eq!(
        pods_with(&server, kubectl, "app=db", 3),
        ["pod/db-0", "pod/db-1", "pod/db-2"]
    );
    make_ready(&server, kubectl, "pod/db-2");
    until(
        &server,
        kubectl,
        &[
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.replicas}/{.status.readyReplicas}",
        ],
        |out| out == "3/3",
    );
    // A deleted pod comes back with the same name.
    ok(&server, kubectl, &["delete", "pod", "db-1"]);
    until(
        &server,
        kubectl,
        &["get", "pod", "db-1", "-o", "name"],
        |out| out.trim() == "pod/db-1",
    );
    make_ready(&server, kubectl, "pod/db-1");
    // Scaling down removes the highest ordinals.
    ok(&server, kubectl, &["scale", "sts", "db", "--replicas=1"]);
    assert_eq!(pods_with(&server, kubectl, "app=db", 1), ["pod/db-0"]);
}
