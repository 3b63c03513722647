//! Server-side apply and `managedFields`: `kubectl apply --server-side` creates and changes objects,
//! conflicts with other managers are refused with upstream's message unless forced, fields dropped
//! from a manifest are removed, and every write records its manager.

use std::path::Path;

use crate::*;

fn deployment(name: &str, replicas: u32, extra_label: bool, port: bool) -> String {
    let label = if extra_label { ", tier: front" } else { "" };
    let ports = if port {
        "\n        ports:\n        - containerPort: 80"
    } else {
        ""
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: default\n  \
         labels: {{app: {name}{label}}}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  \
         template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      \
         - name: web\n        image: nginx:1.27{ports}\n"
    )
}

/// Runs `kubectl <args> -f -` with `manifest` on standard input.
fn with_manifest(
    server: &TestServer,
    kubectl: &Path,
    args: &[&str],
    manifest: &str,
) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-f", "-"]);
    run(server, kubectl, &all, Some(manifest))
}

fn applies(server: &TestServer, kubectl: &Path, args: &[&str], manifest: &str) -> String {
    let output = with_manifest(server, kubectl, args, manifest);
    assert!(
        output.status.success(),
        "{}\nserver log:\n{}",
        text(&output),
        server.log()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn jsonpath(server: &TestServer, kubectl: &Path, name: &str, path: &str) -> String {
    ok(
        server,
        kubectl,
        &[
            "get",
            "deployment",
            name,
            "-n",
            "default",
            "-o",
            &format!("jsonpath={path}"),
        ],
    )
}

/// The manager kubectl is without `--field-manager`: its user agent up to `/`, which starts with the
/// binary's file name.
fn default_manager(kubectl: &Path) -> String {
    kubectl
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("kubectl")
        .to_owned()
}

#[test]
fn server_side_apply_creates_changes_conflicts_and_forces() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let name = format!("ssa-{index}");
        let created = applies(
            &server,
            kubectl,
            &["apply", "--server-side"],
            &deployment(&name, 2, true, true),
        );
        assert!(created.contains("serverside-applied"), "{created}");
        let changed = applies(
            &server,
            kubectl,
            &["apply", "--server-side"],
            &deployment(&name, 3, true, true),
        );
        assert!(changed.contains("serverside-applied"), "{changed}");
        assert_eq!(jsonpath(&server, kubectl, &name, "{.spec.replicas}"), "3");
        let managers = jsonpath(
            &server,
            kubectl,
            &name,
            "{range .metadata.managedFields[?(@.manager!=\"kube-controller-manager\")]}{.manager}/{.operation}/{.apiVersion} {end}",
        );
        assert_eq!(managers.trim(), "kubectl/Apply/apps/v1");

        // `kubectl scale` takes the replicas (manager: its user agent, subresource scale).
        ok(
            &server,
            kubectl,
            &["scale", "deployment", &name, "--replicas=5"],
        );
        let output = with_manifest(
            &server,
            kubectl,
            &["apply", "--server-side"],
            &deployment(&name, 3, true, true),
        );
        assert!(!output.status.success(), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = format!(
            "Apply failed with 1 conflict: conflict with \"{}\" with subresource \"scale\" using apps/v1: .spec.replicas",
            default_manager(kubectl)
        );
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(stderr.contains("--force-conflicts"), "{stderr}");
        assert_eq!(jsonpath(&server, kubectl, &name, "{.spec.replicas}"), "5");

        // Applying the live value co-owns it; forcing takes it.
        applies(
            &server,
            kubectl,
            &["apply", "--server-side"],
            &deployment(&name, 5, true, true),
        );
        applies(
            &server,
            kubectl,
            &["apply", "--server-side", "--force-conflicts"],
            &deployment(&name, 3, true, true),
        );
        assert_eq!(jsonpath(&server, kubectl, &name, "{.spec.replicas}"), "3");
        // Applying the same manifest again writes nothing.
        let before = jsonpath(&server, kubectl, &name, "{.metadata.resourceVersion}");
        applies(
            &server,
            kubectl,
            &["apply", "--server-side"],
            &deployment(&name, 3, true, true),
        );
        let after = jsonpath(&server, kubectl, &name, "{.metadata.resourceVersion}");
        assert_eq!(before, after);
        let yaml = ok(
            &server,
            kubectl,
            &[
                "get",
                "deployment",
                &name,
                "-o",
                "yaml",
                "--show-managed-fields",
            ],
        );
        for expected in [
            "managedFields:",
            "manager: kubectl\n",
            "operation: Apply",
            "fieldsType: FieldsV1",
            "f:replicas: {}",
            "k:{\"name\":\"web\"}:",
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}:",
        ] {
            assert!(yaml.contains(expected), "{expected} missing from:\n{yaml}");
        }
        // The scale entry lost its only field and is gone.
        assert!(!yaml.contains("subresource: scale"), "{yaml}");
        let plain = ok(
            &server,
            kubectl,
            &["get", "deployment", &name, "-o", "yaml"],
        );
        assert!(!plain.contains("managedFields"), "{plain}");
    }
}

#[test]
fn server_side_apply_removes_fields_dropped_from_the_manifest() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let name = format!("prune-{index}");
        applies(
            &server,
            kubectl,
            &["apply", "--server-side"],
            &deployment(&name, 1, true, true),
        );
        // Someone else's label stays.
        ok(
            &server,
            kubectl,
            &["label", "deployment", &name, "owner=ops"],
        );
        applies(
            &server,
            kubectl,
            &["apply", "--server-side"],
            &deployment(&name, 1, false, false),
        );
        assert_eq!(
            jsonpath(&server, kubectl, &name, "{.metadata.labels.tier}"),
            ""
        );
        assert_eq!(
            jsonpath(&server, kubectl, &name, "{.metadata.labels.owner}"),
            "ops"
        );
        assert_eq!(
            jsonpath(
                &server,
                kubectl,
                &name,
                "{.spec.template.spec.containers[0].ports}"
            ),
            ""
        );
        assert_eq!(
            jsonpath(
                &server,
                kubectl,
                &name,
                "{.spec.template.spec.containers[0].image}"
            ),
            "nginx:1.27"
        );
        let managers = jsonpath(
            &server,
            kubectl,
            &name,
            "{range .metadata.managedFields[?(@.manager!=\"kube-controller-manager\")]}{.manager}/{.operation} {end}",
        );
        assert_eq!(managers.trim(), "kubectl/Apply kubectl-label/Update");
    }
}

#[test]
fn client_side_apply_records_its_manager_and_hands_over_to_server_side_apply() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let name = format!("csa-{index}");
        let created = applies(
            &server,
            kubectl,
            &["apply"],
            &deployment(&name, 2, true, true),
        );
        assert!(created.contains("created"), "{created}");
        let configured = applies(
            &server,
            kubectl,
            &["apply"],
            &deployment(&name, 4, true, true),
        );
        assert!(configured.contains("configured"), "{configured}");
        assert_eq!(jsonpath(&server, kubectl, &name, "{.spec.replicas}"), "4");
        let managers = jsonpath(
            &server,
            kubectl,
            &name,
            "{range .metadata.managedFields[?(@.manager!=\"kube-controller-manager\")]}{.manager}/{.operation} {end}",
        );
        assert_eq!(managers.trim(), "kubectl-client-side-apply/Update");
        let yaml = ok(
            &server,
            kubectl,
            &[
                "get",
                "deployment",
                &name,
                "-o",
                "yaml",
                "--show-managed-fields",
            ],
        );
        assert!(
            yaml.contains("f:kubectl.kubernetes.io/last-applied-configuration: {}"),
            "{yaml}"
        );

        // Another applier may not take the replicas client-side apply set.
        let output = with_manifest(
            &server,
            kubectl,
            &["apply", "--server-side", "--field-manager=deployer"],
            &deployment(&name, 6, true, true),
        );
        assert!(!output.status.success(), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
            ),
            "{stderr}"
        );
        // kubectl's own server-side apply takes over what client-side apply last applied.
        applies(
            &server,
            kubectl,
            &["apply", "--server-side"],
            &deployment(&name, 6, true, true),
        );
        assert_eq!(jsonpath(&server, kubectl, &name, "{.spec.replicas}"), "6");
        let managers = jsonpath(
            &server,
            kubectl,
            &name,
            "{range .metadata.managedFields[?(@.manager!=\"kube-controller-manager\")]}{.manager}/{.operation} {end}",
        );
        assert!(managers.contains("kubectl/Apply"), "{managers}");
        // An edit by another manager after that conflicts with the next apply.
        ok(
            &server,
            kubectl,
            &[
                "patch",
                "deployment",
                &name,
                "--type=merge",
                "-p",
                "{\"spec\":{\"minReadySeconds\":5}}",
                "--field-manager=tuner",
            ],
        );
        let mut manifest = deployment(&name, 6, true, true);
        manifest = manifest.replace("  replicas: 6\n", "  replicas: 6\n  minReadySeconds: 1\n");
        let output = with_manifest(&server, kubectl, &["apply", "--server-side"], &manifest);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                "Apply failed with 1 conflict: conflict with \"tuner\" using apps/v1: .spec.minReadySeconds"
            ),
            "{}",
            text(&output)
        );
    }
}

#[test]
fn writes_record_managers_from_field_manager_or_user_agent() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let name = format!("made-{index}");
        ok(
            &server,
            kubectl,
            &["create", "deployment", &name, "--image=nginx"],
        );
        ok(
            &server,
            kubectl,
            &["annotate", "deployment", &name, "note=hello"],
        );
        ok(
            &server,
            kubectl,
            &[
                "set",
                "image",
                &format!("deployment/{name}"),
                "nginx=nginx:1.28",
            ],
        );
        let managers = jsonpath(
            &server,
            kubectl,
            &name,
            "{range .metadata.managedFields[?(@.manager!=\"kube-controller-manager\")]}{.manager}/{.operation} {end}",
        );
        for expected in [
            "kubectl-create/Update",
            "kubectl-annotate/Update",
            "kubectl-set/Update",
        ] {
            assert!(
                managers.contains(expected),
                "{expected} missing: {managers}"
            );
        }
        let yaml = ok(
            &server,
            kubectl,
            &[
                "get",
                "deployment",
                &name,
                "-o",
                "yaml",
                "--show-managed-fields",
            ],
        );
        assert!(yaml.contains("f:note: {}"), "{yaml}");
        assert!(yaml.contains("time: \""), "{yaml}");
        // Status writes record their subresource (on a Service: no controller writes its status).
        let service = format!("{name}-svc");
        ok(
            &server,
            kubectl,
            &["create", "service", "clusterip", &service, "--tcp=80:80"],
        );
        ok(
            &server,
            kubectl,
            &[
                "patch",
                "service",
                &service,
                "--subresource=status",
                "--type=merge",
                "-p",
                "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.1\"}]}}}",
            ],
        );
        let status = ok(
            &server,
            kubectl,
            &[
                "get",
                "service",
                &service,
                "-o",
                "jsonpath={range .metadata.managedFields[?(@.subresource==\"status\")]}{.manager} {.fieldsV1}{end}",
            ],
        );
        assert_eq!(
            status,
            "kubectl-patch {\"f:status\":{\"f:loadBalancer\":{\"f:ingress\":{}}}}"
        );

        // One empty entry clears managedFields; updates then leave the object untracked until an
        // apply, which gives what exists to `before-first-apply`.
        ok(
            &server,
            kubectl,
            &[
                "patch",
                "deployment",
                &name,
                "--type=merge",
                "-p",
                "{\"metadata\":{\"managedFields\":[{}]}}",
            ],
        );
        ok(&server, kubectl, &["label", "deployment", &name, "a=b"]);
        let managers = jsonpath(&server, kubectl, &name, "{.metadata.managedFields}");
        assert_eq!(managers, "");
        let manifest = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{c: d}}\n"
        );
        applies(
            &server,
            kubectl,
            &["apply", "--server-side", "--field-manager=ops"],
            &manifest,
        );
        let managers = jsonpath(
            &server,
            kubectl,
            &name,
            "{range .metadata.managedFields[?(@.manager!=\"kube-controller-manager\")]}{.manager}/{.operation} {end}",
        );
        assert_eq!(managers.trim(), "ops/Apply before-first-apply/Update");
    }
}

#[test]
fn apply_request_checks_and_status_codes_through_the_python_client() {
    let server = server();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".tmp/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps",
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python_apply.py");
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
    let expected = [
        "no-manager 422 Invalid PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        "wrong-version 400 BadRequest Incorrect version specified in apply patch. Specified patch version: v2, expected: v1",
        "managed-fields 400 BadRequest metadata.managedFields must be nil",
        "created 201",
        "updated 200",
        "conflict 409 Conflict Apply failed with 1 conflict: conflict with \"py\": .data.a",
        "force-merge 422 Invalid PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
        "forced 3 other/Apply",
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{stdout}");
}
