//! End to end: a real `kubers server` driven by real clients: kubectl 1.33 and 1.35, and the official
//! Python client.

use std::path::{Path, PathBuf};
use std::process::Output;

use kubers_testkit::server::{TestServer, kubectl_binaries};

fn server() -> TestServer {
    TestServer::start(Path::new(env!("CARGO_BIN_EXE_kubers"))).expect("kubers server starts")
}

fn kubectls() -> Vec<PathBuf> {
    kubectl_binaries().expect("kubectl 1.33 and 1.35 are installed")
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run(server: &TestServer, kubectl: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    server
        .kubectl_with(kubectl, args, stdin)
        .expect("kubectl runs")
}

fn ok(server: &TestServer, kubectl: &Path, args: &[&str]) -> String {
    let output = run(server, kubectl, args, None);
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}\nserver log:\n{}",
        kubectl.display(),
        text(&output),
        server.log()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fails(server: &TestServer, kubectl: &Path, args: &[&str]) -> String {
    let output = run(server, kubectl, args, None);
    assert!(
        !output.status.success(),
        "{} {args:?} succeeded: {}",
        kubectl.display(),
        text(&output)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn version_reports_kubernetes_1_34() {
    let server = server();
    for kubectl in kubectls() {
        let version = ok(&server, &kubectl, &["version", "-o", "json"]);
        assert!(
            version.contains("\"gitVersion\": \"v1.34.0+kubers\""),
            "{version}"
        );
    }
}

#[test]
fn namespaces_start_with_the_defaults() {
    let server = server();
    for kubectl in kubectls() {
        let table = ok(&server, &kubectl, &["get", "namespaces"]);
        let mut lines = table.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
        assert_eq!(header, ["NAME", "STATUS", "AGE"], "{table}");
        let names: Vec<&str> = lines
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert_eq!(
            names,
            ["default", "kube-node-lease", "kube-public", "kube-system"],
            "{table}"
        );
        assert!(table.contains("Active"), "{table}");
        ok(&server, &kubectl, &["get", "ns", "kube-system"]);
    }
}

#[test]
fn configmap_lifecycle() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let namespace = format!("team-{index}");
        let ns = namespace.as_str();
        let created = ok(&server, kubectl, &["create", "namespace", ns]);
        assert!(
            created.contains(&format!("namespace/{ns} created")),
            "{created}"
        );
        let created = ok(
            &server,
            kubectl,
            &[
                "create",
                "configmap",
                "settings",
                "-n",
                ns,
                "--from-literal=color=blue",
            ],
        );
        assert!(created.contains("configmap/settings created"), "{created}");
        let table = ok(&server, kubectl, &["get", "configmaps", "-n", ns]);
        let header: Vec<&str> = table
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(header, ["NAME", "DATA", "AGE"], "{table}");
        let yaml = ok(
            &server,
            kubectl,
            &["get", "configmap", "settings", "-n", ns, "-o", "yaml"],
        );
        assert!(yaml.contains("color: blue"), "{yaml}");
        assert!(yaml.contains("resourceVersion:"), "{yaml}");
        let duplicate = fails(
            &server,
            kubectl,
            &[
                "create",
                "configmap",
                "settings",
                "-n",
                ns,
                "--from-literal=a=b",
            ],
        );
        // `kubectl create configmap` words it as "failed to create configmap: <the server's message>".
        assert!(
            duplicate.contains("configmaps \"settings\" already exists"),
            "{duplicate}"
        );
        let labelled = ok(
            &server,
            kubectl,
            &["label", "configmap", "settings", "-n", ns, "tier=front"],
        );
        assert!(labelled.contains("labeled"), "{labelled}");
        let selected = ok(
            &server,
            kubectl,
            &["get", "cm", "-n", ns, "-l", "tier=front", "-o", "name"],
        );
        assert_eq!(selected.trim(), "configmap/settings");
        let deleted = ok(
            &server,
            kubectl,
            &["delete", "configmap", "settings", "-n", ns],
        );
        assert!(deleted.contains("\"settings\" deleted"), "{deleted}");
        let missing = fails(
            &server,
            kubectl,
            &["get", "configmap", "settings", "-n", ns],
        );
        assert!(
            missing.contains("Error from server (NotFound): configmaps \"settings\" not found"),
            "{missing}"
        );
    }
}

#[test]
fn apply_creates_then_updates() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let manifest = |color: &str| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied-{index}\n  namespace: default\n\
                 data:\n  color: {color}\n"
            )
        };
        for (color, verb) in [("red", "created"), ("green", "configured")] {
            let output = run(
                &server,
                kubectl,
                &["apply", "-f", "-"],
                Some(&manifest(color)),
            );
            assert!(
                output.status.success(),
                "{}\n{}",
                text(&output),
                server.log()
            );
            assert!(
                String::from_utf8_lossy(&output.stdout).contains(verb),
                "{}",
                text(&output)
            );
        }
        let name = format!("applied-{index}");
        let color = ok(
            &server,
            kubectl,
            &["get", "cm", &name, "-o", "jsonpath={.data.color}"],
        );
        assert_eq!(color, "green");
    }
}

#[test]
fn unauthenticated_requests_are_refused() {
    let server = server();
    let kubectl = &kubectls()[0];
    // The server certificate is trusted, but the token is wrong and there is no client certificate.
    let kubeconfig = std::fs::read_to_string(server.kubeconfig()).expect("kubeconfig");
    let ca = kubeconfig
        .lines()
        .find_map(|line| line.trim().strip_prefix("certificate-authority-data:"))
        .expect("the kubeconfig carries the CA")
        .trim();
    let anonymous = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{}\n    \
         certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n    token: not-the-token\ncontexts:\n- name: x\n  context:\n    \
         cluster: c\n    user: u\ncurrent-context: x\n",
        server.port()
    );
    let path = server.kubeconfig().with_file_name("anonymous.yaml");
    std::fs::write(&path, anonymous).expect("write kubeconfig");
    let output = std::process::Command::new(kubectl)
        .args(["get", "namespaces", "--kubeconfig"])
        .arg(&path)
        .output()
        .expect("kubectl runs");
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Unauthorized") || stderr.contains("provide credentials"),
        "{stderr}"
    );
}

#[test]
fn watch_delete_collection_and_metrics() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let ns = format!("watched-{index}");
        ok(&server, kubectl, &["create", "namespace", &ns]);
        // A watch started now sees the objects created below, then their deletion.
        let mut watch = std::process::Command::new(kubectl)
            .args([
                "get",
                "configmaps",
                "-n",
                &ns,
                "--watch",
                "-o",
                "name",
                "--request-timeout=20s",
            ])
            .env("KUBECONFIG", server.kubeconfig())
            .env(
                "HOME",
                server
                    .kubeconfig()
                    .with_file_name(format!("home-watch-{index}")),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl watch starts");
        std::thread::sleep(std::time::Duration::from_millis(1500));
        for name in ["one", "two"] {
            ok(
                &server,
                kubectl,
                &["create", "configmap", name, "-n", &ns, "--from-literal=k=v"],
            );
        }
        let deleted = ok(
            &server,
            kubectl,
            &["delete", "configmaps", "--all", "-n", &ns],
        );
        assert!(
            deleted.contains("\"one\" deleted") && deleted.contains("\"two\" deleted"),
            "{deleted}"
        );
        let left = ok(
            &server,
            kubectl,
            &["get", "configmaps", "-n", &ns, "-o", "name"],
        );
        assert_eq!(left.trim(), "", "{left}");
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = watch.kill();
        let output = watch.wait_with_output().expect("watch output");
        let seen = String::from_utf8_lossy(&output.stdout);
        assert!(
            seen.contains("configmap/one") && seen.contains("configmap/two"),
            "watch saw: {seen}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metrics = ok(&server, &kubectls()[0], &["get", "--raw", "/metrics"]);
    for expected in [
        "apiserver_request_total{verb=\"create\",resource=\"configmaps\",code=\"201\"}",
        "apiserver_storage_objects{resource=\"namespaces\"} 6",
        "kubers_store_db_size_bytes",
        "kubers_store_current_revision",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
}

#[test]
fn create_subcommands_send_protobuf() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let deployment = format!("web-{index}");
        let created = ok(
            &server,
            kubectl,
            &[
                "create",
                "deployment",
                &deployment,
                "--image",
                "nginx:1.27",
                "--replicas",
                "2",
                "--port",
                "80",
            ],
        );
        assert!(
            created.contains(&format!("deployment.apps/{deployment} created")),
            "{created}"
        );
        let replicas = ok(
            &server,
            kubectl,
            &[
                "get",
                "deploy",
                &deployment,
                "-o",
                "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.type}",
            ],
        );
        assert_eq!(replicas, "2 80 RollingUpdate");
        let scaled = ok(
            &server,
            kubectl,
            &["scale", "deployment", &deployment, "--replicas=5"],
        );
        assert!(scaled.contains("scaled"), "{scaled}");
        let replicas = ok(
            &server,
            kubectl,
            &[
                "get",
                "deploy",
                &deployment,
                "-o",
                "jsonpath={.spec.replicas}",
            ],
        );
        assert_eq!(replicas, "5");
        let annotated = ok(
            &server,
            kubectl,
            &["annotate", "deployment", &deployment, "owner=team-a"],
        );
        assert!(annotated.contains("annotated"), "{annotated}");
        let service = format!("svc-{index}");
        ok(
            &server,
            kubectl,
            &["create", "service", "clusterip", &service, "--tcp=80:8080"],
        );
        let ports = ok(
            &server,
            kubectl,
            &[
                "get",
                "svc",
                &service,
                "-o",
                "jsonpath={.spec.ports[0].port}:{.spec.ports[0].targetPort} {.spec.type}",
            ],
        );
        assert_eq!(ports, "80:8080 ClusterIP");
        let secret = format!("secret-{index}");
        ok(
            &server,
            kubectl,
            &[
                "create",
                "secret",
                "generic",
                &secret,
                "--from-literal=password=hunter2",
            ],
        );
        let data = ok(
            &server,
            kubectl,
            &[
                "get",
                "secret",
                &secret,
                "-o",
                "jsonpath={.type} {.data.password}",
            ],
        );
        assert_eq!(data, "Opaque aHVudGVyMg==");
    }
    let pods = ok(&server, &kubectls()[0], &["run", "web", "--image", "nginx"]);
    assert!(pods.contains("pod/web created"), "{pods}");
    let table = ok(&server, &kubectls()[0], &["get", "pods"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{table}"
    );
    assert!(
        table.contains("0/1") && table.contains("Pending"),
        "{table}"
    );
}

#[test]
fn services_get_unique_cluster_ips_and_node_ports() {
    let server = server();
    let kubectl = &kubectls()[1];
    let kubernetes = ok(
        &server,
        kubectl,
        &[
            "get",
            "svc",
            "kubernetes",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );
    assert_eq!(kubernetes, "10.43.0.1");
    let endpoint = ok(
        &server,
        kubectl,
        &[
            "get",
            "endpoints",
            "kubernetes",
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}",
        ],
    );
    assert_eq!(endpoint, format!("127.0.0.1:{}", server.port()));
    let slice = ok(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "kubernetes",
            "-o",
            "jsonpath={.endpoints[0].addresses[0]}",
        ],
    );
    assert_eq!(slice, "127.0.0.1");
    let classes = ok(&server, kubectl, &["get", "priorityclasses", "-o", "name"]);
    assert!(
        classes.contains("system-node-critical") && classes.contains("system-cluster-critical"),
        "{classes}"
    );
    let mut ips = std::collections::HashSet::from([kubernetes]);
    for index in 0..5 {
        let name = format!("s{index}");
        ok(
            &server,
            kubectl,
            &["create", "service", "nodeport", &name, "--tcp=80:8080"],
        );
        let ip = ok(
            &server,
            kubectl,
            &["get", "svc", &name, "-o", "jsonpath={.spec.clusterIP}"],
        );
        assert!(ip.starts_with("10.43."), "{ip}");
        assert!(ips.insert(ip.clone()), "{ip} handed out twice");
        let port: u16 = ok(
            &server,
            kubectl,
            &[
                "get",
                "svc",
                &name,
                "-o",
                "jsonpath={.spec.ports[0].nodePort}",
            ],
        )
        .parse()
        .expect("a node port");
        assert!((30000..=32767).contains(&port), "{port}");
    }
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: fixed\nspec:\n  clusterIP: 10.43.0.1\n  ports:\n  - port: 80\n";
    let output = run(&server, kubectl, &["create", "-f", "-"], Some(manifest));
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("the provided IP (10.43.0.1) is already allocated"),
        "{}",
        text(&output)
    );
    ok(&server, kubectl, &["delete", "svc", "s0"]);
    let table = ok(&server, kubectl, &["get", "svc"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{table}"
    );
}

#[test]
fn objects_survive_kill_9_of_the_server() {
    let mut server = server();
    let kubectl = &kubectls()[1];
    ok(&server, kubectl, &["create", "namespace", "durable"]);
    for index in 0..20 {
        ok(
            &server,
            kubectl,
            &[
                "create",
                "configmap",
                &format!("c{index}"),
                "-n",
                "durable",
                "--from-literal=i=v",
            ],
        );
    }
    let before = ok(
        &server,
        kubectl,
        &["get", "configmaps", "-n", "durable", "-o", "name"],
    );
    let uid = ok(
        &server,
        kubectl,
        &[
            "get",
            "namespace",
            "durable",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    );
    server.kill_and_restart().expect("server restarts");
    let after = ok(
        &server,
        kubectl,
        &["get", "configmaps", "-n", "durable", "-o", "name"],
    );
    assert_eq!(after, before);
    assert_eq!(after.lines().count(), 20);
    assert_eq!(
        ok(
            &server,
            kubectl,
            &[
                "get",
                "namespace",
                "durable",
                "-o",
                "jsonpath={.metadata.uid}"
            ]
        ),
        uid
    );
    // The same certificates: the old kubeconfig still works, and the kubernetes service was not recreated.
    let ip = ok(
        &server,
        kubectl,
        &[
            "get",
            "svc",
            "kubernetes",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );
    assert_eq!(ip, "10.43.0.1");
    ok(
        &server,
        kubectl,
        &["create", "configmap", "after-restart", "-n", "durable"],
    );
}

#[test]
fn invalid_objects_get_422_with_field_causes() {
    let server = server();
    for kubectl in kubectls() {
        let manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: invalid-pod\nspec:\n  containers:\n  - name: web\n";
        let output = run(&server, &kubectl, &["apply", "-f", "-"], Some(manifest));
        assert!(!output.status.success(), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                "The Pod \"invalid-pod\" is invalid: spec.containers[0].image: Required value"
            ),
            "{stderr}"
        );
        let missing = fails(&server, &kubectl, &["get", "pod", "nope"]);
        assert!(
            missing.contains("Error from server (NotFound): pods \"nope\" not found"),
            "{missing}"
        );
    }
}

#[test]
fn everyday_read_commands() {
    let server = server();
    for kubectl in kubectls() {
        let info = ok(&server, &kubectl, &["cluster-info"]);
        assert!(
            info.contains("Kubernetes control plane is running at https://127.0.0.1:"),
            "{info}"
        );
        let resources = ok(&server, &kubectl, &["api-resources"]);
        for line in ["pods", "po", "deployments", "deploy", "configmaps", "cm"] {
            assert!(
                resources.split_whitespace().any(|word| word == line),
                "{line} missing:\n{resources}"
            );
        }
        let dry_run = ok(
            &server,
            &kubectl,
            &[
                "run",
                "web",
                "--image",
                "nginx",
                "--dry-run=client",
                "-o",
                "yaml",
            ],
        );
        assert!(
            dry_run.contains("kind: Pod") && dry_run.contains("image: nginx"),
            "{dry_run}"
        );
    }
    let kubectl = &kubectls()[1];
    ok(&server, kubectl, &["run", "web", "--image", "nginx"]);
    ok(
        &server,
        kubectl,
        &["create", "deployment", "d", "--image", "nginx"],
    );
    let wide = ok(&server, kubectl, &["get", "pods", "-A", "-o", "wide"]);
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ],
        "{wide}"
    );
    assert!(
        wide.lines()
            .any(|line| line.starts_with("default") && line.contains("web")),
        "{wide}"
    );
    let all = ok(&server, kubectl, &["get", "all"]);
    assert!(
        all.contains("pod/web")
            && all.contains("deployment.apps/d")
            && all.contains("service/kubernetes"),
        "{all}"
    );
    let described = ok(&server, kubectl, &["describe", "pod", "web"]);
    assert!(
        described.contains("Name:") && described.contains("web") && described.contains("nginx"),
        "{described}"
    );
    let nodes = server
        .kubectl_with(kubectl, &["get", "nodes"], None)
        .expect("kubectl runs");
    assert!(nodes.status.success(), "{}", text(&nodes));
    assert!(
        String::from_utf8_lossy(&nodes.stderr).contains("No resources found"),
        "{}",
        text(&nodes)
    );
}

#[test]
fn apply_and_set_image_merge_containers_by_name() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let name = format!("merged-{index}");
        let manifest = |image: &str, tier: &str| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    tier: {tier}\nspec:\n  \
                 selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    \
                 spec:\n      containers:\n      - name: web\n        image: {image}\n        ports:\n        - containerPort: 80\n      \
                 - name: sidecar\n        image: busybox:1.36\n"
            )
        };
        for (image, tier) in [("nginx:1.27", "front"), ("nginx:1.28", "edge")] {
            let output = run(
                &server,
                kubectl,
                &["apply", "-f", "-"],
                Some(&manifest(image, tier)),
            );
            assert!(
                output.status.success(),
                "{}\n{}",
                text(&output),
                server.log()
            );
        }
        let shown = ok(
            &server,
            kubectl,
            &[
                "get",
                "deploy",
                &name,
                "-o",
                "jsonpath={.spec.template.spec.containers[*].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.labels.tier}",
            ],
        );
        assert_eq!(shown, "nginx:1.28 busybox:1.36 80 edge");
        ok(
            &server,
            kubectl,
            &[
                "set",
                "image",
                &format!("deployment/{name}"),
                "sidecar=busybox:1.37",
            ],
        );
        let images = ok(
            &server,
            kubectl,
            &[
                "get",
                "deploy",
                &name,
                "-o",
                "jsonpath={.spec.template.spec.containers[*].image} {.metadata.generation}",
            ],
        );
        assert_eq!(images, "nginx:1.28 busybox:1.37 3");
    }
}

#[test]
fn graceful_deletion_and_finalizers() {
    let server = server();
    let kubectl = &kubectls()[1];
    let bound = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bound\nspec:\n  nodeName: node-1\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    let output = run(&server, kubectl, &["apply", "-f", "-"], Some(bound));
    assert!(output.status.success(), "{}", text(&output));
    ok(
        &server,
        kubectl,
        &["delete", "pod", "bound", "--wait=false"],
    );
    let marked = ok(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "bound",
            "-o",
            "jsonpath={.metadata.deletionGracePeriodSeconds}",
        ],
    );
    assert_eq!(marked, "30", "a bound pod waits for its kubelet");
    let table = ok(&server, kubectl, &["get", "pod", "bound"]);
    assert!(table.contains("Terminating"), "{table}");
    ok(
        &server,
        kubectl,
        &["delete", "pod", "bound", "--grace-period=0", "--force"],
    );
    fails(&server, kubectl, &["get", "pod", "bound"]);

    let held = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers:\n  - example.com/hold\n";
    let output = run(&server, kubectl, &["apply", "-f", "-"], Some(held));
    assert!(output.status.success(), "{}", text(&output));
    ok(
        &server,
        kubectl,
        &["delete", "configmap", "held", "--wait=false"],
    );
    let at = ok(
        &server,
        kubectl,
        &[
            "get",
            "configmap",
            "held",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
    );
    assert!(!at.is_empty(), "marked for deletion");
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "configmap",
            "held",
            "--type=merge",
            "-p",
            "{\"metadata\":{\"finalizers\":null}}",
        ],
    );
    let gone = fails(&server, kubectl, &["get", "configmap", "held"]);
    assert!(gone.contains("NotFound"), "{gone}");
}

#[test]
fn python_client_lists_creates_and_watches() {
    let server = server();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".tmp/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps",
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python_client.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(server.kubeconfig())
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output),
        server.log()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "namespaces default,kube-node-lease,kube-public,kube-system",
        "created from-python True",
        "read w",
        "events ADDED,MODIFIED,DELETED",
        "missing 404",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from:\n{stdout}"
        );
    }
}

#[test]
fn binding_assigns_a_pod_to_a_node_once() {
    let server = server();
    let kubectl = &kubectls()[1];
    ok(&server, kubectl, &["run", "web", "--image", "nginx"]);
    let binding = "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"web\"},\"target\":{\"kind\":\"Node\",\"name\":\"node-1\"}}";
    let path = "/api/v1/namespaces/default/pods/web/binding";
    let output = run(
        &server,
        kubectl,
        &["create", "--raw", path, "-f", "-"],
        Some(binding),
    );
    assert!(output.status.success(), "{}", text(&output));
    let node = ok(
        &server,
        kubectl,
        &["get", "pod", "web", "-o", "jsonpath={.spec.nodeName}"],
    );
    assert_eq!(node, "node-1");
    let again = run(
        &server,
        kubectl,
        &["create", "--raw", path, "-f", "-"],
        Some(binding),
    );
    assert!(!again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is already assigned to node"),
        "{}",
        text(&again)
    );
}

#[test]
fn lists_at_an_exact_resource_version() {
    let server = server();
    let kubectl = &kubectls()[0];
    ok(&server, kubectl, &["create", "configmap", "first"]);
    let list = ok(
        &server,
        kubectl,
        &["get", "--raw", "/api/v1/namespaces/default/configmaps"],
    );
    let revision = list
        .split("\"resourceVersion\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the list has a resourceVersion")
        .to_owned();
    ok(&server, kubectl, &["create", "configmap", "second"]);
    let exact = ok(
        &server,
        kubectl,
        &[
            "get",
            "--raw",
            &format!(
                "/api/v1/namespaces/default/configmaps?resourceVersion={revision}&resourceVersionMatch=Exact"
            ),
        ],
    );
    assert!(
        exact.contains("\"first\"") && !exact.contains("\"second\""),
        "{exact}"
    );
    let current = ok(
        &server,
        kubectl,
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/configmaps?resourceVersion={revision}"),
        ],
    );
    assert!(current.contains("\"second\""), "{current}");
    let future = fails(
        &server,
        kubectl,
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/default/configmaps?resourceVersion=999999",
        ],
    );
    assert!(future.contains("Too large resource version"), "{future}");
}

#[test]
fn eviction_respects_disruption_budgets() {
    let server = server();
    let kubectl = &kubectls()[1];
    ok(&server, kubectl, &["run", "free", "--image", "nginx"]);
    ok(
        &server,
        kubectl,
        &[
            "run",
            "guarded",
            "--image",
            "nginx",
            "--labels",
            "app=guarded",
        ],
    );
    ok(
        &server,
        kubectl,
        &[
            "create",
            "poddisruptionbudget",
            "keep-one",
            "--selector",
            "app=guarded",
            "--min-available",
            "1",
        ],
    );
    let eviction = |pod: &str| {
        format!(
            "{{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{{\"name\":\"{pod}\",\"namespace\":\"default\"}}}}"
        )
    };
    let evict = |pod: &str| {
        run(
            &server,
            kubectl,
            &[
                "create",
                "--raw",
                &format!("/api/v1/namespaces/default/pods/{pod}/eviction"),
                "-f",
                "-",
            ],
            Some(&eviction(pod)),
        )
    };
    let freed = evict("free");
    assert!(freed.status.success(), "{}", text(&freed));
    fails(&server, kubectl, &["get", "pod", "free"]);
    let refused = evict("guarded");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("disruption budget"),
        "{}",
        text(&refused)
    );
    ok(&server, kubectl, &["get", "pod", "guarded"]);
}

#[test]
fn etcd_datastore_keeps_upstream_keys() {
    let etcd = kubers_testkit::etcd::EtcdServer::start().expect("etcd starts");
    let endpoint = etcd.endpoint();
    let server = TestServer::start_with(
        Path::new(env!("CARGO_BIN_EXE_kubers")),
        &["--datastore-endpoint", &endpoint],
    )
    .expect("kubers server starts on etcd");
    let kubectl = &kubectls()[1];
    let namespaces = ok(&server, kubectl, &["get", "namespaces", "-o", "name"]);
    assert!(namespaces.contains("namespace/kube-system"), "{namespaces}");
    ok(
        &server,
        kubectl,
        &["create", "configmap", "in-etcd", "--from-literal=a=b"],
    );
    let value = ok(
        &server,
        kubectl,
        &["get", "cm", "in-etcd", "-o", "jsonpath={.data.a}"],
    );
    assert_eq!(value, "b");
    // An operator sees the object under upstream's key with etcdctl.
    let keys = std::process::Command::new("etcdctl")
        .args([
            "--endpoints",
            &endpoint,
            "get",
            "--prefix",
            "/registry/configmaps/",
            "--keys-only",
        ])
        .env("ETCDCTL_API", "3")
        .output()
        .expect("etcdctl runs");
    assert!(
        String::from_utf8_lossy(&keys.stdout).contains("/registry/configmaps/default/in-etcd"),
        "{}",
        text(&keys)
    );
}
