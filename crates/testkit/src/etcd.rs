//! A private, throwaway etcd server for tests and benchmarks.
//!
//! [`EtcdServer::start`] runs the etcd binary (`$KUBERS_ETCD_BIN`, else `etcd` on `PATH`) on
//! 127.0.0.1 with free ports and a fresh data directory, and waits until `/health` reports healthy.
//! The server can be killed with SIGKILL and restarted on the same data directory, which is how the
//! store's durability tests simulate a crash. Dropping the server kills the process it started and
//! removes its directory.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Environment variable naming the etcd binary to run; `etcd` on `PATH` when unset.
pub const ETCD_BIN_ENV: &str = "KUBERS_ETCD_BIN";

/// How long [`EtcdServer::start`] and [`EtcdServer::restart`] wait for `/health`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(20);

/// Pause between two health probes.
const HEALTH_POLL: Duration = Duration::from_millis(10);

/// Timeout for connecting to, writing to and reading from etcd during one health probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How many times [`EtcdServer::start`] tries fresh ports when etcd finds a port taken.
const START_ATTEMPTS: usize = 3;

/// How many bytes of etcd's log an error message carries.
const LOG_TAIL_BYTES: u64 = 4096;

/// Name of etcd's combined stdout/stderr log inside the server directory.
const LOG_FILE: &str = "etcd.log";

/// Name of etcd's data directory inside the server directory.
const DATA_DIR: &str = "data";

/// A single-member etcd cluster listening on 127.0.0.1, owned by the test that started it.
///
/// The process is stopped (SIGKILL) and its temporary directory removed on drop.
#[derive(Debug)]
pub struct EtcdServer {
    /// The running (or, after [`EtcdServer::kill`], reaped) etcd process.
    child: Child,
    /// Holds `data/` and `etcd.log`; removed on drop, after the process is gone.
    dir: TempDir,
    /// The etcd binary, kept so [`EtcdServer::restart`] runs the same one.
    bin: PathBuf,
    /// Port of the client (gRPC + HTTP gateway) listener.
    client_port: u16,
    /// Port of the raft peer listener.
    peer_port: u16,
    /// Flags added after the standard ones, kept across restarts.
    extra_args: Vec<OsString>,
}

impl EtcdServer {
    /// Starts etcd on 127.0.0.1 with free client and peer ports and a fresh temporary data dir.
    ///
    /// Returns once `/health` answers `{"health":"true"}`. If that takes longer than 20 s, or etcd
    /// exits first, the error includes the tail of etcd's output. A port taken between choosing it
    /// and etcd binding it is retried with fresh ports.
    pub fn start() -> io::Result<EtcdServer> {
        Self::start_with_args(etcd_bin(), Vec::new())
    }

    /// Like [`EtcdServer::start`], with the backend quota (`--quota-backend-bytes`) set to `bytes`.
    ///
    /// Useful to provoke etcd's "database space exceeded" alarm with little data.
    pub fn start_with_quota(bytes: u64) -> io::Result<EtcdServer> {
        let args = vec![OsString::from(format!("--quota-backend-bytes={bytes}"))];
        Self::start_with_args(etcd_bin(), args)
    }

    /// The client URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The etcd process id (of the last process started, even if it has been killed since).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGKILL to the etcd process and waits for it to exit, like `kill -9`.
    ///
    /// Does nothing if the process has already exited.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.child.try_wait()?.is_none() {
            self.child.kill()?;
        }
        self.child.wait()?;
        Ok(())
    }

    /// Starts etcd again on the same data dir and ports and waits until it is healthy.
    ///
    /// Meant to follow [`EtcdServer::kill`]; a process that is still running is killed first.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill()?;
        self.child = spawn_healthy(
            &self.bin,
            self.dir.path(),
            self.client_port,
            self.peer_port,
            &self.extra_args,
        )?;
        Ok(())
    }

    /// Tries up to [`START_ATTEMPTS`] times with fresh ports and a fresh directory each time.
    fn start_with_args(bin: PathBuf, extra_args: Vec<OsString>) -> io::Result<EtcdServer> {
        let mut attempt = 1;
        loop {
            let parent = std::env::temp_dir();
            let dir = tempfile::Builder::new()
                .prefix("kubers-etcd-")
                .tempdir_in(&parent)
                .map_err(|e| {
                    let message = format!("create etcd dir in {}: {e}", parent.display());
                    io::Error::new(e.kind(), message)
                })?;
            let (client_port, peer_port) = free_port_pair()?;
            match spawn_healthy(&bin, dir.path(), client_port, peer_port, &extra_args) {
                Ok(child) => {
                    return Ok(EtcdServer {
                        child,
                        dir,
                        bin,
                        client_port,
                        peer_port,
                        extra_args,
                    });
                }
                Err(err) if attempt < START_ATTEMPTS && err.kind() == io::ErrorKind::AddrInUse => {
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; the process is ours alone, so a failure here means
        // it is already gone. The directory is removed when `dir` drops, after this.
        let _ = self.kill();
    }
}

/// The etcd binary to run: `$KUBERS_ETCD_BIN`, else `etcd` (looked up on `PATH` at spawn time).
fn etcd_bin() -> PathBuf {
    match std::env::var_os(ETCD_BIN_ENV) {
        Some(bin) if !bin.is_empty() => PathBuf::from(bin),
        _ => PathBuf::from("etcd"),
    }
}

/// Two distinct ports that were free a moment ago (both listeners are held while choosing).
fn free_port_pair() -> io::Result<(u16, u16)> {
    let client = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let peer = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok((client.local_addr()?.port(), peer.local_addr()?.port()))
}

/// Spawns etcd in `dir` and waits until it is healthy; on failure the process is killed and reaped.
fn spawn_healthy(
    bin: &Path,
    dir: &Path,
    client_port: u16,
    peer_port: u16,
    extra_args: &[OsString],
) -> io::Result<Child> {
    let log_path = dir.join(LOG_FILE);
    let mut child = spawn(bin, dir, &log_path, client_port, peer_port, extra_args)?;
    match wait_healthy(&mut child, client_port) {
        Ok(()) => Ok(child),
        Err(failure) => {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
            let tail = log_tail(&log_path);
            let kind = if tail.contains("address already in use") {
                io::ErrorKind::AddrInUse
            } else {
                failure.kind()
            };
            Err(io::Error::new(
                kind,
                format!(
                    "etcd on 127.0.0.1:{client_port} (binary {}, peer port {peer_port}) did not \
                     become healthy: {failure}; log tail from {}:\n{tail}",
                    bin.display(),
                    log_path.display()
                ),
            ))
        }
    }
}

/// Starts the etcd process with stdout and stderr appended to `log_path`.
fn spawn(
    bin: &Path,
    dir: &Path,
    log_path: &Path,
    client_port: u16,
    peer_port: u16,
    extra_args: &[OsString],
) -> io::Result<Child> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", log_path.display())))?;
    let log_err = log.try_clone()?;
    let client_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut command = Command::new(bin);
    command
        .arg("--name=default")
        .arg(format!("--data-dir={}", dir.join(DATA_DIR).display()))
        .arg(format!("--listen-client-urls={client_url}"))
        .arg(format!("--advertise-client-urls={client_url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster=default={peer_url}"))
        .arg("--initial-cluster-state=new")
        // A lone member still waits one randomized election timeout (1-2 s by default) before it
        // leads, on every start and restart; short raft ticks cut that to ~0.1 s. Safe on loopback.
        .arg("--heartbeat-interval=10")
        .arg("--election-timeout=100")
        // 3.4 defaults to the deprecated capnslog logger, which ignores --log-level.
        .arg("--logger=zap")
        .arg("--log-outputs=stderr")
        .arg("--log-level=error")
        .args(extra_args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    command.spawn().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("spawn etcd binary {}: {e}", bin.display()),
        )
    })
}

/// Polls `/health` until it reports healthy, the process exits, or [`HEALTH_TIMEOUT`] passes.
fn wait_healthy(child: &mut Child, client_port: u16) -> io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, client_port));
    let deadline = Instant::now() + HEALTH_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!("etcd exited early with {status}")));
        }
        let last = match probe_health(addr) {
            Ok(true) => return Ok(()),
            Ok(false) => String::from("/health answered unhealthy"),
            Err(err) => err.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no healthy answer from http://{addr}/health within {}s (last: {last})",
                    HEALTH_TIMEOUT.as_secs()
                ),
            ));
        }
        thread::sleep(HEALTH_POLL);
    }
}

/// One HTTP/1.0 `GET /health`; true when etcd answers 200 with `"health":"true"`.
fn probe_health(addr: SocketAddr) -> io::Result<bool> {
    let response = http_request(addr, "GET", "/health", "")?;
    let ok_status = response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200");
    Ok(ok_status && response.contains(r#""health":"true""#))
}

/// Sends one HTTP/1.0 request and returns the whole response (status line, headers and body).
fn http_request(addr: SocketAddr, method: &str, path: &str, body: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// The last [`LOG_TAIL_BYTES`] of the log, or a note saying why it could not be read.
fn log_tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let start = len.saturating_sub(LOG_TAIL_BYTES);
        io::Seek::seek(&mut file, io::SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(tail) if tail.trim().is_empty() => String::from("(empty)"),
        Ok(tail) => tail,
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The etcd v3 HTTP gateway address of `server`.
    fn addr(server: &EtcdServer) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, server.client_port))
    }

    /// Puts `foo=bar` through the v3 JSON gateway (keys and values are base64: foo=Zm9v, bar=YmFy).
    fn put_foo(server: &EtcdServer) -> io::Result<()> {
        let body = r#"{"key":"Zm9v","value":"YmFy"}"#;
        let response = http_request(addr(server), "POST", "/v3/kv/put", body)?;
        assert!(response.starts_with("HTTP/1.0 200"), "{response}");
        Ok(())
    }

    /// Whether `foo=bar` is readable through the v3 JSON gateway.
    fn has_foo(server: &EtcdServer) -> io::Result<bool> {
        let body = r#"{"key":"Zm9v"}"#;
        let response = http_request(addr(server), "POST", "/v3/kv/range", body)?;
        assert!(response.starts_with("HTTP/1.0 200"), "{response}");
        Ok(response.contains(r#""value":"YmFy""#))
    }

    /// Whether a process with this id exists (reaped children disappear from /proc).
    fn process_exists(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn start_kill_restart_keeps_data() -> io::Result<()> {
        let started = Instant::now();
        let mut server = EtcdServer::start()?;
        eprintln!("etcd healthy after {} ms", started.elapsed().as_millis());
        let port = server.client_port;
        assert_eq!(server.endpoint(), format!("http://127.0.0.1:{port}"));
        assert!(probe_health(addr(&server))?);
        put_foo(&server)?;
        assert!(has_foo(&server)?);

        let first_pid = server.pid();
        server.kill()?;
        assert!(!process_exists(first_pid));
        assert!(probe_health(addr(&server)).is_err());
        server.kill()?;

        let restarted = Instant::now();
        server.restart()?;
        let millis = restarted.elapsed().as_millis();
        eprintln!("etcd healthy again after {millis} ms");
        assert_ne!(server.pid(), first_pid);
        assert_eq!(server.endpoint(), format!("http://127.0.0.1:{port}"));
        assert!(probe_health(addr(&server))?);
        assert!(
            has_foo(&server)?,
            "write acknowledged before kill -9 was lost"
        );
        Ok(())
    }

    #[test]
    fn restart_while_running_replaces_the_process() -> io::Result<()> {
        let mut server = EtcdServer::start()?;
        let first_pid = server.pid();
        server.restart()?;
        assert_ne!(server.pid(), first_pid);
        assert!(!process_exists(first_pid));
        assert!(probe_health(addr(&server))?);
        Ok(())
    }

    #[test]
    fn drop_stops_process_and_removes_dir() -> io::Result<()> {
        let server = EtcdServer::start()?;
        let pid = server.pid();
        let dir = server.dir.path().to_path_buf();
        let health = addr(&server);
        assert!(dir.join(DATA_DIR).is_dir());
        assert!(dir.join(LOG_FILE).is_file());
        drop(server);
        assert!(!dir.exists(), "{} still exists", dir.display());
        assert!(!process_exists(pid));
        assert!(probe_health(health).is_err());
        Ok(())
    }

    #[test]
    fn quota_flag_is_passed_and_kept() -> io::Result<()> {
        let mut server = EtcdServer::start_with_quota(16 * 1024 * 1024)?;
        let flag = OsString::from("--quota-backend-bytes=16777216");
        assert_eq!(server.extra_args, vec![flag]);
        server.restart()?;
        assert!(probe_health(addr(&server))?);
        Ok(())
    }

    #[test]
    fn taken_port_is_reported_as_addr_in_use() -> io::Result<()> {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let client_port = taken.local_addr()?.port();
        let (_, peer_port) = free_port_pair()?;
        let dir = tempfile::tempdir()?;
        let Err(err) = spawn_healthy(&etcd_bin(), dir.path(), client_port, peer_port, &[]) else {
            panic!("etcd started on taken port {client_port}");
        };
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        Ok(())
    }

    #[test]
    fn missing_binary_names_it() {
        let bin = PathBuf::from("/nonexistent/kubers-test-etcd");
        let Err(err) = EtcdServer::start_with_args(bin, Vec::new()) else {
            panic!("a missing etcd binary started");
        };
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let message = err.to_string();
        assert!(
            message.contains("/nonexistent/kubers-test-etcd"),
            "{message}"
        );
    }

    #[test]
    fn early_exit_reports_log_tail() {
        let args = vec![OsString::from("--no-such-flag")];
        let Err(err) = EtcdServer::start_with_args(etcd_bin(), args) else {
            panic!("etcd started with an unknown flag");
        };
        let message = err.to_string();
        assert!(message.contains("exited early"), "{message}");
        assert!(message.contains("no-such-flag"), "{message}");
    }
}
