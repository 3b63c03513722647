//! OpenAPI and server-side field validation: `kubectl explain` reads the generated schemas (v3), and
//! `apply`/`create` are validated by the server (`fieldValidation`), with kubectl 1.33 and 1.35.

use crate::*;

const UNKNOWN_FIELD: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: NAME
colour: red
data:
  a: b
";

#[test]
fn explain_reads_the_generated_schemas() {
    let server = server();
    for kubectl in kubectls() {
        let containers = ok(&server, &kubectl, &["explain", "pods.spec.containers"]);
        assert!(
            containers.contains("FIELD: containers <[]Container>"),
            "{containers}"
        );
        assert!(
            containers.contains("imagePullPolicy\t<string>"),
            "{containers}"
        );
        let strategy = ok(&server, &kubectl, &["explain", "deployment.spec.strategy"]);
        assert!(
            strategy.contains("FIELD: strategy <DeploymentStrategy>"),
            "{strategy}"
        );
        assert!(
            strategy.contains("rollingUpdate\t<RollingUpdateDeployment>"),
            "{strategy}"
        );
        let recursive = ok(
            &server,
            &kubectl,
            &[
                "explain",
                "--recursive",
                "deployment.spec.template.spec.securityContext",
            ],
        );
        assert!(
            recursive.contains("seccompProfile\t<SeccompProfile>"),
            "{recursive}"
        );
        assert!(
            recursive.contains("localhostProfile\t<string>"),
            "{recursive}"
        );
    }
}

#[test]
fn unknown_fields_are_refused_warned_or_dropped() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        let name = format!("fields-{index}");
        let manifest = UNKNOWN_FIELD.replace("NAME", &name);
        // kubectl's default, --validate=strict: the server refuses the object.
        let refused = run(&server, kubectl, &["apply", "-f", "-"], Some(&manifest));
        assert!(!refused.status.success(), "{}", text(&refused));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(
                "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"colour\""
            ),
            "{stderr}"
        );
        // --validate=warn: created, with the server's warning printed.
        let warned = run(
            &server,
            kubectl,
            &["apply", "--validate=warn", "-f", "-"],
            Some(&manifest),
        );
        assert!(warned.status.success(), "{}", text(&warned));
        let stderr = String::from_utf8_lossy(&warned.stderr);
        assert!(
            stderr.contains("Warning: unknown field \"colour\""),
            "{stderr}"
        );
        // The unknown field was dropped, like upstream.
        let stored = ok(&server, kubectl, &["get", "configmap", &name, "-o", "json"]);
        assert!(!stored.contains("\"colour\": \"red\""), "{stored}");
        assert!(stored.contains("\"a\": \"b\""), "{stored}");
        // --validate=false: no warning, no error, on create and on a patch of the existing object.
        let ignored_manifest = manifest.replace(&name, &format!("{name}-ignored"));
        let ignored = run(
            &server,
            kubectl,
            &["apply", "--validate=false", "-f", "-"],
            Some(&ignored_manifest),
        );
        assert!(ignored.status.success(), "{}", text(&ignored));
        assert!(
            !String::from_utf8_lossy(&ignored.stderr).contains("unknown field"),
            "{}",
            text(&ignored)
        );
        // Without the unknown field, create -f and apply (a patch) still work.
        let clean = UNKNOWN_FIELD
            .replace("NAME", &format!("{name}-clean"))
            .replace("colour: red\n", "");
        let created = run(&server, kubectl, &["create", "-f", "-"], Some(&clean));
        assert!(created.status.success(), "{}", text(&created));
        let applied = run(&server, kubectl, &["apply", "-f", "-"], Some(&clean));
        assert!(applied.status.success(), "{}", text(&applied));
        // A patch (the update path of apply) that adds an unknown field is refused with upstream's
        // message for patches.
        let patched = clean.replace("\ndata:", "\ncolour: red\ndata:");
        let refused = run(&server, kubectl, &["apply", "-f", "-"], Some(&patched));
        assert!(!refused.status.success(), "{}", text(&refused));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("error when patching")
                && stderr.contains(": strict decoding error: unknown field \"colour\""),
            "{stderr}"
        );
    }
}

#[test]
fn openapi_documents_are_served() {
    let server = server();
    let kubectl = kubectls().remove(0);
    let index = ok(&server, &kubectl, &["get", "--raw", "/openapi/v3"]);
    let marker = "\"apis/apps/v1\":{\"serverRelativeURL\":\"";
    let url = index
        .split(marker)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("apps/v1 not listed: {index}"));
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
    let apps = ok(&server, &kubectl, &["get", "--raw", url]);
    assert!(
        apps.starts_with("{\"components\":{\"schemas\":{"),
        "{}",
        &apps[..200.min(apps.len())]
    );
    assert!(
        apps.contains("\"io.k8s.api.apps.v1.Deployment\":{"),
        "no Deployment schema"
    );
    let v2 = ok(&server, &kubectl, &["get", "--raw", "/openapi/v2"]);
    assert!(
        v2.contains("\"swagger\":\"2.0\""),
        "{}",
        &v2[..200.min(v2.len())]
    );
    assert!(
        v2.contains("\"io.k8s.api.core.v1.Pod\":{"),
        "no Pod definition"
    );
}
