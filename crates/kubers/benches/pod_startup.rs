//! Pod startup latency: a Pod created with `nodeName` set until it is seen Running through a watch,
//! for N pods one after another, side by side with the raw CRI floor (RunPodSandbox +
//! CreateContainer + StartContainer on the same containerd); then the server's and containerd's RSS
//! with those pods running.
//!
//! `cargo bench -p kubers --bench pod_startup [-- PODS]` (default 50). Runs as root: the cluster lives
//! in a network namespace of its own.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use kubers_kubelet::cri::Cri;
use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;
use kubers_testkit::process::rss_kib;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pods: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(50);
    let cluster = TestCluster::start(Path::new(env!("CARGO_BIN_EXE_kubers")))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let socket = cluster.data_dir().join("agent/containerd/containerd.sock");
        let raw = raw_cri(&socket, &cluster, pods).await?;
        let kubers = through_kubers(&cluster, pods).await?;
        let server_rss = rss_kib(cluster.server_pid().unwrap_or(0));
        let containerd_pid: u32 =
            std::fs::read_to_string(cluster.data_dir().join("agent/containerd/containerd.pid"))?
                .trim()
                .parse()?;
        let containerd_rss = rss_kib(containerd_pid);
        println!("pods: {pods} (created one after another)");
        println!(
            "raw CRI   p50 {:>7.1} ms  p99 {:>7.1} ms",
            percentile(&raw, 0.50),
            percentile(&raw, 0.99)
        );
        println!(
            "kubers    p50 {:>7.1} ms  p99 {:>7.1} ms",
            percentile(&kubers, 0.50),
            percentile(&kubers, 0.99)
        );
        println!(
            "added     p50 {:>7.1} ms",
            percentile(&kubers, 0.50) - percentile(&raw, 0.50)
        );
        println!(
            "RSS with {pods} pods running: kubers server + agent {} MiB, containerd {} MiB",
            server_rss / 1024,
            containerd_rss / 1024
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

fn percentile(samples: &[f64], quantile: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

/// The floor: sandbox + one container started, straight through CRI. Torn down afterwards.
async fn raw_cri(
    socket: &Path,
    cluster: &TestCluster,
    pods: usize,
) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let cri = Cri::connect(socket)?;
    let mut runtime = cri.runtime.clone();
    let mut samples = Vec::with_capacity(pods);
    let mut sandboxes = Vec::new();
    let logs = cluster.data_dir().join("bench-logs");
    for index in 0..pods {
        let uid = format!("raw-{index}");
        let log_dir = logs.join(&uid);
        std::fs::create_dir_all(&log_dir)?;
        let config = cri::PodSandboxConfig {
            metadata: Some(cri::PodSandboxMetadata {
                name: uid.clone(),
                uid: uid.clone(),
                namespace: "bench".into(),
                attempt: 0,
            }),
            hostname: uid.clone(),
            log_directory: log_dir.display().to_string(),
            labels: HashMap::from([("bench".to_string(), "raw".to_string())]),
            linux: Some(cri::LinuxPodSandboxConfig {
                cgroup_parent: format!("/kubers-bench/pod{uid}"),
                ..cri::LinuxPodSandboxConfig::default()
            }),
            ..cri::PodSandboxConfig::default()
        };
        let started = Instant::now();
        let sandbox = runtime
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await?
            .into_inner()
            .pod_sandbox_id;
        let container = runtime
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox.clone(),
                config: Some(cri::ContainerConfig {
                    metadata: Some(cri::ContainerMetadata {
                        name: "main".into(),
                        attempt: 0,
                    }),
                    image: Some(cri::ImageSpec {
                        image: BUSYBOX_IMAGE.into(),
                        ..cri::ImageSpec::default()
                    }),
                    command: vec!["sleep".into(), "3600".into()],
                    log_path: "main.log".into(),
                    ..cri::ContainerConfig::default()
                }),
                sandbox_config: Some(config),
            })
            .await?
            .into_inner()
            .container_id;
        runtime
            .start_container(cri::StartContainerRequest {
                container_id: container,
            })
            .await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        sandboxes.push(sandbox);
    }
    for sandbox in sandboxes {
        runtime
            .stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: sandbox.clone(),
            })
            .await?;
        runtime
            .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: sandbox,
            })
            .await?;
    }
    for index in 0..pods {
        for hierarchy in [
            "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
        ] {
            let _ = std::fs::remove_dir(format!(
                "/sys/fs/cgroup/{hierarchy}/kubers-bench/podraw-{index}"
            ));
        }
    }
    for hierarchy in [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
    ] {
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{hierarchy}/kubers-bench"));
    }
    Ok(samples)
}

/// Pods created through the API with `nodeName` set, each timed until a watch shows it Running.
async fn through_kubers(
    cluster: &TestCluster,
    pods: usize,
) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig())?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let api: Api<Pod> = Api::namespaced(client, "default");
    let mut samples = Vec::with_capacity(pods);
    for index in 0..pods {
        let name = format!("bench-{index}");
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "nodeName": cluster.node_name(),
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "containers": [{"name": "main", "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"]}],
            },
        }))?;
        let started = Instant::now();
        let created = api.create(&PostParams::default(), &pod).await?;
        let version = created
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default();
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(60);
        let mut stream = api.watch(&params, &version).await?.boxed();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match stream.next().await {
                Some(Ok(WatchEvent::Modified(pod))) => {
                    if pod
                        .status
                        .as_ref()
                        .and_then(|status| status.phase.as_deref())
                        == Some("Running")
                    {
                        samples.push(started.elapsed().as_secs_f64() * 1000.0);
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => break,
            }
        }
    }
    let _ = api
        .delete_collection(
            &DeleteParams::default().grace_period(0),
            &Default::default(),
        )
        .await;
    Ok(samples)
}
