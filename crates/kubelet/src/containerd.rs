//! containerd as a supervised child: its generated configuration (every path under `DIR/agent/containerd`)
//! and starting or adopting the process.
//!
//! containerd is started in its own process group and is not stopped with the agent: containers keep
//! running when the agent stops or crashes, and the next agent adopts the running containerd.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::config::AgentPaths;
use crate::cri::Cri;
use crate::error::{Error, Result};

/// Renders containerd's configuration (version 2 format, containerd 1.6).
pub fn render_config(paths: &AgentPaths, sandbox_image: &str) -> String {
    let dir = paths.containerd();
    let dir = dir.display();
    let cni_conf = paths.cni_conf_dir();
    format!(
        r#"version = 2
root = "{dir}/root"
state = "{dir}/state"

[grpc]
  address = "{dir}/containerd.sock"

[ttrpc]
  address = "{dir}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{dir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
        Root = "{dir}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf}"
"#,
        cni_conf = cni_conf.display(),
    )
}

/// Makes sure a containerd answers on the agent's socket: adopts a running one, or starts a new one.
pub async fn ensure_running(paths: &AgentPaths, sandbox_image: &str) -> Result<Cri> {
    let socket = paths.containerd_socket();
    if socket.exists() {
        let cri = Cri::connect(&socket)?;
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), cri.version()).await {
            tracing::info!(socket = %socket.display(), "adopting the running containerd");
            return Ok(cri);
        }
        let _ = std::fs::remove_file(&socket);
    }
    start(paths, sandbox_image).await?;
    let cri = Cri::connect(&socket)?;
    for _ in 0..300 {
        if socket.exists() {
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), cri.version()).await {
                return Ok(cri);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::Runtime(format!(
        "containerd did not answer on {} within 30 s; see {}",
        socket.display(),
        paths.containerd().join("containerd.log").display()
    )))
}

async fn start(paths: &AgentPaths, sandbox_image: &str) -> Result<()> {
    let dir = paths.containerd();
    std::fs::create_dir_all(&dir)
        .map_err(|error| Error::io(format!("creating {}", dir.display()), error))?;
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, render_config(paths, sandbox_image))
        .map_err(|error| Error::io(format!("writing {}", config_path.display()), error))?;
    let log_path = dir.join("containerd.log");
    let log = open_log(&log_path)?;
    let log_err = log
        .try_clone()
        .map_err(|error| Error::io("duplicating the log handle", error))?;
    let child = std::process::Command::new("containerd")
        .arg("--config")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|error| {
            Error::io(
                "starting containerd (is the containerd package installed?)",
                error,
            )
        })?;
    let pid_path = dir.join("containerd.pid");
    std::fs::write(&pid_path, child.id().to_string())
        .map_err(|error| Error::io(format!("writing {}", pid_path.display()), error))?;
    tracing::info!(pid = child.id(), config = %config_path.display(), "started containerd");
    // The child is deliberately not waited for here: it outlives the agent. A thread reaps it if it
    // exits while the agent runs.
    std::thread::spawn(move || {
        let mut child = child;
        if let Ok(status) = child.wait() {
            tracing::warn!(%status, "containerd exited");
        }
    });
    Ok(())
}

fn open_log(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| Error::io(format!("opening {}", path.display()), error))
}
