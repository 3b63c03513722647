//! Reading the cluster: version, discovery-driven commands, the default objects, authentication.

use crate::*;

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
