//! Deletion and the subresources controllers use: graceful deletion, finalizers, binding, eviction, service allocation.

use crate::*;

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
    // Pending pods are evicted whatever the budgets say (upstream's rule); a running one is guarded.
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "pod",
            "guarded",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
        ],
    );
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
