//! End to end: a real `kubers server` driven by the real kubectl.

use std::path::Path;
use std::process::Output;

use kubers_testkit::server::TestServer;

fn server() -> TestServer {
    TestServer::start(Path::new(env!("CARGO_BIN_EXE_kubers"))).expect("kubers server starts")
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ok(server: &TestServer, args: &[&str]) -> String {
    let output = server.kubectl(args).expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}\nserver log:\n{}",
        text(&output),
        server.log()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fails(server: &TestServer, args: &[&str]) -> String {
    let output = server.kubectl(args).expect("kubectl runs");
    assert!(
        !output.status.success(),
        "kubectl {args:?} succeeded: {}",
        text(&output)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn version_reports_kubernetes_1_34() {
    let server = server();
    let version = ok(&server, &["version", "-o", "json"]);
    assert!(
        version.contains("\"gitVersion\": \"v1.34.0+kubers\""),
        "{version}"
    );
}

#[test]
fn namespaces_start_with_the_defaults() {
    let server = server();
    let table = ok(&server, &["get", "namespaces"]);
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
    ok(&server, &["get", "ns", "kube-system"]);
}

#[test]
fn configmap_lifecycle() {
    let server = server();
    assert!(ok(&server, &["create", "namespace", "team-a"]).contains("namespace/team-a created"));
    let created = ok(
        &server,
        &[
            "create",
            "configmap",
            "settings",
            "-n",
            "team-a",
            "--from-literal=color=blue",
        ],
    );
    assert!(created.contains("configmap/settings created"), "{created}");
    let yaml = ok(
        &server,
        &["get", "configmap", "settings", "-n", "team-a", "-o", "yaml"],
    );
    assert!(yaml.contains("color: blue"), "{yaml}");
    assert!(yaml.contains("resourceVersion:"), "{yaml}");
    let duplicate = fails(
        &server,
        &[
            "create",
            "configmap",
            "settings",
            "-n",
            "team-a",
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
        &[
            "label",
            "configmap",
            "settings",
            "-n",
            "team-a",
            "tier=front",
        ],
    );
    assert!(labelled.contains("labeled"), "{labelled}");
    let selected = ok(
        &server,
        &[
            "get",
            "cm",
            "-n",
            "team-a",
            "-l",
            "tier=front",
            "-o",
            "name",
        ],
    );
    assert_eq!(selected.trim(), "configmap/settings");
    let deleted = ok(
        &server,
        &["delete", "configmap", "settings", "-n", "team-a"],
    );
    assert!(deleted.contains("\"settings\" deleted"), "{deleted}");
    let missing = fails(&server, &["get", "configmap", "settings", "-n", "team-a"]);
    assert!(
        missing.contains("Error from server (NotFound): configmaps \"settings\" not found"),
        "{missing}"
    );
}

#[test]
fn apply_creates_then_updates() {
    let server = server();
    let manifest = |color: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: default\ndata:\n  color: {color}\n"
        )
    };
    let kubectl = kubers_testkit::server::kubectl_binary();
    for (color, verb) in [("red", "created"), ("green", "configured")] {
        let output = server
            .kubectl_with(
                &kubectl,
                &["apply", "--validate=false", "-f", "-"],
                Some(&manifest(color)),
            )
            .expect("kubectl runs");
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
    let color = ok(
        &server,
        &["get", "cm", "applied", "-o", "jsonpath={.data.color}"],
    );
    assert_eq!(color, "green");
}
