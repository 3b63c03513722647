//! The Summary API (`GET /stats/summary` on the kubelet's endpoint): upstream's
//! `statsapi.Summary` of the node and its running pods.
//!
//! - node: CPU, memory, interfaces and task limits from `/proc` (`proc`), the agent folder's
//!   filesystem, the image filesystem (CRI `ImageFsInfo` for what images take), and every pod of
//!   the node together as the `pods` system container (their common cgroup parent);
//! - pods (`pods`): the ready sandboxes and running containers CRI lists; containers' CPU, memory
//!   and writable layers from CRI `ListContainerStats`; a pod's CPU, memory, network and processes
//!   from CRI `ListPodSandboxStats` where the runtime answers it, else from the pod's cgroup
//!   (`cgroup`); logs, volumes and ephemeral storage measured on disk (`fs`).
//!
//! `usageNanoCores` is the rate between two summaries (or what CRI reports), so the first summary
//! of a new pod has none, as upstream's first sample.

mod cgroup;
mod fs;
mod pods;
mod proc;
pub mod types;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_cri::v1 as cri;

use self::types::{
    ContainerStats, CpuStats, MemoryStats, NetworkStats, NodeStats, RlimitStats, RuntimeStats,
    Summary,
};
use crate::pods::NodeContext;

/// Where the cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Builds summaries, remembering the last CPU sample of everything measured for the rates.
#[derive(Debug, Default)]
pub struct Collector {
    cpu_samples: Mutex<HashMap<String, CpuSample>>,
}

/// One cumulative CPU reading.
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    at_nanos: i64,
    usage: u64,
}

/// Which parts of the summary to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything.
    Full,
    /// CPU and memory only (`?only_cpu_and_memory=true`).
    CpuAndMemory,
}

impl Collector {
    /// A collector without samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// The summary of the node and its running pods.
    pub async fn summary(&self, context: &NodeContext, scope: Scope) -> Result<Summary, String> {
        let now = Utc::now();
        let mut seen = Vec::new();
        let node = self.node(context, scope, now, &mut seen).await;
        let pods = pods::collect(self, context, scope, now, &mut seen).await?;
        if let Ok(mut samples) = self.cpu_samples.lock() {
            samples.retain(|key, _| seen.contains(key));
        }
        Ok(Summary { node, pods })
    }

    /// `CPUStats` for a cumulative reading of `key` taken at `at_nanos`, with the rate since the
    /// previous reading (or `reported`, the runtime's own rate, when it has one).
    fn cpu(
        &self,
        key: String,
        at_nanos: i64,
        usage: u64,
        reported: Option<u64>,
        seen: &mut Vec<String>,
    ) -> CpuStats {
        let previous = self
            .cpu_samples
            .lock()
            .ok()
            .and_then(|mut samples| samples.insert(key.clone(), CpuSample { at_nanos, usage }));
        seen.push(key);
        let rate = previous.and_then(|previous| {
            let elapsed = u64::try_from(at_nanos - previous.at_nanos).ok()?;
            let used = usage.checked_sub(previous.usage)?;
            (elapsed > 0).then(|| (used as u128 * 1_000_000_000 / elapsed as u128) as u64)
        });
        CpuStats {
            time: time_at_nanos(at_nanos),
            usage_nano_cores: reported.filter(|rate| *rate > 0).or(rate),
            usage_core_nano_seconds: Some(usage),
        }
    }

    async fn node(
        &self,
        context: &NodeContext,
        scope: Scope,
        now: DateTime<Utc>,
        seen: &mut Vec<String>,
    ) -> NodeStats {
        let at = nanos(now);
        let time = format_time(now);
        let stat = proc::read("/proc/stat");
        let start_time = proc::boot_time(&stat)
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .map(format_time)
            .unwrap_or_else(|| time.clone());
        let cpu =
            proc::cpu_usage(&stat).map(|usage| self.cpu("node".into(), at, usage, None, seen));
        let vmstat = proc::read("/proc/vmstat");
        let memory = proc::memory(&proc::read("/proc/meminfo")).map(|memory| MemoryStats {
            time: time.clone(),
            available_bytes: Some(memory.total.saturating_sub(memory.working_set)),
            usage_bytes: Some(memory.usage),
            working_set_bytes: Some(memory.working_set),
            rss_bytes: memory.rss,
            page_faults: proc::vmstat(&vmstat, "pgfault"),
            major_page_faults: proc::vmstat(&vmstat, "pgmajfault"),
        });
        let parent = context.paths.cgroup_parent(&context.config.node_name);
        let pods_container = self
            .cgroup_stats(&format!("cgroup:{parent}"), &parent, at, seen)
            .map(|(cpu, memory)| ContainerStats {
                name: "pods".into(),
                start_time: start_time.clone(),
                cpu,
                memory,
                rootfs: None,
                logs: None,
            });
        let mut node = NodeStats {
            node_name: context.config.node_name.clone(),
            system_containers: pods_container.into_iter().collect(),
            start_time,
            cpu,
            memory,
            network: None,
            fs: None,
            runtime: None,
            rlimit: None,
        };
        if scope == Scope::CpuAndMemory {
            return node;
        }
        node.network = node_network(&time);
        node.fs = fs::filesystem(&context.config.data_dir).map(|fs| fs.stats(&time));
        node.runtime = Some(RuntimeStats {
            image_fs: image_fs(context, &time).await,
        });
        node.rlimit = Some(RlimitStats {
            time,
            maxpid: proc::max_tasks(),
            curproc: proc::task_count(&proc::read("/proc/loadavg")),
        });
        node
    }

    /// CPU and memory of the cgroup `cgroup`, if it exists.
    fn cgroup_stats(
        &self,
        key: &str,
        cgroup: &str,
        at: i64,
        seen: &mut Vec<String>,
    ) -> Option<(Option<CpuStats>, Option<MemoryStats>)> {
        let sample = cgroup::read(Path::new(CGROUP_ROOT), cgroup)?;
        let cpu = sample
            .cpu_usage
            .map(|usage| self.cpu(key.to_string(), at, usage, None, seen));
        let memory = sample.memory_usage.map(|usage| MemoryStats {
            time: time_at_nanos(at),
            available_bytes: sample.available(),
            usage_bytes: Some(usage),
            working_set_bytes: sample.working_set,
            rss_bytes: sample.rss,
            page_faults: sample.page_faults,
            major_page_faults: sample.major_page_faults,
        });
        Some((cpu, memory))
    }
}

/// The node's interfaces, the default route's inline.
fn node_network(time: &str) -> Option<NetworkStats> {
    let interfaces = proc::interfaces(&proc::read("/proc/net/dev"));
    let default_name = proc::default_interface(&proc::read("/proc/net/route"));
    let default = interfaces
        .iter()
        .find(|interface| Some(&interface.name) == default_name.as_ref())
        .or(interfaces.first())?
        .clone();
    Some(NetworkStats {
        time: time.to_string(),
        default,
        interfaces,
    })
}

/// The image filesystem: its size, and what images take on it (CRI `ImageFsInfo`).
async fn image_fs(context: &NodeContext, time: &str) -> Option<types::FsStats> {
    let info = context
        .cri
        .images
        .clone()
        .image_fs_info(cri::ImageFsInfoRequest {})
        .await
        .map_err(|status| tracing::debug!(error = %status.message(), "ImageFsInfo failed"))
        .ok()?
        .into_inner();
    let usage = info.image_filesystems.into_iter().next()?;
    let mountpoint = usage
        .fs_id
        .as_ref()
        .map(|id| id.mountpoint.clone())
        .filter(|mountpoint| !mountpoint.is_empty());
    let filesystem = mountpoint
        .and_then(|mountpoint| fs::filesystem(Path::new(&mountpoint)))
        .or_else(|| fs::filesystem(context.paths.root()))?;
    Some(filesystem.with_usage(
        time,
        usage.used_bytes.map(|value| value.value).unwrap_or(0),
        usage.inodes_used.map(|value| value.value).unwrap_or(0),
    ))
}

/// Nanoseconds since the epoch.
fn nanos(time: DateTime<Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or_default()
}

/// `metav1.Time`: RFC 3339 in UTC, whole seconds.
fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `metav1.Time` of a CRI timestamp (nanoseconds since the epoch).
fn time_at_nanos(at: i64) -> String {
    format_time(DateTime::from_timestamp_nanos(at))
}
