//! Other real clients than kubectl.

use crate::*;
use std::path::Path;

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
