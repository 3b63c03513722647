//! Writing objects: create (JSON and protobuf), apply, patch, validation, lists at a revision.

use crate::*;

#[test]
fn configmap_lifecycle() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let namespace = format!("team-{index}");
        let ns = namespace.as_str();
        let created = ok(&server, kubectl, &["create", "namespace", ns]);
        assert!(
            created.contains(&format!("namespace/{ns} created")),
            "{created}"
        );
        let created = ok(
            &server,
            kubectl,
            &[
                "create",
                "configmap",
                "settings",
                "-n",
                ns,
                "--from-literal=color=blue",
            ],
        );
        assert!(created.contains("configmap/settings created"), "{created}");
        let table = ok(&server, kubectl, &["get", "configmaps", "-n", ns]);
        let header: Vec<&str> = table
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(header, ["NAME", "DATA", "AGE"], "{table}");
        let yaml = ok(
            &server,
            kubectl,
            &["get", "configmap", "settings", "-n", ns, "-o", "yaml"],
        );
        assert!(yaml.contains("color: blue"), "{yaml}");
        assert!(yaml.contains("resourceVersion:"), "{yaml}");
        let duplicate = fails(
            &server,
            kubectl,
            &[
                "create",
                "configmap",
                "settings",
                "-n",
                ns,
                "--from-literal=a=b",
            ],
        );
        // `kubectl create configmap` words it as "failed to create configmap: <the server's message>".
        assert!(
            duplicate.contains("configmaps \"settings\" already exists"),
            "{duplicate}"
        );
        let labelled = ok(
            &server,
            kubectl,
            &["label", "configmap", "settings", "-n", ns, "tier=front"],
        );
        assert!(labelled.contains("labeled"), "{labelled}");
        let selected = ok(
            &server,
            kubectl,
            &["get", "cm", "-n", ns, "-l", "tier=front", "-o", "name"],
        );
        assert_eq!(selected.trim(), "configmap/settings");
        let deleted = ok(
            &server,
            kubectl,
            &["delete", "configmap", "settings", "-n", ns],
        );
        assert!(deleted.contains("\"settings\" deleted"), "{deleted}");
        let missing = fails(
            &server,
            kubectl,
            &["get", "configmap", "settings", "-n", ns],
        );
        assert!(
            missing.contains("Error from server (NotFound): configmaps \"settings\" not found"),
            "{missing}"
        );
    }
}

#[test]
fn apply_creates_then_updates() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let manifest = |color: &str| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied-{index}\n  namespace: default\n\
                 data:\n  color: {color}\n"
            )
        };
        for (color, verb) in [("red", "created"), ("green", "configured")] {
            let output = run(
                &server,
                kubectl,
                &["apply", "-f", "-"],
                Some(&manifest(color)),
            );
            assert!(
                output.status.success(),
                "{}\n{}",
                text(&output),
                server.log()
            );
            assert!(
                String::from_utf8_lossy(&output.stdout).contains(verb),
                "{}",
                text(&output)
            );
        }
        let name = format!("applied-{index}");
        let color = ok(
            &server,
            kubectl,
            &["get", "cm", &name, "-o", "jsonpath={.data.color}"],
        );
        assert_eq!(color, "green");
    }
}

#[test]
fn create_subcommands_send_protobuf() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let deployment = format!("web-{index}");
        let created = ok(
            &server,
            kubectl,
            &[
                "create",
                "deployment",
                &deployment,
                "--image",
                "nginx:1.27",
                "--replicas",
                "2",
                "--port",
                "80",
            ],
        );
        assert!(
            created.contains(&format!("deployment.apps/{deployment} created")),
            "{created}"
        );
        let replicas = ok(
            &server,
            kubectl,
            &[
                "get",
                "deploy",
                &deployment,
                "-o",
                "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.type}",
            ],
        );
        assert_eq!(replicas, "2 80 RollingUpdate");
        let scaled = ok(
            &server,
            kubectl,
            &["scale", "deployment", &deployment, "--replicas=5"],
        );
        assert!(scaled.contains("scaled"), "{scaled}");
        let replicas = ok(
            &server,
            kubectl,
            &[
                "get",
                "deploy",
                &deployment,
                "-o",
                "jsonpath={.spec.replicas}",
            ],
        );
        assert_eq!(replicas, "5");
        let annotated = ok(
            &server,
            kubectl,
            &["annotate", "deployment", &deployment, "owner=team-a"],
        );
        assert!(annotated.contains("annotated"), "{annotated}");
        let service = format!("svc-{index}");
        ok(
            &server,
            kubectl,
            &["create", "service", "clusterip", &service, "--tcp=80:8080"],
        );
        let ports = ok(
            &server,
            kubectl,
            &[
                "get",
                "svc",
                &service,
                "-o",
                "jsonpath={.spec.ports[0].port}:{.spec.ports[0].targetPort} {.spec.type}",
            ],
        );
        assert_eq!(ports, "80:8080 ClusterIP");
        let secret = format!("secret-{index}");
        ok(
            &server,
            kubectl,
            &[
                "create",
                "secret",
                "generic",
                &secret,
                "--from-literal=password=hunter2",
            ],
        );
        let data = ok(
            &server,
            kubectl,
            &[
                "get",
                "secret",
                &secret,
                "-o",
                "jsonpath={.type} {.data.password}",
            ],
        );
        assert_eq!(data, "Opaque aHVudGVyMg==");
    }
    let pods = ok(&server, &kubectls()[0], &["run", "web", "--image", "nginx"]);
    assert!(pods.contains("pod/web created"), "{pods}");
    let table = ok(&server, &kubectls()[0], &["get", "pods"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{table}"
    );
    assert!(
        table.contains("0/1") && table.contains("Pending"),
        "{table}"
    );
}

#[test]
fn invalid_objects_get_422_with_field_causes() {
    let server = server();
    for kubectl in kubectls() {
        let manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: invalid-pod\nspec:\n  containers:\n  - name: web\n";
        let output = run(&server, &kubectl, &["apply", "-f", "-"], Some(manifest));
        assert!(!output.status.success(), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                "The Pod \"invalid-pod\" is invalid: spec.containers[0].image: Required value"
            ),
            "{stderr}"
        );
        let missing = fails(&server, &kubectl, &["get", "pod", "nope"]);
        assert!(
            missing.contains("Error from server (NotFound): pods \"nope\" not found"),
            "{missing}"
        );
    }
}

#[test]
fn apply_and_set_image_merge_containers_by_name() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let name = format!("merged-{index}");
        let manifest = |image: &str, tier: &str| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    tier: {tier}\nspec:\n  \
                 selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    \
                 spec:\n      containers:\n      - name: web\n        image: {image}\n        ports:\n        - containerPort: 80\n      \
                 - name: sidecar\n        image: busybox:1.36\n"
            )
        };
        for (image, tier) in [("nginx:1.27", "front"), ("nginx:1.28", "edge")] {
            let output = run(
                &server,
                kubectl,
                &["apply", "-f", "-"],
                Some(&manifest(image, tier)),
            );
            assert!(
                output.status.success(),
                "{}\n{}",
                text(&output),
                server.log()
            );
        }
        let shown = ok(
            &server,
            kubectl,
            &[
                "get",
                "deploy",
                &name,
                "-o",
                "jsonpath={.spec.template.spec.containers[*].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.labels.tier}",
            ],
        );
        assert_eq!(shown, "nginx:1.28 busybox:1.36 80 edge");
        ok(
            &server,
            kubectl,
            &[
                "set",
                "image",
                &format!("deployment/{name}"),
                "sidecar=busybox:1.37",
            ],
        );
        let images = ok(
            &server,
            kubectl,
            &[
                "get",
                "deploy",
                &name,
                "-o",
                "jsonpath={.spec.template.spec.containers[*].image} {.metadata.generation}",
            ],
        );
        assert_eq!(images, "nginx:1.28 busybox:1.37 3");
    }
}

#[test]
fn lists_at_an_exact_resource_version() {
    let server = server();
    let kubectl = &kubectls()[0];
    ok(&server, kubectl, &["create", "configmap", "first"]);
    let list = ok(
        &server,
        kubectl,
        &["get", "--raw", "/api/v1/namespaces/default/configmaps"],
    );
    let revision = list
        .split("\"resourceVersion\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the list has a resourceVersion")
        .to_owned();
    ok(&server, kubectl, &["create", "configmap", "second"]);
    let exact = ok(
        &server,
        kubectl,
        &[
            "get",
            "--raw",
            &format!(
                "/api/v1/namespaces/default/configmaps?resourceVersion={revision}&resourceVersionMatch=Exact"
            ),
        ],
    );
    assert!(
        exact.contains("\"first\"") && !exact.contains("\"second\""),
        "{exact}"
    );
    let current = ok(
        &server,
        kubectl,
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/configmaps?resourceVersion={revision}"),
        ],
    );
    assert!(current.contains("\"second\""), "{current}");
    let future = fails(
        &server,
        kubectl,
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/default/configmaps?resourceVersion=999999",
        ],
    );
    assert!(future.contains("Too large resource version"), "{future}");
}

#[test]
fn field_selectors_use_each_resources_selectable_fields() {
    let server = server();
    let kubectl = &kubectls()[0];
    ok(
        &server,
        kubectl,
        &["run", "pending", "--image=busybox", "--restart=Never"],
    );
    // An unscheduled pod has the empty node name upstream's field selector sees.
    let unscheduled = ok(
        &server,
        kubectl,
        &[
            "get",
            "pods",
            "--field-selector",
            "spec.nodeName=",
            "-o",
            "name",
        ],
    );
    assert_eq!(unscheduled.trim(), "pod/pending");
    let scheduled = ok(
        &server,
        kubectl,
        &[
            "get",
            "pods",
            "--field-selector",
            "spec.nodeName!=,spec.restartPolicy=Never",
            "-o",
            "name",
        ],
    );
    assert_eq!(scheduled.trim(), "");
    let refused = fails(
        &server,
        kubectl,
        &["get", "pods", "--field-selector", "spec.containers=x"],
    );
    assert!(
        refused.contains("field label not supported: spec.containers"),
        "{refused}"
    );
}
