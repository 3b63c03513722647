//! Pod cgroup directories. runc creates a pod's cgroup parent in every hierarchy but removes only the
//! container leaves, so the kubelet removes the pod level itself when the pod is gone.

use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup parent of one pod, under the node's parent.
pub fn pod_cgroup(node_parent: &str, uid: &str) -> String {
    format!("{node_parent}/pod{uid}")
}

/// Removes a pod's cgroup directory from every hierarchy (cgroup v1 and v2), leftover child folders
/// first. Missing ones are fine; folders that still hold processes stay (the kernel refuses them).
pub fn remove_pod_cgroup(cgroup: &str) {
    for hierarchy in hierarchies() {
        let path = hierarchy.join(cgroup.trim_start_matches('/'));
        if path.exists() {
            if let Err(error) = remove_bottom_up(&path) {
                tracing::debug!(path = %path.display(), %error, "cannot remove a pod cgroup yet");
            }
        }
    }
}

/// The UIDs of the pods that have a cgroup folder under the node's parent in any hierarchy.
pub fn pod_cgroup_uids(node_parent: &str) -> std::collections::HashSet<String> {
    let mut uids = std::collections::HashSet::new();
    for hierarchy in hierarchies() {
        let parent = hierarchy.join(node_parent.trim_start_matches('/'));
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(uid) = name.strip_prefix("pod") {
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) && !uid.is_empty() {
                    uids.insert(uid.to_string());
                }
            }
        }
    }
    uids
}

/// Removes a cgroup folder after its child folders (cgroup folders are removed with `rmdir`; their
/// control files go with them).
fn remove_bottom_up(dir: &Path) -> std::io::Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                remove_bottom_up(&entry.path())?;
            }
        }
    }
    std::fs::remove_dir(dir)
}

/// The mounted hierarchies: `/sys/fs/cgroup` itself for v2, each controller folder for v1.
pub(crate) fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| path.join("cgroup.procs").exists())
        .collect()
}
