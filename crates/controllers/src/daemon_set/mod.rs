//! The DaemonSet controller, as upstream's: one pod per eligible Node (the template's nodeSelector and
//! required node affinity, taints against the template's tolerations plus the daemon tolerations),
//! pinned to its Node through a `metadata.name` node-affinity field and placed by the scheduler;
//! pods of ineligible or deleted Nodes go, duplicates and failed pods are replaced, RollingUpdate
//! ([`rolling`]) replaces out-of-date pods within `maxUnavailable` or `maxSurge` (`OnDelete` waits),
//! and the status counts desired, current, misscheduled, ready, available and updated pods. Each
//! template is a ControllerRevision ([`revisions`]), which `kubectl rollout history|undo` read.

pub mod revisions;
pub mod rolling;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec, Taint, Toleration,
};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use kubers_client::events::{NORMAL, Recorder};

use crate::deployment::util::scaled_value;
use crate::error::{Error, Result, is_not_found};
use crate::expectations::Expectations;
use crate::history::History;
use crate::informer::{Change, Informer, Informers};
use crate::pod_control::PodControl;
use crate::pods::{controller_of, controller_reference, from_template, is_available, is_ready};
use crate::queue::{WorkQueue, key_of, run_workers};
use crate::selector::Selector;

/// The label with the template's hash.
const REVISION_HASH: &str = "controller-revision-hash";
/// The deprecated label with the DaemonSet's generation.
const TEMPLATE_GENERATION: &str = "pod-template-generation";

struct DaemonSetController {
    client: kube::Client,
    daemon_sets: Arc<Informer<DaemonSet>>,
    nodes: Arc<Informer<Node>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
    expectations: Expectations,
    recorder: Recorder,
    history: History,
}

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(DaemonSetController {
        recorder: Recorder::new(client.clone(), "daemonset-controller"),
        history: History::new(client.clone(), informers.get::<ControllerRevision>()),
        client,
        daemon_sets: informers.get::<DaemonSet>(),
        nodes: informers.get::<Node>(),
        pods: informers.get::<Pod>(),
        queue: WorkQueue::new(),
        expectations: Expectations::default(),
    });
    {
        let queue = Arc::clone(&controller.queue);
        controller.daemon_sets.on_change(move |change| {
            let ds = change.object();
            queue.add(key_of(&ds.namespace().unwrap_or_default(), &ds.name_any()));
        });
    }
    {
        let handler = Arc::clone(&controller);
        controller.nodes.on_change(move |change| {
            if let Change::Updated { old, new } = &change {
                let same = old.metadata.labels == new.metadata.labels
                    && old.spec.as_ref().map(|s| (&s.taints, s.unschedulable))
                        == new.spec.as_ref().map(|s| (&s.taints, s.unschedulable));
                if same {
                    return;
                }
            }
            for ds in handler.daemon_sets.list() {
                handler
                    .queue
                    .add(key_of(&ds.namespace().unwrap_or_default(), &ds.name_any()));
            }
        });
    }
    {
        let handler = Arc::clone(&controller);
        controller.pods.on_change(move |change| {
            let pod = change.object();
            let Some(ds) = handler.daemon_set_of(pod) else {
                return;
            };
            let key = key_of(&ds.namespace().unwrap_or_default(), &ds.name_any());
            let pod_key = key_of(&pod.namespace().unwrap_or_default(), &pod.name_any());
            match change {
                Change::Added(_) => handler.expectations.creation_observed(&key),
                Change::Deleted(_) => handler.expectations.deletion_observed(&key, &pod_key),
                Change::Updated { .. } if pod.metadata.deletion_timestamp.is_some() => {
                    handler.expectations.deletion_observed(&key, &pod_key)
                }
                Change::Updated { .. } => {}
            }
            handler.queue.add(key);
        });
    }
    tokio::spawn(async move {
        controller.daemon_sets.synced().await;
        controller.nodes.synced().await;
        controller.pods.synced().await;
        controller.history.informer().synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers("daemonset-controller", queue, 2, move |key: String| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(&key).await }
        });
    });
}

/// The tolerations upstream adds to every daemon pod.
fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let mut tolerations: Vec<Toleration> = [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
    .into_iter()
    .map(|(key, effect)| Toleration {
        key: Some(key.to_owned()),
        operator: Some("Exists".to_owned()),
        effect: Some(effect.to_owned()),
        ..Toleration::default()
    })
    .collect();
    if host_network {
        tolerations.push(Toleration {
            key: Some("node.kubernetes.io/network-unavailable".to_owned()),
            operator: Some("Exists".to_owned()),
            effect: Some("NoSchedule".to_owned()),
            ..Toleration::default()
        });
    }
    tolerations
}

fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations
        .iter()
        .any(|toleration| crate::pods::tolerates(toleration, taint))
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = requirement.values.clone().unwrap_or_default();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if requirement.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

/// Whether the template's nodeSelector and required node affinity admit `node`.
fn node_matches(template: &PodTemplateSpec, node: &Node) -> bool {
    let Some(spec) = template.spec.as_ref() else {
        return false;
    };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| {
            affinity
                .required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let affinity_ok = required.is_none_or(|selector| {
        selector.node_selector_terms.iter().any(|term| {
            let expressions = term.match_expressions.iter().flatten();
            let fields = term.match_fields.iter().flatten();
            let name = node.metadata.name.clone();
            (term.match_expressions.is_some() || term.match_fields.is_some())
                && expressions
                    .into_iter()
                    .all(|r| requirement_matches(r, labels.get(&r.key)))
                && fields
                    .into_iter()
                    .all(|r| r.key == "metadata.name" && requirement_matches(r, name.as_ref()))
        })
    });
    selector_ok && affinity_ok
}

/// Whether a daemon pod should run on `node`, and whether one there may keep running.
fn should_run(template: &PodTemplateSpec, node: &Node) -> (bool, bool) {
    if !node_matches(template, node) {
        return (false, false);
    }
    let spec = template.spec.clone().unwrap_or_default();
    let mut tolerations = spec.tolerations.unwrap_or_default();
    tolerations.extend(daemon_tolerations(spec.host_network.unwrap_or(false)));
    let taints = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.clone())
        .unwrap_or_default();
    let untolerated = |effects: &[&str]| {
        taints
            .iter()
            .filter(|taint| effects.contains(&taint.effect.as_str()))
            .any(|taint| !tolerates(&tolerations, taint))
    };
    (
        !untolerated(&["NoSchedule", "NoExecute"]),
        !untolerated(&["NoExecute"]),
    )
}

/// The Node a daemon pod is for: its `nodeName`, or the `metadata.name` of its node affinity.
fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = spec.node_name.clone().filter(|node| !node.is_empty()) {
        return Some(node);
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|term| term.match_fields.iter().flatten())
        .find(|field| field.key == "metadata.name" && field.operator == "In")
        .and_then(|field| field.values.as_ref()?.first().cloned())
}

/// The pod affinity pinning a pod to `node` (upstream's `ReplaceDaemonSetPodNodeNameNodeAffinity`).
fn pin_to(affinity: Option<Affinity>, node: &str) -> Affinity {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".to_owned(),
                operator: "In".to_owned(),
                values: Some(vec![node.to_owned()]),
            }]),
            match_expressions: None,
        }],
    };
    let mut affinity = affinity.unwrap_or_default();
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(selector);
    affinity
}

impl DaemonSetController {
    fn daemon_set_of(&self, pod: &Pod) -> Option<Arc<DaemonSet>> {
        let reference = controller_of(&pod.metadata)?;
        if reference.kind != "DaemonSet" {
            return None;
        }
        let ds = self
            .daemon_sets
            .get(&pod.namespace().unwrap_or_default(), &reference.name)?;
        (ds.uid().as_deref() == Some(reference.uid.as_str())).then_some(ds)
    }

    async fn sync(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(ds) = self.daemon_sets.get(namespace, name) else {
            self.expectations.forget(key);
            return Ok(());
        };
        let spec = ds.spec.clone().unwrap_or_default();
        let selector = Selector::from_label_selector(Some(&spec.selector));
        let template = spec.template.clone();
        let uid = ds.uid().unwrap_or_default();
        let owned_revisions = self.history.owned(namespace, &uid);
        let (current, old_revisions) =
            revisions::construct(&self.client, &self.history, &ds, &owned_revisions).await?;
        let hash = current
            .labels()
            .get(REVISION_HASH)
            .cloned()
            .unwrap_or_else(|| current.name_any());
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        let rolling_update = strategy.type_.as_deref() != Some("OnDelete");
        let rolling = strategy.rolling_update.clone().unwrap_or_default();
        let surge_setting = rolling.max_surge.as_ref().filter(|_| rolling_update);
        let mut by_node: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        let mut all_owned: Vec<Arc<Pod>> = Vec::new();
        for pod in self.pods.list_namespace(namespace) {
            let owned = controller_of(&pod.metadata).is_some_and(|owner| owner.uid == uid);
            if !owned || !selector.matches(pod.metadata.labels.as_ref()) {
                continue;
            }
            all_owned.push(Arc::clone(&pod));
            if let Some(node) = target_node(&pod) {
                by_node.entry(node).or_default().push(pod);
            }
        }
        let nodes = self.nodes.list();
        let mut create_on: Vec<String> = Vec::new();
        let mut delete: Vec<Arc<Pod>> = Vec::new();
        let mut status = DaemonSetStatus {
            observed_generation: ds.metadata.generation,
            collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
            conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
            ..DaemonSetStatus::default()
        };
        let now = k8s_openapi::jiff::Timestamp::now();
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let desired = i32::try_from(
            nodes
                .iter()
                .filter(|node| should_run(&template, node).0)
                .count(),
        )
        .unwrap_or(i32::MAX);
        let max_surge = scaled_value(surge_setting, desired, true);
        let mut per_node: Vec<rolling::NodePods> = Vec::new();
        for node in &nodes {
            let node_name = node.name_any();
            let (run, keep) = should_run(&template, node);
            let mut pods: Vec<Arc<Pod>> = by_node
                .remove(&node_name)
                .unwrap_or_default()
                .into_iter()
                .filter(|pod| pod.metadata.deletion_timestamp.is_none())
                .collect();
            if run {
                status.desired_number_scheduled += 1;
            }
            if !pods.is_empty() {
                if run {
                    status.current_number_scheduled += 1;
                } else {
                    status.number_misscheduled += 1;
                }
            }
            if !keep {
                delete.extend(pods);
                continue;
            }
            if !run {
                continue;
            }
            // Failed pods are replaced; of several, the oldest stays (with surge, the oldest of
            // the current revision and the oldest of an older one).
            let (failed, mut running): (Vec<_>, Vec<_>) = pods.drain(..).partition(|pod| {
                pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
            });
            delete.extend(failed);
            running.sort_by_key(|pod| pod.metadata.creation_timestamp.as_ref().map(|t| t.0));
            let is_new = |pod: &Arc<Pod>| pod.labels().get(REVISION_HASH) == Some(&hash);
            let mut new = None;
            let mut old = None;
            for pod in &running {
                let slot = if max_surge > 0 && is_new(pod) {
                    &mut new
                } else if max_surge > 0 {
                    &mut old
                } else if new.is_none() && old.is_none() {
                    if is_new(pod) { &mut new } else { &mut old }
                } else {
                    delete.push(Arc::clone(pod));
                    continue;
                };
                if slot.is_none() {
                    *slot = Some(Arc::clone(pod));
                } else {
                    delete.push(Arc::clone(pod));
                }
            }
            match running.first() {
                None => create_on.push(node_name.clone()),
                Some(pod) => {
                    if is_new(pod) {
                        status.updated_number_scheduled =
                            Some(status.updated_number_scheduled.unwrap_or(0) + 1);
                    }
                    if is_ready(pod) {
                        status.number_ready += 1;
                    }
                    if is_available(pod, min_ready, now) {
                        status.number_available = Some(status.number_available.unwrap_or(0) + 1);
                    }
                }
            }
            if !running.is_empty() {
                per_node.push(rolling::NodePods {
                    node: node_name,
                    new,
                    old,
                });
            }
        }
        // Pods of Nodes that no longer exist.
        for pods in by_node.into_values() {
            delete.extend(
                pods.into_iter()
                    .filter(|pod| pod.metadata.deletion_timestamp.is_none()),
            );
        }
        if rolling_update {
            let mut max_unavailable = scaled_value(rolling.max_unavailable.as_ref(), desired, true);
            if max_unavailable == 0 && max_surge == 0 {
                max_unavailable = 1;
            }
            if rolling.max_unavailable.is_none() && max_surge == 0 {
                max_unavailable = 1;
            }
            let step = rolling::plan(&per_node, max_surge, max_unavailable, min_ready, now);
            delete.extend(step.delete);
            create_on.extend(step.create_on);
        }
        status.number_unavailable =
            Some((status.desired_number_scheduled - status.number_available.unwrap_or(0)).max(0));
        if self.expectations.satisfied(key) {
            self.create(&ds, key, &template, &hash, &create_on).await?;
            self.delete(&ds, key, &delete).await?;
        }
        revisions::cleanup(&self.history, &ds, &all_owned, &old_revisions).await?;
        if ds.status.as_ref() != Some(&status) {
            let mut updated = (*ds).clone();
            updated.status = Some(status);
            let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), namespace);
            match api
                .replace_status(name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => {}
                Err(error) if is_not_found(&error) => {}
                Err(source) => {
                    return Err(Error::Api {
                        action: format!("updating the status of daemon set {key}"),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    async fn create(
        &self,
        ds: &DaemonSet,
        key: &str,
        template: &PodTemplateSpec,
        hash: &str,
        nodes: &[String],
    ) -> Result<()> {
        if nodes.is_empty() {
            return Ok(());
        }
        let namespace = ds.namespace().unwrap_or_default();
        self.expectations.expect_creations(key, nodes.len());
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let params = PostParams::default();
        let pods: Vec<Pod> = nodes
            .iter()
            .map(|node| {
                let mut pod = from_template(template, controller_reference(ds), &namespace);
                let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
                labels.insert(REVISION_HASH.to_owned(), hash.to_owned());
                labels.insert(
                    TEMPLATE_GENERATION.to_owned(),
                    ds.metadata.generation.unwrap_or(1).to_string(),
                );
                if let Some(spec) = pod.spec.as_mut() {
                    spec.affinity = Some(pin_to(spec.affinity.take(), node));
                    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
                    for toleration in daemon_tolerations(spec.host_network.unwrap_or(false)) {
                        if !tolerations.contains(&toleration) {
                            tolerations.push(toleration);
                        }
                    }
                }
                pod
            })
            .collect();
        let results = join_all(pods.iter().map(|pod| api.create(&params, pod))).await;
        let mut failure = None;
        for result in results {
            match result {
                Ok(made) => self.recorder.event(
                    ds,
                    NORMAL,
                    "SuccessfulCreate",
                    format!("Created pod: {}", made.name_any()),
                ),
                Err(error) => {
                    self.expectations.creation_observed(key);
                    let terminating = matches!(&error, kube::Error::Api(status)
                        if status.code == 403 && status.message.contains("being terminated"));
                    if !terminating {
                        failure.get_or_insert(error);
                    }
                }
            }
        }
        match failure {
            None => Ok(()),
            Some(source) => Err(Error::Api {
                action: format!("creating daemon pods for {key}"),
                source,
            }),
        }
    }

    async fn delete(&self, ds: &DaemonSet, key: &str, pods: &[Arc<Pod>]) -> Result<()> {
        PodControl {
            client: &self.client,
            recorder: &self.recorder,
            expectations: &self.expectations,
        }
        .delete_pods(ds, key, pods, &DeleteParams::default())
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, labels: &[(&str, &str)], taints: Vec<Taint>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                taints: Some(taints),
                ..NodeSpec::default()
            }),
            status: None,
        }
    }

    fn template(selector: &[(&str, &str)]) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                node_selector: Some(
                    selector
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..PodSpec::default()
            }),
        }
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            ..Taint::default()
        }
    }

    #[test]
    fn eligibility_follows_selectors_and_taints() {
        let template = template(&[("disk", "ssd")]);
        assert_eq!(
            should_run(&template, &node("a", &[("disk", "ssd")], vec![])),
            (true, true)
        );
        assert_eq!(
            should_run(&template, &node("b", &[("disk", "hdd")], vec![])),
            (false, false)
        );
        // Daemon pods tolerate unschedulable and not-ready nodes, not arbitrary taints.
        let cordoned = node(
            "c",
            &[("disk", "ssd")],
            vec![taint("node.kubernetes.io/unschedulable", "NoSchedule")],
        );
        assert_eq!(should_run(&template, &cordoned), (true, true));
        let dedicated = node(
            "d",
            &[("disk", "ssd")],
            vec![taint("dedicated", "NoSchedule")],
        );
        assert_eq!(should_run(&template, &dedicated), (false, true));
        let evicting = node(
            "e",
            &[("disk", "ssd")],
            vec![taint("dedicated", "NoExecute")],
        );
        assert_eq!(should_run(&template, &evicting), (false, false));
    }

    #[test]
    fn pods_are_pinned_by_a_node_name_field() {
        let affinity = pin_to(None, "node-1");
        let pod = Pod {
            spec: Some(PodSpec {
                affinity: Some(affinity),
                ..PodSpec::default()
            }),
            ..Pod::default()
        };
        assert_eq!(target_node(&pod).as_deref(), Some("node-1"));
    }
}
