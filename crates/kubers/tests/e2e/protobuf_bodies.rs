//! Protobuf request bodies as kubectl 1.35 sends them for `kubectl create`: an explicit zero in a
//! pointer field survives (`--replicas=0` is zero replicas, not the default one), and the fields the
//! JSON form omits when zero stay omitted.

use crate::*;

#[test]
fn kubectl_create_keeps_explicit_zeros() {
    let server = server();
    for kubectl in &kubectls() {
        ok(
            &server,
            kubectl,
            &[
                "create",
                "deployment",
                "zero",
                "--image=busybox:1.36",
                "--replicas=0",
                "--port=80",
            ],
        );
        let replicas = ok(
            &server,
            kubectl,
            &[
                "get",
                "deployment",
                "zero",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
        );
        assert_eq!(replicas, "0", "{}", kubectl.display());
        let ports = ok(
            &server,
            kubectl,
            &[
                "get",
                "deployment",
                "zero",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].ports}",
            ],
        );
        assert!(!ports.contains("hostPort"), "{ports}");
        assert!(ports.contains(r#""containerPort":80"#), "{ports}");
        ok(&server, kubectl, &["delete", "deployment", "zero"]);
    }
}
