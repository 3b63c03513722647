//! The scheduler's view of the cluster: nodes with the pods assigned to them, namespaces, the
//! selectors of workloads (for default spreading), image spread, pods nominated by preemption, and
//! storage (claims, volumes, classes).
//!
//! It is fed by the informers and by the scheduler itself: a pod is *assumed* on its node as soon as
//! it is chosen, so the next decision sees it before the watch delivers the binding; the watch then
//! confirms it, and a failed binding forgets it. Pure data; no I/O.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::node::{NodeInfo, NodeSpec};
use crate::model::pod::PodInfo;
use crate::model::selector::{Labels, Selector};
use crate::model::volumes::VolumeCache;

/// An assigned pod and where it is.
#[derive(Debug, Clone)]
struct Assigned {
    node: String,
    assumed: bool,
}

/// What an update to a node changed, for requeueing pending pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeChange {
    /// A node appeared.
    Added,
    /// Something scheduling reads changed (labels, taints, allocatable, cordon, images).
    Updated,
    /// Nothing scheduling reads changed (heartbeats, conditions).
    Unchanged,
}

/// Selectors of the workloads that own pods, by namespace and name (for upstream's default
/// topology spreading, which spreads the pods of one Service/ReplicaSet/StatefulSet).
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    /// Service selectors (`spec.selector`) by namespace, then name.
    pub services: HashMap<String, HashMap<String, Labels>>,
    /// ReplicaSet, StatefulSet and ReplicationController selectors by (kind, namespace, name).
    pub controllers: HashMap<(String, String, String), Selector>,
}

/// The cluster as the scheduler knows it.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    node_count: usize,
    pods: HashMap<String, Assigned>,
    images: HashMap<String, usize>,
    namespaces: HashMap<String, Labels>,
    nominated: HashMap<String, Arc<PodInfo>>,
    /// Assigned pods with inter-pod (anti-)affinity terms.
    with_affinity: usize,
    /// Assigned pods with required anti-affinity terms.
    with_required_anti_affinity: usize,
    /// Workload selectors for default spreading.
    pub workloads: Workloads,
    /// Claims, volumes and classes (VolumeBinding, VolumeRestrictions).
    pub volumes: VolumeCache,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    /// Every node entry, including placeholders without a Node (check [`NodeInfo::node`]).
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// How many Nodes exist.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// The entry of a node by name.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|index| &self.nodes[*index])
    }

    /// How many nodes report the (normalised) image.
    pub fn image_nodes(&self, image: &str) -> usize {
        self.images.get(image).copied().unwrap_or(0)
    }

    /// A namespace's labels.
    pub fn namespace_labels(&self, namespace: &str) -> Option<&Labels> {
        self.namespaces.get(namespace)
    }

    /// Every namespace with its labels.
    pub fn namespaces(&self) -> impl Iterator<Item = (&String, &Labels)> {
        self.namespaces.iter()
    }

    /// Records a namespace's labels.
    pub fn set_namespace(&mut self, name: String, labels: Labels) -> bool {
        self.namespaces.insert(name, labels.clone()).as_ref() != Some(&labels)
    }

    /// Forgets a namespace.
    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    /// Adds or updates a node.
    pub fn upsert_node(&mut self, spec: NodeSpec) -> NodeChange {
        let index = self.entry(&spec.name);
        let entry = &mut self.nodes[index];
        let change = match &entry.node {
            None => NodeChange::Added,
            Some(old) if *old == spec => NodeChange::Unchanged,
            Some(_) => NodeChange::Updated,
        };
        if let Some(old) = entry.node.take() {
            for image in old.images.keys() {
                if let Some(count) = self.images.get_mut(image) {
                    *count -= 1;
                    if *count == 0 {
                        self.images.remove(image);
                    }
                }
            }
        } else {
            self.node_count += 1;
        }
        for image in spec.images.keys() {
            *self.images.entry(image.clone()).or_default() += 1;
        }
        self.nodes[index].node = Some(spec);
        change
    }

    /// Removes a node; its pods stay accounted to a placeholder until they go.
    pub fn remove_node(&mut self, name: &str) {
        let Some(&index) = self.index.get(name) else {
            return;
        };
        if let Some(old) = self.nodes[index].node.take() {
            self.node_count -= 1;
            for image in old.images.keys() {
                if let Some(count) = self.images.get_mut(image) {
                    *count -= 1;
                    if *count == 0 {
                        self.images.remove(image);
                    }
                }
            }
        }
        self.drop_if_empty(index);
    }

    /// Records a pod the watch reports as assigned to a node (confirming an assumed one).
    pub fn add_assigned_pod(&mut self, pod: Arc<PodInfo>) {
        self.remove_pod(&pod.uid);
        self.nominated.remove(&pod.uid);
        let index = self.entry(&pod.node_name);
        self.pods.insert(
            pod.uid.clone(),
            Assigned {
                node: pod.node_name.clone(),
                assumed: false,
            },
        );
        self.count_affinity(&pod, 1);
        self.nodes[index].add_pod(pod);
    }

    /// Assumes `pod` runs on `node` before its binding is confirmed.
    pub fn assume(&mut self, pod: &PodInfo, node: &str) {
        let mut assumed = pod.clone();
        assumed.node_name = node.to_owned();
        self.nominated.remove(&pod.uid);
        let index = self.entry(node);
        self.pods.insert(
            pod.uid.clone(),
            Assigned {
                node: node.to_owned(),
                assumed: true,
            },
        );
        self.count_affinity(pod, 1);
        self.nodes[index].add_pod(Arc::new(assumed));
    }

    /// Whether the pod is assumed and not yet confirmed by the watch.
    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|pod| pod.assumed)
    }

    /// Whether the pod is assigned (assumed or confirmed).
    pub fn is_assigned(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// Forgets an assumed pod whose binding failed.
    pub fn forget(&mut self, uid: &str) {
        if self.is_assumed(uid) {
            self.remove_pod(uid);
        }
    }

    /// Removes an assigned pod; returns it when it was known.
    pub fn remove_pod(&mut self, uid: &str) -> Option<Arc<PodInfo>> {
        let assigned = self.pods.remove(uid)?;
        let index = *self.index.get(&assigned.node)?;
        let pod = self.nodes[index].remove_pod(uid);
        if let Some(pod) = &pod {
            self.count_affinity(pod, -1);
        }
        self.drop_if_empty(index);
        pod
    }

    /// Records that preemption nominated `pod` to `node` (its resources are held there for it).
    pub fn nominate(&mut self, pod: Arc<PodInfo>) {
        if pod.nominated_node.is_empty() {
            self.nominated.remove(&pod.uid);
        } else {
            self.nominated.insert(pod.uid.clone(), pod);
        }
    }

    /// Drops a pod's nomination.
    pub fn clear_nomination(&mut self, uid: &str) {
        self.nominated.remove(uid);
    }

    /// Pods nominated to `node`.
    pub fn nominated_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Arc<PodInfo>> {
        self.nominated
            .values()
            .filter(move |pod| pod.nominated_node == node)
    }

    /// Whether any pod is nominated anywhere.
    pub fn has_nominations(&self) -> bool {
        !self.nominated.is_empty()
    }

    /// Whether any assigned pod has required anti-affinity (otherwise that check is skipped).
    pub fn any_required_anti_affinity(&self) -> bool {
        self.with_required_anti_affinity > 0
    }

    /// Whether any assigned pod has inter-pod affinity terms.
    pub fn any_pod_affinity(&self) -> bool {
        self.with_affinity > 0
    }

    fn count_affinity(&mut self, pod: &PodInfo, delta: isize) {
        if !pod.spec.affinity.is_empty() {
            self.with_affinity = self.with_affinity.saturating_add_signed(delta);
        }
        if !pod.spec.affinity.required_anti.is_empty() {
            self.with_required_anti_affinity = self
                .with_required_anti_affinity
                .saturating_add_signed(delta);
        }
    }

    fn entry(&mut self, name: &str) -> usize {
        if let Some(index) = self.index.get(name) {
            return *index;
        }
        self.nodes.push(NodeInfo::default());
        let index = self.nodes.len() - 1;
        self.index.insert(name.to_owned(), index);
        index
    }

    fn drop_if_empty(&mut self, index: usize) {
        if self.nodes[index].node.is_some() || !self.nodes[index].pods.is_empty() {
            return;
        }
        let name = self
            .index
            .iter()
            .find(|(_, i)| **i == index)
            .map(|(name, _)| name.clone());
        if let Some(name) = name {
            self.index.remove(&name);
        }
        self.nodes.swap_remove(index);
        if index < self.nodes.len() {
            let moved = self.name_at(index);
            self.index.insert(moved, index);
        }
    }

    fn name_at(&self, index: usize) -> String {
        let entry = &self.nodes[index];
        match &entry.node {
            Some(node) => node.name.clone(),
            None => entry
                .pods
                .first()
                .map(|pod| pod.node_name.clone())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::build::node;
    use crate::model::pod::build::pod;

    fn bound(name: &str, node: &str) -> Arc<PodInfo> {
        let mut pod = pod(name, 100, 0);
        pod.node_name = node.into();
        Arc::new(pod)
    }

    #[test]
    fn assumed_pods_count_until_forgotten_or_confirmed() {
        let mut cache = Cache::new();
        assert_eq!(
            cache.upsert_node(node("n1", 1000, 1 << 30, 10)),
            NodeChange::Added
        );
        let p = pod("p", 300, 0);
        cache.assume(&p, "n1");
        assert!(cache.is_assumed("uid-p"));
        assert_eq!(cache.node("n1").map(|n| n.requested.milli_cpu), Some(300));
        cache.forget("uid-p");
        assert_eq!(cache.node("n1").map(|n| n.requested.milli_cpu), Some(0));
        cache.assume(&p, "n1");
        let mut confirmed = p.clone();
        confirmed.node_name = "n1".into();
        cache.add_assigned_pod(Arc::new(confirmed));
        assert!(!cache.is_assumed("uid-p") && cache.is_assigned("uid-p"));
        assert_eq!(cache.node("n1").map(|n| n.pods.len()), Some(1));
        cache.forget("uid-p");
        assert_eq!(
            cache.node("n1").map(|n| n.pods.len()),
            Some(1),
            "confirmed stays"
        );
    }

    #[test]
    fn pods_on_unknown_nodes_wait_in_a_placeholder() {
        let mut cache = Cache::new();
        cache.add_assigned_pod(bound("early", "n2"));
        assert_eq!(cache.node_count(), 0);
        assert!(cache.node("n2").is_some_and(|n| n.node.is_none()));
        cache.upsert_node(node("n2", 1000, 1 << 30, 10));
        assert_eq!(cache.node_count(), 1);
        assert_eq!(cache.node("n2").map(|n| n.pods.len()), Some(1));
        cache.remove_node("n2");
        assert_eq!(cache.node_count(), 0);
        assert!(cache.node("n2").is_some(), "its pod keeps the entry");
        cache.remove_pod("uid-early");
        assert!(cache.node("n2").is_none());
    }

    #[test]
    fn removal_keeps_the_index_consistent() {
        let mut cache = Cache::new();
        for name in ["a", "b", "c"] {
            cache.upsert_node(node(name, 1000, 1 << 30, 10));
        }
        cache.remove_node("a");
        assert_eq!(cache.node("c").map(|n| n.name()), Some("c"));
        assert_eq!(cache.node("b").map(|n| n.name()), Some("b"));
        assert_eq!(cache.nodes().len(), 2);
        let mut same = node("b", 1000, 1 << 30, 10);
        assert_eq!(cache.upsert_node(same.clone()), NodeChange::Unchanged);
        same.unschedulable = true;
        assert_eq!(cache.upsert_node(same), NodeChange::Updated);
    }

    #[test]
    fn image_spread_counts_nodes() {
        let mut cache = Cache::new();
        let mut with_image = node("a", 1000, 1 << 30, 10);
        with_image.images.insert("nginx:latest".into(), 100);
        cache.upsert_node(with_image.clone());
        with_image.name = "b".into();
        cache.upsert_node(with_image);
        assert_eq!(cache.image_nodes("nginx:latest"), 2);
        cache.upsert_node(node("a", 1000, 1 << 30, 10));
        assert_eq!(cache.image_nodes("nginx:latest"), 1);
    }
}
