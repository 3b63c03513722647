//! PodDisruptionBudgets: the disruption controller reports healthy, desired and expected pods and
//! the disruptions allowed with the `DisruptionAllowed` condition; the eviction subresource (and so
//! `kubectl drain`) refuses what the budget does not allow with upstream's 429 and takes a
//! disruption for what it allows.

use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubers_testkit::server::TestServer;
use kubers_testkit::simulated::NodeTemplate;

use crate::converge::*;
use crate::*;

const BUDGET: &str = "{.status.currentHealthy} {.status.desiredHealthy} {.status.expectedPods} {.status.disruptionsAllowed} {.status.observedGeneration}";
const CONDITION: &str =
    "{.status.conditions[0].type} {.status.conditions[0].status} {.status.conditions[0].reason}";

fn web_pods(server: &TestServer, kubectl: &Path) -> Vec<String> {
    ok(
        server,
        kubectl,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
    )
    .split_whitespace()
    .map(str::to_owned)
    .collect()
}

/// A kube-rs client that does not retry 429s (kube's default retries them for minutes).
async fn client(server: &TestServer) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig()).expect("the kubeconfig");
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("a client configuration");
    config.default_retry = false;
    kube::Client::try_from(config).expect("a client")
}

/// Evicts a pod through kube-rs; the API's refusal as `(code, message, cause reason, cause message)`.
fn evict(server: &TestServer, pod: &str) -> Result<(), (u16, String, String, String)> {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let client = client(server).await;
        let pods: Api<Pod> = Api::namespaced(client, "default");
        match pods.evict(pod, &EvictParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) => {
                let cause = status
                    .details
                    .as_ref()
                    .and_then(|details| details.causes.first())
                    .map(|cause| (cause.reason.clone(), cause.message.clone()))
                    .unwrap_or_default();
                Err((status.code, status.message.clone(), cause.0, cause.1))
            }
            Err(error) => panic!("eviction failed: {error}"),
        }
    })
}

fn running_pods_on(server: &TestServer, node: &str) -> usize {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let pods: Api<Pod> = Api::namespaced(client(server).await, "default");
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods list");
        list.items
            .iter()
            .filter(|pod| {
                pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()) == Some(node)
            })
            .count()
    })
}

#[test]
fn a_budget_reports_healthy_pods_and_guards_evictions() {
    let server = server();
    let kubectl = &kubectls()[1];
    let _nodes = simulate(
        &server,
        vec![NodeTemplate::new("sim-a"), NodeTemplate::new("sim-b")],
    );
    ok(
        &server,
        kubectl,
        &[
            "create",
            "deployment",
            "web",
            "--image=busybox:1.36",
            "--replicas=3",
        ],
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ],
        |out| out == "Running Running Running",
    );
    ok(
        &server,
        kubectl,
        &[
            "create",
            "pdb",
            "web",
            "--selector=app=web",
            "--min-available=3",
        ],
    );
    until_field(&server, kubectl, &["pdb", "web"], BUDGET, "3 3 3 0 1");
    assert_eq!(
        field(&server, kubectl, &["pdb", "web"], CONDITION),
        "DisruptionAllowed False InsufficientPods"
    );

    // Nothing may go: the API refuses with upstream's 429 and cause, and drain gives up.
    let pods = web_pods(&server, kubectl);
    assert_eq!(
        evict(&server, &pods[0]),
        Err((
            429,
            "Cannot evict pod as it would violate the pod's disruption budget.".to_owned(),
            "DisruptionBudget".to_owned(),
            "The disruption budget web needs 3 healthy pods and has 3 currently".to_owned(),
        ))
    );
    let node = field(&server, kubectl, &["pod", &pods[0]], "{.spec.nodeName}");
    let output = run(
        &server,
        kubectl,
        &["drain", &node, "--ignore-daemonsets", "--timeout=3s"],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        stderr.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{stderr}"
    );
    assert_eq!(web_pods(&server, kubectl).len(), 3);

    // One may go: the eviction takes the disruption, and drain empties the node.
    ok(&server, kubectl, &["uncordon", &node]);
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "pdb",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"minAvailable":2}}"#,
        ],
    );
    until_field(&server, kubectl, &["pdb", "web"], BUDGET, "3 2 3 1 2");
    assert_eq!(
        field(&server, kubectl, &["pdb", "web"], CONDITION),
        "DisruptionAllowed True SufficientPods"
    );
    let table = ok(&server, kubectl, &["get", "pdb", "web"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(row[..4], ["web", "2", "N/A", "1"], "{table}");
    // With both nodes cordoned the replacement cannot run: the disruption the eviction took stays
    // taken, and the next eviction is refused.
    ok(&server, kubectl, &["cordon", "sim-a", "sim-b"]);
    let pods = web_pods(&server, kubectl);
    assert_eq!(evict(&server, &pods[0]), Ok(()));
    until_field(&server, kubectl, &["pdb", "web"], BUDGET, "2 2 3 0 2");
    assert_eq!(
        evict(&server, &pods[1]),
        Err((
            429,
            "Cannot evict pod as it would violate the pod's disruption budget.".to_owned(),
            "DisruptionBudget".to_owned(),
            "The disruption budget web needs 2 healthy pods and has 2 currently".to_owned(),
        ))
    );
    ok(&server, kubectl, &["uncordon", "sim-a", "sim-b"]);
    // The Deployment replaces the pod; the budget recovers.
    until_field(&server, kubectl, &["pdb", "web"], BUDGET, "3 2 3 1 2");
    let output = run(
        &server,
        kubectl,
        &["drain", "sim-a", "--ignore-daemonsets", "--timeout=120s"],
        None,
    );
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(running_pods_on(&server, "sim-a"), 0);
    until_field(&server, kubectl, &["pdb", "web"], BUDGET, "3 2 3 1 2");
}
