//! Authentication, authorization and admission through real kubectl: 401 without credentials, static
//! token users, service-account tokens from `kubectl create token`, `auth can-i` and `auth whoami`,
//! a denying authorizer's exact 403, namespace lifecycle errors and the service-account admission of
//! pods.

use std::path::{Path, PathBuf};
use std::process::Output;

use kubers_testkit::server::TestServer;
use serde_json::Value;

use crate::*;

/// The static token file every test server here starts with.
const TOKENS: &str = "alice-token,alice,1001,\"dev,ops\"\n";

/// A server with the static token file and `extra` flags.
fn server_with(extra: &[&str]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, TOKENS).expect("write token file");
    let tokens = tokens.to_string_lossy().into_owned();
    let mut flags = vec!["--token-auth-file", tokens.as_str()];
    flags.extend_from_slice(extra);
    let server = TestServer::start_with(Path::new(env!("CARGO_BIN_EXE_kubers")), &flags)
        .expect("kubers server starts");
    (server, dir)
}

/// A kubeconfig trusting the server's CA with `token` and no other credentials.
fn token_kubeconfig(server: &TestServer, name: &str, token: &str) -> PathBuf {
    let kubeconfig = std::fs::read_to_string(server.kubeconfig()).expect("kubeconfig");
    let ca = kubeconfig
        .lines()
        .find_map(|line| line.trim().strip_prefix("certificate-authority-data:"))
        .expect("the kubeconfig carries the CA")
        .trim()
        .to_owned();
    let user = format!("    token: {token}\n");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{}\n    \
         certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n{user}contexts:\n- name: x\n  context:\n    \
         cluster: c\n    user: u\n    namespace: default\ncurrent-context: x\n",
        server.port()
    );
    let path = server.kubeconfig().with_file_name(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// Runs kubectl with `kubeconfig` instead of the admin's.
fn run_as(server: &TestServer, kubectl: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--kubeconfig", kubeconfig.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    run(server, kubectl, &all, None)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `curl` without credentials: the status code and body of `GET path`.
fn anonymous_get(server: &TestServer, path: &str) -> (String, String) {
    let kubeconfig = std::fs::read_to_string(server.kubeconfig()).expect("kubeconfig");
    let ca = kubeconfig
        .lines()
        .find_map(|line| line.trim().strip_prefix("certificate-authority-data:"))
        .expect("the kubeconfig carries the CA")
        .trim()
        .to_owned();
    let ca_path = server.kubeconfig().with_file_name("ca.b64");
    std::fs::write(&ca_path, ca).expect("write ca");
    let pem = std::process::Command::new("base64")
        .arg("-d")
        .arg(&ca_path)
        .output()
        .expect("base64 runs");
    let pem_path = server.kubeconfig().with_file_name("ca.crt");
    std::fs::write(&pem_path, pem.stdout).expect("write ca");
    let output = std::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(&pem_path)
        .arg(format!("https://127.0.0.1:{}{path}", server.port()))
        .output()
        .expect("curl runs");
    let out = stdout(&output);
    let (body, code) = out.rsplit_once('\n').unwrap_or((&out, ""));
    (code.to_owned(), body.to_owned())
}

#[test]
fn requests_without_credentials_get_401_except_health_and_version() {
    let server = server();
    let (code, body) = anonymous_get(&server, "/api/v1/namespaces");
    assert_eq!(code, "401", "{body}");
    let status: Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!(
        status,
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    );
    for public in ["/healthz", "/livez", "/readyz", "/version"] {
        let (code, body) = anonymous_get(&server, public);
        assert_eq!(code, "200", "{public}: {body}");
    }
}

#[test]
fn credentials_decide_who_you_are() {
    let (server, _dir) = server_with(&[]);
    for kubectl in &kubectls() {
        let wrong = token_kubeconfig(&server, "wrong", "not-a-token");
        let refused = run_as(&server, kubectl, &wrong, &["get", "configmaps"]);
        assert!(!refused.status.success(), "{}", text(&refused));
        assert!(
            stderr(&refused).contains("Unauthorized")
                || stderr(&refused).contains("provide credentials"),
            "{}",
            text(&refused)
        );
        let alice = token_kubeconfig(&server, "alice", "alice-token");
        let listed = run_as(&server, kubectl, &alice, &["get", "configmaps"]);
        assert!(listed.status.success(), "{}", text(&listed));
        let whoami = run_as(&server, kubectl, &alice, &["auth", "whoami"]);
        assert!(whoami.status.success(), "{}", text(&whoami));
        let shown = stdout(&whoami);
        assert!(
            shown.contains("Username") && shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("UID") && shown.contains("1001"), "{shown}");
        assert!(shown.contains("[dev ops system:authenticated]"), "{shown}");

        let admin = ok(&server, kubectl, &["auth", "whoami"]);
        assert!(admin.contains("system:admin"), "{admin}");
        assert!(
            admin.contains("[system:masters system:authenticated]"),
            "{admin}"
        );
        let whoami_json = ok(&server, kubectl, &["auth", "whoami", "-o", "json"]);
        let review: Value = serde_json::from_str(&whoami_json).expect("json");
        assert_eq!(review["kind"], "SelfSubjectReview");
        assert_eq!(review["status"]["userInfo"]["username"], "system:admin");
    }
}

#[test]
fn service_account_tokens_work_until_the_account_goes() {
    let server = server();
    for kubectl in &kubectls() {
        ok(&server, kubectl, &["create", "serviceaccount", "robot"]);
        let token = ok(&server, kubectl, &["create", "token", "robot"]);
        let token = token.trim();
        assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
        let robot = token_kubeconfig(&server, "robot", token);
        let listed = run_as(&server, kubectl, &robot, &["get", "configmaps"]);
        assert!(listed.status.success(), "{}", text(&listed));
        let whoami = stdout(&run_as(&server, kubectl, &robot, &["auth", "whoami"]));
        assert!(
            whoami.contains("system:serviceaccount:default:robot"),
            "{whoami}"
        );
        assert!(
            whoami.contains(
                "[system:serviceaccounts system:serviceaccounts:default system:authenticated]"
            ),
            "{whoami}"
        );
        assert!(
            whoami.contains("authentication.kubernetes.io/credential-id"),
            "{whoami}"
        );

        // TokenReview agrees, for the API server's audience.
        let review = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"TOKEN\"}}"
            .replace("TOKEN", token);
        let reviewed = run(
            &server,
            kubectl,
            &["create", "--validate=false", "-o", "json", "-f", "-"],
            Some(&review),
        );
        assert!(reviewed.status.success(), "{}", text(&reviewed));
        let reviewed: Value = serde_json::from_slice(&reviewed.stdout).expect("json");
        assert_eq!(reviewed["status"]["authenticated"], true, "{reviewed}");
        assert_eq!(
            reviewed["status"]["user"]["username"],
            "system:serviceaccount:default:robot"
        );
        assert_eq!(
            reviewed["status"]["audiences"],
            serde_json::json!(["https://kubernetes.default.svc.cluster.local"])
        );

        ok(&server, kubectl, &["delete", "serviceaccount", "robot"]);
        let refused = run_as(&server, kubectl, &robot, &["get", "configmaps"]);
        assert!(!refused.status.success(), "{}", text(&refused));
        assert!(
            stderr(&refused).contains("Unauthorized"),
            "{}",
            text(&refused)
        );
    }
    // The default account exists from the start.
    let kubectl = &kubectls()[1];
    let token = ok(
        &server,
        kubectl,
        &["create", "token", "default", "--audience", "vault"],
    );
    let review = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"TOKEN\"}}"
        .replace("TOKEN", token.trim());
    let reviewed = run(
        &server,
        kubectl,
        &["create", "--validate=false", "-o", "json", "-f", "-"],
        Some(&review),
    );
    let reviewed: Value = serde_json::from_slice(&reviewed.stdout).expect("json");
    assert_ne!(
        reviewed["status"]["authenticated"], true,
        "a token for vault is not for the API server: {reviewed}"
    );
    let short = fails(
        &server,
        kubectl,
        &["create", "token", "default", "--duration", "1m"],
    );
    assert!(
        short.contains("spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"),
        "{short}"
    );
    let missing = fails(&server, kubectl, &["create", "token", "nobody"]);
    assert!(
        missing.contains("serviceaccounts \"nobody\" not found"),
        "{missing}"
    );
}

#[test]
fn can_i_asks_the_authorizer() {
    let (server, _dir) = server_with(&[]);
    for kubectl in &kubectls() {
        let yes = ok(&server, kubectl, &["auth", "can-i", "create", "pods"]);
        assert_eq!(yes.trim(), "yes");
        let list = ok(&server, kubectl, &["auth", "can-i", "--list"]);
        assert!(list.contains("*.*"), "{list}");
        assert!(list.contains("[*]"), "{list}");
        let alice = token_kubeconfig(&server, "alice", "alice-token");
        let yes = run_as(
            &server,
            kubectl,
            &alice,
            &["auth", "can-i", "delete", "nodes"],
        );
        assert_eq!(stdout(&yes).trim(), "yes", "{}", text(&yes));
    }
}

#[test]
fn a_denying_authorizer_gives_upstreams_403() {
    let (server, _dir) = server_with(&["--authorization-mode", "AlwaysDeny"]);
    for kubectl in &kubectls() {
        let alice = token_kubeconfig(&server, "alice", "alice-token");
        let denied = run_as(
            &server,
            kubectl,
            &alice,
            &["get", "--raw", "/api/v1/namespaces/default/pods"],
        );
        assert!(!denied.status.success(), "{}", text(&denied));
        assert!(
            stderr(&denied).contains(
                r#"Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default": Everything is forbidden."#
            ),
            "{}",
            text(&denied)
        );
        // The administrator (system:masters) may still do anything, and ask about alice.
        let review = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}}"#;
        let reviewed = run(
            &server,
            kubectl,
            &["create", "--validate=false", "-o", "json", "-f", "-"],
            Some(review),
        );
        assert!(reviewed.status.success(), "{}", text(&reviewed));
        let reviewed: Value = serde_json::from_slice(&reviewed.stdout).expect("json");
        assert_eq!(
            reviewed["status"],
            serde_json::json!({"allowed": false, "reason": "Everything is forbidden."})
        );
        let no = run(&server, kubectl, &["auth", "can-i", "list", "pods"], None);
        assert_eq!(stdout(&no).trim(), "yes", "{}", text(&no));
    }
}

#[test]
fn namespace_lifecycle() {
    let server = server();
    let kubectl = &kubectls()[1];
    let missing = fails(
        &server,
        kubectl,
        &["create", "configmap", "c", "-n", "nope"],
    );
    assert!(
        missing.contains(r#"namespaces "nope" not found"#),
        "{missing}"
    );
    let held = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: doomed\n  finalizers:\n  - example.com/hold\n";
    let output = run(&server, kubectl, &["apply", "-f", "-"], Some(held));
    assert!(output.status.success(), "{}", text(&output));
    ok(
        &server,
        kubectl,
        &["delete", "namespace", "doomed", "--wait=false"],
    );
    let terminating = fails(
        &server,
        kubectl,
        &["create", "configmap", "c", "-n", "doomed"],
    );
    assert!(
        terminating.contains(
            r#"configmaps "c" is forbidden: unable to create new content in namespace doomed because it is being terminated"#
        ),
        "{terminating}"
    );
    let immortal = fails(&server, kubectl, &["delete", "namespace", "default"]);
    assert!(
        immortal.contains(
            r#"Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted"#
        ),
        "{immortal}"
    );
}

#[test]
fn pods_get_their_service_account_and_token_volume() {
    let server = server();
    let kubectl = &kubectls()[0];
    ok(&server, kubectl, &["run", "web", "--image", "nginx:1.27"]);
    let pod: Value =
        serde_json::from_str(&ok(&server, kubectl, &["get", "pod", "web", "-o", "json"]))
            .expect("json");
    let spec = &pod["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    let volume = &spec["volumes"][0];
    let name = volume["name"].as_str().expect("a volume");
    assert!(
        name.starts_with("kube-api-access-") && name.len() == 21,
        "{name}"
    );
    assert_eq!(
        volume["projected"]["sources"][0]["serviceAccountToken"],
        serde_json::json!({"expirationSeconds": 3607, "path": "token"})
    );
    assert_eq!(
        spec["containers"][0]["volumeMounts"],
        serde_json::json!([{"name": name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
    );
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["tolerations"].as_array().map(Vec::len), Some(2));

    // A token bound to the pod names it, and dies with it.
    let bound = ok(
        &server,
        kubectl,
        &[
            "create",
            "token",
            "default",
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            "web",
        ],
    );
    let as_pod = token_kubeconfig(&server, "pod", bound.trim());
    let whoami = run_as(&server, kubectl, &as_pod, &["auth", "whoami"]);
    assert!(whoami.status.success(), "{}", text(&whoami));
    let shown = stdout(&whoami);
    assert!(
        shown.contains("authentication.kubernetes.io/pod-name") && shown.contains("[web]"),
        "{shown}"
    );
    let wrong_pod = fails(
        &server,
        kubectl,
        &[
            "create",
            "token",
            "default",
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            "nope",
        ],
    );
    assert!(
        wrong_pod.contains(r#"pods "nope" not found"#),
        "{wrong_pod}"
    );
    ok(&server, kubectl, &["delete", "pod", "web"]);
    let refused = run_as(&server, kubectl, &as_pod, &["get", "configmaps"]);
    assert!(!refused.status.success(), "{}", text(&refused));

    let opted_out = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: quiet\nspec:\n  automountServiceAccountToken: false\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    let output = run(&server, kubectl, &["apply", "-f", "-"], Some(opted_out));
    assert!(output.status.success(), "{}", text(&output));
    let volumes = ok(
        &server,
        kubectl,
        &["get", "pod", "quiet", "-o", "jsonpath={.spec.volumes}"],
    );
    assert_eq!(volumes, "", "no token volume when the pod opts out");

    let stranger = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stranger\nspec:\n  serviceAccountName: missing\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    let output = run(&server, kubectl, &["apply", "-f", "-"], Some(stranger));
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        stderr(&output).contains(
            r#"pods "stranger" is forbidden: error looking up service account default/missing: serviceaccount "missing" not found"#
        ),
        "{}",
        text(&output)
    );
}
