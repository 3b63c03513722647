//! Watches, collections and metrics.

use crate::*;

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
        // The root CA publisher puts `kube-root-ca.crt` back, as upstream's does.
        let left: Vec<&str> = left
            .lines()
            .filter(|line| *line != "configmap/kube-root-ca.crt")
            .collect();
        assert!(left.is_empty(), "{left:?}");
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
