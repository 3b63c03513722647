//! The scheduler on simulated nodes: pods are placed and run; node selectors, taints, affinity and
//! resources steer placement as upstream does; an unschedulable pod explains why in upstream's words
//! and is placed once a fitting node appears; anti-affinity spreads replicas; a high-priority pod
//! preempts.

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::NodeTemplate;

use crate::converge::{apply, simulate};
use crate::*;

/// Waits (up to a minute) until `check` returns something.
fn eventually<T>(server: &TestServer, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; server log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn field(server: &TestServer, kubectl: &Path, pod: &str, path: &str) -> String {
    let output = run(
        server,
        kubectl,
        &["get", "pod", pod, "-o", &format!("jsonpath={{{path}}}")],
        None,
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until the pod runs, and returns its node.
fn running_on(server: &TestServer, kubectl: &Path, pod: &str) -> String {
    eventually(server, &format!("pod {pod} running"), || {
        let phase = field(server, kubectl, pod, ".status.phase");
        let node = field(server, kubectl, pod, ".spec.nodeName");
        (phase == "Running" && !node.is_empty()).then_some(node)
    })
}

fn pod_manifest(name: &str, cpu: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: busybox:1.36\n    resources:\n      requests:\n        cpu: {cpu}\n"
    )
}

#[test]
fn pods_are_placed_spread_and_run() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(
        &server,
        (1..=3)
            .map(|i| NodeTemplate::new(&format!("sim-{i}")))
            .collect(),
    );
    let nodes = ok(&server, kubectl, &["get", "nodes"]);
    assert!(
        nodes.contains("sim-1") && nodes.contains("Ready"),
        "{nodes}"
    );
    for i in 0..6 {
        apply(&server, kubectl, &pod_manifest(&format!("p{i}"), "1", ""));
    }
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..6 {
        *per_node
            .entry(running_on(&server, kubectl, &format!("p{i}")))
            .or_default() += 1;
    }
    assert_eq!(
        per_node.values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2],
        "LeastAllocated spreads equal pods evenly: {per_node:?}"
    );
    let node = field(&server, kubectl, "p0", ".spec.nodeName");
    let ip = field(&server, kubectl, "p0", ".status.podIP");
    assert!(!ip.is_empty(), "a simulated pod gets an IP");
    let ready = field(
        &server,
        kubectl,
        "p0",
        ".status.conditions[?(@.type==\"Ready\")].status",
    );
    assert_eq!(ready, "True");
    let events = eventually(&server, "the Scheduled event", || {
        let events = ok(
            &server,
            kubectl,
            &[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=p0,reason=Scheduled",
                "-o",
                "jsonpath={.items[*].message}|{.items[*].source.component}|{.items[*].type}",
            ],
        );
        (!events.starts_with('|')).then_some(events)
    });
    assert_eq!(
        events,
        format!("Successfully assigned default/p0 to {node}|default-scheduler|Normal")
    );
    let lease = ok(
        &server,
        kubectl,
        &[
            "get",
            "lease",
            "-n",
            "kube-system",
            "kube-scheduler",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    assert!(!lease.is_empty(), "the scheduler holds its lease");
    // Deleting a pod on a simulated node removes it (the simulator plays the kubelet).
    ok(&server, kubectl, &["delete", "pod", "p0", "--wait=true"]);
}

#[test]
fn selectors_taints_affinity_and_resources_steer_placement() {
    let server = server();
    let kubectl = &kubectls()[0];
    let _nodes = simulate(
        &server,
        vec![
            NodeTemplate::new("sim-gpu")
                .label("accelerator", "gpu")
                .taint("dedicated", "gpu", "NoSchedule")
                .extended("example.com/gpu", "2"),
            NodeTemplate::new("sim-ssd").label("disk", "ssd"),
            NodeTemplate::new("sim-small")
                .capacity("1", "2Gi", 110)
                .label("zone", "b"),
            NodeTemplate::new("sim-soft").taint("spot", "", "PreferNoSchedule"),
        ],
    );
    // nodeSelector.
    apply(
        &server,
        kubectl,
        &pod_manifest("selected", "100m", "  nodeSelector:\n    disk: ssd\n"),
    );
    assert_eq!(running_on(&server, kubectl, "selected"), "sim-ssd");
    // A toleration alone does not attract; required node affinity does.
    let gpu_spec = "  tolerations:\n  - key: dedicated\n    operator: Equal\n    value: gpu\n    effect: NoSchedule\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions:\n          - key: accelerator\n            operator: In\n            values: [gpu]\n";
    apply(&server, kubectl, &pod_manifest("trainer", "100m", gpu_spec));
    assert_eq!(running_on(&server, kubectl, "trainer"), "sim-gpu");
    // Preferred node affinity.
    let preferred = "  affinity:\n    nodeAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n      - weight: 100\n        preference:\n          matchExpressions:\n          - key: zone\n            operator: In\n            values: [b]\n";
    apply(&server, kubectl, &pod_manifest("zoned", "100m", preferred));
    assert_eq!(running_on(&server, kubectl, "zoned"), "sim-small");
    // Resources: 3 CPUs fit neither the small node nor (untolerated) the GPU node; the soft taint
    // loses to the clean SSD node.
    apply(&server, kubectl, &pod_manifest("big", "3", ""));
    assert_eq!(running_on(&server, kubectl, "big"), "sim-ssd");
    apply(&server, kubectl, &pod_manifest("second-big", "3", ""));
    assert_eq!(
        running_on(&server, kubectl, "second-big"),
        "sim-soft",
        "a PreferNoSchedule taint only lowers the score"
    );
}

#[test]
fn an_unschedulable_pod_explains_why_and_is_placed_when_a_node_fits() {
    let server = server();
    let kubectl = &kubectls()[1];
    let nodes = simulate(
        &server,
        vec![
            NodeTemplate::new("sim-a").taint("team", "blue", "NoSchedule"),
            NodeTemplate::new("sim-b"),
            NodeTemplate::new("sim-c"),
        ],
    );
    apply(&server, kubectl, &pod_manifest("huge", "8", ""));
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.";
    let event = eventually(&server, "the FailedScheduling event", || {
        let message = ok(
            &server,
            kubectl,
            &[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=huge,reason=FailedScheduling",
                "-o",
                "jsonpath={.items[0].message}",
            ],
        );
        (!message.is_empty()).then_some(message)
    });
    assert_eq!(event, expected);
    let condition = eventually(&server, "the PodScheduled condition", || {
        let reason = field(
            &server,
            kubectl,
            "huge",
            ".status.conditions[?(@.type==\"PodScheduled\")].reason",
        );
        (reason == "Unschedulable").then(|| {
            field(
                &server,
                kubectl,
                "huge",
                ".status.conditions[?(@.type==\"PodScheduled\")].message",
            )
        })
    });
    assert_eq!(condition, expected);
    let described = ok(&server, kubectl, &["describe", "pod", "huge"]);
    assert!(
        described.contains("FailedScheduling") && described.contains("default-scheduler"),
        "{described}"
    );
    nodes
        .add(vec![
            NodeTemplate::new("sim-big").capacity("16", "64Gi", 110),
        ])
        .expect("a bigger node registers");
    assert_eq!(running_on(&server, kubectl, "huge"), "sim-big");
}

#[test]
fn required_anti_affinity_spreads_replicas() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(
        &server,
        (1..=3)
            .map(|i| NodeTemplate::new(&format!("sim-{i}")))
            .collect(),
    );
    let spec = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: web\nspec:\n  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector:\n          matchLabels:\n            app: web\n        topologyKey: kubernetes.io/hostname\n  containers:\n  - name: c\n    image: nginx\n"
        )
    };
    let mut nodes = std::collections::BTreeSet::new();
    for i in 0..3 {
        let name = format!("web-{i}");
        apply(&server, kubectl, &spec(&name));
        nodes.insert(running_on(&server, kubectl, &name));
    }
    assert_eq!(nodes.len(), 3, "one replica per node: {nodes:?}");
    apply(&server, kubectl, &spec("web-3"));
    let message = eventually(&server, "web-3 unschedulable", || {
        let message = field(
            &server,
            kubectl,
            "web-3",
            ".status.conditions[?(@.type==\"PodScheduled\")].message",
        );
        (!message.is_empty()).then_some(message)
    });
    assert_eq!(
        message,
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
}

#[test]
fn a_higher_priority_pod_preempts_a_lower_one() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(
        &server,
        vec![NodeTemplate::new("sim-only").capacity("2", "8Gi", 110)],
    );
    apply(
        &server,
        kubectl,
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: important\nvalue: 1000\n",
    );
    apply(&server, kubectl, &pod_manifest("filler", "1500m", ""));
    assert_eq!(running_on(&server, kubectl, "filler"), "sim-only");
    apply(
        &server,
        kubectl,
        &pod_manifest("vip", "1500m", "  priorityClassName: important\n"),
    );
    assert_eq!(running_on(&server, kubectl, "vip"), "sim-only");
    let gone = run(&server, kubectl, &["get", "pod", "filler"], None);
    assert!(
        !gone.status.success(),
        "the victim is gone: {}",
        text(&gone)
    );
    let preempted = ok(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=filler,reason=Preempted",
            "-o",
            "jsonpath={.items[0].message}",
        ],
    );
    assert!(
        preempted.starts_with("Preempted by pod ") && preempted.ends_with(" on node sim-only"),
        "{preempted}"
    );
}
