//! What the scheduler keeps of a pod: a compact, parsed copy of the fields filters, scores and the
//! queue read (requests, selectors, tolerations, ports, spread constraints, affinity terms), built
//! once when the watch delivers the pod.

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use super::resources::{Resources, pod_requests};
use super::selector::{Labels, NodeSelector, NodeTerm, Requirement, Selector};
use super::taints::Toleration;

/// The scheduler a pod names when it names none.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// A host port a container asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// The host IP (`0.0.0.0` when unset: every address).
    pub ip: String,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports cannot share a node (upstream's `HostPortInfo.CheckConflict`).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A topology spread constraint with its selector parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpreadConstraint {
    /// The largest allowed difference between domains.
    pub max_skew: i32,
    /// The node label that defines the domains.
    pub topology_key: String,
    /// Which pods count (`matchLabelKeys` already merged in).
    pub selector: Selector,
    /// Fewer eligible domains than this make the global minimum 0.
    pub min_domains: i32,
    /// `DoNotSchedule` (a filter) rather than `ScheduleAnyway` (a score).
    pub hard: bool,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes matching the pod's node affinity count.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor`: only nodes whose taints the pod tolerates count.
    pub honor_node_taints: bool,
}

/// A pod (anti-)affinity term with its selectors parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffinityTerm {
    /// Namespaces named by the term (the pod's own when neither names nor a selector are given).
    pub namespaces: Vec<String>,
    /// Namespaces selected by labels (`Nothing` when the term has no namespace selector).
    pub namespace_selector: Selector,
    /// Which pods the term is about.
    pub selector: Selector,
    /// The node label that defines "together".
    pub topology_key: String,
}

impl AffinityTerm {
    /// Whether `pod` (in a namespace with `namespace_labels`) is one the term is about.
    pub fn matches(&self, pod: &PodInfo, namespace_labels: Option<&Labels>) -> bool {
        let in_namespace = self.namespaces.contains(&pod.namespace)
            || namespace_labels.is_some_and(|labels| self.namespace_selector.matches(labels));
        in_namespace && self.selector.matches(&pod.labels)
    }

    fn parse(term: &PodAffinityTerm, namespace: &str, pod_labels: &Labels) -> AffinityTerm {
        let mut selector = Selector::parse(term.label_selector.as_ref());
        if term.label_selector.is_some() {
            let pick = |keys: &Option<Vec<String>>| {
                keys.iter()
                    .flatten()
                    .filter_map(|key| Some((key.clone(), pod_labels.get(key)?.clone())))
                    .collect::<Vec<_>>()
            };
            selector.and(
                pick(&term.match_label_keys)
                    .into_iter()
                    .map(|(key, value)| Requirement::In(key, vec![value])),
            );
            selector.and(
                pick(&term.mismatch_label_keys)
                    .into_iter()
                    .map(|(key, value)| Requirement::NotIn(key, vec![value])),
            );
        }
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(namespace.to_owned());
        }
        AffinityTerm {
            namespaces,
            namespace_selector: Selector::parse(term.namespace_selector.as_ref()),
            selector,
            topology_key: term.topology_key.clone(),
        }
    }
}

/// A preferred (weighted) pod affinity term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedTerm {
    /// 1 to 100.
    pub weight: i32,
    /// The term.
    pub term: AffinityTerm,
}

/// A pod's inter-pod affinity and anti-affinity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodAffinity {
    /// Required affinity terms.
    pub required: Vec<AffinityTerm>,
    /// Required anti-affinity terms.
    pub required_anti: Vec<AffinityTerm>,
    /// Preferred affinity terms.
    pub preferred: Vec<WeightedTerm>,
    /// Preferred anti-affinity terms.
    pub preferred_anti: Vec<WeightedTerm>,
}

impl PodAffinity {
    /// Whether the pod has any (anti-)affinity term (upstream's "pods with affinity").
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
            && self.required_anti.is_empty()
            && self.preferred.is_empty()
            && self.preferred_anti.is_empty()
    }
}

/// The controller that owns a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `apps/v1`, `v1`.
    pub api_version: String,
    /// `ReplicaSet`, `StatefulSet`, `ReplicationController`, ...
    pub kind: String,
    /// The owner's name.
    pub name: String,
}

/// The inputs of a scheduling decision: what a change must touch for a pending pod to be retried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulingSpec {
    /// Requests as `NodeResourcesFit` filters them.
    pub requests: Resources,
    /// Requests with upstream's non-zero defaults, as the scorers count them.
    pub non_zero: Resources,
    /// `spec.nodeSelector`.
    pub node_selector: Labels,
    /// Required node affinity.
    pub required_node_affinity: Option<NodeSelector>,
    /// Preferred node affinity terms with their weights.
    pub preferred_node_affinity: Vec<(i32, NodeTerm)>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Host ports of containers (and restartable init containers).
    pub host_ports: Vec<HostPort>,
    /// Topology spread constraints, hard and soft.
    pub spread: Vec<SpreadConstraint>,
    /// Inter-pod affinity.
    pub affinity: PodAffinity,
    /// Images of init and regular containers, normalised (`:latest` added when untagged).
    pub images: Vec<String>,
    /// Scheduling gates block scheduling while present.
    pub gated: bool,
    /// `preemptionPolicy: Never`.
    pub never_preempts: bool,
    /// The controlling owner, for default spreading.
    pub controller: Option<Owner>,
    /// The PersistentVolumeClaims the pod's volumes use, in volume order.
    pub claims: Vec<PodClaim>,
}

/// A PersistentVolumeClaim a pod uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodClaim {
    /// The claim's name (`<pod>-<volume>` for generic ephemeral volumes).
    pub name: String,
    /// Whether the claim comes from a generic ephemeral volume (made by the ephemeral volume
    /// controller after the pod).
    pub ephemeral: bool,
}

/// A pod as the scheduler sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodInfo {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Labels,
    /// `spec.nodeName` (empty when unassigned).
    pub node_name: String,
    /// `spec.schedulerName`.
    pub scheduler_name: String,
    /// `spec.priority` (set from the PriorityClass by admission).
    pub priority: i32,
    /// Creation time in Unix milliseconds.
    pub created_ms: i64,
    /// `status.startTime` in Unix milliseconds (creation time when unset).
    pub started_ms: i64,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    /// `status.nominatedNodeName` (empty when none).
    pub nominated_node: String,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
    /// Whether the pod already has `PodScheduled=False` with reason `Unschedulable`, and its message.
    pub unschedulable_message: Option<String>,
    /// What scheduling reads from the spec.
    pub spec: SchedulingSpec,
}

impl PodInfo {
    /// Parses a pod from the API.
    pub fn from_pod(pod: &Pod) -> PodInfo {
        let metadata = &pod.metadata;
        let namespace = metadata.namespace.clone().unwrap_or_default();
        let labels: Labels = metadata.labels.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let created_ms = metadata
            .creation_timestamp
            .as_ref()
            .map(|time| time.0.as_millisecond())
            .unwrap_or(0);
        let unschedulable_message = status
            .and_then(|status| status.conditions.as_ref())
            .and_then(|conditions| {
                conditions.iter().find(|condition| {
                    condition.type_ == "PodScheduled"
                        && condition.status == "False"
                        && condition.reason.as_deref() == Some("Unschedulable")
                })
            })
            .map(|condition| condition.message.clone().unwrap_or_default());
        PodInfo {
            uid: metadata.uid.clone().unwrap_or_default(),
            name: metadata.name.clone().unwrap_or_default(),
            node_name: spec
                .and_then(|spec| spec.node_name.clone())
                .unwrap_or_default(),
            scheduler_name: spec
                .and_then(|spec| spec.scheduler_name.clone())
                .unwrap_or_else(|| DEFAULT_SCHEDULER.to_owned()),
            priority: spec.and_then(|spec| spec.priority).unwrap_or(0),
            created_ms,
            started_ms: status
                .and_then(|status| status.start_time.as_ref())
                .map(|time| time.0.as_millisecond())
                .unwrap_or(created_ms),
            terminating: metadata.deletion_timestamp.is_some(),
            nominated_node: status
                .and_then(|status| status.nominated_node_name.clone())
                .unwrap_or_default(),
            resource_version: metadata.resource_version.clone().unwrap_or_default(),
            unschedulable_message,
            spec: spec
                .map(|spec| scheduling_spec(pod, spec, &namespace, &labels))
                .unwrap_or_default(),
            namespace,
            labels,
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether this pod is waiting for this scheduler.
    pub fn wants_scheduling(&self, scheduler_name: &str) -> bool {
        self.node_name.is_empty() && !self.terminating && self.scheduler_name == scheduler_name
    }
}

fn scheduling_spec(
    pod: &Pod,
    spec: &k8s_openapi::api::core::v1::PodSpec,
    namespace: &str,
    labels: &Labels,
) -> SchedulingSpec {
    let node_affinity = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref());
    let pod_affinity = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.pod_affinity.as_ref());
    let pod_anti_affinity = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.pod_anti_affinity.as_ref());
    let parse_terms = |terms: Option<&Vec<PodAffinityTerm>>| {
        terms
            .into_iter()
            .flatten()
            .map(|term| AffinityTerm::parse(term, namespace, labels))
            .collect::<Vec<_>>()
    };
    let parse_weighted = |terms: Option<&Vec<WeightedPodAffinityTerm>>| {
        terms
            .into_iter()
            .flatten()
            .map(|term| WeightedTerm {
                weight: term.weight,
                term: AffinityTerm::parse(&term.pod_affinity_term, namespace, labels),
            })
            .collect::<Vec<_>>()
    };
    let restartable_init = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|container| container.restart_policy.as_deref() == Some("Always"));
    let host_ports = spec
        .containers
        .iter()
        .chain(restartable_init)
        .flat_map(|container| container.ports.iter().flatten())
        .filter(|port| port.host_port.is_some_and(|host_port| host_port > 0))
        .map(|port| HostPort {
            ip: port
                .host_ip
                .clone()
                .filter(|ip| !ip.is_empty())
                .unwrap_or_else(|| "0.0.0.0".to_owned()),
            protocol: port
                .protocol
                .clone()
                .filter(|protocol| !protocol.is_empty())
                .unwrap_or_else(|| "TCP".to_owned()),
            port: port.host_port.unwrap_or_default(),
        })
        .collect();
    let images = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|container| normalized_image(container.image.as_deref().unwrap_or("")))
        .collect();
    SchedulingSpec {
        requests: pod_requests(spec, false),
        non_zero: pod_requests(spec, true),
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        required_node_affinity: node_affinity
            .and_then(|affinity| {
                affinity
                    .required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|selector| NodeSelector::parse(&selector.node_selector_terms)),
        preferred_node_affinity: node_affinity
            .and_then(|affinity| {
                affinity
                    .preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|term| (term.weight, NodeTerm::parse(&term.preference)))
            .collect(),
        tolerations: spec
            .tolerations
            .iter()
            .flatten()
            .map(Toleration::from_api)
            .collect(),
        host_ports,
        spread: spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|constraint| {
                let mut selector = Selector::parse(constraint.label_selector.as_ref());
                selector.and(
                    constraint
                        .match_label_keys
                        .iter()
                        .flatten()
                        .filter_map(|key| {
                            Some(Requirement::In(key.clone(), vec![labels.get(key)?.clone()]))
                        }),
                );
                SpreadConstraint {
                    max_skew: constraint.max_skew,
                    topology_key: constraint.topology_key.clone(),
                    selector,
                    min_domains: constraint.min_domains.unwrap_or(1),
                    hard: constraint.when_unsatisfiable == "DoNotSchedule",
                    honor_node_affinity: constraint.node_affinity_policy.as_deref()
                        != Some("Ignore"),
                    honor_node_taints: constraint.node_taints_policy.as_deref() == Some("Honor"),
                }
            })
            .collect(),
        affinity: PodAffinity {
            required: parse_terms(pod_affinity.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            required_anti: parse_terms(pod_anti_affinity.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred: parse_weighted(pod_affinity.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_anti: parse_weighted(pod_anti_affinity.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
        },
        images,
        gated: spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|gates| !gates.is_empty()),
        never_preempts: spec.preemption_policy.as_deref() == Some("Never"),
        controller: pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|owner| owner.controller == Some(true))
            .map(|owner| Owner {
                api_version: owner.api_version.clone(),
                kind: owner.kind.clone(),
                name: owner.name.clone(),
            }),
        claims: spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|volume| {
                if let Some(claim) = &volume.persistent_volume_claim {
                    Some(PodClaim {
                        name: claim.claim_name.clone(),
                        ephemeral: false,
                    })
                } else {
                    volume.ephemeral.as_ref().map(|_| PodClaim {
                        name: format!(
                            "{}-{}",
                            pod.metadata.name.as_deref().unwrap_or(""),
                            volume.name
                        ),
                        ephemeral: true,
                    })
                }
            })
            .collect(),
    }
}

/// Upstream's `normalizedImageName`: an image without a tag or digest gets `:latest`.
pub fn normalized_image(image: &str) -> String {
    let last_colon = image.rfind(':');
    let last_slash = image.rfind('/');
    let has_tag = match (last_colon, last_slash) {
        (Some(colon), Some(slash)) => colon > slash,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if has_tag || image.contains('@') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Builds pods for tests: `PodInfo` with only what a test sets.
#[cfg(test)]
pub(crate) mod build {
    use super::*;
    use std::collections::BTreeMap;

    /// A pod in `default` with the given name, CPU (millicores) and memory (bytes) requests.
    pub fn pod(name: &str, milli_cpu: i64, memory: i64) -> PodInfo {
        let requests = Resources {
            milli_cpu,
            memory,
            ..Resources::default()
        };
        let mut non_zero = requests.clone();
        if milli_cpu == 0 {
            non_zero.milli_cpu = super::super::resources::DEFAULT_MILLI_CPU_REQUEST;
        }
        if memory == 0 {
            non_zero.memory = super::super::resources::DEFAULT_MEMORY_REQUEST;
        }
        PodInfo {
            uid: format!("uid-{name}"),
            namespace: "default".into(),
            name: name.into(),
            scheduler_name: DEFAULT_SCHEDULER.into(),
            spec: SchedulingSpec {
                requests,
                non_zero,
                ..SchedulingSpec::default()
            },
            ..PodInfo::default()
        }
    }

    /// Adds labels.
    pub fn with_labels(mut pod: PodInfo, labels: &[(&str, &str)]) -> PodInfo {
        pod.labels
            .extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        pod
    }

    /// A required/preferred term selecting pods with `key=value` over `topology_key`.
    pub fn term(key: &str, value: &str, topology_key: &str) -> AffinityTerm {
        AffinityTerm {
            namespaces: vec!["default".into()],
            namespace_selector: Selector::Nothing,
            selector: Selector::from_map(&BTreeMap::from([(key.to_owned(), value.to_owned())])),
            topology_key: topology_key.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Affinity, Container, ContainerPort, PodSpec};
    use std::collections::BTreeMap;

    #[test]
    fn image_names_are_normalised() {
        assert_eq!(normalized_image("nginx"), "nginx:latest");
        assert_eq!(normalized_image("nginx:1.27"), "nginx:1.27");
        assert_eq!(
            normalized_image("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalized_image("app@sha256:abc"), "app@sha256:abc");
    }

    #[test]
    fn parses_ports_terms_and_defaults() {
        let pod = Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("web".into()),
                namespace: Some("shop".into()),
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("nginx".into()),
                    ports: Some(vec![
                        ContainerPort {
                            container_port: 80,
                            host_port: Some(8080),
                            ..Default::default()
                        },
                        ContainerPort {
                            container_port: 81,
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }],
                affinity: Some(Affinity {
                    pod_anti_affinity: Some(k8s_openapi::api::core::v1::PodAntiAffinity {
                        required_during_scheduling_ignored_during_execution: Some(vec![
                            PodAffinityTerm {
                                label_selector: Some(Default::default()),
                                match_label_keys: Some(vec!["app".into()]),
                                topology_key: "kubernetes.io/hostname".into(),
                                ..Default::default()
                            },
                        ]),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        };
        let info = PodInfo::from_pod(&pod);
        assert_eq!(info.scheduler_name, DEFAULT_SCHEDULER);
        assert_eq!(
            info.spec.host_ports,
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
        assert_eq!(info.spec.images, vec!["nginx:latest".to_string()]);
        let term = &info.spec.affinity.required_anti[0];
        assert_eq!(term.namespaces, vec!["shop".to_string()]);
        assert!(
            term.matches(&info, None),
            "matchLabelKeys selects its own app"
        );
        let mut other = info.clone();
        other.labels.insert("app".into(), "db".into());
        assert!(!term.matches(&other, None));
        other.namespace = "elsewhere".into();
        other.labels.insert("app".into(), "web".into());
        assert!(!term.matches(&other, None), "another namespace");
    }
}
