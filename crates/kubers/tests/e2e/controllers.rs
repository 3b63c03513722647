//! The controller manager inside `kubers server`: namespace deletion, garbage collection, service
//! accounts and the root CA, ReplicaSets and Deployments. No node runs pods here, so the checks are
//! about objects (pods stay Pending).

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::server::TestServer;

use crate::*;

/// How long a controller may take to converge before the test gives up (a safety net for a broken
/// controller, not a latency assertion).
const CONVERGE: Duration = Duration::from_secs(120);

/// Runs `kubectl args` until its output satisfies `done`; returns that output.
fn until(
    server: &TestServer,
    kubectl: &Path,
    args: &[&str],
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let output = run(server, kubectl, args, None);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() && done(&stdout) {
            return stdout;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {args:?} never converged; last: {}\nserver log:\n{}",
            text(&output),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Names of the objects `kubectl get RESOURCE -o name` lists, one per line.
fn names(output: &str) -> Vec<&str> {
    output.lines().filter(|line| !line.is_empty()).collect()
}

#[test]
fn a_new_namespace_gets_a_default_service_account_and_the_root_ca() {
    let server = server();
    let kubectl = &kubectls()[1];
    ok(&server, kubectl, &["create", "namespace", "team"]);
    until(
        &server,
        kubectl,
        &["get", "serviceaccount", "-n", "team", "-o", "name"],
        |out| names(out) == ["serviceaccount/default"],
    );
    let ca = until(
        &server,
        kubectl,
        &[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ],
        |out| !out.is_empty(),
    );
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    // A deleted default account comes back.
    ok(
        &server,
        kubectl,
        &["delete", "serviceaccount", "default", "-n", "team"],
    );
    until(
        &server,
        kubectl,
        &["get", "serviceaccount", "-n", "team", "-o", "name"],
        |out| names(out) == ["serviceaccount/default"],
    );
}

#[test]
fn deleting_a_namespace_deletes_everything_in_it() {
    let server = server();
    for kubectl in &kubectls() {
        ok(&server, kubectl, &["create", "namespace", "doomed"]);
        ok(
            &server,
            kubectl,
            &[
                "create",
                "configmap",
                "settings",
                "-n",
                "doomed",
                "--from-literal=a=b",
            ],
        );
        ok(
            &server,
            kubectl,
            &[
                "create",
                "secret",
                "generic",
                "password",
                "-n",
                "doomed",
                "--from-literal=p=q",
            ],
        );
        ok(
            &server,
            kubectl,
            &[
                "create",
                "deployment",
                "web",
                "-n",
                "doomed",
                "--image=nginx",
                "--replicas=2",
            ],
        );
        // kubectl waits until the namespace is gone.
        let deleted = ok(
            &server,
            kubectl,
            &["delete", "namespace", "doomed", "--timeout=120s"],
        );
        assert!(
            deleted.contains("namespace \"doomed\" deleted"),
            "{deleted}"
        );
        let gone = fails(&server, kubectl, &["get", "namespace", "doomed"]);
        assert!(gone.contains("NotFound"), "{gone}");
        for resource in [
            "configmaps",
            "secrets",
            "deployments",
            "replicasets",
            "pods",
        ] {
            let left = ok(
                &server,
                kubectl,
                &["get", resource, "-n", "doomed", "-o", "name"],
            );
            assert!(left.is_empty(), "{resource} left: {left}");
        }
    }
}

#[test]
fn a_namespace_waits_for_the_finalizers_of_its_content() {
    let server = server();
    let kubectl = &kubectls()[0];
    ok(&server, kubectl, &["create", "namespace", "held"]);
    let held = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: held\n  finalizers:\n  - example.com/hold\n";
    let output = run(&server, kubectl, &["apply", "-f", "-"], Some(held));
    assert!(output.status.success(), "{}", text(&output));
    ok(
        &server,
        kubectl,
        &["delete", "namespace", "held", "--wait=false"],
    );
    let phase = ok(
        &server,
        kubectl,
        &["get", "namespace", "held", "-o", "jsonpath={.status.phase}"],
    );
    assert_eq!(phase, "Terminating");
    let message = until(
        &server,
        kubectl,
        &[
            "get",
            "namespace",
            "held",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"NamespaceFinalizersRemaining\")].message}",
        ],
        |out| !out.is_empty(),
    );
    assert_eq!(
        message,
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    let remaining = ok(
        &server,
        kubectl,
        &[
            "get",
            "namespace",
            "held",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"NamespaceContentRemaining\")].message}",
        ],
    );
    assert_eq!(
        remaining,
        "Some resources are remaining: configmaps. has 1 resource instances"
    );
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "configmap",
            "held",
            "-n",
            "held",
            "--type=merge",
            "-p",
            "{\"metadata\":{\"finalizers\":null}}",
        ],
    );
    ok(
        &server,
        kubectl,
        &["wait", "--for=delete", "namespace/held", "--timeout=120s"],
    );
}

fn replica_set(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n"
    )
}

fn apply(server: &TestServer, kubectl: &Path, manifest: &str) {
    let output = run(server, kubectl, &["apply", "-f", "-"], Some(manifest));
    assert!(output.status.success(), "{}", text(&output));
}

/// The pods labelled `app=NAME`, by name.
fn pods_of(server: &TestServer, kubectl: &Path, app: &str, count: usize) -> Vec<String> {
    let selector = format!("app={app}");
    let listed = until(
        server,
        kubectl,
        &["get", "pods", "-l", &selector, "-o", "name"],
        |out| names(out).len() == count,
    );
    names(&listed).into_iter().map(str::to_owned).collect()
}

#[test]
fn a_replica_set_keeps_its_pods() {
    let server = server();
    let kubectl = &kubectls()[1];
    apply(&server, kubectl, &replica_set("web", 3));
    let pods = pods_of(&server, kubectl, "web", 3);
    let owner = ok(
        &server,
        kubectl,
        &[
            "get",
            &pods[0],
            "-o",
            "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}",
        ],
    );
    assert_eq!(owner, "ReplicaSet/web/true");
    until(
        &server,
        kubectl,
        &[
            "get",
            "rs",
            "web",
            "-o",
            "jsonpath={.status.replicas}/{.status.fullyLabeledReplicas}/{.status.observedGeneration}",
        ],
        |out| out == "3/3/1",
    );
    // A deleted pod is replaced.
    ok(&server, kubectl, &["delete", &pods[0]]);
    let replaced = until(
        &server,
        kubectl,
        &["get", "pods", "-l", "app=web", "-o", "name"],
        |out| names(out).len() == 3 && !names(out).contains(&pods[0].as_str()),
    );
    assert_eq!(names(&replaced).len(), 3);
    // Scaling down deletes, scaling up creates.
    ok(&server, kubectl, &["scale", "rs", "web", "--replicas=1"]);
    pods_of(&server, kubectl, "web", 1);
    ok(&server, kubectl, &["scale", "rs", "web", "--replicas=2"]);
    pods_of(&server, kubectl, "web", 2);
    let events = until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=web",
            "-o",
            "jsonpath={.items[*].reason}",
        ],
        |out| out.contains("SuccessfulDelete"),
    );
    assert!(events.contains("SuccessfulCreate"), "{events}");
    // An orphan that matches is adopted (and, one too many, deleted again or kept instead of
    // another); a pod whose labels stop matching is released and replaced.
    let orphan = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stray\n  labels:\n    app: web\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    apply(&server, kubectl, orphan);
    until(
        &server,
        kubectl,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={range .items[*]}{.metadata.ownerReferences[0].name}{\"\\n\"}{end}",
        ],
        |out| out.lines().filter(|line| *line == "web").count() == 2 && out.lines().count() == 2,
    );
    let kept = pods_of(&server, kubectl, "web", 2);
    ok(
        &server,
        kubectl,
        &["label", "--overwrite", &kept[0], "app=other"],
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            &kept[0],
            "-o",
            "jsonpath={.metadata.ownerReferences}",
        ],
        |out| out.is_empty(),
    );
    pods_of(&server, kubectl, "web", 2);
}

#[test]
fn a_replication_controller_keeps_its_pods() {
    let server = server();
    let kubectl = &kubectls()[0];
    let manifest = "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: legacy\nspec:\n  replicas: 2\n  selector:\n    app: legacy\n  template:\n    metadata:\n      labels:\n        app: legacy\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n";
    apply(&server, kubectl, manifest);
    pods_of(&server, kubectl, "legacy", 2);
    until(
        &server,
        kubectl,
        &["get", "rc", "legacy", "-o", "jsonpath={.status.replicas}"],
        |out| out == "2",
    );
    // kubectl deletes in the background: the pods follow.
    ok(&server, kubectl, &["delete", "rc", "legacy"]);
    pods_of(&server, kubectl, "legacy", 0);
}

#[test]
fn cascading_deletes_follow_the_propagation_policy() {
    let server = server();
    let kubectl = &kubectls()[1];
    // Orphan: the pods stay, without the reference to their owner.
    apply(&server, kubectl, &replica_set("kept", 2));
    let pods = pods_of(&server, kubectl, "kept", 2);
    ok(
        &server,
        kubectl,
        &["delete", "rs", "kept", "--cascade=orphan"],
    );
    fails(&server, kubectl, &["get", "rs", "kept"]);
    for pod in &pods {
        until(
            &server,
            kubectl,
            &["get", pod, "-o", "jsonpath={.metadata.ownerReferences}"],
            |out| out.is_empty(),
        );
    }
    assert_eq!(pods_of(&server, kubectl, "kept", 2), pods);

    // Background: the owner goes at once, the collector deletes the pods.
    apply(&server, kubectl, &replica_set("background", 2));
    pods_of(&server, kubectl, "background", 2);
    ok(
        &server,
        kubectl,
        &["delete", "rs", "background", "--cascade=background"],
    );
    pods_of(&server, kubectl, "background", 0);

    // Foreground: the owner waits (foregroundDeletion) until its pods are gone.
    apply(&server, kubectl, &replica_set("foreground", 2));
    pods_of(&server, kubectl, "foreground", 2);
    ok(
        &server,
        kubectl,
        &[
            "delete",
            "rs",
            "foreground",
            "--cascade=foreground",
            "--timeout=120s",
        ],
    );
    fails(&server, kubectl, &["get", "rs", "foreground"]);
    pods_of(&server, kubectl, "foreground", 0);

    // A Deployment deleted in the background takes its ReplicaSet and pods along.
    ok(
        &server,
        kubectl,
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
        ],
    );
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |out| names(out).len() == 1,
    );
    ok(&server, kubectl, &["delete", "deployment", "web"]);
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |out| out.is_empty(),
    );
    pods_of(&server, kubectl, "web", 0);
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 100%
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: c
        image: busybox:1.36
";

/// `name=replicas` for each ReplicaSet labelled `app=web`, sorted.
fn replica_sets(server: &TestServer, kubectl: &Path) -> Vec<String> {
    let listed = ok(
        server,
        kubectl,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas}{\"\\n\"}{end}",
        ],
    );
    let mut lines: Vec<String> = listed.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn a_deployment_rolls_out_scales_and_rolls_back() {
    let server = server();
    let kubectl = &kubectls()[1];
    apply(&server, kubectl, DEPLOYMENT);
    pods_of(&server, kubectl, "web", 2);
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |out| names(out).len() == 1,
    );
    let hash = ok(
        &server,
        kubectl,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.labels.pod-template-hash}",
        ],
    );
    let rs_name = ok(
        &server,
        kubectl,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ],
    );
    assert_eq!(rs_name, format!("web-{hash}"));
    until(
        &server,
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}/{.status.replicas}/{.status.observedGeneration}",
        ],
        |out| out == "1/2/1",
    );
    let available = ok(
        &server,
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Available\")].reason}",
        ],
    );
    assert_eq!(available, "MinimumReplicasAvailable");

    // Scaling changes the pod count.
    ok(
        &server,
        kubectl,
        &["scale", "deployment", "web", "--replicas=3"],
    );
    pods_of(&server, kubectl, "web", 3);

    // A new image is a new ReplicaSet (revision 2) that takes over.
    ok(
        &server,
        kubectl,
        &["set", "image", "deployment/web", "c=busybox:1.37"],
    );
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |out| names(out).len() == 2,
    );
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |_| replica_sets(&server, kubectl) == ["1=0", "2=3"],
    );
    let history = ok(&server, kubectl, &["rollout", "history", "deployment/web"]);
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
    );
    let events = until(
        &server,
        kubectl,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=Deployment",
            "-o",
            "jsonpath={.items[*].message}",
        ],
        |out| out.contains("Scaled down replica set"),
    );
    assert!(
        events.contains(&format!("Scaled up replica set {rs_name} from 0 to 2")),
        "{events}"
    );

    // Undo goes back to the first template, as revision 3.
    let undone = ok(&server, kubectl, &["rollout", "undo", "deployment/web"]);
    assert!(undone.contains("rolled back"), "{undone}");
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |_| replica_sets(&server, kubectl) == ["2=0", "3=3"],
    );
    let image = ok(
        &server,
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(image, "busybox:1.36");

    // Paused: a template change waits for resume.
    ok(&server, kubectl, &["rollout", "pause", "deployment/web"]);
    until(
        &server,
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}",
        ],
        |out| out == "DeploymentPaused",
    );
    ok(
        &server,
        kubectl,
        &["set", "image", "deployment/web", "c=busybox:1.35"],
    );
    let status = ok(
        &server,
        kubectl,
        &["rollout", "status", "deployment/web", "--watch=false"],
    );
    assert!(
        status.contains("Waiting for deployment \"web\" rollout to finish"),
        "{status}"
    );
    assert_eq!(replica_sets(&server, kubectl), ["2=0", "3=3"]);
    ok(&server, kubectl, &["rollout", "resume", "deployment/web"]);
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |_| replica_sets(&server, kubectl) == ["2=0", "3=0", "4=3"],
    );
    // The new pods exist but never become available without nodes.
    until(
        &server,
        kubectl,
        &["rollout", "status", "deployment/web", "--watch=false"],
        |out| out.contains("0 of 3 updated replicas are available"),
    );
}

#[test]
fn a_recreate_deployment_replaces_every_pod_at_once() {
    let server = server();
    let kubectl = &kubectls()[0];
    let manifest = DEPLOYMENT.replace(
        "    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 100%\n",
        "    type: Recreate\n",
    );
    apply(&server, kubectl, &manifest);
    pods_of(&server, kubectl, "web", 2);
    ok(
        &server,
        kubectl,
        &["set", "image", "deployment/web", "c=busybox:1.37"],
    );
    until(
        &server,
        kubectl,
        &["get", "rs", "-l", "app=web", "-o", "name"],
        |_| replica_sets(&server, kubectl) == ["1=0", "2=2"],
    );
    let images = until(
        &server,
        kubectl,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ],
        |out| out == "busybox:1.37 busybox:1.37",
    );
    assert_eq!(images, "busybox:1.37 busybox:1.37");
}

#[test]
fn services_publish_their_ready_pods_as_endpoints_and_slices() {
    let server = server();
    let kubectl = &kubectls()[1];
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector:\n    app: api\n  ports:\n  - name: http\n    port: 80\n    targetPort: web\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: api\n  labels:\n    app: api\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n    ports:\n    - name: web\n      containerPort: 8080\n";
    apply(&server, kubectl, manifest);
    // Without an address the pod is not an endpoint; the slice is a placeholder.
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
            "-o",
            "jsonpath={.items[*].metadata.labels.endpointslice\\.kubernetes\\.io/managed-by}",
        ],
        |out| out == "endpointslice-controller.k8s.io",
    );
    let status = "{\"status\":{\"podIP\":\"10.42.0.5\",\"podIPs\":[{\"ip\":\"10.42.0.5\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "pod",
            "api",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ],
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpoints",
            "api",
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}/{.subsets[0].addresses[0].targetRef.name}",
        ],
        |out| out == "10.42.0.5:8080/api",
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
            "-o",
            "jsonpath={.items[0].endpoints[0].addresses[0]}/{.items[0].endpoints[0].conditions.ready}/{.items[0].ports[0].port}",
        ],
        |out| out == "10.42.0.5/true/8080",
    );
    // Not ready: a not-ready address, and a slice endpoint that is not ready.
    let unready = "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}";
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "pod",
            "api",
            "--subresource=status",
            "--type=merge",
            "-p",
            unready,
        ],
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpoints",
            "api",
            "-o",
            "jsonpath={.subsets[0].notReadyAddresses[0].ip}",
        ],
        |out| out == "10.42.0.5",
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
            "-o",
            "jsonpath={.items[0].endpoints[0].conditions.ready}",
        ],
        |out| out == "false",
    );
    // The Service goes, and its endpoints with it.
    ok(&server, kubectl, &["delete", "service", "api"]);
    until(
        &server,
        kubectl,
        &["get", "endpoints", "-o", "name"],
        |out| !out.contains("endpoints/api"),
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
            "-o",
            "name",
        ],
        |out| out.is_empty(),
    );
}

#[test]
fn pods_of_a_node_that_does_not_exist_are_collected() {
    let server = server();
    let kubectl = &kubectls()[0];
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stranded\nspec:\n  nodeName: ghost\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    apply(&server, kubectl, manifest);
    // After upstream's 40 s quarantine the pod is force-deleted.
    until(&server, kubectl, &["get", "pods", "-o", "name"], |out| {
        !out.contains("pod/stranded")
    });
}

fn job(name: &str, completions: u32, backoff_limit: u32) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  completions: {completions}\n  parallelism: {completions}\n  backoffLimit: {backoff_limit}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox:1.36\n"
    )
}

/// Sets the phase of a pod as its kubelet would.
fn finish(server: &TestServer, kubectl: &Path, pod: &str, phase: &str) {
    let status = format!("{{\"status\":{{\"phase\":\"{phase}\"}}}}");
    ok(
        server,
        kubectl,
        &[
            "patch",
            pod,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ],
    );
}

#[test]
fn jobs_complete_fail_and_clean_up() {
    let server = server();
    let kubectl = &kubectls()[1];
    apply(&server, kubectl, &job("batch", 2, 6));
    let pods = pods_of(&server, kubectl, "batch", 2);
    let tracked = ok(
        &server,
        kubectl,
        &["get", &pods[0], "-o", "jsonpath={.metadata.finalizers}"],
    );
    assert!(
        tracked.contains("batch.kubernetes.io/job-tracking"),
        "{tracked}"
    );
    for pod in &pods {
        finish(&server, kubectl, pod, "Succeeded");
    }
    ok(
        &server,
        kubectl,
        &[
            "wait",
            "--for=condition=complete",
            "job/batch",
            "--timeout=120s",
        ],
    );
    let counted = ok(
        &server,
        kubectl,
        &[
            "get",
            "job",
            "batch",
            "-o",
            "jsonpath={.status.succeeded}/{.status.failed}",
        ],
    );
    assert_eq!(counted, "2/0");
    until(
        &server,
        kubectl,
        &["get", &pods[0], "-o", "jsonpath={.metadata.finalizers}"],
        |out| out.is_empty(),
    );

    // Past the backoff limit the Job fails.
    apply(&server, kubectl, &job("flaky", 1, 0));
    let pods = pods_of(&server, kubectl, "flaky", 1);
    finish(&server, kubectl, &pods[0], "Failed");
    ok(
        &server,
        kubectl,
        &[
            "wait",
            "--for=condition=failed",
            "job/flaky",
            "--timeout=120s",
        ],
    );
    let reason = ok(
        &server,
        kubectl,
        &[
            "get",
            "job",
            "flaky",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
        ],
    );
    assert_eq!(reason, "BackoffLimitExceeded");

    // A finished Job with ttlSecondsAfterFinished goes by itself.
    let short = job("short", 1, 6).replace(
        "  backoffLimit: 6\n",
        "  backoffLimit: 6\n  ttlSecondsAfterFinished: 0\n",
    );
    apply(&server, kubectl, &short);
    let pods = pods_of(&server, kubectl, "short", 1);
    finish(&server, kubectl, &pods[0], "Succeeded");
    until(&server, kubectl, &["get", "jobs", "-o", "name"], |out| {
        !out.contains("job.batch/short")
    });
    pods_of(&server, kubectl, "short", 0);

    // A deleted Job takes its pods along, tracking finalizer or not.
    apply(&server, kubectl, &job("dropped", 1, 6));
    pods_of(&server, kubectl, "dropped", 1);
    ok(&server, kubectl, &["delete", "job", "dropped"]);
    pods_of(&server, kubectl, "dropped", 0);
}

#[test]
fn a_daemon_set_runs_one_pod_per_eligible_node() {
    let server = server();
    let kubectl = &kubectls()[1];
    let nodes = "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n  labels:\n    disk: ssd\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-b\n  labels:\n    disk: hdd\n";
    apply(&server, kubectl, nodes);
    let daemon_set = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    spec:\n      nodeSelector:\n        disk: ssd\n      containers:\n      - name: c\n        image: busybox:1.36\n";
    apply(&server, kubectl, daemon_set);
    let pods = pods_of(&server, kubectl, "agent", 1);
    let pinned = ok(
        &server,
        kubectl,
        &[
            "get",
            &pods[0],
            "-o",
            "jsonpath={.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]}",
        ],
    );
    assert_eq!(pinned, "node-a");
    // A node that becomes eligible gets a pod; a deleted node's pod goes.
    ok(
        &server,
        kubectl,
        &["label", "node", "node-b", "disk=ssd", "--overwrite"],
    );
    pods_of(&server, kubectl, "agent", 2);
    until(
        &server,
        kubectl,
        &[
            "get",
            "ds",
            "agent",
            "-o",
            "jsonpath={.status.desiredNumberScheduled}/{.status.currentNumberScheduled}",
        ],
        |out| out == "2/2",
    );
    ok(&server, kubectl, &["delete", "node", "node-a"]);
    let left = pods_of(&server, kubectl, "agent", 1);
    let node = ok(
        &server,
        kubectl,
        &[
            "get",
            &left[0],
            "-o",
            "jsonpath={.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]}",
        ],
    );
    assert_eq!(node, "node-b");
    // A template change replaces the pod (RollingUpdate).
    let old = left[0].clone();
    ok(
        &server,
        kubectl,
        &["set", "image", "ds/agent", "c=busybox:1.37"],
    );
    until(
        &server,
        kubectl,
        &["get", "pods", "-l", "app=agent", "-o", "name"],
        |out| names(out).len() == 1 && !out.contains(old.as_str()),
    );
}

/// Marks a pod Running and Ready, as its kubelet would.
fn make_ready(server: &TestServer, kubectl: &Path, pod: &str) {
    let status = "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    ok(
        server,
        kubectl,
        &[
            "patch",
            pod,
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ],
    );
}

#[test]
fn a_stateful_set_starts_its_pods_in_order_with_stable_names() {
    let server = server();
    let kubectl = &kubectls()[1];
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  clusterIP: None\n  selector:\n    app: db\n  ports:\n  - port: 5432\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  replicas: 3\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      labels:\n        app: db\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources:\n        requests:\n          storage: 1Gi\n";
    apply(&server, kubectl, manifest);
    // OrderedReady: db-1 waits for db-0 to run and be ready.
    assert_eq!(pods_of(&server, kubectl, "db", 1), ["pod/db-0"]);
    let identity = ok(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "db-0",
            "-o",
            "jsonpath={.spec.hostname}.{.spec.subdomain}/{.metadata.labels.statefulset\\.kubernetes\\.io/pod-name}/{.spec.volumes[?(@.name==\"data\")].persistentVolumeClaim.claimName}",
        ],
    );
    assert_eq!(identity, "db-0.db/db-0/data-db-0");
    ok(&server, kubectl, &["get", "pvc", "data-db-0"]);
    make_ready(&server, kubectl, "pod/db-0");
    assert_eq!(pods_of(&server, kubectl, "db", 2), ["pod/db-0", "pod/db-1"]);
    make_ready(&server, kubectl, "pod/db-1");
    assert_eq!(
        pods_of(&server, kubectl, "db", 3),
        ["pod/db-0", "pod/db-1", "pod/db-2"]
    );
    make_ready(&server, kubectl, "pod/db-2");
    until(
        &server,
        kubectl,
        &[
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.replicas}/{.status.readyReplicas}",
        ],
        |out| out == "3/3",
    );
    // A deleted pod comes back with the same name.
    ok(&server, kubectl, &["delete", "pod", "db-1"]);
    until(
        &server,
        kubectl,
        &["get", "pod", "db-1", "-o", "name"],
        |out| out.trim() == "pod/db-1",
    );
    make_ready(&server, kubectl, "pod/db-1");
    // Scaling down removes the highest ordinals.
    ok(&server, kubectl, &["scale", "sts", "db", "--replicas=1"]);
    assert_eq!(pods_of(&server, kubectl, "db", 1), ["pod/db-0"]);
}

#[test]
fn a_silent_node_goes_unknown_and_its_intolerant_pods_are_evicted() {
    let server = server();
    let kubectl = &kubectls()[0];
    let manifest = "apiVersion: v1\nkind: Node\nmetadata:\n  name: lonely\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: brief\nspec:\n  nodeName: lonely\n  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n    tolerationSeconds: 1\n  containers:\n  - name: c\n    image: busybox:1.36\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: steady\nspec:\n  nodeName: lonely\n  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    apply(&server, kubectl, manifest);
    // No kubelet ever renews its Lease: after the 40 s grace period the node is Unknown.
    let reason = until(
        &server,
        kubectl,
        &[
            "get",
            "node",
            "lonely",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}/{.status.conditions[?(@.type==\"Ready\")].reason}",
        ],
        |out| out.starts_with("Unknown"),
    );
    assert_eq!(reason, "Unknown/NodeStatusNeverUpdated");
    until(
        &server,
        kubectl,
        &[
            "get",
            "node",
            "lonely",
            "-o",
            "jsonpath={.spec.taints[*].key}/{.spec.taints[*].effect}",
        ],
        |out| {
            out == "node.kubernetes.io/unreachable node.kubernetes.io/unreachable/NoSchedule NoExecute"
        },
    );
    // The pod that tolerates the taint for a second is evicted (it waits for its kubelet, which
    // never comes); the one that tolerates it for ever stays.
    until(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "brief",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
        |out| !out.is_empty(),
    );
    let steady = ok(
        &server,
        kubectl,
        &[
            "get",
            "pod",
            "steady",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
    );
    assert!(steady.is_empty(), "{steady}");
}
