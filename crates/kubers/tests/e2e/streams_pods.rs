//! Logs, exec, attach and port-forward of pods running for real: kubectl 1.33 and 1.35 through the
//! API server to the kubelet's endpoint and containerd's streaming server, over every transport
//! kubectl uses (WebSocket `v5.channel.k8s.io`, SPDY/3.1, port-forward tunnelled in WebSocket).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;

use crate::{kubectls, text};

/// How long a streaming kubectl may take to print what a test waits for before the test gives up.
const STREAM_GUARD: Duration = Duration::from_secs(60);

fn cluster() -> TestCluster {
    TestCluster::start(Path::new(env!("CARGO_BIN_EXE_kubers"))).expect("the cluster starts")
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn run(cluster: &TestCluster, kubectl: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    cluster
        .kubectl_env(kubectl, args, env)
        .expect("kubectl runs")
}

fn ok(cluster: &TestCluster, kubectl: &Path, args: &[&str]) -> String {
    let output = run(cluster, kubectl, args, &[]);
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}\nserver log:\n{}",
        kubectl.display(),
        text(&output),
        tail(&cluster.log())
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn apply(cluster: &TestCluster, manifest: &str) {
    let output = cluster
        .kubectl_with(&kubectls()[0], &["apply", "-f", "-"], Some(manifest))
        .expect("kubectl runs");
    assert!(output.status.success(), "apply failed: {}", text(&output));
}

/// Polls a JSONPath of a pod until `done` accepts it (60 s at most).
fn wait_for(cluster: &TestCluster, pod: &str, path: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = run(
            cluster,
            &kubectls()[0],
            &["get", "pod", pod, "-o", &format!("jsonpath={path}")],
            &[],
        );
        let value = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if output.status.success() && done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "pod {pod}: {path} is {value:?} after 60 s\nserver log:\n{}",
            tail(&cluster.log())
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn wait_running(cluster: &TestCluster, pod: &str) {
    wait_for(cluster, pod, "{.status.phase}", |phase| phase == "Running");
}

/// A one-container busybox pod on the cluster's node running `script`.
fn pod(cluster: &TestCluster, name: &str, restart_policy: &str, script: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeName: {node}
  restartPolicy: {restart_policy}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", {script:?}]
"#,
        node = cluster.node_name()
    )
}

/// A kubectl that keeps running (`logs -f`, `port-forward`, `attach`), its standard output read
/// line by line on a thread.
struct Streaming {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    fn start(cluster: &TestCluster, kubectl: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(cluster, kubectl, args, env, false)
    }

    /// Starts kubectl, with its standard input piped when `stdin` (else empty).
    fn spawn(
        cluster: &TestCluster,
        kubectl: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: bool,
    ) -> Self {
        let mut child = command(cluster, kubectl, args, env)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Streaming { child, lines }
    }

    /// Lines up to and including the first that `done` accepts.
    fn until(&mut self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(STREAM_GUARD) {
                Ok(line) => {
                    let finished = done(&line);
                    seen.push(line);
                    if finished {
                        return seen;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let mut stderr = String::new();
                    if let Some(mut pipe) = self.child.stderr.take() {
                        let _ = pipe.read_to_string(&mut stderr);
                    }
                    panic!("kubectl printed {seen:?}, then nothing; stderr: {stderr}");
                }
            }
        }
    }

    /// Waits for kubectl to end on its own and returns the rest of its output.
    fn finish(mut self) -> Vec<String> {
        let deadline = Instant::now() + STREAM_GUARD;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            assert!(Instant::now() < deadline, "kubectl did not end");
            std::thread::sleep(Duration::from_millis(100));
        }
        self.lines.try_iter().collect()
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// kubectl against the cluster with its own home (discovery cache) per binary.
fn command(cluster: &TestCluster, kubectl: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(kubectl);
    command
        .args(args)
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("HOME", home(cluster, kubectl))
        .envs(env.iter().copied());
    command
}

/// Runs kubectl with `input` on its standard input.
fn run_with_stdin(
    cluster: &TestCluster,
    kubectl: &Path,
    args: &[&str],
    input: &str,
    env: &[(&str, &str)],
) -> Output {
    let mut child = command(cluster, kubectl, args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl starts");
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(input.as_bytes()).expect("stdin written");
    }
    child.wait_with_output().expect("kubectl ends")
}

fn home(cluster: &TestCluster, kubectl: &Path) -> PathBuf {
    let name = kubectl
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("kubectl");
    let home = cluster
        .kubeconfig()
        .with_file_name(format!("home-streaming-{name}"));
    std::fs::create_dir_all(&home).expect("home");
    home
}

#[test]
fn logs_of_running_restarted_and_waiting_containers() {
    let cluster = cluster();
    let node = cluster.node_name().to_string();
    apply(
        &cluster,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: first
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "for n in 1 2 3 4; do echo first $n; done; exec sleep 3600"]
  - name: second
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo second line >&2; exec sleep 3600"]
"#
        ),
    );
    // Restarts once: the second attempt (counted in an emptyDir) keeps running.
    apply(
        &cluster,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: restarter
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; echo attempt $n; [ $n -ge 2 ] && exec sleep 3600; exit 1"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    emptyDir: {{}}
"#
        ),
    );
    apply(
        &cluster,
        &pod(
            &cluster,
            "ticker",
            "Never",
            "n=0; while true; do n=$((n+1)); echo tick $n; sleep 0.2; done",
        ),
    );
    apply(
        &cluster,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: missing
spec:
  nodeName: {node}
  containers:
  - name: main
    image: example.invalid/nothing:1
    imagePullPolicy: Never
"#
        ),
    );
    wait_for(
        &cluster,
        "talker",
        "{.status.containerStatuses[*].ready}",
        |ready| ready == "true true",
    );
    wait_for(
        &cluster,
        "restarter",
        "{.status.containerStatuses[0].restartCount} {.status.phase}",
        |value| value == "1 Running",
    );
    wait_running(&cluster, "ticker");
    for kubectl in kubectls() {
        let first = ok(&cluster, &kubectl, &["logs", "talker", "-c", "first"]);
        assert_eq!(first, "first 1\nfirst 2\nfirst 3\nfirst 4\n");
        let second = ok(&cluster, &kubectl, &["logs", "talker", "-c", "second"]);
        assert_eq!(second, "second line\n");
        let last = ok(
            &cluster,
            &kubectl,
            &["logs", "talker", "-c", "first", "--tail=2"],
        );
        assert_eq!(last, "first 3\nfirst 4\n");
        let limited = ok(
            &cluster,
            &kubectl,
            &["logs", "talker", "-c", "first", "--limit-bytes=9"],
        );
        assert_eq!(limited, "first 1\nf");
        let stamped = ok(
            &cluster,
            &kubectl,
            &["logs", "talker", "-c", "second", "--timestamps"],
        );
        let (stamp, line) = stamped.trim_end().split_once(' ').expect("a timestamp");
        assert_eq!(line, "second line", "{stamped}");
        assert!(
            stamp.len() == 30 && stamp.ends_with('Z') && stamp.contains('T'),
            "{stamped}"
        );
        let recent = ok(
            &cluster,
            &kubectl,
            &["logs", "talker", "-c", "second", "--since=1h"],
        );
        assert_eq!(recent, "second line\n");

        assert_eq!(
            ok(&cluster, &kubectl, &["logs", "restarter"]),
            "attempt 2\n"
        );
        assert_eq!(
            ok(&cluster, &kubectl, &["logs", "restarter", "--previous"]),
            "attempt 1\n"
        );
        let output = run(
            &cluster,
            &kubectl,
            &["logs", "talker", "-c", "first", "--previous"],
            &[],
        );
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains(r#"previous terminated container "first" in pod "talker" not found"#),
            "{}",
            text(&output)
        );

        // Without -c, kubectl 1.33 and 1.35 pick the first container; the API alone asks.
        let defaulted = run(&cluster, &kubectl, &["logs", "talker"], &[]);
        assert_eq!(
            String::from_utf8_lossy(&defaulted.stdout),
            "first 1\nfirst 2\nfirst 3\nfirst 4\n",
            "{}",
            text(&defaulted)
        );
        let raw = run(
            &cluster,
            &kubectl,
            &["get", "--raw", "/api/v1/namespaces/default/pods/talker/log"],
            &[],
        );
        assert!(
            String::from_utf8_lossy(&raw.stderr).contains(
                "a container name must be specified for pod talker, choose one of: [first second]"
            ),
            "{}",
            text(&raw)
        );
        let waiting = run(&cluster, &kubectl, &["logs", "missing"], &[]);
        assert!(
            String::from_utf8_lossy(&waiting.stderr).contains(
                r#"container "main" in pod "missing" is waiting to start: ErrImageNeverPull"#
            ),
            "{}",
            text(&waiting)
        );

        // Follow: lines arrive while the container writes them.
        let mut follow = Streaming::start(&cluster, &kubectl, &["logs", "-f", "ticker"], &[]);
        let seen = follow.until(|line| line == "tick 3");
        assert_eq!(seen[..3], ["tick 1", "tick 2", "tick 3"]);
        let later = follow.until(|line| line.starts_with("tick ") && line != "tick 3");
        assert!(!later.is_empty());
        drop(follow);
    }
    // A follow ends when the container does.
    apply(
        &cluster,
        &pod(&cluster, "brief", "Never", "echo begin; sleep 3; echo end"),
    );
    // Usually caught running (its output is the same either way).
    wait_for(&cluster, "brief", "{.status.phase}", |phase| {
        phase == "Running" || phase == "Succeeded"
    });
    let follow = Streaming::start(&cluster, &kubectls()[1], &["logs", "-f", "brief"], &[]);
    let rest = follow.finish();
    assert_eq!(rest, ["begin", "end"]);
}

#[test]
fn exec_over_websocket_and_spdy() {
    let cluster = cluster();
    apply(
        &cluster,
        &pod(
            &cluster,
            "shell",
            "Never",
            "trap 'exit 0' TERM; sleep 3600 & wait",
        ),
    );
    wait_running(&cluster, "shell");
    let transports: [&[(&str, &str)]; 2] = [&[], &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")]];
    for kubectl in kubectls() {
        for env in transports {
            let context = format!("{} {env:?}", kubectl.display());
            let hello = run(
                &cluster,
                &kubectl,
                &["exec", "shell", "--", "echo", "hello"],
                env,
            );
            assert!(
                hello.status.success(),
                "{context}: {}\n{}",
                text(&hello),
                tail(&cluster.log())
            );
            assert_eq!(
                String::from_utf8_lossy(&hello.stdout),
                "hello\n",
                "{context}"
            );

            let streams = run(
                &cluster,
                &kubectl,
                &["exec", "shell", "--", "sh", "-c", "echo out; echo err >&2"],
                env,
            );
            assert_eq!(
                String::from_utf8_lossy(&streams.stdout),
                "out\n",
                "{context}"
            );
            assert_eq!(
                String::from_utf8_lossy(&streams.stderr),
                "err\n",
                "{context}"
            );

            let failed = run(
                &cluster,
                &kubectl,
                &["exec", "shell", "--", "sh", "-c", "exit 3"],
                env,
            );
            assert_eq!(
                failed.status.code(),
                Some(3),
                "{context}: {}",
                text(&failed)
            );
            assert!(
                String::from_utf8_lossy(&failed.stderr)
                    .contains("command terminated with exit code 3"),
                "{context}: {}",
                text(&failed)
            );

            let piped = run_with_stdin(
                &cluster,
                &kubectl,
                &["exec", "-i", "shell", "--", "cat"],
                "hi\nthere\n",
                env,
            );
            assert!(piped.status.success(), "{context}: {}", text(&piped));
            assert_eq!(
                String::from_utf8_lossy(&piped.stdout),
                "hi\nthere\n",
                "{context}"
            );

            let terminal = exec_with_a_terminal(&cluster, &kubectl, env);
            assert!(
                terminal.contains("/dev/pts/") && terminal.contains("on a terminal"),
                "{context}: {terminal:?}"
            );

            let unknown = run(
                &cluster,
                &kubectl,
                &["exec", "shell", "-c", "nope", "--", "true"],
                env,
            );
            assert!(!unknown.status.success());
            assert!(
                String::from_utf8_lossy(&unknown.stderr)
                    .contains("container nope is not valid for pod shell"),
                "{context}: {}",
                text(&unknown)
            );
        }
    }
    python_exec(&cluster, "shell");
    copy_both_ways(&cluster, &transports);
}

/// `kubectl exec -t` inside a pseudo-terminal (util-linux `script`): the command runs on a terminal.
/// (Its size is not checked: containerd 1.6 drops a resize that arrives before the process starts,
/// and kubectl sends the size once, at the start.)
fn exec_with_a_terminal(cluster: &TestCluster, kubectl: &Path, env: &[(&str, &str)]) -> String {
    let command = format!(
        "{} exec -it shell -- sh -c 'tty; echo on a terminal'",
        kubectl.display()
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("HOME", home(cluster, kubectl))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout).replace('\r', "")
}

/// `kubectl cp` (tar through exec) of a file far larger than a SPDY window, into the pod and back.
fn copy_both_ways(cluster: &TestCluster, transports: &[&[(&str, &str)]]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let original: Vec<u8> = (0..300_000u32).map(|n| (n * 7 % 251) as u8).collect();
    let source = dir.path().join("big");
    std::fs::write(&source, &original).expect("written");
    for kubectl in kubectls() {
        for env in transports {
            let context = format!("{} {env:?}", kubectl.display());
            let back = dir.path().join("back");
            let _ = std::fs::remove_file(&back);
            let source = source.display().to_string();
            let inbound = run(cluster, &kubectl, &["cp", &source, "shell:/tmp/big"], env);
            assert!(inbound.status.success(), "{context}: {}", text(&inbound));
            let back_path = back.display().to_string();
            let outbound = run(
                cluster,
                &kubectl,
                &["cp", "shell:/tmp/big", &back_path],
                env,
            );
            assert!(outbound.status.success(), "{context}: {}", text(&outbound));
            let copied = std::fs::read(&back).expect("copied back");
            assert!(
                copied == original,
                "{context}: {} bytes came back",
                copied.len()
            );
        }
    }
}

/// The Python client's exec: its WebSocket protocol, passed through to containerd.
fn python_exec(cluster: &TestCluster, pod: &str) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = manifest.join("../../.tmp/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps",
        python.display()
    );
    let output = Command::new(&python)
        .arg(manifest.join("tests/clients/python_exec.py"))
        .arg(cluster.kubeconfig())
        .arg(pod)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success()
            && stdout.contains("output from python")
            && stdout.contains("exit 4"),
        "{}\nserver log:\n{}",
        text(&output),
        tail(&cluster.log())
    );
}

#[test]
fn port_forward_and_attach() {
    let cluster = cluster();
    apply(
        &cluster,
        &pod(
            &cluster,
            "web",
            "Never",
            "mkdir -p /www; echo hello from the pod > /www/index.html; exec httpd -f -p 8080 -h /www",
        ),
    );
    let node = cluster.node_name().to_string();
    apply(
        &cluster,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: greeter
spec:
  nodeName: {node}
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    stdin: true
    command: ["sh", "-c", "while read line; do echo got $line; done"]
"#
        ),
    );
    wait_running(&cluster, "web");
    wait_running(&cluster, "greeter");
    let transports: [&[(&str, &str)]; 2] = [&[], &[("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")]];
    for kubectl in kubectls() {
        for env in transports {
            let context = format!("{} {env:?}", kubectl.display());
            let mut forward = Streaming::start(
                &cluster,
                &kubectl,
                &["port-forward", "pod/web", ":8080"],
                env,
            );
            let announced = forward.until(|line| line.starts_with("Forwarding from 127.0.0.1:"));
            let port: u16 = announced
                .last()
                .and_then(|line| line.strip_prefix("Forwarding from 127.0.0.1:"))
                .and_then(|rest| rest.split_once(' '))
                .and_then(|(port, _)| port.parse().ok())
                .expect("a local port");
            // Two requests: each local connection is a new pair of streams.
            for _ in 0..2 {
                let body = http_get(port, "/index.html");
                assert!(body.ends_with("hello from the pod\n"), "{context}: {body}");
            }
            drop(forward);
        }
    }
    // Attach: what is typed reaches the container's stdin, its answers come back.
    let mut attach = Streaming::spawn(
        &cluster,
        &kubectls()[1],
        &["attach", "-i", "greeter"],
        &[],
        true,
    );
    let mut stdin = attach.child.stdin.take().expect("stdin");
    stdin.write_all(b"ping\n").expect("write");
    stdin.flush().expect("flush");
    let seen = attach.until(|line| line == "got ping");
    assert_eq!(seen, ["got ping"]);
}

/// `GET path` on the machine's 127.0.0.1:`port` (HTTP/1.0); the response as text.
fn http_get(port: u16, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(STREAM_GUARD))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}
