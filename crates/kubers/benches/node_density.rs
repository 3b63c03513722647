//! Node density: a `kubers agent` joined to a control plane (its own process, its own containerd)
//! runs 30, then 110 pods (upstream's default pod limit per node), all created at once; prints how
//! long each batch took to be Running and the agent's and containerd's RSS at both points.
//!
//! `cargo bench -p kubers --bench node_density`. Runs as root: the cluster lives in a network
//! namespace of its own.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kubers_testkit::agent::TestAgent;
use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;
use kubers_testkit::process::rss_kib;

/// The pod counts measured, in order.
const STEPS: [usize; 2] = [30, 110];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let binary = Path::new(env!("CARGO_BIN_EXE_kubers"));
    let cluster = TestCluster::start_control_plane(binary)?;
    let agent = TestAgent::join(&cluster, binary)?;
    let agent_pid = agent.pid().ok_or("the agent is not running")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig())?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?;
        let pods: Api<Pod> = Api::namespaced(kube::Client::try_from(config)?, "default");
        let containerd_pid: u32 = std::fs::read_to_string(
            agent.data_dir().join("agent/containerd/containerd.pid"),
        )?
        .trim()
        .parse()?;
        println!(
            "idle: agent {} MiB, containerd {} MiB",
            rss_kib(agent_pid) / 1024,
            rss_kib(containerd_pid) / 1024
        );
        let mut created = 0;
        for target in STEPS {
            let started = Instant::now();
            for index in created..target {
                pods.create(&PostParams::default(), &pod(index, agent.node_name())?)
                    .await?;
            }
            let running = wait_running(&pods, target).await?;
            let elapsed = started.elapsed().as_secs_f64();
            // Let the agent settle (probes, status writes) before reading its memory.
            tokio::time::sleep(Duration::from_secs(10)).await;
            println!(
                "{target} pods: {} more Running {elapsed:.1} s after the first create ({running} Running); \
                 agent {} MiB, containerd {} MiB",
                target - created,
                rss_kib(agent_pid) / 1024,
                rss_kib(containerd_pid) / 1024
            );
            created = target;
        }
        let _ = pods
            .delete_collection(
                &DeleteParams::default().grace_period(0),
                &ListParams::default(),
            )
            .await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    drop(agent);
    Ok(())
}

fn pod(index: usize, node: &str) -> Result<Pod, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("density-{index}")},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"]}],
        },
    }))
}

/// Waits (at most 10 minutes) until `count` pods are Running; returns how many are.
async fn wait_running(pods: &Api<Pod>, count: usize) -> Result<usize, kube::Error> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let running = pods
            .list(&ListParams::default().fields("status.phase=Running"))
            .await?
            .items
            .len();
        if running >= count || Instant::now() > deadline {
            return Ok(running);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
