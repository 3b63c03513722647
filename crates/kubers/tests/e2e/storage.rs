//! Persistent storage: the PersistentVolume controller binds static volumes to claims (smallest
//! fitting, `spec.volumeName` and `claimRef` pre-binding) and releases them; the default
//! `local-path` class waits for the first consumer, the scheduler picks the node and the
//! provisioner makes a node-pinned volume there; the scheduler explains claims it cannot use.

use std::path::Path;

use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::NodeTemplate;

use crate::converge::*;
use crate::*;

fn volume(name: &str, size: &str, class: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\nspec:\n  capacity:\n    storage: {size}\n  accessModes: [ReadWriteOnce]\n  storageClassName: \"{class}\"\n  hostPath:\n    path: /tmp/kubers-e2e/{name}\n{extra}"
    )
}

fn claim(name: &str, size: &str, class: Option<&str>, extra: &str) -> String {
    let class = class
        .map(|class| format!("  storageClassName: \"{class}\"\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: {size}\n{class}{extra}"
    )
}

fn pod_with_claim(name: &str, claim: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n    volumeMounts:\n    - name: data\n      mountPath: /data\n  volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: {claim}\n"
    )
}

fn annotation(server: &TestServer, kubectl: &Path, object: &[&str], key: &str) -> String {
    field(
        server,
        kubectl,
        object,
        &format!("{{.metadata.annotations.{}}}", key.replace('.', "\\.")),
    )
}

#[test]
fn static_volumes_bind_to_matching_claims_and_are_released() {
    let server = server();
    let kubectl = &kubectls()[1];
    for (name, size) in [("small", "500Mi"), ("fit", "1Gi"), ("big", "5Gi")] {
        apply(&server, kubectl, &volume(name, size, "manual", ""));
    }
    until_field(
        &server,
        kubectl,
        &["pv", "fit"],
        "{.status.phase}",
        "Available",
    );
    apply(&server, kubectl, &claim("data", "1Gi", Some("manual"), ""));
    until_field(
        &server,
        kubectl,
        &["pvc", "data"],
        "{.status.phase}",
        "Bound",
    );
    assert_eq!(
        field(&server, kubectl, &["pvc", "data"], "{.spec.volumeName}"),
        "fit",
        "the smallest volume that is large enough"
    );
    until_field(&server, kubectl, &["pv", "fit"], "{.status.phase}", "Bound");
    assert_eq!(
        field(
            &server,
            kubectl,
            &["pv", "fit"],
            "{.spec.claimRef.namespace}/{.spec.claimRef.name}"
        ),
        "default/data"
    );
    assert_eq!(
        annotation(
            &server,
            kubectl,
            &["pv", "fit"],
            "pv.kubernetes.io/bound-by-controller"
        ),
        "yes"
    );
    for key in [
        "pv.kubernetes.io/bind-completed",
        "pv.kubernetes.io/bound-by-controller",
    ] {
        assert_eq!(annotation(&server, kubectl, &["pvc", "data"], key), "yes");
    }
    assert_eq!(
        field(
            &server,
            kubectl,
            &["pvc", "data"],
            "{.status.capacity.storage} {.status.accessModes[0]}"
        ),
        "1Gi ReadWriteOnce"
    );
    let table = ok(&server, kubectl, &["get", "pvc", "data"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..6],
        ["data", "Bound", "fit", "1Gi", "RWO", "manual"],
        "{table}"
    );

    // A claim may name its volume, and a volume may be reserved for a claim.
    apply(
        &server,
        kubectl,
        &claim("named", "1Gi", Some("manual"), "  volumeName: big\n"),
    );
    apply(
        &server,
        kubectl,
        &volume(
            "reserved",
            "1Gi",
            "manual",
            "  claimRef:\n    namespace: default\n    name: later\n",
        ),
    );
    until_field(
        &server,
        kubectl,
        &["pvc", "named"],
        "{.status.phase}",
        "Bound",
    );
    assert_eq!(
        field(&server, kubectl, &["pvc", "named"], "{.spec.volumeName}"),
        "big"
    );
    apply(
        &server,
        kubectl,
        &claim("later", "100Mi", Some("manual"), ""),
    );
    until_field(
        &server,
        kubectl,
        &["pvc", "later"],
        "{.spec.volumeName}",
        "reserved",
    );
    until_field(
        &server,
        kubectl,
        &["pv", "reserved"],
        "{.status.phase}",
        "Bound",
    );

    // Nothing fits and no class provisions: upstream's event.
    apply(&server, kubectl, &claim("nothing", "100Gi", Some(""), ""));
    until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=nothing,reason=FailedBinding",
            "-o",
            "jsonpath={.items[0].message}|{.items[0].type}|{.items[0].source.component}",
        ],
        |out| {
            out == "no persistent volumes available for this claim and no storage class is set|Normal|persistentvolume-controller"
        },
    );
    assert_eq!(
        field(&server, kubectl, &["pvc", "nothing"], "{.status.phase}"),
        "Pending"
    );

    // Deleting the claim releases its volume, which its Retain policy keeps.
    ok(&server, kubectl, &["delete", "pvc", "data"]);
    until_field(
        &server,
        kubectl,
        &["pv", "fit"],
        "{.status.phase}",
        "Released",
    );
    assert_eq!(
        field(
            &server,
            kubectl,
            &["pv", "fit"],
            "{.spec.persistentVolumeReclaimPolicy}"
        ),
        "Retain"
    );
    // A Delete policy removes a static hostPath volume under /tmp (the only ones upstream's in-tree
    // deleter takes).
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "pv",
            "small",
            "--type=merge",
            "-p",
            r#"{"spec":{"persistentVolumeReclaimPolicy":"Delete","claimRef":{"namespace":"default","name":"gone","uid":"0000"}}}"#,
        ],
    );
    until(&server, kubectl, &["get", "pv", "-o", "name"], |out| {
        !out.contains("persistentvolume/small")
    });
}
