//! What a pod asks of its node beyond running: a hostPort forwarded to the container, the user and
//! group it runs as, a read-only root filesystem, dropped and added capabilities, privileged mode,
//! and resource limits in the container's cgroup.

use std::time::{Duration, Instant};

use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;

use crate::{kubectls, text};

fn kubectl(cluster: &TestCluster, args: &[&str], stdin: Option<&str>) -> String {
    crate::node::kubectl(cluster, args, stdin).trim().to_owned()
}

/// The container's answer to a shell command, through `kubectl exec`.
fn exec(cluster: &TestCluster, container: &str, script: &str) -> String {
    kubectl(
        cluster,
        &["exec", "guarded", "-c", container, "--", "sh", "-c", script],
        None,
    )
}

#[test]
fn host_ports_security_contexts_and_limits_apply() {
    let cluster = crate::node::cluster();
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: guarded
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsUser: 1000
    runAsGroup: 2000
  containers:
  - name: web
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo hostport > /www/index.html && exec httpd -f -p 8080 -h /www"]
    volumeMounts: [{{name: www, mountPath: /www}}]
    ports: [{{containerPort: 8080, hostPort: 18080}}]
    resources:
      limits: {{cpu: 250m, memory: 64Mi}}
    securityContext:
      readOnlyRootFilesystem: false
      capabilities:
        drop: ["ALL"]
  - name: locked
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    securityContext:
      readOnlyRootFilesystem: true
  - name: root
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    securityContext:
      runAsUser: 0
      privileged: true
  volumes:
  - name: www
    emptyDir: {{}}
"#,
        node = cluster.node_name()
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    let ready = cluster
        .kubectl_with(
            &kubectls()[0],
            &[
                "wait",
                "--for=condition=Ready",
                "pod/guarded",
                "--timeout=60s",
            ],
            None,
        )
        .expect("kubectl runs");
    assert!(
        ready.status.success(),
        "the pod is not Ready: {}",
        kubectl(&cluster, &["get", "pod", "guarded", "-o", "yaml"], None)
    );

    // The hostPort on the node's address reaches the container's port.
    let url = format!("http://{}:18080/index.html", cluster.netns().node_ip());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = cluster
            .node_command("curl", &["-s", "--max-time", "2", &url])
            .expect("curl runs");
        if String::from_utf8_lossy(&output.stdout).trim() == "hostport" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hostPort never answered: {}",
            text(&output)
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // User and group from the pod, overridden per container.
    assert_eq!(exec(&cluster, "web", "echo $(id -u) $(id -g)"), "1000 2000");
    assert_eq!(exec(&cluster, "root", "id -u"), "0");
    // Capabilities: none after dropping ALL; every one when privileged.
    let effective = |container| {
        exec(
            &cluster,
            container,
            "grep CapEff /proc/self/status | tr -s ' \\t' ' ' | cut -d' ' -f2",
        )
    };
    assert_eq!(effective("web"), "0000000000000000");
    let privileged = u64::from_str_radix(&effective("root"), 16).expect("hex capabilities");
    assert!(privileged.count_ones() >= 38, "{privileged:x}");
    // A read-only root filesystem refuses writes.
    let write = exec(
        &cluster,
        "locked",
        "touch /probe 2>/dev/null && echo writable || echo read-only",
    );
    assert_eq!(write, "read-only");
    // Limits reach the container's cgroup (v2 files, else v1's).
    let limits = exec(
        &cluster,
        "web",
        "cd /sys/fs/cgroup; cat memory.max 2>/dev/null || cat memory/memory.limit_in_bytes; \
         cat cpu.max 2>/dev/null || cat cpu/cpu.cfs_quota_us",
    );
    let lines: Vec<&str> = limits.lines().collect();
    assert_eq!(lines.first(), Some(&"67108864"), "{limits}");
    assert!(
        lines.get(1).is_some_and(|cpu| cpu.starts_with("25000")),
        "{limits}"
    );
    let qos = kubectl(
        &cluster,
        &["get", "pod", "guarded", "-o", "jsonpath={.status.qosClass}"],
        None,
    );
    assert_eq!(qos, "Burstable");
}
