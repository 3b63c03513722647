//! Lists and watches the watch cache serves: resourceVersion=0 lists (selectors, limit ignored like
//! upstream), watches from a recent revision, watches older than the cache fall back to the store, and
//! `kubectl get -w` tables.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::*;

/// Upper bound on waiting for one line of `kubectl get -w`, so a broken server fails instead of hanging.
const LINE_WAIT: Duration = Duration::from_secs(30);

fn raw(server: &TestServer, kubectl: &Path, path: &str) -> String {
    ok(server, kubectl, &["get", "--raw", path])
}

fn names(list: &str) -> Vec<String> {
    let list: Value = serde_json::from_str(list).expect("a JSON list");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap_or("").to_owned())
        // The root CA publisher's ConfigMap is in every namespace.
        .filter(|name| name != "kube-root-ca.crt")
        .collect()
}

/// The `type` and object name of each line of a watch stream.
fn events(stream: &str) -> Vec<(String, String)> {
    stream
        .lines()
        .filter(|line| !line.trim().is_empty())
        // The root CA publisher's ConfigMap is in every namespace.
        .filter(|line| !line.contains("\"name\":\"kube-root-ca.crt\""))
        .map(|line| {
            let event: Value = serde_json::from_str(line).expect("a JSON watch event");
            (
                event["type"].as_str().unwrap_or("").to_owned(),
                event["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(kind, name)| ((*kind).to_owned(), (*name).to_owned()))
        .collect()
}

#[test]
fn cached_lists_and_watches() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let ns = format!("cached-{index}");
        let base = format!("/api/v1/namespaces/{ns}/configmaps");
        ok(&server, kubectl, &["create", "namespace", &ns]);
        for name in ["a", "b"] {
            ok(
                &server,
                kubectl,
                &["create", "configmap", name, "-n", &ns, "--from-literal=k=v"],
            );
        }
        ok(
            &server,
            kubectl,
            &["label", "configmap", "a", "-n", &ns, "app=x"],
        );
        let listed: Value = serde_json::from_str(&raw(&server, kubectl, &base)).expect("list");
        let revision = listed["metadata"]["resourceVersion"]
            .as_str()
            .expect("rv")
            .to_owned();

        // resourceVersion=0: any state the cache has, at least as new as what this client wrote
        // (the consistent read above filled the cache); the limit is ignored, as upstream.
        let any = raw(
            &server,
            kubectl,
            &format!("{base}?resourceVersion=0&limit=1"),
        );
        assert_eq!(names(&any), ["a", "b"], "{any}");
        assert!(!any.contains("\"continue\""), "{any}");
        let labelled = raw(
            &server,
            kubectl,
            &format!("{base}?resourceVersion=0&labelSelector=app%3Dx"),
        );
        assert_eq!(names(&labelled), ["a"]);
        let named = raw(
            &server,
            kubectl,
            &format!("{base}?resourceVersion=0&fieldSelector=metadata.name%3Db"),
        );
        assert_eq!(names(&named), ["b"]);
        // NotOlderThan with a limit pages: the continuation reads the store at the same revision.
        let first = raw(
            &server,
            kubectl,
            &format!("{base}?resourceVersion={revision}&resourceVersionMatch=NotOlderThan&limit=1"),
        );
        assert_eq!(names(&first), ["a"]);
        let first: Value = serde_json::from_str(&first).expect("page");
        let token = first["metadata"]["continue"]
            .as_str()
            .expect("a continue token");
        let rest = raw(
            &server,
            kubectl,
            &format!("{base}?limit=1&continue={token}"),
        );
        assert_eq!(names(&rest), ["b"]);

        // Changes after the list's revision, watched from it.
        ok(
            &server,
            kubectl,
            &["annotate", "configmap", "a", "-n", &ns, "note=1"],
        );
        ok(&server, kubectl, &["delete", "configmap", "b", "-n", &ns]);
        ok(
            &server,
            kubectl,
            &["create", "configmap", "c", "-n", &ns, "--from-literal=k=v"],
        );
        let watched = raw(
            &server,
            kubectl,
            &format!("{base}?watch=1&resourceVersion={revision}&timeoutSeconds=1"),
        );
        assert_eq!(
            events(&watched),
            pairs(&[("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "c")]),
            "{watched}"
        );
        let selected = raw(
            &server,
            kubectl,
            &format!(
                "{base}?watch=1&resourceVersion={revision}&timeoutSeconds=1&labelSelector=app%3Dx"
            ),
        );
        assert_eq!(events(&selected), pairs(&[("MODIFIED", "a")]), "{selected}");
        // A revision from before the cache started is served by the store's history.
        let old = raw(
            &server,
            kubectl,
            &format!("{base}?watch=1&resourceVersion=1&timeoutSeconds=1"),
        );
        let old = events(&old);
        assert_eq!(
            old.first(),
            Some(&("ADDED".to_owned(), "a".to_owned())),
            "{old:?}"
        );
        assert_eq!(
            old.last(),
            Some(&("ADDED".to_owned(), "c".to_owned())),
            "{old:?}"
        );

        // `kubectl get -w` prints the listed objects, then each change as a table row.
        let mut watch = Command::new(kubectl)
            .args([
                "get",
                "configmaps",
                "-n",
                &ns,
                "--watch",
                "--output-watch-events",
            ])
            .args(["--request-timeout=60s"])
            .env("KUBECONFIG", server.kubeconfig())
            .env(
                "HOME",
                server
                    .kubeconfig()
                    .with_file_name(format!("home-cache-{index}")),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w starts");
        let stdout = watch.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut seen = Vec::new();
        let mut wait_for = |event: &str, name: &str| loop {
            let line = lines
                .recv_timeout(LINE_WAIT)
                .unwrap_or_else(|_| panic!("no {event} {name} from kubectl get -w; saw {seen:?}"));
            let columns: Vec<&str> = line.split_whitespace().collect();
            let found = columns.first() == Some(&event) && columns.get(1) == Some(&name);
            seen.push(line);
            if found {
                break;
            }
        };
        wait_for("ADDED", "c");
        ok(
            &server,
            kubectl,
            &["create", "configmap", "d", "-n", &ns, "--from-literal=k=v"],
        );
        wait_for("ADDED", "d");
        ok(
            &server,
            kubectl,
            &["label", "configmap", "d", "-n", &ns, "app=y"],
        );
        wait_for("MODIFIED", "d");
        ok(&server, kubectl, &["delete", "configmap", "d", "-n", &ns]);
        wait_for("DELETED", "d");
        let _ = watch.kill();
        let _ = watch.wait();
    }
}
