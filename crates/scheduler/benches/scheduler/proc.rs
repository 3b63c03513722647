//! Process readings from /proc: resident memory (now and peak) and CPU time.

fn status_kib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Resident set size now, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    status_kib(pid, "VmRSS:") / 1024.0
}

/// Anonymous resident memory (heap, stacks, caches) now, in MiB.
pub fn rss_anon_mib(pid: u32) -> f64 {
    status_kib(pid, "RssAnon:") / 1024.0
}

/// How many file descriptors (mostly client connections, for the server) a process has open.
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// Peak resident set size, in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    status_kib(pid, "VmHWM:") / 1024.0
}

pub use kubers_testkit::process::cpu_time;
