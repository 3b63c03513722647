//! The node's own numbers from `/proc`, read as upstream's kubelet (through cAdvisor's root
//! container) reports them: CPU time from `/proc/stat`, memory from `/proc/meminfo` and
//! `/proc/vmstat`, interfaces from `/proc/net/dev` (the default one from `/proc/net/route`), and
//! the task limit and count (`pid_max`, `threads-max`, `/proc/loadavg`). Parsers are pure.

use super::types::InterfaceStats;

/// `/proc/stat` counts in USER_HZ ticks, 100 per second on every Linux architecture.
const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;

/// The node's memory, as the root cgroup would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeMemory {
    /// All memory.
    pub total: u64,
    /// Memory in use (total minus free).
    pub usage: u64,
    /// Usage minus inactive file pages.
    pub working_set: u64,
    /// Anonymous pages.
    pub rss: Option<u64>,
}

/// Busy CPU time since boot in core-nanoseconds, from `/proc/stat`'s `cpu` line (user, nice,
/// system, irq, softirq and steal; not idle and iowait).
pub fn cpu_usage(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|index| ticks.get(*index).copied().unwrap_or(0))
        .sum::<u64>();
    Some(busy.saturating_mul(NANOS_PER_TICK))
}

/// The boot time in seconds since the epoch (`btime` of `/proc/stat`).
pub fn boot_time(stat: &str) -> Option<i64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

/// The node's memory from `/proc/meminfo`.
pub fn memory(meminfo: &str) -> Option<NodeMemory> {
    let field = |name: &str| {
        meminfo.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(kib * 1024)
        })
    };
    let total = field("MemTotal")?;
    let usage = total.saturating_sub(field("MemFree")?);
    let inactive_file = field("Inactive(file)").unwrap_or(0);
    Some(NodeMemory {
        total,
        usage,
        working_set: usage.saturating_sub(inactive_file),
        rss: field("AnonPages"),
    })
}

/// A counter of `/proc/vmstat` (e.g. `pgfault`).
pub fn vmstat(vmstat: &str, name: &str) -> Option<u64> {
    vmstat.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name).then(|| value.trim().parse().ok())?
    })
}

/// Every interface of `/proc/net/dev` except loopback.
pub fn interfaces(net_dev: &str) -> Vec<InterfaceStats> {
    net_dev
        .lines()
        .skip(2)
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let counters: Vec<u64> = counters
                .split_whitespace()
                .map(|value| value.parse().unwrap_or(0))
                .collect();
            Some(InterfaceStats {
                name: name.to_string(),
                rx_bytes: counters.first().copied(),
                rx_errors: counters.get(2).copied(),
                tx_bytes: counters.get(8).copied(),
                tx_errors: counters.get(10).copied(),
            })
        })
        .collect()
}

/// The interface of the default route in `/proc/net/route`.
pub fn default_interface(route: &str) -> Option<String> {
    route.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let name = fields.next()?;
        (fields.next()? == "00000000").then(|| name.to_string())
    })
}

/// The number of tasks in existence: the number after the slash in `/proc/loadavg`'s fourth field.
pub fn task_count(loadavg: &str) -> Option<i64> {
    loadavg
        .split_whitespace()
        .nth(3)?
        .split_once('/')?
        .1
        .parse()
        .ok()
}

/// Reads a file of `/proc` (empty when it cannot be read).
pub fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The system-wide task limit: the smaller of `kernel.pid_max` and `kernel.threads-max`.
pub fn max_tasks() -> Option<i64> {
    ["/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"]
        .iter()
        .filter_map(|path| read(path).trim().parse::<i64>().ok())
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_counts_busy_ticks() {
        let stat = "cpu  10 2 3 1000 50 4 5 6 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\nbtime 1700000000\n";
        assert_eq!(cpu_usage(stat), Some((10 + 2 + 3 + 4 + 5 + 6) * 10_000_000));
        assert_eq!(boot_time(stat), Some(1_700_000_000));
        assert_eq!(cpu_usage("intr 1"), None);
    }

    #[test]
    fn memory_from_meminfo() {
        let meminfo = "MemTotal:       1000 kB\nMemFree:         300 kB\nMemAvailable:    600 kB\n\
                       Inactive(file):  200 kB\nAnonPages:       150 kB\n";
        assert_eq!(
            memory(meminfo),
            Some(NodeMemory {
                total: 1000 * 1024,
                usage: 700 * 1024,
                working_set: 500 * 1024,
                rss: Some(150 * 1024),
            })
        );
        assert_eq!(memory("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn vmstat_counters() {
        let text = "pgpgin 5\npgfault 1234\npgmajfault 12\n";
        assert_eq!(vmstat(text, "pgfault"), Some(1234));
        assert_eq!(vmstat(text, "pgmajfault"), Some(12));
        assert_eq!(vmstat(text, "nope"), None);
    }

    #[test]
    fn interfaces_and_the_default_route() {
        let net_dev = "Inter-|   Receive                                                |  Transmit\n \
            face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
            lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  \
            eth0:    2000      20    1    0    0     0          0         0     3000      30    2    0    0     0       0          0\n";
        assert_eq!(
            interfaces(net_dev),
            vec![InterfaceStats {
                name: "eth0".into(),
                rx_bytes: Some(2000),
                rx_errors: Some(1),
                tx_bytes: Some(3000),
                tx_errors: Some(2),
            }]
        );
        let route = "Iface\tDestination\tGateway \tFlags\n\
                     cni0\t00002A0A\t00000000\t0001\n\
                     eth0\t00000000\t0164A8C0\t0003\n";
        assert_eq!(default_interface(route), Some("eth0".into()));
    }

    #[test]
    fn tasks_from_loadavg() {
        assert_eq!(task_count("1.36 3.49 4.53 2/3518 3715089\n"), Some(3518));
        assert_eq!(task_count("garbage"), None);
    }
}
