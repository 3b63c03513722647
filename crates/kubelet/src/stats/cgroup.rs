//! CPU and memory of a cgroup (a pod's, or every pod's of the node), read from its files as
//! cAdvisor does, for cgroup v2 (`cpu.stat`, `memory.current`, `memory.stat`, `memory.max`) and v1
//! (`cpuacct.usage`, `memory.usage_in_bytes`, `memory.stat`'s `total_*`, `memory.limit_in_bytes`).
//! The working set is usage minus inactive file pages; available memory is the limit minus the
//! working set when there is a limit. Parsers are pure.

use std::path::Path;

/// cgroup v1 writes this (rounded to the page size) for "no limit"; anything this large is none.
const UNLIMITED: u64 = 1 << 62;

/// A cgroup's CPU and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CgroupSample {
    /// Cumulative CPU time in core-nanoseconds.
    pub cpu_usage: Option<u64>,
    /// Memory in use.
    pub memory_usage: Option<u64>,
    /// Usage minus inactive file pages.
    pub working_set: Option<u64>,
    /// Anonymous memory.
    pub rss: Option<u64>,
    /// Minor page faults.
    pub page_faults: Option<u64>,
    /// Major page faults.
    pub major_page_faults: Option<u64>,
    /// The memory limit, if any.
    pub limit: Option<u64>,
}

impl CgroupSample {
    /// Memory still available under the limit.
    pub fn available(&self) -> Option<u64> {
        Some(self.limit?.saturating_sub(self.working_set?))
    }
}

/// Reads the cgroup `cgroup` (relative to the hierarchies, e.g. `/kubers/node-1/pod<uid>`) under
/// `root` (`/sys/fs/cgroup`); `None` when it does not exist.
pub fn read(root: &Path, cgroup: &str) -> Option<CgroupSample> {
    let relative = cgroup.trim_start_matches('/');
    let file = |hierarchy: &str, name: &str| {
        std::fs::read_to_string(root.join(hierarchy).join(relative).join(name)).ok()
    };
    if root.join("cgroup.controllers").exists() {
        let memory_stat = file("", "memory.stat")?;
        let usage = file("", "memory.current").and_then(|text| text.trim().parse().ok());
        return Some(sample(
            file("", "cpu.stat")
                .and_then(|text| stat_field(&text, "usage_usec"))
                .map(|micros| micros.saturating_mul(1000)),
            usage,
            &memory_stat,
            Keys::V2,
            file("", "memory.max").and_then(|text| parse_limit(&text)),
        ));
    }
    let memory_stat = file("memory", "memory.stat")?;
    Some(sample(
        file("cpuacct", "cpuacct.usage").and_then(|text| text.trim().parse().ok()),
        file("memory", "memory.usage_in_bytes").and_then(|text| text.trim().parse().ok()),
        &memory_stat,
        Keys::V1,
        file("memory", "memory.limit_in_bytes").and_then(|text| parse_limit(&text)),
    ))
}

/// The `memory.stat` keys of one cgroup version.
struct Keys {
    inactive_file: &'static str,
    rss: &'static str,
    page_faults: &'static str,
    major_page_faults: &'static str,
}

impl Keys {
    const V1: Keys = Keys {
        inactive_file: "total_inactive_file",
        rss: "total_rss",
        page_faults: "total_pgfault",
        major_page_faults: "total_pgmajfault",
    };
    const V2: Keys = Keys {
        inactive_file: "inactive_file",
        rss: "anon",
        page_faults: "pgfault",
        major_page_faults: "pgmajfault",
    };
}

fn sample(
    cpu_usage: Option<u64>,
    memory_usage: Option<u64>,
    memory_stat: &str,
    keys: Keys,
    limit: Option<u64>,
) -> CgroupSample {
    let inactive_file = stat_field(memory_stat, keys.inactive_file).unwrap_or(0);
    CgroupSample {
        cpu_usage,
        memory_usage,
        working_set: memory_usage.map(|usage| usage.saturating_sub(inactive_file)),
        rss: stat_field(memory_stat, keys.rss),
        page_faults: stat_field(memory_stat, keys.page_faults),
        major_page_faults: stat_field(memory_stat, keys.major_page_faults),
        limit,
    }
}

/// A `key value` line of a flat-keyed cgroup file.
fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok())?
    })
}

/// A memory limit: `max` (v2) or a huge number (v1) is none.
fn parse_limit(text: &str) -> Option<u64> {
    let limit: u64 = text.trim().parse().ok()?;
    (limit < UNLIMITED).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cgroup_v2() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu memory").unwrap();
        let pod = root.path().join("kubers/n1/podabc");
        std::fs::create_dir_all(&pod).unwrap();
        std::fs::write(pod.join("cpu.stat"), "usage_usec 2500\nuser_usec 2000\n").unwrap();
        std::fs::write(pod.join("memory.current"), "10000\n").unwrap();
        std::fs::write(
            pod.join("memory.stat"),
            "anon 4000\nfile 6000\ninactive_file 3000\npgfault 77\npgmajfault 1\n",
        )
        .unwrap();
        std::fs::write(pod.join("memory.max"), "max\n").unwrap();
        let sample = read(root.path(), "/kubers/n1/podabc").unwrap();
        assert_eq!(
            sample,
            CgroupSample {
                cpu_usage: Some(2_500_000),
                memory_usage: Some(10000),
                working_set: Some(7000),
                rss: Some(4000),
                page_faults: Some(77),
                major_page_faults: Some(1),
                limit: None,
            }
        );
        assert_eq!(sample.available(), None);
        std::fs::write(pod.join("memory.max"), "20000\n").unwrap();
        assert_eq!(
            read(root.path(), "/kubers/n1/podabc").unwrap().available(),
            Some(13000)
        );
        assert_eq!(read(root.path(), "/kubers/n1/missing"), None);
    }

    #[test]
    fn reads_cgroup_v1() {
        let root = tempfile::tempdir().unwrap();
        let cpu = root.path().join("cpuacct/kubers/n1/podabc");
        let memory = root.path().join("memory/kubers/n1/podabc");
        std::fs::create_dir_all(&cpu).unwrap();
        std::fs::create_dir_all(&memory).unwrap();
        std::fs::write(cpu.join("cpuacct.usage"), "123456789\n").unwrap();
        std::fs::write(memory.join("memory.usage_in_bytes"), "8192\n").unwrap();
        std::fs::write(
            memory.join("memory.stat"),
            "rss 1\ntotal_rss 4096\ntotal_inactive_file 1024\ntotal_pgfault 9\ntotal_pgmajfault 0\n",
        )
        .unwrap();
        std::fs::write(
            memory.join("memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        let sample = read(root.path(), "kubers/n1/podabc").unwrap();
        assert_eq!(sample.cpu_usage, Some(123456789));
        assert_eq!(sample.working_set, Some(7168));
        assert_eq!(sample.rss, Some(4096));
        assert_eq!(sample.limit, None);
    }
}
