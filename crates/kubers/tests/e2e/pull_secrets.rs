//! Image pulls with `imagePullSecrets` from a registry that wants credentials: the testkit's
//! registry serves the busybox image as `localhost:5000/busybox:1` inside the cluster's network
//! namespace behind basic authentication. Without a secret, or with a wrong one, the pull fails
//! (`ErrImagePull`, the registry's 401 in the message); with a `kubernetes.io/dockerconfigjson` or
//! a legacy `kubernetes.io/dockercfg` secret the pod runs.

use std::path::Path;

use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::busybox_variant_archive;
use kubers_testkit::registry::{RegistryConfig, TestRegistry};

use crate::node::{kubectl, wait_for};

const USER: &str = "puller";
const PASSWORD: &str = "s3cret";

fn pod(name: &str, image: &str, secret: Option<&str>) -> String {
    let secrets = secret
        .map(|secret| format!("  imagePullSecrets: [{{name: {secret}}}]\n"))
        .unwrap_or_default();
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 1
{secrets}  containers:
  - name: main
    image: {image}
    imagePullPolicy: Always
    command: ["sh", "-c", "cat /etc/variant; exec sleep 3600"]
"#
    )
}

/// Waits until the pod's pull failed and returns the waiting message.
fn pull_failure(cluster: &TestCluster, name: &str) -> String {
    let waiting = "{.status.containerStatuses[0].state.waiting.reason}";
    wait_for(cluster, name, waiting, |reason| {
        reason == "ErrImagePull" || reason == "ImagePullBackOff"
    });
    wait_for(
        cluster,
        name,
        "{.status.containerStatuses[0].state.waiting.message}",
        |message| !message.is_empty(),
    )
}

#[test]
fn image_pull_secrets_authenticate_pulls() {
    let cluster =
        TestCluster::start(Path::new(env!("CARGO_BIN_EXE_kubers"))).expect("the cluster starts");
    let registry = TestRegistry::start(
        cluster.netns(),
        5000,
        &busybox_variant_archive("localhost:5000/busybox:1", "from the private registry")
            .expect("the busybox image"),
        RegistryConfig {
            repository: "busybox".into(),
            tag: "1".into(),
            username: USER.into(),
            password: PASSWORD.into(),
        },
    )
    .expect("the registry starts");
    let image = format!("{}/busybox:1", registry.host());

    // Anonymous: the registry's challenge ends the pull.
    kubectl(
        &cluster,
        &["apply", "-f", "-"],
        Some(&pod("anonymous", &image, None)),
    );
    let message = pull_failure(&cluster, "anonymous");
    assert!(
        message.contains("401 Unauthorized"),
        "{message}\nregistry saw: {:?}",
        registry.requests()
    );
    let events = kubectl(
        &cluster,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=anonymous",
        ],
        None,
    );
    assert!(events.contains("ErrImagePull"), "{events}");

    // A wrong password: the credentials are sent, and refused.
    kubectl(
        &cluster,
        &[
            "create",
            "secret",
            "docker-registry",
            "wrong",
            "--docker-server",
            &registry.host(),
            "--docker-username",
            USER,
            "--docker-password",
            "not-it",
        ],
        None,
    );
    kubectl(
        &cluster,
        &["apply", "-f", "-"],
        Some(&pod("wrong", &image, Some("wrong"))),
    );
    let message = pull_failure(&cluster, "wrong");
    assert!(message.contains("401 Unauthorized"), "{message}");
    let authorized_before = registry
        .requests()
        .iter()
        .filter(|request| request.ends_with("200 OK"))
        .count();
    assert_eq!(authorized_before, 0, "{:?}", registry.requests());

    // kubectl's docker-registry secret (kubernetes.io/dockerconfigjson).
    kubectl(
        &cluster,
        &[
            "create",
            "secret",
            "docker-registry",
            "regcred",
            "--docker-server",
            &registry.host(),
            "--docker-username",
            USER,
            "--docker-password",
            PASSWORD,
        ],
        None,
    );
    kubectl(
        &cluster,
        &["apply", "-f", "-"],
        Some(&pod("private", &image, Some("regcred"))),
    );
    wait_for(&cluster, "private", "{.status.phase}", |phase| {
        phase == "Running"
    });
    assert_eq!(
        kubectl(&cluster, &["logs", "private"], None),
        "from the private registry\n"
    );
    // Every blob came over the wire, with the credentials.
    let requests = registry.requests();
    for wanted in [
        "GET /v2/busybox/manifests/",
        "GET /v2/busybox/blobs/sha256:",
    ] {
        assert!(
            requests
                .iter()
                .any(|request| request.starts_with(wanted) && request.ends_with("200 OK")),
            "{wanted}: {requests:?}"
        );
    }

    // The legacy kubernetes.io/dockercfg format, with the credentials in `auth`.
    let dir = tempfile::tempdir().expect("temp dir");
    let dockercfg = dir.path().join("dockercfg");
    std::fs::write(
        &dockercfg,
        format!(
            r#"{{"http://{}":{{"auth":"cHVsbGVyOnMzY3JldA==","email":"puller@example.com"}}}}"#,
            registry.host()
        ),
    )
    .expect("written");
    kubectl(
        &cluster,
        &[
            "create",
            "secret",
            "generic",
            "legacy",
            "--type",
            "kubernetes.io/dockercfg",
            &format!("--from-file=.dockercfg={}", dockercfg.display()),
        ],
        None,
    );
    kubectl(
        &cluster,
        &["apply", "-f", "-"],
        Some(&pod("legacy", &image, Some("legacy"))),
    );
    wait_for(&cluster, "legacy", "{.status.phase}", |phase| {
        phase == "Running"
    });

    // With the right secret among wrong ones, each matching credential is tried in turn.
    kubectl(
        &cluster,
        &["apply", "-f", "-"],
        Some(&pod("both", &image, Some("wrong")).replace(
            "imagePullSecrets: [{name: wrong}]",
            "imagePullSecrets: [{name: wrong}, {name: missing}, {name: regcred}]",
        )),
    );
    wait_for(&cluster, "both", "{.status.phase}", |phase| {
        phase == "Running"
    });
    let events = kubectl(
        &cluster,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=both",
        ],
        None,
    );
    assert!(
        events.contains("FailedToRetrieveImagePullSecret"),
        "{events}"
    );
}
