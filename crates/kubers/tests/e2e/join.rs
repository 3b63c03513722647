//! Nodes joining with the server's token, as k3s agents do: a control plane alone
//! (`kubers server --disable-agent`) in a network namespace, and `kubers agent --server --token` in
//! the same namespace with its own data folder, containerd and node name. The joined node registers
//! with its own identity (`system:node:<name>`), runs pods, and serves logs and exec through the API
//! with the serving certificate the server signed; a wrong secret and a CA hash that does not match
//! are refused with clear messages.

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::agent::TestAgent;
use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;

use crate::{kubectls, text};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kubers"))
}

fn kubectl(cluster: &TestCluster, args: &[&str], stdin: Option<&str>) -> String {
    let output = cluster
        .kubectl_with(&kubectls()[0], args, stdin)
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}\nserver log:\n{}",
        text(&output),
        tail(&cluster.log())
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Polls a pod's JSONPath until `done` accepts it (60 s at most).
fn wait_for(
    cluster: &TestCluster,
    agent: &TestAgent,
    pod: &str,
    path: &str,
    done: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = cluster
            .kubectl_with(
                &kubectls()[0],
                &["get", "pod", pod, "-o", &format!("jsonpath={path}")],
                None,
            )
            .expect("kubectl runs");
        let value = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if output.status.success() && done(&value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pod {pod}: {path} is {value:?} after 60 s\nagent log:\n{}",
            tail(&agent.log())
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The agent's kubeconfig, pointed at the API port forwarded to the machine.
fn agent_kubeconfig(cluster: &TestCluster, agent: &TestAgent) -> std::path::PathBuf {
    let forwarded = std::fs::read_to_string(cluster.kubeconfig()).expect("cluster kubeconfig");
    let server = forwarded
        .lines()
        .find_map(|line| line.trim().strip_prefix("server: "))
        .expect("a server line")
        .trim()
        .to_string();
    let own = std::fs::read_to_string(agent.data_dir().join("agent/kubelet.kubeconfig"))
        .expect("the agent's kubeconfig");
    let path = agent.data_dir().join("kubeconfig.forwarded.yaml");
    std::fs::write(&path, own.replace(&cluster.server_url(), &server)).expect("written");
    path
}

#[test]
fn a_joined_agent_registers_with_its_own_identity_and_runs_pods() {
    let cluster = TestCluster::start_control_plane(binary()).expect("the control plane starts");
    let mut agent = TestAgent::join(&cluster, binary()).expect("the agent joins");
    let node = agent.node_name().to_string();

    let address = kubectl(
        &cluster,
        &[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
        ],
        None,
    );
    assert_eq!(address, cluster.netns().node_ip().to_string());

    // The agent talks to the API server as the node, not with the join token.
    let kubeconfig = agent_kubeconfig(&cluster, &agent);
    let kubeconfig = kubeconfig.to_str().expect("utf-8 path");
    for kubectl_binary in kubectls() {
        let whoami = cluster
            .kubectl_with(
                &kubectl_binary,
                &["--kubeconfig", kubeconfig, "auth", "whoami", "-o", "json"],
                None,
            )
            .expect("kubectl runs");
        assert!(whoami.status.success(), "{}", text(&whoami));
        let review: serde_json::Value =
            serde_json::from_slice(&whoami.stdout).expect("a SelfSubjectReview");
        assert_eq!(
            review["status"]["userInfo"]["username"],
            format!("system:node:{node}")
        );
        let groups = review["status"]["userInfo"]["groups"].to_string();
        assert!(groups.contains("\"system:nodes\""), "{groups}");
    }

    // The kubelet serves with the certificate the server signed: the cluster CA verifies it for
    // the node's address (an unauthenticated request is then refused by the kubelet, 401).
    let ca = agent.data_dir().join("agent/server-ca.crt");
    let url = format!("https://{}:10250/healthz", cluster.netns().node_ip());
    let curl = cluster
        .node_command(
            "curl",
            &[
                "-sS",
                "--cacert",
                ca.to_str().expect("utf-8 path"),
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &url,
            ],
        )
        .expect("curl runs");
    assert!(curl.status.success(), "{}", text(&curl));
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "401");

    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: joined
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo hello from the joined node; exec sleep 3600"]
"#
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    wait_for(&cluster, &agent, "joined", "{.status.phase}", |phase| {
        phase == "Running"
    });
    for kubectl_binary in kubectls() {
        let logs = cluster
            .kubectl_with(&kubectl_binary, &["logs", "joined"], None)
            .expect("kubectl runs");
        assert!(logs.status.success(), "{}", text(&logs));
        assert_eq!(
            String::from_utf8_lossy(&logs.stdout),
            "hello from the joined node\n"
        );
        let exec = cluster
            .kubectl_with(
                &kubectl_binary,
                &["exec", "joined", "--", "sh", "-c", "echo $((6 * 7))"],
                None,
            )
            .expect("kubectl runs");
        assert!(exec.status.success(), "{}", text(&exec));
        assert_eq!(String::from_utf8_lossy(&exec.stdout), "42\n");
    }

    // A restart reuses the credentials instead of joining again.
    let client_cert = agent.data_dir().join("agent/client-kubelet.crt");
    let before = std::fs::read(&client_cert).expect("client certificate");
    agent.restart(&cluster).expect("the agent restarts");
    assert_eq!(
        std::fs::read(&client_cert).expect("client certificate"),
        before
    );
    assert!(
        agent
            .log()
            .contains("reusing the node credentials of an earlier join"),
        "{}",
        tail(&agent.log())
    );
    kubectl(
        &cluster,
        &["delete", "pod", "joined", "--wait=true", "--timeout=30s"],
        None,
    );
}

#[test]
fn a_wrong_secret_or_ca_hash_is_refused() {
    let cluster = TestCluster::start_control_plane(binary()).expect("the control plane starts");
    let token = cluster.join_token().expect("the join token");
    let (hash_part, _secret) = token.rsplit_once(':').expect("a full token");

    let mut wrong_secret =
        TestAgent::start(&cluster, binary(), &format!("{hash_part}:not-the-secret"))
            .expect("the agent starts");
    let status = wrong_secret
        .wait_exit(Duration::from_secs(60))
        .expect("the agent exits");
    assert!(!status.success());
    let log = wrong_secret.log();
    assert!(
        log.contains("refused the join token (401 Unauthorized)"),
        "{log}"
    );

    let secret = token.rsplit_once("::server:").expect("a full token").1;
    let other_hash = "0".repeat(64);
    let mut wrong_ca = TestAgent::start(
        &cluster,
        binary(),
        &format!("K10{other_hash}::server:{secret}"),
    )
    .expect("the agent starts");
    let status = wrong_ca
        .wait_exit(Duration::from_secs(60))
        .expect("the agent exits");
    assert!(!status.success());
    let log = wrong_ca.log();
    assert!(
        log.contains(&format!(
            "token CA hash does not match the Cluster CA certificate hash: {other_hash} != "
        )),
        "{log}"
    );
    assert!(
        !wrong_ca
            .data_dir()
            .join("agent/client-kubelet.crt")
            .exists(),
        "no certificate was requested"
    );

    let nodes = kubectl(&cluster, &["get", "nodes", "-o", "name"], None);
    assert!(nodes.trim().is_empty(), "{nodes}");
}
