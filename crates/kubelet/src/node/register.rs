//! Registering the Node and keeping its status (capacity, conditions, addresses, node info) current.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::system::SystemInfo;
use super::{KUBELET_VERSION, MAX_PODS};
use crate::config::AgentConfig;
use crate::error::Result;

/// The port of the kubelet's HTTPS endpoint, advertised in `status.daemonEndpoints`.
pub const KUBELET_PORT: i32 = 10250;

/// Creates the Node if it does not exist and writes its status. Returns the Node as stored.
pub async fn register(
    nodes: &Api<Node>,
    config: &AgentConfig,
    system: &SystemInfo,
    runtime_version: &str,
) -> Result<Node> {
    let name = &config.node_name;
    let node = match nodes.get_opt(name).await? {
        Some(node) => node,
        None => {
            let node = Node {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(labels(config)),
                    annotations: Some(BTreeMap::from([
                        ("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string()),
                        (
                            "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
                            "true".to_string(),
                        ),
                    ])),
                    ..ObjectMeta::default()
                },
                ..Node::default()
            };
            match nodes.create(&PostParams::default(), &node).await {
                Ok(node) => {
                    tracing::info!(node = %name, "registered the node");
                    node
                }
                Err(kube::Error::Api(status)) if status.code == 409 => nodes.get(name).await?,
                Err(error) => return Err(error.into()),
            }
        }
    };
    let missing_labels: BTreeMap<String, String> = labels(config)
        .into_iter()
        .filter(|(key, value)| {
            node.metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(key))
                != Some(value)
        })
        .collect();
    if !missing_labels.is_empty() {
        let patch = serde_json::json!({"metadata": {"labels": missing_labels}});
        nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    let status = desired_status(config, system, runtime_version, node.status.as_ref());
    let patch = serde_json::json!({"status": status});
    Ok(nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// The labels every node carries.
fn labels(config: &AgentConfig) -> BTreeMap<String, String> {
    let arch = crate::images::oci::oci_architecture().to_string();
    let mut labels = BTreeMap::from([
        (
            "kubernetes.io/hostname".to_string(),
            config.node_name.clone(),
        ),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch.clone()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), arch),
    ]);
    labels.extend(config.node_labels.clone());
    labels
}

/// The status the node reports: conditions keep their last transition time while unchanged.
pub fn desired_status(
    config: &AgentConfig,
    system: &SystemInfo,
    runtime_version: &str,
    current: Option<&NodeStatus>,
) -> NodeStatus {
    let mut resources = BTreeMap::new();
    resources.insert("cpu".to_string(), Quantity(system.cpus.to_string()));
    resources.insert(
        "memory".to_string(),
        Quantity(format!("{}Ki", system.memory_kib)),
    );
    resources.insert(
        "ephemeral-storage".to_string(),
        Quantity(format!("{}Ki", system.ephemeral_storage_kib)),
    );
    resources.insert("pods".to_string(), Quantity(MAX_PODS.to_string()));
    resources.insert("hugepages-1Gi".to_string(), Quantity("0".to_string()));
    resources.insert("hugepages-2Mi".to_string(), Quantity("0".to_string()));
    let now = Time(jiff::Timestamp::now());
    let previous = |kind: &str| {
        current
            .and_then(|status| status.conditions.as_ref())
            .and_then(|conditions| conditions.iter().find(|condition| condition.type_ == kind))
            .cloned()
    };
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        let transition = previous(kind)
            .filter(|old| old.status == status)
            .and_then(|old| old.last_transition_time)
            .unwrap_or_else(|| now.clone());
        NodeCondition {
            type_: kind.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            last_heartbeat_time: Some(now.clone()),
            last_transition_time: Some(transition),
        }
    };
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
            ),
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".to_string(),
                address: config.node_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".to_string(),
                address: config.node_name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: KUBELET_PORT }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: crate::images::oci::oci_architecture().to_string(),
            boot_id: system.boot_id.clone(),
            container_runtime_version: runtime_version.to_string(),
            kernel_version: system.kernel_version.clone(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.to_string(),
            machine_id: system.machine_id.clone(),
            operating_system: "linux".to_string(),
            os_image: system.os_image.clone(),
            system_uuid: system.machine_id.clone(),
            ..NodeSystemInfo::default()
        }),
        ..NodeStatus::default()
    }
}
