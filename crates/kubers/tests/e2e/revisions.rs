//! ControllerRevisions of DaemonSets and StatefulSets: each template becomes a numbered revision,
//! pods carry its hash, a template change rolls the pods, and `kubectl rollout history|undo` read
//! and restore the revisions.

use std::path::Path;

use kubers_testkit::server::TestServer;

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

/// `name|revision` of every ControllerRevision, one a line.
fn revisions(server: &TestServer, kubectl: &Path) -> Vec<String> {
    let out = ok(
        server,
        kubectl,
        &[
            "get",
            "controllerrevisions",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}|{.revision}{\"\\n\"}{end}",
        ],
    );
    let mut listed: Vec<String> = lines(&out).into_iter().map(str::to_owned).collect();
    listed.sort();
    listed
}

/// The `controller-revision-hash` labels of the pods matching `selector`, once they are `count`
/// pods all with one label that `done` accepts.
fn pod_hash(
    server: &TestServer,
    kubectl: &Path,
    selector: &str,
    count: usize,
    done: impl Fn(&str) -> bool,
) -> String {
    let out = until(
        server,
        kubectl,
        &[
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            "jsonpath={range .items[*]}{.metadata.labels.controller-revision-hash}{\"\\n\"}{end}",
        ],
        |out| {
            let hashes = lines(out);
            hashes.len() == count && hashes.iter().all(|hash| *hash == hashes[0] && done(hash))
        },
    );
    lines(&out)[0].to_owned()
}

#[test]
fn a_daemon_set_records_revisions_rolls_its_pods_and_rolls_back() {
    let server = server();
    let kubectl = &kubectls()[1];
    apply(
        &server,
        kubectl,
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-b\n",
    );
    let daemon_set = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n";
    apply(&server, kubectl, daemon_set);
    let first = pod_hash(&server, kubectl, "app=agent", 2, |_| true);
    assert_eq!(revisions(&server, kubectl), [format!("agent-{first}|1")]);

    ok(
        &server,
        kubectl,
        &["set", "image", "ds/agent", "c=busybox:1.37"],
    );
    let second = pod_hash(&server, kubectl, "app=agent", 2, |hash| hash != first);
    assert_eq!(revisions(&server, kubectl), {
        let mut expected = [format!("agent-{first}|1"), format!("agent-{second}|2")];
        expected.sort();
        expected
    });
    let history = ok(&server, kubectl, &["rollout", "history", "daemonset/agent"]);
    let numbers: Vec<&str> = lines(&history)
        .iter()
        .skip(2)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(numbers, ["1", "2"], "{history}");

    // Undo restores the first template; its revision becomes the newest.
    ok(&server, kubectl, &["rollout", "undo", "daemonset/agent"]);
    let image = ok(
        &server,
        kubectl,
        &[
            "get",
            "ds",
            "agent",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(image, "busybox:1.36");
    pod_hash(&server, kubectl, "app=agent", 2, |hash| hash == first);
    until(
        &server,
        kubectl,
        &[
            "get",
            "controllerrevision",
            &format!("agent-{first}"),
            "-o",
            "jsonpath={.revision}",
        ],
        |out| out == "3",
    );
    let shown = ok(
        &server,
        kubectl,
        &["rollout", "history", "daemonset/agent", "--revision=3"],
    );
    assert!(shown.contains("busybox:1.36"), "{shown}");
}

#[test]
fn a_stateful_set_lists_its_revisions_and_rolls_back() {
    let server = server();
    let kubectl = &kubectls()[1];
    let manifest = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  replicas: 1\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      labels:\n        app: db\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n";
    apply(&server, kubectl, manifest);
    let first = pod_hash(&server, kubectl, "app=db", 1, |_| true);
    assert!(first.starts_with("db-"), "{first}");
    make_ready(&server, kubectl, "pod/db-0");
    until(
        &server,
        kubectl,
        &[
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.currentRevision}/{.status.updateRevision}",
        ],
        |out| out == format!("{first}/{first}"),
    );
    assert_eq!(revisions(&server, kubectl), [format!("{first}|1")]);
    let hash_label = ok(
        &server,
        kubectl,
        &[
            "get",
            "controllerrevision",
            &first,
            "-o",
            "jsonpath={.metadata.labels.controller\\.kubernetes\\.io/hash}",
        ],
    );
    assert_eq!(format!("db-{hash_label}"), first);

    ok(
        &server,
        kubectl,
        &["set", "image", "sts/db", "c=busybox:1.37"],
    );
    let second = pod_hash(&server, kubectl, "app=db", 1, |hash| hash != first);
    make_ready(&server, kubectl, "pod/db-0");
    until(
        &server,
        kubectl,
        &[
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.currentRevision}/{.status.updateRevision}",
        ],
        |out| out == format!("{second}/{second}"),
    );
    let history = ok(&server, kubectl, &["rollout", "history", "statefulset/db"]);
    let numbers: Vec<&str> = lines(&history)
        .iter()
        .skip(2)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(numbers, ["1", "2"], "{history}");

    ok(&server, kubectl, &["rollout", "undo", "statefulset/db"]);
    until(
        &server,
        kubectl,
        &[
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.updateRevision}",
        ],
        |out| out == first,
    );
    pod_hash(&server, kubectl, "app=db", 1, |hash| hash == first);
    until(
        &server,
        kubectl,
        &[
            "get",
            "controllerrevision",
            &first,
            "-o",
            "jsonpath={.revision}",
        ],
        |out| out == "3",
    );
}
