//! Durability and datastores: kill -9 of the server, the etcd backend.

use crate::*;
use kubers_testkit::server::TestServer;
use std::path::Path;

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
    // The root CA publisher adds `kube-root-ca.crt` at its own pace: compare the test's own.
    let own = |listed: &str| -> Vec<String> {
        listed
            .lines()
            .filter(|line| *line != "configmap/kube-root-ca.crt")
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(own(&after), own(&before));
    assert_eq!(own(&after).len(), 20);
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
