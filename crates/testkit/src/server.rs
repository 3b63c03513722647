//! A private `kubers server` for end-to-end tests: its own data directory and port on 127.0.0.1, the
//! control plane only, stopped (by its own PID) when dropped; and the real kubectl pointed at it.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Where the Google Cloud CLI keeps its versioned kubectl binaries.
const GCLOUD_KUBECTL_DIR: &str = "/usr/lib/google-cloud-sdk/bin";
/// Environment variable naming a kubectl to use instead.
pub const KUBECTL_ENV: &str = "KUBERS_KUBECTL";

/// A running `kubers server`.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    dir: TempDir,
    port: u16,
    binary: PathBuf,
    extra: Vec<String>,
}

impl TestServer {
    /// Starts `binary server` and waits until `/readyz` answers through kubectl (timeout 30 s).
    pub fn start(binary: &Path) -> io::Result<TestServer> {
        Self::start_with(binary, &[])
    }

    /// Like [`TestServer::start`], with extra `kubers server` flags (e.g. `--datastore-endpoint`).
    pub fn start_with(binary: &Path, extra: &[&str]) -> io::Result<TestServer> {
        let dir = tempfile::Builder::new()
            .prefix("kubers-server-")
            .tempdir()?;
        let port = free_port()?;
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        let child = spawn(binary, dir.path(), port, &extra)?;
        let mut server = TestServer {
            child,
            dir,
            port,
            binary: binary.to_owned(),
            extra,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Kills the server with SIGKILL and starts it again on the same data directory and port.
    pub fn kill_and_restart(&mut self) -> io::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        self.child = spawn(&self.binary, self.dir.path(), self.port, &self.extra)?;
        self.wait_ready()
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    /// The directory of the server's CA, serving and admin certificates and keys.
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.path().join("data/server/tls")
    }

    /// The HTTPS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs kubectl with this server's kubeconfig and a fresh cache directory.
    pub fn kubectl(&self, args: &[&str]) -> io::Result<Output> {
        self.kubectl_with(&kubectl_binary(), args, None)
    }

    /// Runs the kubectl at `binary`, optionally with `stdin` as its standard input.
    pub fn kubectl_with(
        &self,
        binary: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> io::Result<Output> {
        run_kubectl(
            self.dir.path(),
            &self.kubeconfig(),
            binary,
            args,
            stdin,
            &[],
        )
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "kubers server exited with {status}: {}",
                    self.log()
                )));
            }
            if self.kubeconfig().exists()
                && self
                    .kubectl(&["get", "--raw", "/readyz"])
                    .is_ok_and(|output| output.status.success())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("kubers server not ready after 30 s: {}", self.log()),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every kubectl the end-to-end tests run: 1.33 (see [`kubectl_binary`]) and 1.35, which
/// `scripts/install-deps` puts in the clone's `.tmp/kubectl/`.
pub fn kubectl_binaries() -> io::Result<Vec<PathBuf>> {
    let kubectl_135 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tmp/kubectl/kubectl-1.35");
    if !kubectl_135.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} is missing: run scripts/install-deps",
                kubectl_135.display()
            ),
        ));
    }
    Ok(vec![kubectl_binary(), kubectl_135])
}

/// The kubectl tests use by default: `$KUBERS_KUBECTL`, else the Google Cloud CLI's 1.33, else
/// `kubectl`.
pub fn kubectl_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(KUBECTL_ENV) {
        return PathBuf::from(path);
    }
    let versioned = Path::new(GCLOUD_KUBECTL_DIR).join("kubectl.1.33");
    if versioned.exists() {
        return versioned;
    }
    PathBuf::from("kubectl")
}

fn spawn(binary: &Path, dir: &Path, port: u16, extra: &[String]) -> io::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))?;
    Command::new(binary)
        .arg("server")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--write-kubeconfig")
        .arg(dir.join("kubeconfig.yaml"))
        .args(["--https-listen-port", &port.to_string()])
        .args(["--bind-address", "127.0.0.1", "--disable-agent"])
        .args(extra)
        .env("KUBERS_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `binary` (a kubectl) with `kubeconfig`, a home (and discovery cache) per kubectl binary under
/// `dir`, optional standard input and extra environment variables.
pub(crate) fn run_kubectl(
    dir: &Path,
    kubeconfig: &Path,
    binary: &Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> io::Result<Output> {
    let home = dir.join(format!(
        "home-{}",
        binary
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("kubectl")
    ));
    std::fs::create_dir_all(&home)?;
    let mut command = Command::new(binary);
    command
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", &home)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        pipe.write_all(text.as_bytes())?;
    }
    child.wait_with_output()
}
