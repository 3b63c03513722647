//! A single-node cluster for end-to-end tests: `kubers server` with its embedded agent (and the
//! containerd it supervises) inside a network namespace of the test's own, the busybox test image
//! preloaded, and the API forwarded to the machine's 127.0.0.1 for kubectl. Dropping it stops the
//! server, removes every pod and containerd (`kubers killall`), then the namespace.

use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::images;
use crate::netns::NetNs;
use crate::server::run_kubectl;

/// API port inside the namespace.
const API_PORT: u16 = 6443;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A running single-node cluster.
#[derive(Debug)]
pub struct TestCluster {
    child: Option<Child>,
    binary: PathBuf,
    dir: TempDir,
    netns: NetNs,
    node_name: String,
    kubeconfig: PathBuf,
    embedded_agent: bool,
}

impl TestCluster {
    /// Starts the cluster and waits until its node is Ready (timeout 60 s).
    pub fn start(binary: &Path) -> io::Result<TestCluster> {
        Self::start_with(binary, true)
    }

    /// Starts the control plane alone (`--disable-agent`) in the namespace and waits until the API
    /// answers; nodes join with [`crate::agent::TestAgent`].
    pub fn start_control_plane(binary: &Path) -> io::Result<TestCluster> {
        Self::start_with(binary, false)
    }

    fn start_with(binary: &Path, embedded_agent: bool) -> io::Result<TestCluster> {
        let sequence = NEXT.fetch_add(1, Ordering::SeqCst);
        let suffix = format!("{}-{sequence}", std::process::id());
        let node_ip = Ipv4Addr::new(192, 168, 100 + (sequence % 100) as u8, 2);
        let netns = NetNs::create(&suffix, node_ip)?;
        let dir = tempfile::Builder::new()
            .prefix("kubers-cluster-")
            .tempdir()?;
        let images_dir = dir.path().join("data/agent/images");
        std::fs::create_dir_all(&images_dir)?;
        images::write_busybox_archive(&images_dir.join("busybox.tar"))?;
        let node_name = format!("node-{suffix}");
        let mut cluster = TestCluster {
            child: None,
            binary: binary.to_owned(),
            kubeconfig: dir.path().join("kubeconfig.local.yaml"),
            dir,
            netns,
            node_name,
            embedded_agent,
        };
        cluster.spawn()?;
        let port = cluster.netns.forward_loopback_port(API_PORT)?;
        cluster.wait_for_kubeconfig(port)?;
        cluster.wait_ready()?;
        Ok(cluster)
    }

    fn spawn(&mut self) -> io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))?;
        let child = self
            .netns
            .command(&self.binary.display().to_string())
            .arg("server")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--write-kubeconfig")
            .arg(self.dir.path().join("kubeconfig.yaml"))
            .args([
                "--https-listen-port",
                &API_PORT.to_string(),
                "--bind-address",
                "127.0.0.1",
            ])
            .args([
                "--node-name",
                &self.node_name,
                "--node-ip",
                &self.netns.node_ip().to_string(),
            ])
            .args((!self.embedded_agent).then_some("--disable-agent"))
            .env("KUBERS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Kills the server (and so its embedded agent) with SIGKILL; containers keep running.
    pub fn kill_server(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the server again on the same data folder.
    pub fn restart_server(&mut self) -> io::Result<()> {
        self.kill_server()?;
        self.spawn()?;
        self.wait_ready()
    }

    /// The PID of the server process (which runs the embedded agent).
    pub fn server_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's data folder (`DIR/agent` is the agent's).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The API server's URL inside the namespace (for agents joining).
    pub fn server_url(&self) -> String {
        format!("https://127.0.0.1:{API_PORT}")
    }

    /// The node join token (`DIR/server/token`).
    pub fn join_token(&self) -> io::Result<String> {
        let token = std::fs::read_to_string(self.data_dir().join("server/token"))?;
        Ok(token.trim().to_string())
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// The node's network namespace.
    pub fn netns(&self) -> &NetNs {
        &self.netns
    }

    /// A kubeconfig for the machine's side (through the forwarded port).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs the kubectl at `binary` against the cluster, optionally with standard input.
    pub fn kubectl_with(
        &self,
        binary: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> io::Result<Output> {
        run_kubectl(self.dir.path(), &self.kubeconfig, binary, args, stdin, &[])
    }

    /// Like [`TestCluster::kubectl_with`], with extra environment variables.
    pub fn kubectl_env(
        &self,
        binary: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> io::Result<Output> {
        run_kubectl(self.dir.path(), &self.kubeconfig, binary, args, None, env)
    }

    /// Runs a program inside the node's network namespace (e.g. `busybox wget` to a pod IP).
    pub fn node_command(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        self.netns.command(program).args(args).output()
    }

    fn wait_for_kubeconfig(&self, port: u16) -> io::Result<()> {
        let original = self.dir.path().join("kubeconfig.yaml");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !original.exists() {
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no kubeconfig after 30 s: {}", self.log()),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(50));
        let text = std::fs::read_to_string(&original)?;
        let text = text.replace(
            &format!("https://127.0.0.1:{API_PORT}"),
            &format!("https://127.0.0.1:{port}"),
        );
        std::fs::write(&self.kubeconfig, text)
    }

    /// Waits until the embedded agent's node is Ready, or the API answers without one.
    fn wait_ready(&self) -> io::Result<()> {
        if self.embedded_agent {
            return self.wait_node_ready(&self.node_name, Duration::from_secs(60));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let binary = crate::server::kubectl_binary();
        loop {
            let output = self.kubectl_with(&binary, &["get", "--raw", "/readyz"], None);
            if output.is_ok_and(|output| output.status.success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the API did not answer within 60 s: {}", self.log()),
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the Node `name` is Ready (at most `timeout`).
    pub fn wait_node_ready(&self, name: &str, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let binary = crate::server::kubectl_binary();
        let jsonpath = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
        loop {
            let output = self.kubectl_with(&binary, &["get", "node", name, "-o", jsonpath], None);
            if output.is_ok_and(|output| {
                output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "True"
            }) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("node {name} not Ready after {timeout:?}: {}", self.log()),
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = self.kill_server();
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
