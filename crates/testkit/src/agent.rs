//! A node that joins a [`TestCluster`] the way real agents do: `kubers agent --server --token` in
//! the cluster's network namespace (its node IP is the namespace's address), with a data folder of
//! its own, its own supervised containerd and the busybox image preloaded. Dropping it stops the
//! agent, then removes its pods and containerd (`kubers killall`).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cluster::TestCluster;
use crate::images;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A `kubers agent` process joining a cluster.
#[derive(Debug)]
pub struct TestAgent {
    child: Option<Child>,
    binary: PathBuf,
    dir: TempDir,
    node_name: String,
    server: String,
    token: String,
    netns_path: PathBuf,
    node_ip: String,
}

impl TestAgent {
    /// Starts `kubers agent` for `cluster` with `token`, without waiting for anything.
    pub fn start(cluster: &TestCluster, binary: &Path, token: &str) -> io::Result<TestAgent> {
        let dir = tempfile::Builder::new().prefix("kubers-agent-").tempdir()?;
        let images_dir = dir.path().join("data/agent/images");
        std::fs::create_dir_all(&images_dir)?;
        images::write_busybox_archive(&images_dir.join("busybox.tar"))?;
        let sequence = NEXT.fetch_add(1, Ordering::SeqCst);
        let mut agent = TestAgent {
            child: None,
            binary: binary.to_owned(),
            dir,
            node_name: format!("{}-agent{sequence}", cluster.node_name()),
            server: cluster.server_url(),
            token: token.to_owned(),
            netns_path: cluster.netns().path(),
            node_ip: cluster.netns().node_ip().to_string(),
        };
        agent.spawn()?;
        Ok(agent)
    }

    /// Starts an agent with the cluster's own token and waits until its Node is Ready (90 s).
    pub fn join(cluster: &TestCluster, binary: &Path) -> io::Result<TestAgent> {
        let agent = Self::start(cluster, binary, &cluster.join_token()?)?;
        agent.wait_ready(cluster)?;
        Ok(agent)
    }

    fn spawn(&mut self) -> io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = std::process::Command::new("nsenter")
            .arg(format!("--net={}", self.netns_path.display()))
            .arg(&self.binary)
            .arg("agent")
            .args(["--server", &self.server])
            .args(["--token", &self.token])
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--node-name", &self.node_name, "--node-ip", &self.node_ip])
            .env("KUBERS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the agent's Node is Ready.
    pub fn wait_ready(&self, cluster: &TestCluster) -> io::Result<()> {
        cluster
            .wait_node_ready(&self.node_name, Duration::from_secs(90))
            .map_err(|error| {
                io::Error::new(error.kind(), format!("{error}\nagent log:\n{}", self.log()))
            })
    }

    /// Waits for the agent to exit on its own (at most `timeout`; then it is killed).
    pub fn wait_exit(&mut self, timeout: Duration) -> io::Result<ExitStatus> {
        let Some(child) = self.child.as_mut() else {
            return Err(io::Error::other("the agent is not running"));
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.kill()?;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the agent still runs after {timeout:?}: {}", self.log()),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the agent with SIGKILL; its containers keep running.
    pub fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the agent again on the same data folder and waits until its Node is Ready.
    pub fn restart(&mut self, cluster: &TestCluster) -> io::Result<()> {
        self.kill()?;
        self.spawn()?;
        self.wait_ready(cluster)
    }

    /// Starts the agent again on the same data folder without waiting for anything (the API
    /// server may be down).
    pub fn respawn(&mut self) -> io::Result<()> {
        self.kill()?;
        self.spawn()
    }

    /// The agent process's ID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The agent's data folder (`DIR/agent` holds its credentials).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Its Node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("agent.log")
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::process::Command::new(&self.binary)
            .arg("killall")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--node-name", &self.node_name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
