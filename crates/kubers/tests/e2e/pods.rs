//! Pods running for real: a single-node cluster (server + embedded agent + containerd) in a network
//! namespace of the test's own, with the busybox image built from Debian's busybox-static.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kubers_testkit::cluster::TestCluster;
use kubers_testkit::grpc_health::{GrpcHealthServer, ServingStatus};
use kubers_testkit::images::BUSYBOX_IMAGE;

use crate::node::{cluster, kubectl, tail, wait_for};
use crate::{kubectls, text};

fn pod_manifest(cluster: &TestCluster, name: &str, restart_policy: &str, script: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeName: {node}
  restartPolicy: {restart_policy}
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", {script:?}]
"#,
        node = cluster.node_name()
    )
}

#[test]
fn two_containers_share_localhost_and_an_empty_dir() {
    let cluster = cluster();
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: server
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo hello > /data/index.html; exec httpd -f -p 8080 -h /data"]
    ports: [{{containerPort: 8080}}]
    volumeMounts: [{{name: data, mountPath: /data}}]
  - name: client
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do wget -q -O /data/fetched http://127.0.0.1:8080/index.html; sleep 1; done"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    emptyDir: {{}}
"#,
        node = cluster.node_name()
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    wait_for(
        &cluster,
        "web",
        "{.status.containerStatuses[*].ready}",
        |value| value == "true true",
    );
    let ip = wait_for(&cluster, "web", "{.status.podIP}", |value| {
        value.starts_with("10.42.")
    });
    for binary in kubectls() {
        let output = cluster
            .kubectl_with(&binary, &["get", "pods", "-o", "wide"], None)
            .expect("kubectl runs");
        let table = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            table.contains("2/2") && table.contains("Running") && table.contains(&ip),
            "{table}"
        );
    }
    // The client reached the server over 127.0.0.1 and wrote into the shared volume, which the server
    // serves on the pod IP, reachable from the node.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = cluster
            .node_command(
                "busybox",
                &["wget", "-q", "-O-", &format!("http://{ip}:8080/fetched")],
            )
            .expect("wget runs");
        if String::from_utf8_lossy(&output.stdout).trim() == "hello" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the shared file never appeared: {}",
            text(&output)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = kubectl(
        &cluster,
        &[
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.status.phase} {.status.hostIP} {.status.qosClass} {.status.containerStatuses[0].containerID}",
        ],
        None,
    );
    assert!(
        status.starts_with(&format!(
            "Running {} BestEffort containerd://",
            cluster.netns().node_ip()
        )),
        "{status}"
    );

    kubectl(
        &cluster,
        &["delete", "pod", "web", "--wait=true", "--timeout=30s"],
        None,
    );
    let pods = kubectl(&cluster, &["get", "pods", "-o", "name"], None);
    assert!(pods.trim().is_empty(), "{pods}");
}

#[test]
fn restart_policies_and_exit_codes() {
    let cluster = cluster();
    let pods = [
        ("succeeds", "Never", "exit 0"),
        (
            "fails",
            "Never",
            "echo broken > /dev/termination-log; exit 3",
        ),
        (
            "retries",
            "OnFailure",
            "if [ -e /tmp/once ]; then exit 0; fi; exit 1",
        ),
        ("crashes", "Always", "exit 2"),
    ];
    for (name, policy, script) in pods {
        kubectl(
            &cluster,
            &["apply", "-f", "-"],
            Some(&pod_manifest(&cluster, name, policy, script)),
        );
    }
    wait_for(&cluster, "succeeds", "{.status.phase}", |phase| {
        phase == "Succeeded"
    });
    wait_for(&cluster, "fails", "{.status.phase}", |phase| {
        phase == "Failed"
    });
    let terminated = kubectl(
        &cluster,
        &[
            "get",
            "pod",
            "fails",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.message}",
        ],
        None,
    );
    assert_eq!(terminated.trim(), "3 Error broken");
    // OnFailure restarts a failing container (here it keeps failing: /tmp is new each attempt).
    wait_for(
        &cluster,
        "retries",
        "{.status.containerStatuses[0].restartCount}",
        |count| count.parse::<u32>().unwrap_or(0) >= 1,
    );
    assert_eq!(
        kubectl(
            &cluster,
            &["get", "pod", "retries", "-o", "jsonpath={.status.phase}"],
            None
        ),
        "Running"
    );
    // Always: the first restart is immediate, the next waits in CrashLoopBackOff.
    wait_for(
        &cluster,
        "crashes",
        "{.status.containerStatuses[0].state.waiting.reason}",
        |reason| reason == "CrashLoopBackOff",
    );
    let last = kubectl(
        &cluster,
        &[
            "get",
            "pod",
            "crashes",
            "-o",
            "jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].restartCount}",
        ],
        None,
    );
    assert!(last.starts_with("2 "), "{last}");
    let table = kubectl(&cluster, &["get", "pod", "crashes"], None);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
}

#[test]
fn volumes_and_environment_reach_the_container() {
    let cluster = cluster();
    kubectl(
        &cluster,
        &[
            "create",
            "configmap",
            "settings",
            "--from-literal=color=blue",
        ],
        None,
    );
    kubectl(
        &cluster,
        &[
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=password=s3cret",
        ],
        None,
    );
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: reader
  labels: {{app: reader}}
spec:
  nodeName: {node}
  restartPolicy: Never
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo $(cat /config/color) $(cat /secret/password) $MY_NAME $COLOR $(cat /info/labels) $(test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo token) $KUBERNETES_SERVICE_HOST > /dev/termination-log"]
    env:
    - name: MY_NAME
      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
    - name: COLOR
      valueFrom: {{configMapKeyRef: {{name: settings, key: color}}}}
    volumeMounts:
    - {{name: config, mountPath: /config}}
    - {{name: secret, mountPath: /secret}}
    - {{name: info, mountPath: /info}}
  volumes:
  - name: config
    configMap: {{name: settings}}
  - name: secret
    secret: {{secretName: creds}}
  - name: info
    downwardAPI:
      items: [{{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}]
"#,
        node = cluster.node_name()
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    wait_for(&cluster, "reader", "{.status.phase}", |phase| {
        phase == "Succeeded"
    });
    let message = kubectl(
        &cluster,
        &[
            "get",
            "pod",
            "reader",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.terminated.message}",
        ],
        None,
    );
    assert_eq!(
        message.trim(),
        "blue s3cret reader blue app=\"reader\" token 10.43.0.1"
    );
}

#[test]
fn containers_survive_a_killed_agent_and_are_adopted() {
    let mut cluster = cluster();
    kubectl(
        &cluster,
        &["apply", "-f", "-"],
        Some(&pod_manifest(
            &cluster,
            "steady",
            "Always",
            "trap 'exit 0' TERM; while true; do sleep 1; done",
        )),
    );
    wait_for(
        &cluster,
        "steady",
        "{.status.containerStatuses[0].ready}",
        |ready| ready == "true",
    );
    let before = kubectl(
        &cluster,
        &[
            "get",
            "pod",
            "steady",
            "-o",
            "jsonpath={.status.containerStatuses[0].containerID} {.status.containerStatuses[0].state.running.startedAt}",
        ],
        None,
    );

    cluster
        .kill_server()
        .expect("kill -9 of the server and its agent");
    cluster
        .restart_server()
        .expect("the server and agent come back");
    // A status change proves the new agent synced the pod: the condition times stay, the container is
    // the same one, and it never restarted.
    std::thread::sleep(Duration::from_secs(3));
    let after = kubectl(
        &cluster,
        &[
            "get",
            "pod",
            "steady",
            "-o",
            "jsonpath={.status.containerStatuses[0].containerID} {.status.containerStatuses[0].state.running.startedAt}",
        ],
        None,
    );
    assert_eq!(before, after);
    let restarts = kubectl(
        &cluster,
        &[
            "get",
            "pod",
            "steady",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount} {.status.phase}",
        ],
        None,
    );
    assert_eq!(restarts, "0 Running");
    // And the adopted pod is still managed: deleting it stops it.
    kubectl(
        &cluster,
        &["delete", "pod", "steady", "--timeout=30s"],
        None,
    );
}

#[test]
fn probes_hooks_deadlines_and_events() {
    let cluster = cluster();
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 10
  containers:
  - name: web
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "mkdir -p /www; sleep 2; touch /www/ready; exec httpd -f -p 8080 -h /www"]
    ports: [{{name: http, containerPort: 8080}}]
    readinessProbe:
      httpGet: {{path: /ready, port: http}}
      periodSeconds: 1
    startupProbe:
      tcpSocket: {{port: 8080}}
      periodSeconds: 1
      failureThreshold: 30
    lifecycle:
      preStop:
        exec: {{command: ["sh", "-c", "echo stopping > /www/prestop"]}}
  - name: dies
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/alive; while true; do sleep 1; done"]
    livenessProbe:
      exec: {{command: ["test", "-e", "/tmp/missing"]}}
      periodSeconds: 1
      failureThreshold: 2
    lifecycle:
      postStart:
        exec: {{command: ["touch", "/tmp/started"]}}
"#,
        node = cluster.node_name()
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    // Readiness: the web container turns ready only after its startup and readiness probes pass.
    wait_for(
        &cluster,
        "probed",
        "{.status.containerStatuses[?(@.name==\"web\")].ready}",
        |ready| ready == "true",
    );
    // Liveness: the failing probe restarts the other container.
    wait_for(
        &cluster,
        "probed",
        "{.status.containerStatuses[?(@.name==\"dies\")].restartCount}",
        |count| count.parse::<u32>().unwrap_or(0) >= 1,
    );
    let events = kubectl(
        &cluster,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=probed",
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ],
        None,
    );
    for expected in [
        "Pulled: Container image \"docker.io/library/busybox:1.35\" already present on machine",
        "Created: Created container: web",
        "Started: Started container dies",
        "Unhealthy: Liveness probe failed",
        "Killing: Container dies failed liveness probe, will be restarted",
    ] {
        assert!(
            events.contains(expected),
            "missing {expected:?} in:\n{events}"
        );
    }
    let described = kubectl(&cluster, &["describe", "pod", "probed"], None);
    assert!(described.contains("Liveness probe failed"), "{described}");

    let deadline = pod_manifest(
        &cluster,
        "limited",
        "Always",
        "trap 'exit 0' TERM; while true; do sleep 1; done",
    )
    .replace(
        "  restartPolicy: Always\n",
        "  restartPolicy: Always\n  activeDeadlineSeconds: 3\n",
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&deadline));
    wait_for(
        &cluster,
        "limited",
        "{.status.phase}/{.status.reason}",
        |value| value == "Failed/DeadlineExceeded",
    );
}

/// The `reason: message` lines of the events about `pod`.
fn pod_events(cluster: &TestCluster, pod: &str) -> String {
    kubectl(
        cluster,
        &[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={pod}"),
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ],
        None,
    )
}

/// Polls the events about `pod` until one contains `expected` (60 s at most).
fn wait_for_event(cluster: &TestCluster, pod: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = pod_events(cluster, pod);
        if events.contains(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no event {expected:?} about {pod} after 60 s:\n{events}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn grpc_probes_ask_the_standard_health_service() {
    let cluster = cluster();
    // The health server listens on the node's address; host-network pods are probed there.
    let port = 50051;
    let health = GrpcHealthServer::start(
        cluster.netns(),
        SocketAddr::new(cluster.netns().node_ip().into(), port),
    )
    .expect("the health server starts");
    health.set_status("", ServingStatus::Serving);
    health.set_status("x", ServingStatus::Serving);
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: grpc-probed
spec:
  nodeName: {node}
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: ready
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    readinessProbe:
      grpc: {{port: {port}}}
      periodSeconds: 1
      failureThreshold: 1
  - name: alive
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    livenessProbe:
      grpc: {{port: {port}, service: x}}
      periodSeconds: 1
      failureThreshold: 2
  - name: unknown
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    readinessProbe:
      grpc: {{port: {port}, service: missing}}
      periodSeconds: 1
"#,
        node = cluster.node_name()
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    let ready = |name: &str| format!("{{.status.containerStatuses[?(@.name==\"{name}\")].ready}}");

    // SERVING: ready.
    wait_for(&cluster, "grpc-probed", &ready("ready"), |value| {
        value == "true"
    });
    // A service the server does not know: never ready, with grpc-go's NOT_FOUND.
    wait_for_event(
        &cluster,
        "grpc-probed",
        "Unhealthy: Readiness probe failed: error: health rpc probe failed: rpc error: code = NotFound desc = unknown service",
    );
    assert_eq!(
        kubectl(
            &cluster,
            &[
                "get",
                "pod",
                "grpc-probed",
                "-o",
                &format!("jsonpath={}", ready("unknown"))
            ],
            None
        ),
        "false"
    );

    // NOT_SERVING: not ready, with upstream's message.
    health.set_status("", ServingStatus::NotServing);
    wait_for(&cluster, "grpc-probed", &ready("ready"), |value| {
        value == "false"
    });
    wait_for_event(
        &cluster,
        "grpc-probed",
        "Unhealthy: Readiness probe failed: service unhealthy (responded with \"NOT_SERVING\")",
    );
    // Serving again: ready again.
    health.set_status("", ServingStatus::Serving);
    wait_for(&cluster, "grpc-probed", &ready("ready"), |value| {
        value == "true"
    });

    // The liveness probe's service stops serving: the container is restarted.
    health.set_status("x", ServingStatus::NotServing);
    wait_for(
        &cluster,
        "grpc-probed",
        "{.status.containerStatuses[?(@.name==\"alive\")].restartCount}",
        |count| count.parse::<u32>().unwrap_or(0) >= 1,
    );
    wait_for_event(
        &cluster,
        "grpc-probed",
        "Unhealthy: Liveness probe failed: service unhealthy (responded with \"NOT_SERVING\")",
    );
    wait_for_event(
        &cluster,
        "grpc-probed",
        "Killing: Container alive failed liveness probe, will be restarted",
    );
    let checks = health.checks();
    for service in ["", "x", "missing"] {
        assert!(
            checks.iter().any(|checked| checked == service),
            "{service:?} never checked: {checks:?}"
        );
    }
}

#[test]
fn static_pods_run_from_files_and_are_mirrored() {
    let cluster = cluster();
    let manifests = cluster.data_dir().join("agent/pod-manifests");
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: fixed\n  namespace: kube-system\nspec:\n  containers:\n  - name: main\n    image: {BUSYBOX_IMAGE}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n"
    );
    std::fs::write(manifests.join("fixed.yaml"), manifest).expect("manifest written");
    let mirror = format!("fixed-{}", cluster.node_name());
    let in_system = |args: &[&str]| {
        let mut full = vec!["-n", "kube-system"];
        full.extend_from_slice(args);
        kubectl(&cluster, &full, None)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let phase = cluster
            .kubectl_with(
                &kubectls()[0],
                &[
                    "-n",
                    "kube-system",
                    "get",
                    "pod",
                    &mirror,
                    "-o",
                    "jsonpath={.status.phase}",
                ],
                None,
            )
            .expect("kubectl runs");
        if String::from_utf8_lossy(&phase.stdout) == "Running" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no running mirror pod: {}\n{}",
            text(&phase),
            tail(&cluster.log())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let annotations = in_system(&[
        "get",
        "pod",
        &mirror,
        "-o",
        "jsonpath={.metadata.annotations}",
    ]);
    assert!(
        annotations.contains("kubernetes.io/config.mirror")
            && annotations.contains("\"kubernetes.io/config.source\":\"file\""),
        "{annotations}"
    );
    let owner = in_system(&[
        "get",
        "pod",
        &mirror,
        "-o",
        "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
    ]);
    assert_eq!(owner, format!("Node/{}", cluster.node_name()));

    // Deleting the mirror does not stop the static pod; the mirror comes back.
    let old_uid = in_system(&["get", "pod", &mirror, "-o", "jsonpath={.metadata.uid}"]);
    in_system(&["delete", "pod", &mirror, "--wait=false"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = cluster
            .kubectl_with(&kubectls()[0], &["-n", "kube-system", "get", "pod", &mirror, "-o", "jsonpath={.metadata.uid} {.status.phase} {.status.containerStatuses[0].restartCount}"], None)
            .expect("kubectl runs");
        let value = String::from_utf8_lossy(&output.stdout).to_string();
        if output.status.success() && !value.starts_with(&old_uid) && value.ends_with(" Running 0")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mirror not recreated: {value}\n{}",
            tail(&cluster.log())
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Removing the file stops the pod and removes its mirror.
    std::fs::remove_file(manifests.join("fixed.yaml")).expect("manifest removed");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods = in_system(&["get", "pods", "-o", "name"]);
        if !pods.contains(&mirror) {
            break;
        }
        assert!(Instant::now() < deadline, "mirror still there: {pods}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
