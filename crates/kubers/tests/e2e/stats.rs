//! The Summary API of a real node: `kubectl get --raw /api/v1/nodes/NAME/proxy/stats/summary`
//! through the API server's `nodes/proxy` to the kubelet, with a pod running that holds memory,
//! writes logs and fills an emptyDir.

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;
use serde_json::Value;

use crate::{kubectls, text};

fn raw(cluster: &TestCluster, kubectl: &Path, path: &str) -> Value {
    let output = cluster
        .kubectl_with(kubectl, &["get", "--raw", path], None)
        .expect("kubectl runs");
    assert!(output.status.success(), "{}", text(&output));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn number(value: &Value, pointer: &str) -> u64 {
    value
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in {value:#}"))
}

#[test]
fn stats_summary_through_the_node_proxy() {
    let cluster =
        TestCluster::start(Path::new(env!("CARGO_BIN_EXE_kubers"))).expect("the cluster starts");
    let node = cluster.node_name().to_string();
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: busy
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "dd if=/dev/zero of=/data/blob bs=1024 count=2048 2>/dev/null; echo filled; x=$(head -c 8000000 /dev/zero | tr '\\0' a); echo holding; while true; do sleep 3600; done"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    emptyDir: {{}}
"#
    );
    let kubectl = &kubectls()[0];
    let applied = cluster
        .kubectl_with(kubectl, &["apply", "-f", "-"], Some(&manifest))
        .expect("kubectl runs");
    assert!(applied.status.success(), "{}", text(&applied));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = cluster
            .kubectl_with(kubectl, &["logs", "busy"], None)
            .expect("kubectl runs");
        if String::from_utf8_lossy(&logs.stdout).contains("holding") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pod never got going: {}",
            text(&logs)
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    let path = format!("/api/v1/nodes/{node}/proxy/stats/summary");
    for kubectl in kubectls() {
        let summary = raw(&cluster, &kubectl, &path);
        let node_stats = &summary["node"];
        assert_eq!(node_stats["nodeName"], node.as_str());
        assert!(
            node_stats["startTime"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        assert!(number(node_stats, "/cpu/usageCoreNanoSeconds") > 0);
        let node_working_set = number(node_stats, "/memory/workingSetBytes");
        assert!(node_working_set > 0);
        assert!(number(node_stats, "/memory/availableBytes") > 0);
        assert!(
            number(node_stats, "/fs/capacityBytes") >= number(node_stats, "/fs/availableBytes")
        );
        // containerd refreshes what images take every 10 s: present, maybe still 0 on a new node.
        number(node_stats, "/runtime/imageFs/usedBytes");
        assert!(number(node_stats, "/runtime/imageFs/capacityBytes") > 0);
        assert!(number(node_stats, "/rlimit/maxpid") > number(node_stats, "/rlimit/curproc"));
        assert!(number(node_stats, "/rlimit/curproc") > 0);
        assert_eq!(node_stats["systemContainers"][0]["name"], "pods");

        let pods = summary["pods"].as_array().expect("pods");
        let pod = pods
            .iter()
            .find(|pod| pod["podRef"]["name"] == "busy")
            .unwrap_or_else(|| panic!("no busy pod in {summary:#}"));
        assert_eq!(pod["podRef"]["namespace"], "default");
        assert!(
            pod["podRef"]["uid"]
                .as_str()
                .is_some_and(|uid| !uid.is_empty())
        );
        // The shell holds an 8 MB string: the pod's memory is at least that, and below the node's.
        let pod_working_set = number(pod, "/memory/workingSetBytes");
        assert!(pod_working_set > 8_000_000, "{pod:#}");
        assert!(pod_working_set < node_working_set, "{pod:#}");
        assert!(number(pod, "/cpu/usageCoreNanoSeconds") > 0, "{pod:#}");
        let container = &pod["containers"][0];
        assert_eq!(container["name"], "main");
        assert!(
            number(container, "/memory/workingSetBytes") > 8_000_000,
            "{container:#}"
        );
        assert!(number(container, "/cpu/usageCoreNanoSeconds") > 0);
        assert!(container["rootfs"]["usedBytes"].is_u64(), "{container:#}");
        assert!(number(container, "/logs/usedBytes") > 0, "{container:#}");
        let volume = pod["volume"]
            .as_array()
            .and_then(|volumes| volumes.iter().find(|volume| volume["name"] == "data"))
            .unwrap_or_else(|| panic!("no data volume in {pod:#}"));
        assert!(number(volume, "/usedBytes") >= 2048 * 1024, "{volume:#}");
        assert!(
            number(pod, "/ephemeral-storage/usedBytes") >= 2048 * 1024,
            "{pod:#}"
        );
    }
    // The second summary onwards has rates: CPU used per second since the one before.
    let summary = raw(&cluster, kubectl, &path);
    assert!(
        summary["node"]["cpu"]["usageNanoCores"].is_u64(),
        "{summary:#}"
    );

    let light = raw(
        &cluster,
        kubectl,
        &format!("{path}?only_cpu_and_memory=true"),
    );
    assert!(light["node"]["memory"]["workingSetBytes"].is_u64());
    assert!(light["node"].get("fs").is_none(), "{light:#}");
    let pod = light["pods"]
        .as_array()
        .and_then(|pods| pods.iter().find(|pod| pod["podRef"]["name"] == "busy"))
        .expect("the pod");
    assert!(pod.get("volume").is_none() && pod.get("ephemeral-storage").is_none());

    let missing = cluster
        .kubectl_with(
            kubectl,
            &["get", "--raw", "/api/v1/nodes/nope/proxy/stats/summary"],
            None,
        )
        .expect("kubectl runs");
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("nodes \"nope\" not found"),
        "{}",
        text(&missing)
    );
}
