//! Stopping a node for good (`kubers killall`): every pod sandbox the agent started is stopped and
//! removed through CRI, the supervised containerd is stopped, the pods' volume mounts (tmpfs, bind
//! mounts) are unmounted and their folders removed, and the node's cgroup folders go.
//! The counterpart of the agent's fail-static design, where nothing stops when the agent does.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::config::AgentPaths;
use crate::cri::Cri;
use crate::error::{Error, Result};
use crate::pods::labels;

/// Stops and removes every sandbox the agent started, then the supervised containerd.
pub async fn stop_all(paths: &AgentPaths, node_name: Option<&str>) -> Result<()> {
    let socket = paths.containerd_socket();
    if socket.exists() {
        let cri = Cri::connect(&socket)?;
        if tokio::time::timeout(Duration::from_secs(2), cri.version())
            .await
            .is_ok_and(|result| result.is_ok())
        {
            remove_sandboxes(&cri).await?;
        }
    }
    stop_containerd(paths).await;
    let pods = paths.pods_dir();
    let removed = crate::pods::volumes::mounts::remove_unmounted(&pods)
        .map_err(|error| Error::io(format!("removing {}", pods.display()), error));
    if let Some(node_name) = node_name {
        remove_cgroup_tree(&paths.cgroup_parent(node_name));
    }
    removed
}

async fn remove_sandboxes(cri: &Cri) -> Result<()> {
    use k8s_cri::v1 as cri_api;
    let filter = cri_api::PodSandboxFilter {
        label_selector: [(labels::MANAGED_BY.to_string(), "true".to_string())].into(),
        ..cri_api::PodSandboxFilter::default()
    };
    let sandboxes = cri
        .runtime
        .clone()
        .list_pod_sandbox(cri_api::ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await
        .map_err(|status| Error::cri("ListPodSandbox", status))?
        .into_inner()
        .items;
    for sandbox in sandboxes {
        crate::pods::runtime::stop_sandbox(cri, &sandbox.id).await?;
        crate::pods::runtime::remove_sandbox(cri, &sandbox.id).await?;
    }
    Ok(())
}

/// Stops the containerd this agent started (by the PID it recorded): SIGTERM, then SIGKILL.
async fn stop_containerd(paths: &AgentPaths) {
    let pid_path = paths.containerd().join("containerd.pid");
    let Some(pid) = std::fs::read_to_string(&pid_path)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
    else {
        return;
    };
    let pid = Pid::from_raw(pid);
    if !is_containerd(pid) {
        let _ = std::fs::remove_file(&pid_path);
        return;
    }
    let _ = kill(pid, Signal::SIGTERM);
    for _ in 0..100 {
        if !is_containerd(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if is_containerd(pid) {
        let _ = kill(pid, Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(&pid_path);
    let _ = std::fs::remove_file(paths.containerd_socket());
}

/// Whether `pid` is a live containerd (not a reused PID of something else).
fn is_containerd(pid: Pid) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    comm.trim() == "containerd" && !state.contains(") Z ")
}

/// Removes a cgroup folder and everything under it from every hierarchy, deepest first.
fn remove_cgroup_tree(parent: &str) {
    for hierarchy in crate::cgroups::hierarchies() {
        let root = hierarchy.join(parent.trim_start_matches('/'));
        remove_dirs_bottom_up(&root);
        if let Some(up) = root.parent() {
            let _ = std::fs::remove_dir(up);
        }
    }
}

fn remove_dirs_bottom_up(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                remove_dirs_bottom_up(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
