//! ResourceQuota: the controller fills `status.hard` and `status.used` (what `kubectl describe
//! quota` shows), admission refuses creates that would exceed a quota with upstream's 403 text and
//! requires the compute resources a quota tracks, and deletions give usage back.

use std::path::Path;

use kubers_testkit::server::TestServer;

use crate::converge::*;
use crate::*;

fn pod(name: &str, resources: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: team\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n{resources}"
    )
}

const SMALL: &str = "    resources:\n      requests:\n        cpu: 250m\n";

fn used(server: &TestServer, kubectl: &Path, resource: &str, expected: &str) {
    until_field(
        server,
        kubectl,
        &["quota", "q", "-n", "team"],
        &format!("{{.status.used.{}}}", resource.replace('.', "\\.")),
        expected,
    );
}

fn refused(server: &TestServer, kubectl: &Path, manifest: &str) -> String {
    let output = run(server, kubectl, &["apply", "-f", "-"], Some(manifest));
    assert!(!output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_quota_tracks_usage_and_refuses_what_would_exceed_it() {
    let server = server();
    let kubectl = &kubectls()[1];
    ok(&server, kubectl, &["create", "namespace", "team"]);
    ok(
        &server,
        kubectl,
        &[
            "create",
            "quota",
            "q",
            "-n",
            "team",
            "--hard=pods=2,requests.cpu=1,configmaps=5,count/deployments.apps=1",
        ],
    );
    used(&server, kubectl, "pods", "0");
    assert_eq!(
        field(
            &server,
            kubectl,
            &["quota", "q", "-n", "team"],
            "{.status.hard.pods}"
        ),
        "2"
    );
    apply(&server, kubectl, &pod("p1", SMALL));
    apply(&server, kubectl, &pod("p2", SMALL));
    used(&server, kubectl, "pods", "2");
    used(&server, kubectl, "requests.cpu", "500m");
    let error = refused(&server, kubectl, &pod("p3", SMALL));
    assert!(
        error.contains(
            "pods \"p3\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
        ),
        "{error}"
    );
    // A quota on requests.cpu requires every container to request cpu.
    ok(&server, kubectl, &["delete", "pod", "p2", "-n", "team"]);
    used(&server, kubectl, "pods", "1");
    let error = refused(&server, kubectl, &pod("bare", ""));
    assert!(
        error.contains(
            "pods \"bare\" is forbidden: failed quota: q: must specify requests.cpu for: c"
        ),
        "{error}"
    );
    let big = "    resources:\n      requests:\n        cpu: 900m\n";
    let error = refused(&server, kubectl, &pod("big", big));
    assert!(
        error.contains(
            "exceeded quota: q, requested: requests.cpu=900m, used: requests.cpu=250m, limited: requests.cpu=1"
        ),
        "{error}"
    );

    // count/<resource>.<group> for any resource.
    ok(
        &server,
        kubectl,
        &[
            "create",
            "deployment",
            "d1",
            "-n",
            "team",
            "--image=busybox:1.36",
            "--replicas=0",
        ],
    );
    let output = run(
        &server,
        kubectl,
        &[
            "create",
            "deployment",
            "d2",
            "-n",
            "team",
            "--image=busybox:1.36",
            "--replicas=0",
        ],
        None,
    );
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("deployments.apps \"d2\" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"),
        "{}",
        text(&output)
    );

    let described = ok(&server, kubectl, &["describe", "quota", "q", "-n", "team"]);
    let rows: Vec<Vec<&str>> = described
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    for expected in [
        ["pods", "1", "2"],
        ["requests.cpu", "250m", "1"],
        ["count/deployments.apps", "1", "1"],
    ] {
        assert!(rows.iter().any(|row| row[..] == expected), "{described}");
    }
    let table = ok(&server, kubectl, &["get", "quota", "-n", "team"]);
    assert!(
        table.contains("count/deployments.apps: 1/1")
            && table.contains("pods: 1/2, requests.cpu: 250m/1"),
        "{table}"
    );
}
