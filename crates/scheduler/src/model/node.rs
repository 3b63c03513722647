//! What the scheduler keeps of a node: its labels, taints, allocatable resources and images, plus
//! the running totals of the pods assigned to it (requests, ports, affinity), kept up to date as
//! pods are added and removed so that filters and scores never walk the pod list for sums.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::pod::{HostPort, PodInfo};
use super::resources::Resources;
use super::selector::Labels;
use super::taints::Taint;

/// A node's own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSpec {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Labels,
    /// `spec.taints`.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// `status.allocatable`.
    pub allocatable: Resources,
    /// Image sizes by every name the node reports for them (`status.images`).
    pub images: BTreeMap<String, i64>,
}

impl NodeSpec {
    /// Parses a node from the API.
    pub fn from_node(node: &Node) -> NodeSpec {
        let spec = node.spec.as_ref();
        let status = node.status.as_ref();
        let mut images = BTreeMap::new();
        for image in status
            .and_then(|status| status.images.as_ref())
            .into_iter()
            .flatten()
        {
            for name in image.names.iter().flatten() {
                images.insert(name.clone(), image.size_bytes.unwrap_or(0));
            }
        }
        NodeSpec {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: spec
                .and_then(|spec| spec.taints.as_ref())
                .into_iter()
                .flatten()
                .map(Taint::from_api)
                .collect(),
            unschedulable: spec.and_then(|spec| spec.unschedulable).unwrap_or(false),
            allocatable: status
                .and_then(|status| status.allocatable.as_ref())
                .map(Resources::from_list)
                .unwrap_or_default(),
            images,
        }
    }
}

/// A node and the pods assigned to it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// The node; `None` while only pods naming it are known (its Node object is missing).
    pub node: Option<NodeSpec>,
    /// Pods assigned to the node (bound, or assumed by this scheduler).
    pub pods: Vec<Arc<PodInfo>>,
    /// Sum of the pods' requests.
    pub requested: Resources,
    /// Sum of the pods' requests with non-zero defaults (what the scorers count).
    pub non_zero_requested: Resources,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Pods with any inter-pod (anti-)affinity term.
    pub pods_with_affinity: usize,
    /// Pods with required anti-affinity terms.
    pub pods_with_required_anti_affinity: usize,
}

impl NodeInfo {
    /// A node without pods.
    pub fn new(node: NodeSpec) -> NodeInfo {
        NodeInfo {
            node: Some(node),
            ..NodeInfo::default()
        }
    }

    /// The node's name (empty for a placeholder without its Node).
    pub fn name(&self) -> &str {
        self.node
            .as_ref()
            .map(|node| node.name.as_str())
            .unwrap_or("")
    }

    /// The node's labels (empty for a placeholder).
    pub fn labels(&self) -> &Labels {
        static EMPTY: Labels = Labels::new();
        self.node
            .as_ref()
            .map(|node| &node.labels)
            .unwrap_or(&EMPTY)
    }

    /// Adds a pod to the totals.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.spec.requests);
        self.non_zero_requested.add(&pod.spec.non_zero);
        self.used_ports.extend(pod.spec.host_ports.iter().cloned());
        if !pod.spec.affinity.is_empty() {
            self.pods_with_affinity += 1;
        }
        if !pod.spec.affinity.required_anti.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(pod);
    }

    /// Removes a pod by uid; returns it when it was there.
    pub fn remove_pod(&mut self, uid: &str) -> Option<Arc<PodInfo>> {
        let index = self.pods.iter().position(|pod| pod.uid == uid)?;
        let pod = self.pods.swap_remove(index);
        self.requested.subtract(&pod.spec.requests);
        self.non_zero_requested.subtract(&pod.spec.non_zero);
        for port in &pod.spec.host_ports {
            if let Some(used) = self.used_ports.iter().position(|used| used == port) {
                self.used_ports.swap_remove(used);
            }
        }
        if !pod.spec.affinity.is_empty() {
            self.pods_with_affinity -= 1;
        }
        if !pod.spec.affinity.required_anti.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        Some(pod)
    }
}

#[cfg(test)]
pub(crate) mod build {
    use super::*;

    /// A node with CPU (millicores), memory (bytes) and pod slots.
    pub fn node(name: &str, milli_cpu: i64, memory: i64, pods: i64) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            labels: Labels::from([("kubernetes.io/hostname".to_string(), name.to_string())]),
            allocatable: Resources {
                milli_cpu,
                memory,
                pods,
                ..Resources::default()
            },
            ..NodeSpec::default()
        }
    }

    /// Adds labels.
    pub fn with_labels(mut node: NodeSpec, labels: &[(&str, &str)]) -> NodeSpec {
        node.labels
            .extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        node
    }

    /// Adds a taint.
    pub fn with_taint(mut node: NodeSpec, key: &str, value: &str, effect: &str) -> NodeSpec {
        node.taints.push(Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
        });
        node
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pod::build::pod;

    #[test]
    fn totals_follow_added_and_removed_pods() {
        let mut info = NodeInfo::new(build::node("n1", 4000, 1 << 34, 110));
        let mut with_port = pod("a", 500, 1 << 20);
        with_port.spec.host_ports.push(HostPort {
            ip: "0.0.0.0".into(),
            protocol: "TCP".into(),
            port: 80,
        });
        info.add_pod(Arc::new(with_port));
        info.add_pod(Arc::new(pod("b", 0, 0)));
        assert_eq!(info.requested.milli_cpu, 500);
        assert_eq!(info.non_zero_requested.milli_cpu, 600);
        assert_eq!(info.used_ports.len(), 1);
        assert!(info.remove_pod("uid-a").is_some());
        assert!(info.remove_pod("uid-a").is_none());
        assert_eq!(info.requested.milli_cpu, 0);
        assert_eq!(info.non_zero_requested.milli_cpu, 100);
        assert!(info.used_ports.is_empty());
        assert_eq!(info.pods.len(), 1);
    }
}
