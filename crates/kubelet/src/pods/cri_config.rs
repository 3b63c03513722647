//! Translates a Pod into CRI configurations: the sandbox (hostname, DNS, ports, namespaces, cgroup
//! parent) and each container (image, command, env, mounts, resources, security context).

use std::collections::HashMap;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Pod};
use kubers_core::quantity::Quantity;

use super::NodeContext;
use super::env::Environment;
use super::labels;
use super::volumes::VolumePaths;
use crate::cgroups;

/// The labels that identify a pod's sandboxes and containers.
pub fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    HashMap::from([
        (
            labels::POD_NAME.to_string(),
            pod.metadata.name.clone().unwrap_or_default(),
        ),
        (
            labels::POD_NAMESPACE.to_string(),
            pod.metadata.namespace.clone().unwrap_or_default(),
        ),
        (
            labels::POD_UID.to_string(),
            pod.metadata.uid.clone().unwrap_or_default(),
        ),
        (labels::MANAGED_BY.to_string(), "true".to_string()),
    ])
}

fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.host_network)
        .unwrap_or(false)
}

/// The sandbox configuration for attempt `attempt`.
pub fn sandbox_config(context: &NodeContext, pod: &Pod, attempt: u32) -> cri::PodSandboxConfig {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let host_network = host_network(pod);
    let hostname = if host_network {
        String::new()
    } else {
        let hostname = spec.hostname.clone().unwrap_or_else(|| name.clone());
        hostname
            .chars()
            .take(63)
            .collect::<String>()
            .trim_end_matches(['-', '.'])
            .to_string()
    };
    let mut labels = pod_labels(pod);
    for (key, value) in pod.metadata.labels.iter().flatten() {
        labels.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let annotations: HashMap<String, String> = pod
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let port_mappings = spec
        .containers
        .iter()
        .flat_map(|container| container.ports.iter().flatten())
        .filter_map(|port| {
            let host_port = port.host_port.filter(|port| *port > 0)?;
            Some(cri::PortMapping {
                protocol: protocol(port.protocol.as_deref()) as i32,
                container_port: port.container_port,
                host_port,
                host_ip: port.host_ip.clone().unwrap_or_default(),
            })
        })
        .collect();
    let namespace_mode = |host: bool, default: cri::NamespaceMode| {
        if host {
            cri::NamespaceMode::Node as i32
        } else {
            default as i32
        }
    };
    let pid_default = if spec.share_process_namespace.unwrap_or(false) {
        cri::NamespaceMode::Pod
    } else {
        cri::NamespaceMode::Container
    };
    let pod_security = spec.security_context.clone().unwrap_or_default();
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name,
            uid: uid.clone(),
            namespace: namespace.clone(),
            attempt,
        }),
        hostname,
        log_directory: context
            .paths
            .pod_log_dir(
                &namespace,
                pod.metadata.name.as_deref().unwrap_or_default(),
                &uid,
            )
            .display()
            .to_string(),
        dns_config: dns_config(context, pod),
        port_mappings,
        labels,
        annotations,
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: cgroups::pod_cgroup(
                &context.paths.cgroup_parent(&context.config.node_name),
                &uid,
            ),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: namespace_mode(host_network, cri::NamespaceMode::Pod),
                    pid: namespace_mode(spec.host_pid.unwrap_or(false), pid_default),
                    ipc: namespace_mode(spec.host_ipc.unwrap_or(false), cri::NamespaceMode::Pod),
                    ..cri::NamespaceOption::default()
                }),
                run_as_user: pod_security
                    .run_as_user
                    .map(|value| cri::Int64Value { value }),
                run_as_group: pod_security
                    .run_as_group
                    .map(|value| cri::Int64Value { value }),
                supplemental_groups: pod_security.supplemental_groups.clone().unwrap_or_default(),
                // The runtime refuses a privileged container in a sandbox that is not.
                privileged: has_privileged_container(&spec),
                ..cri::LinuxSandboxSecurityContext::default()
            }),
            sysctls: pod_security
                .sysctls
                .iter()
                .flatten()
                .map(|sysctl| (sysctl.name.clone(), sysctl.value.clone()))
                .collect(),
            ..cri::LinuxPodSandboxConfig::default()
        }),
        ..cri::PodSandboxConfig::default()
    }
}

/// DNS for the pod by `dnsPolicy`: ClusterFirst (the default) points at cluster DNS with upstream's
/// search path; Default and host-network ClusterFirst use the node's resolv.conf; None uses only
/// `dnsConfig`.
fn dns_config(context: &NodeContext, pod: &Pod) -> Option<cri::DnsConfig> {
    let spec = pod.spec.as_ref()?;
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let domain = &context.config.cluster_domain;
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let cluster = || cri::DnsConfig {
        servers: vec![context.config.cluster_dns.to_string()],
        searches: vec![
            format!("{namespace}.svc.{domain}"),
            format!("svc.{domain}"),
            domain.clone(),
        ],
        options: vec!["ndots:5".to_string()],
    };
    let mut config = match policy {
        "ClusterFirstWithHostNet" => cluster(),
        "ClusterFirst" if !host_network(pod) => cluster(),
        "None" => cri::DnsConfig::default(),
        _ => return extra_dns(spec.dns_config.as_ref(), None),
    };
    if let Some(extra) = &spec.dns_config {
        config
            .servers
            .extend(extra.nameservers.iter().flatten().cloned());
        config
            .searches
            .extend(extra.searches.iter().flatten().cloned());
        for option in extra.options.iter().flatten() {
            let text = match &option.value {
                Some(value) => format!("{}:{value}", option.name.clone().unwrap_or_default()),
                None => option.name.clone().unwrap_or_default(),
            };
            config
                .options
                .retain(|existing| existing.split(':').next() != text.split(':').next());
            config.options.push(text);
        }
    }
    Some(config)
}

fn extra_dns(
    extra: Option<&k8s_openapi::api::core::v1::PodDNSConfig>,
    _base: Option<cri::DnsConfig>,
) -> Option<cri::DnsConfig> {
    let extra = extra?;
    Some(cri::DnsConfig {
        servers: extra.nameservers.clone().unwrap_or_default(),
        searches: extra.searches.clone().unwrap_or_default(),
        options: extra
            .options
            .iter()
            .flatten()
            .map(|option| match &option.value {
                Some(value) => format!("{}:{value}", option.name.clone().unwrap_or_default()),
                None => option.name.clone().unwrap_or_default(),
            })
            .collect(),
    })
}

fn protocol(name: Option<&str>) -> cri::Protocol {
    match name {
        Some("UDP") => cri::Protocol::Udp,
        Some("SCTP") => cri::Protocol::Sctp,
        _ => cri::Protocol::Tcp,
    }
}

/// Extra files the kubelet mounts into every container of a pod: its `/etc/hosts` and the
/// container's termination-message file.
#[derive(Debug, Clone, Default)]
pub struct ManagedFiles {
    /// The pod's hosts file (absent for host-network pods).
    pub etc_hosts: Option<std::path::PathBuf>,
    /// This container attempt's termination-message file.
    pub termination_message: Option<std::path::PathBuf>,
}

/// The configuration of one container attempt. The error is a `CreateContainerConfigError` message.
pub fn container_config(
    pod: &Pod,
    container: &Container,
    attempt: u32,
    env: &Environment,
    volumes: &VolumePaths,
    files: &ManagedFiles,
    init: bool,
) -> Result<cri::ContainerConfig, String> {
    let mut labels = pod_labels(pod);
    labels.insert(
        super::labels::CONTAINER_NAME.to_string(),
        container.name.clone(),
    );
    let mut annotations = HashMap::new();
    if let Some(path) = &files.termination_message {
        annotations.insert(
            super::labels::TERMINATION_MESSAGE_FILE.to_string(),
            path.display().to_string(),
        );
    }
    if init {
        annotations.insert(
            super::labels::INIT_CONTAINER.to_string(),
            "true".to_string(),
        );
    }
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let Some(host) = volumes.get(&mount.name) else {
            return Err(format!(
                "cannot find volume {:?} to mount into container {:?}",
                mount.name, container.name
            ));
        };
        let mut host_path = host.path.clone();
        let sub_path = mount
            .sub_path_expr
            .as_ref()
            .map(|expr| env.expand(expr))
            .or_else(|| mount.sub_path.clone());
        if let Some(sub_path) = sub_path.filter(|path| !path.is_empty()) {
            if sub_path.starts_with('/') || sub_path.split('/').any(|part| part == "..") {
                return Err(format!("invalid subpath {sub_path:?}"));
            }
            host_path = host_path.join(&sub_path);
            if !host_path.exists() {
                std::fs::create_dir_all(&host_path).map_err(|error| format!("failed to create subPath directory for volumeMount {:?} of container {:?}: {error}", mount.name, container.name))?;
            }
        }
        mounts.push(cri::Mount {
            container_path: mount.mount_path.clone(),
            host_path: host_path.display().to_string(),
            readonly: mount.read_only.unwrap_or(false) || host.read_only,
            propagation: match mount.mount_propagation.as_deref() {
                Some("HostToContainer") => cri::MountPropagation::PropagationHostToContainer as i32,
                Some("Bidirectional") => cri::MountPropagation::PropagationBidirectional as i32,
                _ => cri::MountPropagation::PropagationPrivate as i32,
            },
            ..cri::Mount::default()
        });
    }
    let mounted =
        |mounts: &[cri::Mount], path: &str| mounts.iter().any(|mount| mount.container_path == path);
    if let Some(hosts) = &files.etc_hosts {
        if !mounted(&mounts, "/etc/hosts") {
            mounts.push(cri::Mount {
                container_path: "/etc/hosts".to_string(),
                host_path: hosts.display().to_string(),
                ..cri::Mount::default()
            });
        }
    }
    if let Some(path) = &files.termination_message {
        let target = container
            .termination_message_path
            .clone()
            .unwrap_or_else(|| "/dev/termination-log".to_string());
        if !mounted(&mounts, &target) {
            mounts.push(cri::Mount {
                container_path: target,
                host_path: path.display().to_string(),
                ..cri::Mount::default()
            });
        }
    }
    let security = container.security_context.clone().unwrap_or_default();
    let pod_security = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.security_context.clone())
        .unwrap_or_default();
    let capabilities = security
        .capabilities
        .as_ref()
        .map(|capabilities| cri::Capability {
            add_capabilities: capabilities.add.clone().unwrap_or_default(),
            drop_capabilities: capabilities.drop.clone().unwrap_or_default(),
            ..cri::Capability::default()
        });
    let host_network = host_network(pod);
    let spec = pod.spec.clone().unwrap_or_default();
    let pid_mode = if spec.host_pid.unwrap_or(false) {
        cri::NamespaceMode::Node
    } else if spec.share_process_namespace.unwrap_or(false) {
        cri::NamespaceMode::Pod
    } else {
        cri::NamespaceMode::Container
    };
    Ok(cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: container.name.clone(),
            attempt,
        }),
        image: Some(cri::ImageSpec {
            image: container.image.clone().unwrap_or_default(),
            ..cri::ImageSpec::default()
        }),
        command: container
            .command
            .iter()
            .flatten()
            .map(|part| env.expand(part))
            .collect(),
        args: container
            .args
            .iter()
            .flatten()
            .map(|part| env.expand(part))
            .collect(),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: env
            .entries()
            .iter()
            .map(|(key, value)| cri::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        mounts,
        labels,
        annotations,
        log_path: format!("{}/{attempt}.log", container.name),
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(resources(container)),
            security_context: Some(cri::LinuxContainerSecurityContext {
                capabilities,
                privileged: security.privileged.unwrap_or(false),
                namespace_options: Some(cri::NamespaceOption {
                    network: if host_network {
                        cri::NamespaceMode::Node as i32
                    } else {
                        cri::NamespaceMode::Pod as i32
                    },
                    pid: pid_mode as i32,
                    ipc: if spec.host_ipc.unwrap_or(false) {
                        cri::NamespaceMode::Node as i32
                    } else {
                        cri::NamespaceMode::Pod as i32
                    },
                    ..cri::NamespaceOption::default()
                }),
                run_as_user: security
                    .run_as_user
                    .or(pod_security.run_as_user)
                    .map(|value| cri::Int64Value { value }),
                run_as_group: security
                    .run_as_group
                    .or(pod_security.run_as_group)
                    .map(|value| cri::Int64Value { value }),
                readonly_rootfs: security.read_only_root_filesystem.unwrap_or(false),
                supplemental_groups: pod_security.supplemental_groups.clone().unwrap_or_default(),
                no_new_privs: security.allow_privilege_escalation == Some(false),
                ..cri::LinuxContainerSecurityContext::default()
            }),
        }),
        ..cri::ContainerConfig::default()
    })
}

/// cgroup settings from requests and limits, computed as upstream does.
fn resources(container: &Container) -> cri::LinuxContainerResources {
    let get = |kind: &str, resource: &str| {
        let resources = container.resources.as_ref()?;
        let map = if kind == "limits" {
            resources.limits.as_ref()?
        } else {
            resources.requests.as_ref()?
        };
        Quantity::parse(&map.get(resource)?.0)
    };
    let cpu_request = get("requests", "cpu").or_else(|| get("limits", "cpu"));
    let cpu_limit = get("limits", "cpu");
    let memory_limit = get("limits", "memory");
    let shares = cpu_request
        .map(|quantity| (quantity.milli_value() * 1024 / 1000).max(2))
        .unwrap_or(2);
    let period = 100_000i128;
    let quota = cpu_limit
        .map(|quantity| (quantity.milli_value() * period / 1000).max(1000))
        .unwrap_or(0);
    cri::LinuxContainerResources {
        cpu_period: if quota > 0 { period as i64 } else { 0 },
        cpu_quota: quota as i64,
        cpu_shares: shares as i64,
        memory_limit_in_bytes: memory_limit
            .map(|quantity| quantity.value() as i64)
            .unwrap_or(0),
        ..cri::LinuxContainerResources::default()
    }
}

/// The pod's `/etc/hosts`, as upstream's kubelet writes it.
pub fn etc_hosts(pod: &Pod, pod_ip: &str, cluster_domain: &str) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut text = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let hostname = spec
        .hostname
        .clone()
        .unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    if !pod_ip.is_empty() {
        match &spec.subdomain {
            Some(subdomain) if !subdomain.is_empty() => {
                let namespace = pod.metadata.namespace.clone().unwrap_or_default();
                text.push_str(&format!("{pod_ip}\t{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}\t{hostname}\n"));
            }
            _ => text.push_str(&format!("{pod_ip}\t{hostname}\n")),
        }
    }
    let aliases = spec.host_aliases.unwrap_or_default();
    if !aliases.is_empty() {
        text.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            text.push_str(&format!(
                "{}\t{}\n",
                alias.ip,
                alias.hostnames.unwrap_or_default().join("\t")
            ));
        }
    }
    text
}

/// Whether any container of the pod (init, regular or ephemeral) is privileged, as upstream's
/// `HasPrivilegedContainer`.
fn has_privileged_container(spec: &k8s_openapi::api::core::v1::PodSpec) -> bool {
    let privileged = |security: Option<&k8s_openapi::api::core::v1::SecurityContext>| {
        security.and_then(|security| security.privileged) == Some(true)
    };
    spec.containers
        .iter()
        .any(|container| privileged(container.security_context.as_ref()))
        || spec
            .init_containers
            .iter()
            .flatten()
            .any(|container| privileged(container.security_context.as_ref()))
        || spec
            .ephemeral_containers
            .iter()
            .flatten()
            .any(|container| privileged(container.security_context.as_ref()))
}
