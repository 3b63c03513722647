//! Disk emptyDir usage against `sizeLimit`, as upstream's eviction manager checks it: a pod whose
//! disk-backed emptyDir uses more than its limit is evicted with upstream's message.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use kubers_core::quantity::Quantity;

use super::EMPTY_DIR;

/// How often a pod's limited emptyDir volumes are measured (upstream's eviction monitoring
/// interval).
pub const CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// A disk-backed emptyDir with a positive `sizeLimit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitedVolume {
    /// The volume's name.
    pub name: String,
    /// The limit as written in the spec (upstream prints the quantity).
    pub limit_text: String,
    /// The limit in bytes.
    pub limit: i128,
}

/// The pod's disk-backed emptyDir volumes with a positive `sizeLimit`, in spec order.
pub fn limited_volumes(pod: &Pod) -> Vec<LimitedVolume> {
    pod.spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
        .filter_map(|volume| {
            let source = volume.empty_dir.as_ref()?;
            if source.medium.as_deref().unwrap_or_default() == "Memory" {
                return None;
            }
            let text = source.size_limit.as_ref()?.0.clone();
            let limit = Quantity::parse(&text)?.value();
            (limit > 0).then(|| LimitedVolume {
                name: volume.name.clone(),
                limit_text: text,
                limit,
            })
        })
        .collect()
}

/// The folder of an emptyDir volume of the pod whose folder is `pod_dir`.
pub fn empty_dir_path(pod_dir: &Path, name: &str) -> PathBuf {
    pod_dir.join("volumes").join(EMPTY_DIR).join(name)
}

/// The eviction message for the first volume over its limit, given each volume's usage in bytes.
pub fn over_limit(volumes: &[LimitedVolume], usage: &[Option<u64>]) -> Option<String> {
    volumes
        .iter()
        .zip(usage)
        .find(|(volume, used)| used.is_some_and(|used| i128::from(used) > volume.limit))
        .map(|(volume, _)| {
            format!(
                "Usage of EmptyDir volume {:?} exceeds the limit {:?}. ",
                volume.name, volume.limit_text
            )
        })
}

/// Bytes allocated under `dir` (like `du`: blocks, hard links once), staying on its file system.
/// `None` when `dir` cannot be read.
pub fn disk_usage(dir: &Path) -> Option<u64> {
    let root = std::fs::symlink_metadata(dir).ok()?;
    let device = root.dev();
    let mut seen = HashSet::new();
    let mut total = root.blocks() * 512;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.dev() != device {
                continue;
            }
            if metadata.nlink() > 1 && !metadata.is_dir() && !seen.insert(metadata.ino()) {
                continue;
            }
            total += metadata.blocks() * 512;
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).expect("a pod")
    }

    #[test]
    fn only_disk_empty_dirs_with_a_positive_limit_are_watched() {
        let pod = pod(
            "metadata: {name: p}\nspec:\n  containers: [{name: a}]\n  volumes:\n  - {name: plain, emptyDir: {}}\n  - {name: memory, emptyDir: {medium: Memory, sizeLimit: 1Mi}}\n  - {name: zero, emptyDir: {sizeLimit: '0'}}\n  - {name: small, emptyDir: {sizeLimit: 1Mi}}\n  - {name: big, emptyDir: {sizeLimit: 2G}}",
        );
        let volumes = limited_volumes(&pod);
        assert_eq!(
            volumes,
            vec![
                LimitedVolume {
                    name: "small".into(),
                    limit_text: "1Mi".into(),
                    limit: 1 << 20
                },
                LimitedVolume {
                    name: "big".into(),
                    limit_text: "2G".into(),
                    limit: 2_000_000_000
                },
            ]
        );
        assert_eq!(over_limit(&volumes, &[Some(1 << 20), Some(5)]), None);
        assert_eq!(
            over_limit(&volumes, &[None, Some(2_000_000_001)]).as_deref(),
            Some("Usage of EmptyDir volume \"big\" exceeds the limit \"2G\". ")
        );
    }

    #[test]
    fn usage_counts_allocated_blocks_and_hard_links_once() {
        let dir = tempfile::tempdir().unwrap();
        let empty = disk_usage(dir.path()).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/file"), vec![7u8; 256 * 1024]).unwrap();
        std::fs::hard_link(dir.path().join("sub/file"), dir.path().join("link")).unwrap();
        let used = disk_usage(dir.path()).unwrap();
        assert!(used >= empty + 256 * 1024, "{used}");
        assert!(used < empty + 2 * 256 * 1024, "{used}");
        assert_eq!(disk_usage(&dir.path().join("missing")), None);
    }
}
