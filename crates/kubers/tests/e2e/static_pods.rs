//! Static pods without the API server, as control planes bootstrap: a joined agent restarted while
//! the control plane is down runs a host-network static pod at once, holds a static pod that needs
//! the pod network (its CNI configuration removed) until the node's podCIDR can be read again, and
//! once the server is back creates both mirror pods, which show the pods Running, and delivers the
//! events it recorded meanwhile.

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::agent::TestAgent;
use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;

use crate::{kubectls, text};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kubers"))
}

/// The end of a log, without the lines about the API server not answering.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| {
            !line.contains("client error (Connect)")
                || !(line.contains("kube_client") || line.contains("watching"))
        })
        .collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A static pod manifest whose container serves `text` over HTTP on `port`.
fn manifest(name: &str, host_network: bool, port: u16, text: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: kube-system
spec:
  hostNetwork: {host_network}
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p {port} -h /www"]
"#
    )
}

/// `GET http://ADDRESS/` from inside the node's network namespace, if it answers.
fn fetch(cluster: &TestCluster, address: &str) -> Option<String> {
    let url = format!("http://{address}/");
    let output = cluster
        .node_command("timeout", &["5", "busybox", "wget", "-q", "-O", "-", &url])
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Polls until `check` returns a value (60 s at most).
fn eventually<T>(what: &str, agent: &TestAgent, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} after 60 s\nagent log:\n{}",
            tail(&agent.log())
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn static_pods_run_while_the_api_server_is_down_and_are_mirrored_when_it_returns() {
    let mut cluster = TestCluster::start_control_plane(binary()).expect("the control plane starts");
    let mut agent = TestAgent::join(&cluster, binary()).expect("the agent joins");
    let node = agent.node_name().to_string();
    let node_ip = cluster.netns().node_ip().to_string();

    // The control plane goes away, and the agent restarts without it, on a node whose pod network
    // is not configured (as on a node's first start).
    agent.kill().expect("the agent stops");
    cluster.kill_server().expect("the server stops");
    let agent_dir = agent.data_dir().join("agent");
    std::fs::remove_file(agent_dir.join("cni/net.d/10-kubers.conflist"))
        .expect("the CNI configuration is removed");
    let manifests = agent_dir.join("pod-manifests");
    std::fs::write(
        manifests.join("host.yaml"),
        manifest("host", true, 18080, "from-the-host-network"),
    )
    .expect("manifest written");
    std::fs::write(
        manifests.join("pods.yaml"),
        manifest("pods", false, 8080, "from-the-pod-network"),
    )
    .expect("manifest written");
    agent.respawn().expect("the agent starts again");

    // The host-network pod serves on the node's address with no API server.
    let answer = eventually(
        "the host-network static pod does not answer",
        &agent,
        || fetch(&cluster, &format!("{node_ip}:18080")),
    );
    assert_eq!(answer, "from-the-host-network");
    // The other one waits for the pod network.
    eventually("the pod-network static pod is not held", &agent, || {
        agent
            .log()
            .contains(
                "network is not ready: container runtime network not ready: NetworkReady=false",
            )
            .then_some(())
    });

    // The server returns: the node gets its network, both pods run and are mirrored.
    cluster.restart_server().expect("the server starts again");
    let kubectl = &kubectls()[0];
    for name in ["host", "pods"] {
        let mirror = format!("{name}-{node}");
        let value = eventually(&format!("no running mirror pod {mirror}"), &agent, || {
            let output = cluster
                .kubectl_with(
                    kubectl,
                    &[
                        "-n",
                        "kube-system",
                        "get",
                        "pod",
                        &mirror,
                        "-o",
                        "jsonpath={.status.phase} {.status.containerStatuses[0].ready} {.status.podIP} {.metadata.annotations.kubernetes\\.io/config\\.mirror}",
                    ],
                    None,
                )
                .expect("kubectl runs");
            let value = String::from_utf8_lossy(&output.stdout).to_string();
            (output.status.success() && value.starts_with("Running true ")).then_some(value)
        });
        let fields: Vec<&str> = value.split(' ').collect();
        assert_eq!(fields.len(), 4, "{value}");
        assert!(
            !fields[3].is_empty(),
            "no config.mirror annotation: {value}"
        );
        let pod_ip = fields[2];
        if name == "host" {
            assert_eq!(pod_ip, node_ip, "{value}");
        } else {
            assert!(pod_ip.starts_with("10.42."), "{value}");
            assert_eq!(
                fetch(&cluster, &format!("{pod_ip}:8080")).as_deref(),
                Some("from-the-pod-network")
            );
        }
    }
    // The events recorded while the server was away arrive once it answers.
    let involved = format!("involvedObject.name=host-{node}");
    eventually(
        "the events of the server's absence did not arrive",
        &agent,
        || {
            let output = cluster
                .kubectl_with(
                    kubectl,
                    &[
                        "-n",
                        "kube-system",
                        "get",
                        "events",
                        "--field-selector",
                        &involved,
                        "-o",
                        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
                    ],
                    None,
                )
                .expect("kubectl runs");
            let events = String::from_utf8_lossy(&output.stdout);
            events
                .contains("Started: Started container web")
                .then_some(())
        },
    );
    let listed = cluster
        .kubectl_with(kubectl, &["-n", "kube-system", "get", "pods"], None)
        .expect("kubectl runs");
    assert!(listed.status.success(), "{}", text(&listed));
    let listed = String::from_utf8_lossy(&listed.stdout);
    for name in ["host", "pods"] {
        assert!(
            listed.lines().any(
                |line| line.starts_with(&format!("{name}-{node} ")) && line.contains("Running")
            ),
            "{listed}"
        );
    }
}
