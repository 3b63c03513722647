//! The pods of a summary: every ready sandbox with its running containers, as CRI lists them, plus
//! what each pod keeps on the node's disk (logs, volumes).

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use k8s_cri::v1 as cri;

use super::fs::{self, Filesystem, Usage};
use super::types::{
    ContainerStats, FsStats, InterfaceStats, MemoryStats, NetworkStats, PodReference, PodStats,
    ProcessStats, VolumeStats,
};
use super::{Collector, Scope, format_time, nanos, time_at_nanos};
use crate::cgroups;
use crate::pods::NodeContext;

/// The stats of every running pod.
pub(super) async fn collect(
    collector: &Collector,
    context: &NodeContext,
    scope: Scope,
    now: DateTime<Utc>,
    seen: &mut Vec<String>,
) -> Result<Vec<PodStats>, String> {
    let runtime = context.cri.runtime.clone();
    let sandboxes = runtime
        .clone()
        .list_pod_sandbox(cri::ListPodSandboxRequest {
            filter: Some(cri::PodSandboxFilter {
                state: Some(cri::PodSandboxStateValue {
                    state: cri::PodSandboxState::SandboxReady as i32,
                }),
                ..cri::PodSandboxFilter::default()
            }),
        })
        .await
        .map_err(|status| format!("ListPodSandbox: {}", status.message()))?
        .into_inner()
        .items;
    let containers = runtime
        .clone()
        .list_containers(cri::ListContainersRequest {
            filter: Some(cri::ContainerFilter {
                state: Some(cri::ContainerStateValue {
                    state: cri::ContainerState::ContainerRunning as i32,
                }),
                ..cri::ContainerFilter::default()
            }),
        })
        .await
        .map_err(|status| format!("ListContainers: {}", status.message()))?
        .into_inner()
        .containers;
    let container_stats: HashMap<String, cri::ContainerStats> = runtime
        .clone()
        .list_container_stats(cri::ListContainerStatsRequest { filter: None })
        .await
        .map_err(|status| format!("ListContainerStats: {}", status.message()))?
        .into_inner()
        .stats
        .into_iter()
        .filter_map(|stats| Some((stats.attributes.as_ref()?.id.clone(), stats)))
        .collect();
    // Runtimes without pod sandbox stats (Unimplemented) leave the pod level to the cgroups.
    let sandbox_stats: HashMap<String, cri::LinuxPodSandboxStats> = match runtime
        .clone()
        .list_pod_sandbox_stats(cri::ListPodSandboxStatsRequest { filter: None })
        .await
    {
        Ok(response) => response
            .into_inner()
            .stats
            .into_iter()
            .filter_map(|stats| Some((stats.attributes?.id, stats.linux?)))
            .collect(),
        Err(status) => {
            tracing::debug!(error = %status.message(), "ListPodSandboxStats failed; reading pod cgroups");
            HashMap::new()
        }
    };
    let node_fs = fs::filesystem(context.paths.root());
    let mut pods = Vec::new();
    for sandbox in sandboxes {
        let Some(metadata) = sandbox.metadata.clone() else {
            continue;
        };
        let pod = Pod {
            collector,
            context,
            scope,
            now,
            reference: PodReference {
                name: metadata.name,
                namespace: metadata.namespace,
                uid: metadata.uid,
            },
            node_fs,
        };
        let own: Vec<&cri::Container> = containers
            .iter()
            .filter(|container| container.pod_sandbox_id == sandbox.id)
            .collect();
        pods.push(pod.stats(
            &sandbox,
            &own,
            &container_stats,
            sandbox_stats.get(&sandbox.id),
            seen,
        ));
    }
    pods.sort_by(|a, b| {
        (&a.pod_ref.namespace, &a.pod_ref.name).cmp(&(&b.pod_ref.namespace, &b.pod_ref.name))
    });
    Ok(pods)
}

/// What the stats of one pod are computed from.
struct Pod<'a> {
    collector: &'a Collector,
    context: &'a NodeContext,
    scope: Scope,
    now: DateTime<Utc>,
    reference: PodReference,
    node_fs: Option<Filesystem>,
}

impl Pod<'_> {
    fn stats(
        &self,
        sandbox: &cri::PodSandbox,
        containers: &[&cri::Container],
        container_stats: &HashMap<String, cri::ContainerStats>,
        sandbox_stats: Option<&cri::LinuxPodSandboxStats>,
        seen: &mut Vec<String>,
    ) -> PodStats {
        let time = format_time(self.now);
        let mut stats = PodStats {
            pod_ref: self.reference.clone(),
            start_time: time_at_nanos(sandbox.created_at),
            containers: containers
                .iter()
                .map(|container| {
                    self.container(container, container_stats.get(&container.id), seen)
                })
                .collect(),
            cpu: None,
            memory: None,
            network: None,
            volume_stats: Vec::new(),
            ephemeral_storage: None,
            process_stats: None,
        };
        stats.containers.sort_by(|a, b| a.name.cmp(&b.name));
        let key = format!("pod:{}", self.reference.uid);
        let from_cri = sandbox_stats.filter(|linux| linux.cpu.is_some() || linux.memory.is_some());
        match from_cri {
            Some(linux) => {
                stats.cpu = linux.cpu.as_ref().and_then(|cpu| {
                    let usage = cpu.usage_core_nano_seconds.as_ref()?.value;
                    let reported = cpu.usage_nano_cores.as_ref().map(|value| value.value);
                    let at = self.at(cpu.timestamp);
                    Some(self.collector.cpu(key.clone(), at, usage, reported, seen))
                });
                stats.memory = linux
                    .memory
                    .as_ref()
                    .map(|usage| memory(usage, self.at(usage.timestamp)));
            }
            None => {
                let parent = self
                    .context
                    .paths
                    .cgroup_parent(&self.context.config.node_name);
                let cgroup = cgroups::pod_cgroup(&parent, &self.reference.uid);
                if let Some((cpu, memory)) =
                    self.collector
                        .cgroup_stats(&key, &cgroup, nanos(self.now), seen)
                {
                    stats.cpu = cpu;
                    stats.memory = memory;
                }
            }
        }
        if self.scope == Scope::CpuAndMemory {
            return stats;
        }
        if let Some(linux) = sandbox_stats {
            stats.network = linux
                .network
                .as_ref()
                .and_then(|usage| network(usage, self.at(usage.timestamp)));
            stats.process_stats = linux.process.as_ref().and_then(|process| {
                Some(ProcessStats {
                    process_count: Some(process.process_count.as_ref()?.value),
                })
            });
        }
        let volumes = self.volumes();
        let mut ephemeral = Usage::default();
        for container in &stats.containers {
            for fs in [&container.rootfs, &container.logs].into_iter().flatten() {
                ephemeral = ephemeral
                    + Usage {
                        bytes: fs.used_bytes.unwrap_or(0),
                        inodes: fs.inodes_used.unwrap_or(0),
                    };
            }
        }
        for (_, usage) in &volumes {
            ephemeral = ephemeral + *usage;
        }
        stats.volume_stats = volumes
            .into_iter()
            .map(|(name, usage)| VolumeStats {
                fs: self.fs_with(&time, usage),
                name,
            })
            .collect();
        stats.ephemeral_storage = Some(self.fs_with(&time, ephemeral));
        stats
    }

    fn container(
        &self,
        container: &cri::Container,
        stats: Option<&cri::ContainerStats>,
        seen: &mut Vec<String>,
    ) -> ContainerStats {
        let name = container
            .metadata
            .as_ref()
            .map(|metadata| metadata.name.clone())
            .unwrap_or_default();
        let cpu = stats.and_then(|stats| {
            let cpu = stats.cpu.as_ref()?;
            let usage = cpu.usage_core_nano_seconds.as_ref()?.value;
            let reported = cpu.usage_nano_cores.as_ref().map(|value| value.value);
            Some(self.collector.cpu(
                format!("container:{}", container.id),
                self.at(cpu.timestamp),
                usage,
                reported,
                seen,
            ))
        });
        let mut result = ContainerStats {
            name: name.clone(),
            start_time: time_at_nanos(container.created_at),
            cpu,
            memory: stats
                .and_then(|stats| stats.memory.as_ref())
                .map(|usage| memory(usage, self.at(usage.timestamp))),
            rootfs: None,
            logs: None,
        };
        if self.scope == Scope::CpuAndMemory {
            return result;
        }
        let time = format_time(self.now);
        result.rootfs = stats
            .and_then(|stats| stats.writable_layer.as_ref())
            .map(|layer| {
                self.fs_with(
                    &time,
                    Usage {
                        bytes: layer.used_bytes.as_ref().map_or(0, |value| value.value),
                        inodes: layer.inodes_used.as_ref().map_or(0, |value| value.value),
                    },
                )
            });
        let log_dir = self
            .context
            .paths
            .pod_log_dir(
                &self.reference.namespace,
                &self.reference.name,
                &self.reference.uid,
            )
            .join(&name);
        result.logs = fs::usage(&log_dir).map(|usage| self.fs_with(&time, usage));
        result
    }

    /// The pod's volumes on the node's disk: `DIR/agent/pods/<uid>/volumes/<plugin>/<name>`.
    fn volumes(&self) -> Vec<(String, Usage)> {
        let root = self
            .context
            .paths
            .pod_dir(&self.reference.uid)
            .join("volumes");
        let mut volumes: Vec<(String, Usage)> = subfolders(&root)
            .iter()
            .flat_map(|plugin| subfolders(plugin))
            .filter_map(|volume| {
                let name = volume.file_name()?.to_str()?.to_string();
                Some((name, fs::usage(&volume)?))
            })
            .collect();
        volumes.sort_by(|a, b| a.0.cmp(&b.0));
        volumes
    }

    /// A CRI timestamp, or now when the runtime left it out (0).
    fn at(&self, timestamp: i64) -> i64 {
        if timestamp > 0 {
            timestamp
        } else {
            nanos(self.now)
        }
    }

    /// `FsStats` of `usage` on the node's filesystem.
    fn fs_with(&self, time: &str, usage: Usage) -> FsStats {
        match &self.node_fs {
            Some(fs) => fs.with_usage(time, usage.bytes, usage.inodes),
            None => FsStats {
                time: time.to_string(),
                used_bytes: Some(usage.bytes),
                inodes_used: Some(usage.inodes),
                ..FsStats::default()
            },
        }
    }
}

/// The folders in `path`.
fn subfolders(path: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default()
}

/// `MemoryStats` from CRI, sampled at `at`.
fn memory(usage: &cri::MemoryUsage, at: i64) -> MemoryStats {
    let value = |field: &Option<cri::UInt64Value>| field.as_ref().map(|value| value.value);
    MemoryStats {
        time: time_at_nanos(at),
        available_bytes: value(&usage.available_bytes).filter(|bytes| *bytes > 0),
        usage_bytes: value(&usage.usage_bytes),
        working_set_bytes: value(&usage.working_set_bytes),
        rss_bytes: value(&usage.rss_bytes),
        page_faults: value(&usage.page_faults),
        major_page_faults: value(&usage.major_page_faults),
    }
}

/// `NetworkStats` from CRI, sampled at `at`.
fn network(usage: &cri::NetworkUsage, at: i64) -> Option<NetworkStats> {
    let interface = |usage: &cri::NetworkInterfaceUsage| InterfaceStats {
        name: usage.name.clone(),
        rx_bytes: usage.rx_bytes.as_ref().map(|value| value.value),
        rx_errors: usage.rx_errors.as_ref().map(|value| value.value),
        tx_bytes: usage.tx_bytes.as_ref().map(|value| value.value),
        tx_errors: usage.tx_errors.as_ref().map(|value| value.value),
    };
    Some(NetworkStats {
        time: time_at_nanos(at),
        default: interface(usage.default_interface.as_ref()?),
        interfaces: usage.interfaces.iter().map(interface).collect(),
    })
}
