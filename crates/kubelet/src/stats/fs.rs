//! Filesystem numbers: the size of the filesystem holding a path (`statvfs`), and what a folder
//! takes on it (blocks and inodes, walked like upstream's `du` and `find` for volumes and logs;
//! hard links counted once, other filesystems not entered).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use nix::sys::statvfs::statvfs;

use super::types::FsStats;

/// The size of a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filesystem {
    /// Its size.
    pub capacity: u64,
    /// Space unprivileged users may still use.
    pub available: u64,
    /// Space in use.
    pub used: u64,
    /// All inodes.
    pub inodes: u64,
    /// Free inodes.
    pub inodes_free: u64,
}

impl Filesystem {
    /// `FsStats` of the filesystem itself at `time`.
    pub fn stats(&self, time: &str) -> FsStats {
        self.with_usage(
            time,
            self.used,
            self.inodes.saturating_sub(self.inodes_free),
        )
    }

    /// `FsStats` of something on this filesystem that uses `used` bytes and `inodes_used` inodes.
    pub fn with_usage(&self, time: &str, used: u64, inodes_used: u64) -> FsStats {
        FsStats {
            time: time.to_string(),
            available_bytes: Some(self.available),
            capacity_bytes: Some(self.capacity),
            used_bytes: Some(used),
            inodes_free: Some(self.inodes_free),
            inodes: Some(self.inodes),
            inodes_used: Some(inodes_used),
        }
    }
}

/// The filesystem holding `path`.
pub fn filesystem(path: &Path) -> Option<Filesystem> {
    let stat = statvfs(path).ok()?;
    let fragment = stat.fragment_size();
    let blocks = stat.blocks();
    Some(Filesystem {
        capacity: blocks.saturating_mul(fragment),
        available: stat.blocks_available().saturating_mul(fragment),
        used: blocks
            .saturating_sub(stat.blocks_free())
            .saturating_mul(fragment),
        inodes: stat.files(),
        inodes_free: stat.files_free(),
    })
}

/// What a folder takes: bytes of allocated blocks and inodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Allocated bytes.
    pub bytes: u64,
    /// Inodes (files, folders, links).
    pub inodes: u64,
}

impl std::ops::Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        Usage {
            bytes: self.bytes + other.bytes,
            inodes: self.inodes + other.inodes,
        }
    }
}

/// What `path` and everything under it takes, staying on its filesystem; `None` if it is missing.
pub fn usage(path: &Path) -> Option<Usage> {
    let root = std::fs::symlink_metadata(path).ok()?;
    let mut seen = HashSet::new();
    let mut total = Usage::default();
    let mut pending = vec![(path.to_path_buf(), root)];
    while let Some((path, metadata)) = pending.pop() {
        if metadata.nlink() > 1 && !metadata.is_dir() && !seen.insert(metadata.ino()) {
            continue;
        }
        total.bytes += metadata.blocks() * 512;
        total.inodes += 1;
        if !metadata.is_dir() {
            continue;
        }
        let device = metadata.dev();
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(child) = entry.metadata() else {
                continue;
            };
            if child.dev() == device {
                pending.push((entry.path(), child));
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_files_folders_and_hard_links_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("volume");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a"), vec![1u8; 10_000]).unwrap();
        std::fs::hard_link(root.join("a"), root.join("sub/a-again")).unwrap();
        std::os::unix::fs::symlink("a", root.join("link")).unwrap();
        let usage = usage(&root).unwrap();
        // volume, sub, a (once), link.
        assert_eq!(usage.inodes, 4);
        assert!(usage.bytes >= 10_000, "{usage:?}");
        assert!(usage.bytes < 40_000, "{usage:?}");
        assert_eq!(super::usage(&dir.path().join("missing")), None);
    }

    #[test]
    fn filesystem_of_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let fs = filesystem(dir.path()).unwrap();
        assert!(fs.capacity > 0 && fs.capacity >= fs.available, "{fs:?}");
        let stats = fs.with_usage("t", 5, 1);
        assert_eq!(stats.used_bytes, Some(5));
        assert_eq!(stats.capacity_bytes, Some(fs.capacity));
    }
}
