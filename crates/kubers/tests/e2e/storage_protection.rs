//! Storage object in-use protection: new claims and volumes carry `kubernetes.io/pvc-protection`
//! and `kubernetes.io/pv-protection`; a deleted claim a scheduled pod uses stays `Terminating`
//! until the pod goes, and a deleted volume stays until it is no longer bound. On a real node, the
//! local-path provisioner removes a released volume's directory with a helper pod.

use std::path::Path;

use kubers_testkit::images::BUSYBOX_IMAGE;
use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::NodeTemplate;

use crate::converge::*;
use crate::node::{cluster, eventually, kubectl, kubectl_output, wait_for};
use crate::*;

fn volume(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\nspec:\n  capacity:\n    storage: 1Gi\n  accessModes: [ReadWriteOnce]\n  persistentVolumeReclaimPolicy: Retain\n  storageClassName: manual\n  hostPath:\n    path: /tmp/kubers-e2e/{name}\n"
    )
}

/// A claim of the `manual` class pre-bound to `volume`.
fn claim(name: &str, volume: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n  accessModes: [ReadWriteOnce]\n  storageClassName: manual\n  volumeName: {volume}\n  resources:\n    requests:\n      storage: 1Gi\n"
    )
}

fn names(server: &TestServer, kubectl: &Path, kind: &str) -> String {
    ok(server, kubectl, &["get", kind, "-o", "name"])
}

/// Deletes an unused claim (or volume) and waits until it is gone: the protection controllers
/// handle keys in order, so every deletion queued before this one has been decided too.
fn delete_and_wait(server: &TestServer, kubectl: &Path, kind: &str, name: &str) {
    ok(server, kubectl, &["delete", kind, name, "--wait=false"]);
    until(server, kubectl, &["get", kind, "-o", "name"], |out| {
        !out.lines().any(|line| line.ends_with(&format!("/{name}")))
    });
}

#[test]
fn claims_in_use_and_bound_volumes_wait_for_their_finalizers() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(&server, vec![NodeTemplate::new("sim-a")]);
    for name in ["pv-data", "pv-held", "pv-spare", "pv-free"] {
        apply(&server, kubectl, &volume(name));
    }
    apply(&server, kubectl, &claim("data", "pv-data"));
    apply(&server, kubectl, &claim("held", "pv-held"));
    apply(&server, kubectl, &claim("spare", "pv-spare"));
    for name in ["data", "held", "spare"] {
        until_field(&server, kubectl, &["pvc", name], "{.status.phase}", "Bound");
    }
    assert_eq!(
        field(&server, kubectl, &["pvc", "data"], "{.metadata.finalizers}"),
        r#"["kubernetes.io/pvc-protection"]"#
    );
    assert_eq!(
        field(
            &server,
            kubectl,
            &["pv", "pv-data"],
            "{.metadata.finalizers}"
        ),
        r#"["kubernetes.io/pv-protection"]"#
    );

    // A running pod uses "data": deleting the claim leaves it Terminating.
    apply(
        &server,
        kubectl,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: user\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n    volumeMounts:\n    - {name: d, mountPath: /data}\n  volumes:\n  - name: d\n    persistentVolumeClaim: {claimName: data}\n",
    );
    until_field(
        &server,
        kubectl,
        &["pod", "user"],
        "{.status.phase}",
        "Running",
    );
    ok(&server, kubectl, &["delete", "pvc", "data", "--wait=false"]);
    delete_and_wait(&server, kubectl, "pvc", "spare");
    assert_eq!(
        field(
            &server,
            kubectl,
            &["pvc", "data"],
            "{.metadata.finalizers} {.status.phase}"
        ),
        r#"["kubernetes.io/pvc-protection"] Bound"#
    );
    let table = ok(&server, kubectl, &["get", "pvc", "data", "--no-headers"]);
    assert_eq!(
        table.split_whitespace().take(3).collect::<Vec<_>>(),
        ["data", "Terminating", "pv-data"],
        "{table}"
    );
    for kubectl in &kubectls() {
        let described = ok(&server, kubectl, &["describe", "pvc", "data"]);
        let line = |key: &str| {
            described
                .lines()
                .find(|line| line.starts_with(key))
                .map(|line| line[key.len()..].trim().to_owned())
                .unwrap_or_default()
        };
        assert!(
            line("Status:").starts_with("Terminating (lasts "),
            "{described}"
        );
        assert_eq!(line("Used By:"), "user", "{described}");
        assert_eq!(
            line("Finalizers:"),
            "[kubernetes.io/pvc-protection]",
            "{described}"
        );
    }
    // The pod goes, and the claim with it; its Retain volume is released and stays.
    ok(&server, kubectl, &["delete", "pod", "user", "--wait=true"]);
    until(&server, kubectl, &["get", "pvc", "-o", "name"], |out| {
        !out.contains("persistentvolumeclaim/data\n")
    });
    until_field(
        &server,
        kubectl,
        &["pv", "pv-data"],
        "{.status.phase}",
        "Released",
    );

    // A bound volume deleted stays until its claim lets it go.
    ok(
        &server,
        kubectl,
        &["delete", "pv", "pv-held", "--wait=false"],
    );
    delete_and_wait(&server, kubectl, "pv", "pv-free");
    assert_eq!(
        field(
            &server,
            kubectl,
            &["pv", "pv-held"],
            "{.metadata.finalizers} {.status.phase}"
        ),
        r#"["kubernetes.io/pv-protection"] Bound"#
    );
    let table = ok(&server, kubectl, &["get", "pv", "pv-held", "--no-headers"]);
    assert!(
        table.split_whitespace().any(|cell| cell == "Terminating"),
        "{table}"
    );
    delete_and_wait(&server, kubectl, "pvc", "held");
    until(&server, kubectl, &["get", "pv", "-o", "name"], |out| {
        !out.contains("persistentvolume/pv-held\n")
    });
    assert!(
        names(&server, kubectl, "pv").contains("persistentvolume/pv-data\n"),
        "a released volume nobody deletes stays"
    );
}

#[test]
fn local_path_directories_go_with_their_released_volume() {
    let cluster = cluster();
    let manifest = format!(
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: scratch
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: writer
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo kept > /data/file; trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: scratch}}
"#
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    wait_for(
        &cluster,
        "writer",
        "{.status.containerStatuses[0].ready}",
        |ready| ready == "true",
    );
    let volume = kubectl(
        &cluster,
        &["get", "pvc", "scratch", "-o", "jsonpath={.spec.volumeName}"],
        None,
    );
    let dir = cluster
        .data_dir()
        .join("storage")
        .join(format!("{volume}_default_scratch"));
    eventually("the pod's file in the volume", &cluster, || {
        std::fs::read_to_string(dir.join("file"))
            .ok()
            .filter(|content| content == "kept\n")
    });

    // The claim waits for its pod, then its volume goes with its directory.
    kubectl(
        &cluster,
        &["delete", "pvc", "scratch", "--wait=false"],
        None,
    );
    kubectl(
        &cluster,
        &["delete", "pod", "writer", "--timeout=60s"],
        None,
    );
    eventually("the volume deleted", &cluster, || {
        let output = kubectl_output(&cluster, &["get", "pv", "-o", "name"], None);
        (output.status.success() && !String::from_utf8_lossy(&output.stdout).contains(&volume))
            .then_some(())
    });
    assert!(!dir.exists(), "{} is left", dir.display());
    assert!(
        cluster.data_dir().join("storage").is_dir(),
        "the storage directory stays"
    );
    let helper = format!("helper-pod-delete-{volume}");
    eventually("the helper pod removed", &cluster, || {
        let output = kubectl_output(
            &cluster,
            &["get", "pods", "-n", "kube-system", "-o", "name"],
            None,
        );
        (output.status.success() && !String::from_utf8_lossy(&output.stdout).contains(&helper))
            .then_some(())
    });
}
