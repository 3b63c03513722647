//! Pod cgroup directories. runc creates a pod's cgroup parent in every hierarchy but removes only the
//! container leaves, so the kubelet removes the pod level itself when the pod is gone.

use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup parent of one pod, under the node's parent.
pub fn pod_cgroup(node_parent: &str, uid: &str) -> String {
    format!("{node_parent}/pod{uid}")
}

/// Removes a pod's cgroup directory from every hierarchy (cgroup v1 and v2). Missing ones are fine.
pub fn remove_pod_cgroup(cgroup: &str) {
    for hierarchy in hierarchies() {
        let path = hierarchy.join(cgroup.trim_start_matches('/'));
        if path.exists() {
            if let Err(error) = std::fs::remove_dir(&path) {
                tracing::debug!(path = %path.display(), %error, "cannot remove a pod cgroup yet");
            }
        }
    }
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
