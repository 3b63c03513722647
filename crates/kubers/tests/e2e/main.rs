//! End to end: a real `kubers server` driven by real clients: kubectl 1.33 and 1.35, the official
//! Python client and kube-rs. Each file covers one area; this one holds the shared helpers.

mod admission;
mod apply;
mod auth;
mod clients;
mod cluster;
mod converge;
mod create_commands;
mod cron_jobs;
mod daemon_sets;
mod deployments;
mod disruption;
mod durability;
mod endpoints;
mod events;
mod indexed_jobs;
mod job_control;
mod job_pods;
mod job_policies;
mod jobs;
mod join;
mod kube_rs;
mod leader_election;
mod lifecycle;
mod namespaces;
mod node;
mod node_lifecycle;
mod objects;
mod openapi;
mod pods;
mod pods_security;
mod pods_volumes;
mod protobuf_bodies;
mod pull_secrets;
mod quota;
mod replica_sets;
mod revisions;
mod scheduler;
mod stateful_sets;
mod static_pods;
mod stats;
mod storage;
mod storage_protection;
mod streams;
mod streams_pods;
mod tables;
mod watch_cache;
mod workloads;
mod workloads_real;

use std::path::{Path, PathBuf};
use std::process::Output;

use kubers_testkit::server::{TestServer, kubectl_binaries};

/// A fresh `kubers server` (control plane only) on its own port and data directory.
pub(crate) fn server() -> TestServer {
    TestServer::start(Path::new(env!("CARGO_BIN_EXE_kubers"))).expect("kubers server starts")
}

/// kubectl 1.33 and 1.35.
pub(crate) fn kubectls() -> Vec<PathBuf> {
    kubectl_binaries().expect("kubectl 1.33 and 1.35 are installed")
}

/// A command's status and output, for assertion messages.
pub(crate) fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `kubectl` against `server`, with `stdin` if given.
pub(crate) fn run(
    server: &TestServer,
    kubectl: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    server
        .kubectl_with(kubectl, args, stdin)
        .expect("kubectl runs")
}

/// Runs `kubectl` and returns its standard output; fails the test if it fails.
pub(crate) fn ok(server: &TestServer, kubectl: &Path, args: &[&str]) -> String {
    let output = run(server, kubectl, args, None);
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}\nserver log:\n{}",
        kubectl.display(),
        text(&output),
        server.log()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `kubectl` and returns its standard error; fails the test if it succeeds.
pub(crate) fn fails(server: &TestServer, kubectl: &Path, args: &[&str]) -> String {
    let output = run(server, kubectl, args, None);
    assert!(
        !output.status.success(),
        "{} {args:?} succeeded: {}",
        kubectl.display(),
        text(&output)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}
