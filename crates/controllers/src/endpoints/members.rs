//! Which pods back a Service and on which ports, without I/O: upstream's
//! `ShouldPodBeInEndpoints`, `FindPort` and the grouping of endpoints by port set that both
//! Endpoints and EndpointSlices use.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::pods::is_ready;

/// One port of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    /// The service port's name.
    pub name: Option<String>,
    /// The pod's port number.
    pub port: i32,
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// The service port's appProtocol.
    pub app_protocol: Option<String>,
}

/// One pod backing a Service.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The pod's IP.
    pub ip: String,
    /// Counted as ready (ready, or the Service publishes unready addresses).
    pub ready: bool,
    /// The pod's own readiness.
    pub serving: bool,
    /// Marked for deletion.
    pub terminating: bool,
    /// Its hostname when the Service is its subdomain.
    pub hostname: Option<String>,
    /// Its node.
    pub node_name: Option<String>,
    /// The pod.
    pub target: ObjectReference,
}

/// Members grouped by the ports they serve (ports sorted), members sorted by IP.
pub type Groups = BTreeMap<Vec<Port>, Vec<Member>>;

/// Whether a pod may appear in a Service's endpoints at all.
pub fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let status = pod.status.as_ref();
    if matches!(
        status.and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    ) {
        return false;
    }
    if pod_ip(pod).is_none() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

fn pod_ip(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    status
        .pod_ip
        .clone()
        .filter(|ip| !ip.is_empty())
        .or_else(|| status.pod_ips.as_ref()?.first().map(|ip| ip.ip.clone()))
}

/// The pod's port for a service port: the number, or the container port of that name.
pub fn find_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    match &service_port.target_port {
        None => Some(service_port.port),
        Some(IntOrString::Int(port)) => Some(*port),
        Some(IntOrString::String(name)) => {
            let protocol = service_port.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().find_map(|container| {
                container.ports.iter().flatten().find_map(|port| {
                    (port.name.as_deref() == Some(name.as_str())
                        && port.protocol.as_deref().unwrap_or("TCP") == protocol)
                        .then_some(port.container_port)
                })
            })
        }
    }
}

/// The Service's members grouped by port set; `include_terminating` keeps pods being deleted
/// (EndpointSlices report them as terminating, Endpoints leave them out).
pub fn members(
    service: &Service,
    pods: &[std::sync::Arc<Pod>],
    include_terminating: bool,
) -> Groups {
    let spec = service.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let headless = spec.cluster_ip.as_deref() == Some("None");
    let service_name = service.metadata.name.clone().unwrap_or_default();
    let mut groups = Groups::new();
    for pod in pods {
        if !should_be_in_endpoints(pod, include_terminating || publish_not_ready) {
            continue;
        }
        let Some(ip) = pod_ip(pod) else {
            continue;
        };
        let pod_spec = pod.spec.as_ref();
        let hostname = pod_spec
            .filter(|spec| spec.subdomain.as_deref() == Some(service_name.as_str()))
            .and_then(|spec| spec.hostname.clone())
            .filter(|hostname| !hostname.is_empty());
        let serving = is_ready(pod);
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let member = Member {
            ip,
            ready: publish_not_ready || (serving && !terminating),
            serving,
            terminating,
            hostname,
            node_name: pod_spec.and_then(|spec| spec.node_name.clone()),
            target: ObjectReference {
                kind: Some("Pod".to_owned()),
                namespace: pod.metadata.namespace.clone(),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
                ..ObjectReference::default()
            },
        };
        let ports = spec.ports.clone().unwrap_or_default();
        if ports.is_empty() && !headless {
            continue;
        }
        let mut resolved: Vec<Port> = ports
            .iter()
            .filter_map(|service_port| {
                Some(Port {
                    name: service_port.name.clone().filter(|name| !name.is_empty()),
                    port: find_port(pod, service_port)?,
                    protocol: service_port
                        .protocol
                        .clone()
                        .unwrap_or_else(|| "TCP".to_owned()),
                    app_protocol: service_port.app_protocol.clone(),
                })
            })
            .collect();
        if resolved.is_empty() && !ports.is_empty() {
            continue;
        }
        resolved.sort();
        groups.entry(resolved).or_default().push(member);
    }
    for members in groups.values_mut() {
        members.sort_by(|a, b| {
            a.ip.cmp(&b.ip)
                .then_with(|| a.target.name.cmp(&b.target.name))
        });
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodSpec, PodStatus, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::sync::Arc;

    fn pod(name: &str, ip: Option<&str>, ready: bool) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    ports: Some(vec![ContainerPort {
                        name: Some("http".into()),
                        container_port: 8080,
                        ..ContainerPort::default()
                    }]),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                pod_ip: ip.map(str::to_owned),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
        })
    }

    #[test]
    fn named_target_ports_resolve_and_unaddressed_pods_are_left_out() {
        let service = Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                ports: Some(vec![ServicePort {
                    name: Some("web".into()),
                    port: 80,
                    target_port: Some(IntOrString::String("http".into())),
                    protocol: Some("TCP".into()),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            status: None,
        };
        let pods = vec![
            pod("b", Some("10.42.0.11"), false),
            pod("a", Some("10.42.0.10"), true),
            pod("c", None, true),
        ];
        let groups = members(&service, &pods, false);
        assert_eq!(groups.len(), 1);
        let (ports, members) = groups.iter().next().expect("one group");
        assert_eq!(ports[0].port, 8080);
        let ips: Vec<(&str, bool)> = members.iter().map(|m| (m.ip.as_str(), m.ready)).collect();
        assert_eq!(ips, [("10.42.0.10", true), ("10.42.0.11", false)]);
    }
}
