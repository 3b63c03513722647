//! Facts about the machine read from `/proc` and `/etc`: CPUs, memory, disk, kernel and OS names.

use std::path::Path;

/// What the node reports about its machine.
#[derive(Debug, Clone, Default)]
pub struct SystemInfo {
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory in KiB.
    pub memory_kib: u64,
    /// Size of the file system holding the data folder, in KiB.
    pub ephemeral_storage_kib: u64,
    /// Kernel release (`uname -r`).
    pub kernel_version: String,
    /// `PRETTY_NAME` from os-release.
    pub os_image: String,
    /// `/etc/machine-id`.
    pub machine_id: String,
    /// The kernel's boot id.
    pub boot_id: String,
}

impl SystemInfo {
    /// Reads the machine's facts; anything unreadable is left empty or zero.
    pub fn read(data_dir: &Path) -> Self {
        SystemInfo {
            cpus: std::thread::available_parallelism()
                .map(|count| count.get())
                .unwrap_or(1),
            memory_kib: read_meminfo_total().unwrap_or(0),
            ephemeral_storage_kib: nix::sys::statvfs::statvfs(data_dir)
                .map(|stats| stats.blocks() * stats.fragment_size() / 1024)
                .unwrap_or(0),
            kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
            os_image: read_os_image(),
            machine_id: read_trimmed("/etc/machine-id"),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
        }
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_string())
        .unwrap_or_default()
}

fn read_meminfo_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn read_os_image() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|value| value.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".to_string())
}
