//! Workload controllers driving real pods: a single-node cluster (server, scheduler, controllers,
//! embedded agent and containerd) in a network namespace of the test's own. Deployments roll out,
//! scale, update and roll back; a deleted pod is replaced; Jobs complete or hit their backoff limit;
//! a DaemonSet and an ordered StatefulSet run; deleting a namespace removes what ran in it.

use std::time::{Duration, Instant};

use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;

use crate::kubectls;

fn kubectl(cluster: &TestCluster, args: &[&str], stdin: Option<&str>) -> String {
    crate::node::kubectl(cluster, args, stdin).trim().to_owned()
}

/// Runs `kubectl get` with a JSONPath until `done` accepts the value (120 s at most).
fn wait_for(cluster: &TestCluster, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let output = cluster
            .kubectl_with(&kubectls()[0], args, None)
            .expect("kubectl runs");
        let value = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if output.status.success() && done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {args:?} is {value:?} after 120 s\n{}\nserver log (last lines):\n{}",
            kubectl(cluster, &["get", "all", "-A", "-o", "wide"], None),
            crate::node::tail(&cluster.log())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn rollout(cluster: &TestCluster, target: &str) {
    kubectl(
        cluster,
        &["rollout", "status", target, "--timeout=120s"],
        None,
    );
}

fn running_pods(cluster: &TestCluster, selector: &str) -> Vec<String> {
    kubectl(
        cluster,
        &[
            "get",
            "pods",
            "-l",
            selector,
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        None,
    )
    .split_whitespace()
    .map(str::to_owned)
    .collect()
}

fn manifests() -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  strategy:
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {BUSYBOX_IMAGE}
        command: ["sleep", "3600"]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {{app: agent}}
  template:
    metadata:
      labels: {{app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {BUSYBOX_IMAGE}
        command: ["sleep", "3600"]
---
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {{app: db}}
  ports:
  - port: 5432
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels: {{app: db}}
  template:
    metadata:
      labels: {{app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {BUSYBOX_IMAGE}
        command: ["sh", "-c", "hostname > /dev/termination-log; sleep 3600"]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: fails
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: {BUSYBOX_IMAGE}
        command: ["sh", "-c", "exit 3"]
"#
    )
}

#[test]
fn workloads_converge_on_a_real_node() {
    let cluster = crate::node::cluster();
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifests()));

    // A Deployment reaches its replicas, scales, rolls out an update and rolls back.
    rollout(&cluster, "deployment/web");
    assert_eq!(running_pods(&cluster, "app=web").len(), 2);
    kubectl(&cluster, &["scale", "deployment/web", "--replicas=3"], None);
    rollout(&cluster, "deployment/web");
    assert_eq!(running_pods(&cluster, "app=web").len(), 3);
    kubectl(
        &cluster,
        &["set", "env", "deployment/web", "COLOR=blue"],
        None,
    );
    rollout(&cluster, "deployment/web");
    let sets = kubectl(
        &cluster,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.replicas}",
        ],
        None,
    );
    let mut replicas: Vec<&str> = sets.split_whitespace().collect();
    replicas.sort_unstable();
    assert_eq!(replicas, ["0", "3"], "{sets}");
    let hash = kubectl(
        &cluster,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[?(@.spec.replicas==3)].metadata.labels.pod-template-hash}",
        ],
        None,
    );
    let pod = running_pods(&cluster, &format!("app=web,pod-template-hash={hash}"))[0].clone();
    let color = kubectl(
        &cluster,
        &["exec", &pod, "--", "sh", "-c", "echo $COLOR"],
        None,
    );
    assert_eq!(color, "blue");
    kubectl(&cluster, &["rollout", "undo", "deployment/web"], None);
    rollout(&cluster, "deployment/web");
    let env = kubectl(
        &cluster,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].env}",
        ],
        None,
    );
    assert_eq!(env, "", "the rollback restores the template without COLOR");

    // A deleted pod is replaced.
    let before = running_pods(&cluster, "app=web");
    kubectl(
        &cluster,
        &["delete", "pod", &before[0], "--wait=false"],
        None,
    );
    wait_for(
        &cluster,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ],
        |ready| ready == "3" && !running_pods(&cluster, "app=web").contains(&before[0]),
    );

    // A DaemonSet covers the node; a StatefulSet starts its pods in order with stable names.
    rollout(&cluster, "daemonset/agent");
    assert_eq!(running_pods(&cluster, "app=agent").len(), 1);
    rollout(&cluster, "statefulset/db");
    let mut ordinals = running_pods(&cluster, "app=db");
    ordinals.sort();
    assert_eq!(ordinals, ["db-0", "db-1"]);
    let started = |name: &str| {
        kubectl(
            &cluster,
            &["get", "pod", name, "-o", "jsonpath={.status.startTime}"],
            None,
        )
    };
    assert!(started("db-0") <= started("db-1"), "db-0 starts first");

    // A Job completes; a failing one hits its backoff limit.
    kubectl(
        &cluster,
        &[
            "create",
            "job",
            "once",
            &format!("--image={BUSYBOX_IMAGE}"),
            "--",
            "true",
        ],
        None,
    );
    kubectl(
        &cluster,
        &[
            "wait",
            "--for=condition=complete",
            "job/once",
            "--timeout=120s",
        ],
        None,
    );
    kubectl(
        &cluster,
        &[
            "wait",
            "--for=condition=failed",
            "job/fails",
            "--timeout=120s",
        ],
        None,
    );
    let reason = kubectl(
        &cluster,
        &[
            "get",
            "job",
            "fails",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
        ],
        None,
    );
    assert_eq!(reason, "BackoffLimitExceeded");

    // Deleting a namespace removes everything that ran in it.
    kubectl(&cluster, &["create", "namespace", "scratch"], None);
    kubectl(
        &cluster,
        &[
            "create",
            "deployment",
            "tmp",
            "-n",
            "scratch",
            &format!("--image={BUSYBOX_IMAGE}"),
            "--",
            "sleep",
            "3600",
        ],
        None,
    );
    kubectl(
        &cluster,
        &[
            "rollout",
            "status",
            "deployment/tmp",
            "-n",
            "scratch",
            "--timeout=120s",
        ],
        None,
    );
    kubectl(
        &cluster,
        &["delete", "namespace", "scratch", "--timeout=120s"],
        None,
    );
    let left = kubectl(
        &cluster,
        &[
            "get",
            "pods",
            "-A",
            "-o",
            "jsonpath={.items[*].metadata.namespace}",
        ],
        None,
    );
    assert!(!left.contains("scratch"), "{left}");
}
