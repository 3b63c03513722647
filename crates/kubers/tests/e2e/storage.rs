//! Persistent storage: the PersistentVolume controller binds static volumes to claims (smallest
//! fitting, `spec.volumeName` and `claimRef` pre-binding) and releases them; the default
//! `local-path` class waits for the first consumer, the scheduler picks the node and the
//! provisioner makes a node-pinned volume there, and removes its directory through a helper pod on
//! that node once it is released; the scheduler explains claims it cannot use.

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

/// The message of the latest `FailedScheduling` event of a pod, once there is one.
fn failed_scheduling(server: &TestServer, kubectl: &Path, pod: &str, expected: &str) {
    until(
        server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={pod},reason=FailedScheduling"),
            "-o",
            "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
        ],
        |out| out.lines().any(|line| line == expected),
    );
}

#[test]
fn local_path_volumes_are_provisioned_where_the_first_consumer_runs() {
    let server = server();
    let kubectl = &kubectls()[0];
    let _nodes = simulate(
        &server,
        vec![NodeTemplate::new("sim-a"), NodeTemplate::new("sim-b")],
    );
    let classes = ok(&server, kubectl, &["get", "storageclass"]);
    let row: Vec<&str> = classes
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..6],
        [
            "local-path",
            "(default)",
            "rancher.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false"
        ],
        "{classes}"
    );
    // No class named: the default one, which waits for a pod.
    apply(&server, kubectl, &claim("cache", "2Gi", None, ""));
    assert_eq!(
        field(
            &server,
            kubectl,
            &["pvc", "cache"],
            "{.spec.storageClassName}"
        ),
        "local-path"
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=cache,reason=WaitForFirstConsumer",
            "-o",
            "jsonpath={.items[0].message}",
        ],
        |out| out == "waiting for first consumer to be created before binding",
    );
    assert_eq!(
        field(&server, kubectl, &["pvc", "cache"], "{.status.phase}"),
        "Pending"
    );

    apply(&server, kubectl, &pod_with_claim("app", "cache"));
    until_field(
        &server,
        kubectl,
        &["pvc", "cache"],
        "{.status.phase}",
        "Bound",
    );
    let node = until(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "app",
            "-o",
            "jsonpath={.status.phase} {.spec.nodeName}",
        ],
        |out| out.starts_with("Running "),
    )
    .trim_start_matches("Running ")
    .to_owned();
    assert_eq!(
        annotation(
            &server,
            kubectl,
            &["pvc", "cache"],
            "volume.kubernetes.io/selected-node"
        ),
        node
    );
    let uid = field(&server, kubectl, &["pvc", "cache"], "{.metadata.uid}");
    let volume = format!("pvc-{uid}");
    assert_eq!(
        field(&server, kubectl, &["pvc", "cache"], "{.spec.volumeName}"),
        volume
    );
    let pv = ["pv", volume.as_str()];
    assert_eq!(
        field(
            &server,
            kubectl,
            &pv,
            "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key}={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}"
        ),
        format!("kubernetes.io/hostname={node}")
    );
    let data_dir = server
        .kubeconfig()
        .parent()
        .map(|dir| dir.join("data"))
        .unwrap_or_default();
    assert_eq!(
        field(
            &server,
            kubectl,
            &pv,
            "{.spec.hostPath.path} {.spec.hostPath.type}"
        ),
        format!(
            "{}/storage/{volume}_default_cache DirectoryOrCreate",
            data_dir.display()
        )
    );
    assert_eq!(
        annotation(&server, kubectl, &pv, "pv.kubernetes.io/provisioned-by"),
        "rancher.io/local-path"
    );
    assert_eq!(
        field(
            &server,
            kubectl,
            &pv,
            "{.spec.persistentVolumeReclaimPolicy} {.spec.storageClassName} {.status.phase} {.spec.capacity.storage}"
        ),
        "Delete local-path Bound 2Gi"
    );
    for (reason, message) in [
        (
            "ExternalProvisioning",
            "waiting for a volume to be created, either by external provisioner \"rancher.io/local-path\" or manually created by system administrator".to_owned(),
        ),
        (
            "Provisioning",
            "External provisioner is provisioning volume for claim \"default/cache\"".to_owned(),
        ),
        ("ProvisioningSucceeded", format!("Successfully provisioned volume {volume}")),
    ] {
        let messages = event_messages(&server, kubectl, "default", "cache", reason);
        assert!(messages.contains(&message), "{reason}: {messages}");
    }

    // The claim goes with its pod; the Delete policy takes the volume with it once a helper pod on
    // its node removed the directory. A simulated node only runs pods: the test ends the helper
    // pods, failing the first one.
    ok(&server, kubectl, &["delete", "pod", "app", "--wait=true"]);
    ok(&server, kubectl, &["delete", "pvc", "cache"]);
    let helper = format!("helper-pod-delete-{volume}");
    let running_helper = |other_than: Option<&str>| {
        until(
            &server,
            kubectl,
            &[
                "get",
                "pod",
                &helper,
                "-n",
                "kube-system",
                "-o",
                "jsonpath={.status.phase} {.metadata.uid}",
            ],
            |out| out.starts_with("Running ") && other_than.is_none_or(|uid| !out.ends_with(uid)),
        )
        .trim_start_matches("Running ")
        .to_owned()
    };
    let first = running_helper(None);
    let directory = format!("{}/storage/{volume}_default_cache", data_dir.display());
    assert_eq!(
        field(
            &server,
            kubectl,
            &["pod", &helper, "-n", "kube-system"],
            "{.spec.nodeName} {.spec.volumes[0].hostPath.path} {.spec.containers[0].env[0].value} {.spec.containers[0].image}"
        ),
        format!(
            "{node} {}/storage {directory} docker.io/library/busybox:1.35",
            data_dir.display()
        )
    );
    let end = |phase: &str| {
        ok(
            &server,
            kubectl,
            &[
                "patch",
                "pod",
                &helper,
                "-n",
                "kube-system",
                "--subresource=status",
                "--type=merge",
                "-p",
                &format!(r#"{{"status":{{"phase":"{phase}","message":"disk on fire"}}}}"#),
            ],
        );
    };
    end("Failed");
    until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={volume},reason=VolumeFailedDelete"),
            "-o",
            "jsonpath={.items[0].type}: {.items[0].message}",
        ],
        |out| {
            out == format!(
                "Warning: failed to delete volume {volume}: helper pod failed: disk on fire"
            )
        },
    );
    assert_eq!(
        field(&server, kubectl, &pv, "{.status.phase}"),
        "Released",
        "the volume stays until its directory is gone"
    );
    // After the backoff, a new helper pod.
    running_helper(Some(&first));
    end("Succeeded");
    until(&server, kubectl, &["get", "pv", "-o", "name"], |out| {
        !out.contains(&volume)
    });
    until(
        &server,
        kubectl,
        &["get", "pods", "-n", "kube-system", "-o", "name"],
        |out| !out.contains(&helper),
    );
}

#[test]
fn the_scheduler_explains_claims_it_cannot_use_and_follows_bound_volumes() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(
        &server,
        vec![NodeTemplate::new("sim-a"), NodeTemplate::new("sim-b")],
    );
    apply(&server, kubectl, &pod_with_claim("waits", "ghost"));
    failed_scheduling(
        &server,
        kubectl,
        "waits",
        "0/2 nodes are available: persistentvolumeclaim \"ghost\" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
    // An Immediate claim nothing binds yet.
    apply(&server, kubectl, &claim("ghost", "1Gi", Some("manual"), ""));
    failed_scheduling(
        &server,
        kubectl,
        "waits",
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
    // A volume pinned to sim-b binds the claim, and the pod follows it there.
    apply(
        &server,
        kubectl,
        &volume(
            "pinned",
            "1Gi",
            "manual",
            "  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n      - matchExpressions:\n        - key: kubernetes.io/hostname\n          operator: In\n          values: [sim-b]\n",
        ),
    );
    until_field(
        &server,
        kubectl,
        &["pvc", "ghost"],
        "{.status.phase}",
        "Bound",
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "waits",
            "-o",
            "jsonpath={.status.phase} {.spec.nodeName}",
        ],
        |out| out == "Running sim-b",
    );
    // A volume pinned to a node that does not exist leaves its pods nowhere to go.
    apply(
        &server,
        kubectl,
        &volume(
            "elsewhere",
            "1Gi",
            "remote",
            "  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n      - matchExpressions:\n        - key: kubernetes.io/hostname\n          operator: In\n          values: [sim-z]\n",
        ),
    );
    apply(&server, kubectl, &claim("far", "1Gi", Some("remote"), ""));
    until_field(
        &server,
        kubectl,
        &["pvc", "far"],
        "{.status.phase}",
        "Bound",
    );
    apply(&server, kubectl, &pod_with_claim("stuck", "far"));
    failed_scheduling(
        &server,
        kubectl,
        "stuck",
        "0/2 nodes are available: 2 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
}
